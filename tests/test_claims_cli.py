"""`receipts check`, `receipts baselines list` and the claims under `receipts audit`, on the real
app: exit codes, JSON shapes, and one stderr line on bad input."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import cli_helpers
import pytest
from typer.testing import CliRunner, Result

from ledger.report import Audit
from receipts.cli import app

DATA = Path(__file__).parent / "data" / "claims"

assert_bad_input = partial(cli_helpers.assert_bad_input, no_stdout=True)
"""Bad input: one error line, no traceback, nothing on stdout."""


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


def test_check_s1_json(runner: CliRunner, sqlite_url: str) -> None:
    result = invoke(runner, "check", "s1", "--json", "--ledger", sqlite_url)
    assert result.exit_code == 0, result.output  # exit 0 whatever the verdicts
    report = json.loads(result.stdout)
    assert report["schema_version"] == 2
    verdicts = {c["id"]: c["verdict"] for c in report["claims"]}
    assert verdicts["s1/techcrunch"] == "not_supported"
    assert verdicts["s1/muennighoff"] == "misleading"
    for claim in report["claims"]:
        assert {"id", "verdict", "assertions", "seed", "versions"} <= set(claim)
        for assertion in claim["assertions"]:
            assert {"id", "kind", "verdict", "reason", "evidence"} <= set(assertion)
            assert assertion["evidence"] and all(isinstance(e, str) for e in assertion["evidence"])


def test_check_prints_a_table_per_claim(runner: CliRunner, sqlite_url: str) -> None:
    result = invoke(runner, "check", "s1/seed-zh", "s1/kellogg", "--ledger", sqlite_url)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "s1/seed-zh: not_supported" in out and "s1/kellogg: not_supported" in out
    assert "李飞飞团队" in out  # the quote, in its own language
    assert "misleading" in out and "significantly" in out
    assert "MATH500: 93.0 vs 97.3, -4.3 [-7.1, -1.7]" in out  # brackets are not rich markup


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("bad-unknown-model.yaml", ["line 11", "unknown model 'o1-pro'", "nearest: o1-preview"]),
        ("bad-unknown-benchmark.yaml", ["unknown benchmark 'aime23'", "aime24"]),
        ("bad-kind.yaml", ["field assertions[0]", "'vibes'", "'data_efficiency'"]),
        ("bad-relation.yaml", ["assertions[0].relation", "'comparable_to'"]),
        ("bad-no-ledger.yaml", ["field subject", "unknown subject 'bespoke-stratos-32b'"]),
        ("bad-unknown-subject.yaml", ["unknown model 's2-32B'", "nearest: s1-32B"]),
        ("bad-unknown-scope.yaml", ["assertions[0].scope", "nearest: s1/final-sft-rented"]),
        ("bad-unknown-dataset.yaml", ["unknown training set '60K' of recipe 's1'"]),
        ("bad-duplicate-assertion.yaml", ["duplicate assertion id"]),
        ("bad-both-targets.yaml", ["not both"]),
        ("bad-newer.yaml", ["version 2 is newer"]),
        ("bad-malformed.yaml", ["line 6", "malformed YAML"]),
    ],
)
def test_bad_claim_files_exit_2_with_one_line(
    runner: CliRunner, sqlite_url: str, name: str, needles: list[str]
) -> None:
    result = invoke(runner, "check", str(DATA / name), "--ledger", sqlite_url)
    assert_bad_input(result, name, *needles)


def test_bad_input_anywhere_prints_no_verdicts(runner: CliRunner, sqlite_url: str) -> None:
    result = invoke(
        runner, "check", "s1/kellogg", str(DATA / "bad-unknown-model.yaml"), "--ledger", sqlite_url
    )
    assert_bad_input(result, "o1-pro")
    assert_bad_input(invoke(runner, "check", "nope.yaml", "--ledger", sqlite_url), "nope.yaml")


def test_a_users_claim_about_another_model_works_from_the_registry_alone(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    claim = tmp_path / "bespoke.yaml"
    claim.write_text(
        """schema_version: 1
id: user/bespoke
title: "Bespoke-Stratos-32B beats Sky-T1 on MATH500 and rivals o1-preview"
subject: Bespoke-Stratos-32B
source: {outlet: "a reader", quote: "beats Sky-T1 on MATH500 and rivals o1-preview", language: en}
assertions:
  - {kind: comparison, id: beats-sky, text: "beats Sky-T1 on MATH500", relation: beats,
     comparator: Sky-T1, benchmarks: [MATH500]}
  - {kind: comparison, id: rivals-o1p, text: "rivals o1-preview", relation: rivals,
     comparator: o1-preview}
""",
        encoding="utf-8",
    )
    result = invoke(runner, "check", str(claim), "--json", "--ledger", sqlite_url)
    assert result.exit_code == 0, result.output
    (verdict,) = json.loads(result.stdout)["claims"]
    beats, rivals = verdict["assertions"]
    assert beats["verdict"] == "supported"  # 93.0 vs 82.4 on 500 problems
    assert rivals["verdict"] == "not_supported"  # GPQA 58.1 vs 73.3
    assert "GPQA Diamond" in rivals["reason"]


def test_per_item_results_switch_to_paired_tests(runner: CliRunner, sqlite_url: str) -> None:
    common = [
        "check",
        str(DATA / "demo-claim.yaml"),
        "--baselines",
        str(DATA / "demo-registry.yaml"),
    ]
    common += ["--json", "--ledger", sqlite_url]
    unpaired = json.loads(invoke(runner, *common).stdout)["claims"][0]
    assert unpaired["verdict"] == "inconclusive"
    result = invoke(runner, *common, "--items", str(DATA / "items-aime24.yaml"), "--seed", "42")
    assert result.exit_code == 0, result.output
    paired = json.loads(result.stdout)["claims"][0]
    assert paired["verdict"] == "supported" and paired["seed"] == 42
    test = paired["assertions"][0]["comparators"][0]["benchmarks"][0]["test"]
    assert (test["method"], test["seed"], test["items_paired"]) == ("paired", 42, 30)
    assert test["p_value"] == pytest.approx(0.03125)


def test_bad_items_and_baselines_files(runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    items = tmp_path / "items.yaml"
    items.write_text(
        "schema_version: 1\nresults:\n  - model: gpt-5\n    benchmark: aime24\n"
        "    protocol: {kind: greedy}\n    source: x\n    correct: {'60': true}\n",
        encoding="utf-8",
    )
    result = invoke(runner, "check", "s1/kellogg", "--items", str(items), "--ledger", sqlite_url)
    assert_bad_input(result, "items.yaml", "line 3", "results[0].model", "unknown model 'gpt-5'")
    registry = tmp_path / "mine.yaml"
    registry.write_text("schema_version: 1\nmodels:\n  - {id: o1, name: other}\n", encoding="utf-8")
    result = invoke(runner, "baselines", "list", "--baselines", str(registry))
    assert_bad_input(result, "mine.yaml", "'o1' is already defined differently")


def test_baselines_list(runner: CliRunner) -> None:
    result = invoke(runner, "baselines", "list", "--model", "R1", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["model"] for r in rows} == {"deepseek-r1"}
    aime = [r for r in rows if r["benchmark"] == "aime24"]
    assert all(r["n"] == 30 for r in aime) and any(r["preferred"] for r in aime)
    table = invoke(runner, "baselines", "list", "--model", "o1-preview", "--benchmark", "AIME24")
    assert table.exit_code == 0
    assert "conflicts: 40.0" in table.stdout and "conflicts: 44.6" in table.stdout
    assert_bad_input(
        invoke(runner, "baselines", "list", "--model", "o1-pro"), "nearest: o1-preview"
    )


def test_audit_shows_the_claims_under_the_cost_report(runner: CliRunner, sqlite_url: str) -> None:
    result = invoke(runner, "audit", "s1", "--json", "--ledger", sqlite_url)
    assert result.exit_code == 0, result.output
    audit = json.loads(result.stdout)
    assert set(audit) == set(Audit.model_fields) | {"claims", "bottom_line"}  # every key kept
    verdicts = {c["id"]: c["verdict"] for c in audit["claims"]}
    assert verdicts == {
        "s1/kellogg": "not_supported",
        "s1/muennighoff": "misleading",
        "s1/paper-data-efficiency": "inconclusive",
        "s1/paper-o1-preview": "inconclusive",
        "s1/seed-zh": "not_supported",
        "s1/techcrunch": "not_supported",
        "s1/vrstate": "not_supported",
    }
    table = invoke(runner, "audit", "s1", "--ledger", sqlite_url).stdout
    assert table.index("Scopes: what a dollar figure") < table.index("Published claims, checked")


def test_audit_of_a_case_without_claims_has_an_empty_list(
    runner: CliRunner, sqlite_url: str
) -> None:
    toy = Path(__file__).parent / "data" / "case_ok.yaml"
    audit = json.loads(invoke(runner, "audit", str(toy), "--json", "--ledger", sqlite_url).stdout)
    assert audit["claims"] == []
