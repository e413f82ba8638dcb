"""Per-item results imported from s1's own lm-evaluation-harness fork pair in ``receipts check``
with no ``--items`` file: the harness's task names (``aime24_nofigures``, ``openai_math``) map to
the registry's benchmarks through the bundled task-name table, which users extend.

The fixture (tests/data/lm_eval/s1-harness) is modelled on the fork's output: its tasks' configs,
sample rows without ``filter`` and ``metrics`` keys, ``exact_match`` 0/1 and ``extracted_answers``
lists; s1-32B budget-forced answers 17 of the 30 AIME24 problems, Qwen2.5-32B-Instruct 8."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from claims.items import LedgerItemResults
from claims.registry import load_registry
from ledger.store import Ledger
from receipts.cli import app

S1_HARNESS = Path(__file__).parent / "data" / "lm_eval" / "s1-harness"

CLAIM = """schema_version: 1
id: user/s1-beats-qwen
title: "s1-32B beats its base model on AIME24"
subject: s1-32B
source: {outlet: "a reader", quote: "s1 beats Qwen2.5-32B-Instruct on AIME24", language: en}
assertions:
  - {kind: comparison, id: beats-qwen, text: "beats Qwen2.5-32B-Instruct on AIME24",
     relation: beats, comparator: Qwen2.5-32B-Instruct, benchmarks: [AIME24]}
"""


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


def _import_both(runner: CliRunner, sqlite_url: str) -> None:
    for folder, subject in (
        ("simplescaling__s1-32B", "s1-32B"),
        ("Qwen__Qwen2.5-32B-Instruct", "qwen2.5-32b-instruct"),
    ):
        done = invoke(runner, "import", "lm-eval", str(S1_HARNESS / folder), "--subject", subject,
                      "--ledger", sqlite_url)  # fmt: skip
        assert done.exit_code == 0, done.output


def test_imported_s1_harness_items_are_paired_without_an_items_file(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    _import_both(runner, sqlite_url)
    claim = tmp_path / "claim.yaml"
    claim.write_text(CLAIM, encoding="utf-8")
    result = invoke(runner, "check", str(claim), "--json", "--ledger", sqlite_url)
    assert result.exit_code == 0, result.output
    (verdict,) = json.loads(result.stdout)["claims"]
    (assertion,) = verdict["assertions"]
    (bench,) = assertion["comparators"][0]["benchmarks"]
    test = bench["test"]
    assert (test["method"], test["items_paired"]) == ("paired", 30)
    assert (test["subject_pct"], test["comparator_pct"]) == (100 * 17 / 30, 100 * 8 / 30)
    assert (test["subject_only_correct"], test["comparator_only_correct"]) == (9, 0)
    assert test["p_value"] == pytest.approx(2 * 0.5**9)  # exact McNemar, b=9, c=0
    assert assertion["verdict"] == "supported"
    paired = [line for line in assertion["evidence"] if "per-item results paired" in line]
    assert len(paired) == 1
    assert "ledger eval run s1-32B/eval/lm-eval/aime24_nofigures/" in paired[0]
    assert "ledger eval run qwen2.5-32b-instruct/eval/lm-eval/aime24_nofigures/" in paired[0]
    assert "task aime24_nofigures, metric exact_match,none, 30 items" in paired[0]


def test_task_names_map_through_the_bundled_table_and_a_users_file(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    _import_both(runner, sqlite_url)
    bundled = load_registry()
    assert bundled.task_names["openai_math"] == "math500"
    assert bundled.task_names["gpqa_diamond_openai"] == "gpqa-diamond"
    assert "aime24_figures" not in bundled.task_names
    extension = tmp_path / "tasks.yaml"
    extension.write_text("schema_version: 1\ntask_names: {openai_math: AIME 2024}\n", "utf-8")
    remapped = load_registry([extension])
    with Ledger(sqlite_url) as store:
        found = LedgerItemResults(store, bundled).get("s1-32B", "math500")
        assert found is not None and len(found.correct) == 5
        assert "task openai_math" in found.source
        assert LedgerItemResults(store, remapped).get("s1-32B", "math500") is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\ntask_names: {openai_math: MATH-5000}\n", "utf-8")
    result = invoke(runner, "check", "s1", "--baselines", str(bad), "--ledger", sqlite_url)
    assert result.exit_code == 2 and "MATH-5000" in result.output
