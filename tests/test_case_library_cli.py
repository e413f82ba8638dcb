"""Auditing any case and any subject of it with the user's own claims and scores (issue 12,
class 11), `receipts cases list`, and base models defined once and shared by cases (class 9)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import cli_helpers
import pytest
import yaml
from typer.testing import CliRunner

from ledger.cases import bundled_bases, load_case, record_case
from ledger.errors import InputError
from ledger.store import Ledger
from receipts.cli import app

assert_bad_input = partial(cli_helpers.assert_bad_input, no_stdout=True)

MY_CLAIM = {
    "schema_version": 1,
    "id": "mine/sky-t1-cheap",
    "title": "A blog: Sky-T1 for about $500 of compute",
    "subject": "Sky-T1-32B-Preview",
    "source": {"outlet": "a blog", "quote": "about $500", "language": "en", "date": "2025-01-20"},
    "assertions": [
        {
            "kind": "cost",
            "id": "about-500",
            "text": "the final run cost about $500",
            "bound": "about",
            "usd": 500,
            "scope": "sky-t1/final-sft-rented",
        },
        {
            "kind": "comparison",
            "id": "beats-mine",
            "text": "beats my model on MATH500",
            "relation": "beats",
            "comparator": "my-model-7b",
            "benchmarks": ["math500"],
        },
    ],
}
MY_SCORES = {
    "schema_version": 1,
    "sources": [{"tag": "MYLAB", "title": "my lab's eval report"}],
    "models": [{"id": "my-model-7b", "name": "My Model 7B"}],
    "tables": [
        {
            "id": "MYLAB-t1",
            "source": "MYLAB",
            "location": "Table 1",
            "protocol": {"kind": "greedy", "temperature": 0},
            "rows": [{"model": "my-model-7b", "origin": "developer", "scores": {"math500": 40.0}}],
        }
    ],
}


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_audit_any_case_with_the_users_claims_and_scores(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    claim = _write(tmp_path, "mine.yaml", MY_CLAIM)
    scores = _write(tmp_path, "scores.yaml", MY_SCORES)
    args = ["audit", "sky-t1", "--claims", str(claim), "--baselines", str(scores)]
    result = runner.invoke(app, [*args, "--json", "--ledger", sqlite_url])
    assert result.exit_code == 0, result.output
    claims = {c["id"]: c for c in json.loads(result.stdout)["claims"]}
    assert set(claims) == {"sky-t1/blog", "mine/sky-t1-cheap"}
    mine = {a["id"]: a["verdict"] for a in claims["mine/sky-t1-cheap"]["assertions"]}
    assert mine["beats-mine"] == "supported"  # 82.4 vs 40.0 on 500 problems
    # without the user's scores the comparator is unknown: one line, exit 2
    bad = runner.invoke(app, ["audit", "sky-t1", "--claims", str(claim), "--ledger", sqlite_url])
    assert_bad_input(bad, "mine.yaml", "my-model-7b")


def test_appendix_shows_the_users_claims(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["audit", "sky-t1", "--ledger", sqlite_url]).exit_code == 0
    claim = _write(tmp_path, "mine.yaml", MY_CLAIM)
    scores = _write(tmp_path, "scores.yaml", MY_SCORES)
    out = tmp_path / "appendix.json"
    result = runner.invoke(
        app,
        [
            "appendix",
            "--subject",
            "Sky-T1-32B-Preview",
            "--out",
            str(out),
            "--claims",
            str(claim),
            "--baselines",
            str(scores),
            "--ledger",
            sqlite_url,
        ],
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "mine/sky-t1-cheap" in text and "sky-t1/blog" in text


def test_audit_another_subject_of_the_case(runner: CliRunner, sqlite_url: str) -> None:
    result = runner.invoke(
        app, ["audit", "s1", "--subject", "Qwen2.5-32B-Instruct", "--json", "--ledger", sqlite_url]
    )
    assert result.exit_code == 0, result.output
    audit = json.loads(result.stdout)
    assert audit["subject"] == "Qwen2.5-32B-Instruct"
    assert audit["lineage"] == ["Qwen2.5-32B-Instruct"]
    # trained from scratch: its pretraining is its own, not inherited from a fictitious ancestor
    assert [(c["key"], c["inherited"]) for c in audit["categories"]] == [("pretraining", False)]
    bad = runner.invoke(app, ["audit", "s1", "--subject", "nobody", "--ledger", sqlite_url])
    assert_bad_input(bad, "field subject", "'nobody' is not a subject of the case")


def test_cases_list(runner: CliRunner) -> None:
    result = runner.invoke(app, ["cases", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert len(rows) >= 9 and {"s1", "deepseek-r1", "alpaca"} <= set(rows)
    assert rows["s1"]["inherits"] == ["Qwen2.5-32B-Instruct"]
    assert rows["deepseek-r1"]["inherits"] == ["DeepSeek-V3-Base"]
    assert "s1/techcrunch" in rows["s1"]["claims"]


def test_a_claims_only_set_is_marked_in_the_list_and_audit_says_to_check_it(
    runner: CliRunner, tmp_path: Path
) -> None:
    """`receipts cases list` lists qwq-32b, a claim set without a case: the table says how to
    check it, and `receipts audit qwq-32b` says so in one line (exit 2, no ledger written)
    instead of "no case named", then `receipts check qwq-32b` does what it says."""
    rows = {
        r["name"]: r for r in json.loads(runner.invoke(app, ["cases", "list", "--json"]).stdout)
    }
    assert rows["qwq-32b"]["case"] is None and rows["qwq-32b"]["claims"]
    table = runner.invoke(app, ["cases", "list"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    line = next(row for row in table.stdout.splitlines() if "qwq-32b" in row)
    assert "claims only" in line and "receipts check qwq-32b" in line
    db = tmp_path / "ledger.db"
    url = f"sqlite:///{db}"
    bad = runner.invoke(app, ["audit", "qwq-32b", "--ledger", url])
    assert_bad_input(bad, "'qwq-32b'", "claim set without a case", "`receipts check qwq-32b`")
    assert not db.exists()
    done = runner.invoke(app, ["check", "qwq-32b", "--json", "--ledger", url])
    assert done.exit_code == 0, done.output
    assert {c["id"] for c in json.loads(done.stdout)["claims"]} >= {"qwq-32b/register"}
    # a name that is neither a case nor a claim set keeps the plain message
    nothing = runner.invoke(app, ["audit", "qwq-99b", "--ledger", url])
    assert_bad_input(nothing, "no case named 'qwq-99b'", "no such file")


# ---- base models live once -----------------------------------------------------------------


def test_bundled_bases_are_defined_once_and_pulled_in_by_reference() -> None:
    bases = bundled_bases()
    assert {"Qwen2.5-32B-Instruct", "DeepSeek-V3-Base", "LLaMA-7B"} <= set(bases)
    s1 = load_case("s1")
    assert "qwen2.5-32b/pretraining/gpu" in {u.id for u in s1.usages}
    sky = load_case("sky-t1")
    shared = [u for u in s1.usages if u.run.startswith("qwen2.5-32b/")]
    assert shared and all(u in sky.usages for u in shared)


def test_two_cases_sharing_a_base_do_not_correct_each_other(sqlite_url: str) -> None:
    with Ledger(sqlite_url) as ledger:
        record_case(ledger, load_case("s1"))
        widest = [s for s in ledger.scopes("s1-32B") if s.include_inherited]
        second = record_case(ledger, load_case("sky-t1"))
        again = record_case(ledger, load_case("s1"))
        assert second.superseded == 0 and again.superseded == 0 and again.appended == 0
        assert [s for s in ledger.scopes("s1-32B") if s.include_inherited] == widest


def _case_file(tmp_path: Path, subjects: list[dict[str, str]]) -> Path:
    return _write(
        tmp_path,
        "case.yaml",
        {
            "schema_version": 1,
            "id": "mine",
            "title": "mine",
            "subject": "my-ft",
            "subjects": subjects,
            "runs": [],
            "usages": [],
        },
    )


def test_a_case_may_not_redefine_a_bundled_base(tmp_path: Path) -> None:
    path = _case_file(
        tmp_path,
        [
            {"id": "Qwen2.5-32B-Instruct", "name": "my own copy"},
            {"id": "my-ft", "name": "mine", "base": "Qwen2.5-32B-Instruct"},
        ],
    )
    with pytest.raises(InputError, match=r"is a bundled base model .*reference it with `base:"):
        load_case(path)


def test_a_base_that_names_nothing_is_an_error(tmp_path: Path) -> None:
    path = _case_file(tmp_path, [{"id": "my-ft", "name": "mine", "base": "Qwen9-1T"}])
    with pytest.raises(InputError, match="base 'Qwen9-1T' is neither a subject of the case"):
        load_case(path)


@pytest.mark.parametrize("name", ["deepseek-r1", "deepseek-v3", "alpaca", "sky-t1"])
def test_audit_each_case_on_a_fresh_ledger(runner: CliRunner, tmp_path: Path, name: str) -> None:
    """A case whose claims name another case (DeepSeek-R1's figure that is V3's) audits too."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    result = runner.invoke(app, ["audit", name, "--json", "--ledger", url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["claims"]
