"""Issue 14, items 1-3: id collisions, values that cannot be true, and valid input accepted.

Every refusal is one line naming the file (and line) and field, exit 2, the ledger unchanged.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.errors import InputError
from ledger.schema import Run, Subject, Usage
from ledger.store import Ledger
from receipts.cli import app
from tests.cli_helpers import assert_bad_input

DATA = Path(__file__).parent / "data"
CASE = (DATA / "case_ok.yaml").read_text(encoding="utf-8")
LM_EVAL = DATA / "lm_eval" / "s1-budget-forcing"
FUTURE = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()


def _gpu(usage_id: str, run: str, hours: float = 1.0) -> Usage:
    return Usage(
        id=usage_id,
        run=run,
        resource="gpu/H100",
        unit="gpu_hour",
        quantity=hours,
        provenance="reported",
        citation="test",
    )


def _run(run_id: str, subject: str, stage: str = "sft") -> Run:
    return Run(
        id=run_id,
        subject=subject,
        stage=stage,
        category="fine_tuning",
        name=run_id,
        status="reported",
        citation="test",
    )


def _refused(runner: CliRunner, url: str, args: list[str], *needles: str) -> None:
    """The command is refused with one line naming the needles, and the ledger is unchanged."""
    with Ledger(url) as ledger:
        before = ledger.head()
    assert_bad_input(runner.invoke(app, [*args, "--ledger", url]), *needles)
    with Ledger(url) as ledger:
        assert ledger.head() == before


# -- 1. id collisions ---------------------------------------------------------------------------


def test_a_correction_cannot_move_a_usage_to_another_subject(ledger: Ledger) -> None:
    ledger.record([Subject(id="a", name="A"), Subject(id="b", name="B")])
    ledger.record([_run("a/sft", "a"), _run("b/sft", "b"), _gpu("shared-id", "a/sft", 5.0)])
    head = ledger.head()
    with pytest.raises(InputError, match="usage 'shared-id' already belongs to run 'a/sft'"):
        ledger.record([_gpu("shared-id", "b/sft", 1.0)])
    assert ledger.head() == head
    assert [u.quantity for u in ledger.usages("a")] == [5.0] and ledger.usages("b") == []


def test_a_correction_cannot_move_a_usage_to_another_stage_or_a_run_to_another_subject(
    ledger: Ledger,
) -> None:
    ledger.record([Subject(id="a", name="A"), Subject(id="b", name="B")])
    ledger.record([_run("a/sft", "a"), _run("a/eval", "a", "eval"), _gpu("u", "a/sft")])
    head = ledger.head()
    with pytest.raises(InputError, match="cannot move it to run 'a/eval'"):
        ledger.record([_gpu("u", "a/eval")])
    with pytest.raises(InputError, match="run 'a/sft' already belongs to subject 'a'"):
        ledger.record([_run("a/sft", "b")])
    assert ledger.head() == head


def test_a_correction_of_the_same_owner_still_supersedes(ledger: Ledger) -> None:
    ledger.record([Subject(id="a", name="A"), _run("a/sft", "a"), _run("a/sft-2", "a")])
    ledger.record([_gpu("u", "a/sft", 5.0)])
    done = ledger.record([_gpu("u", "a/sft", 6.0)])  # same run: a correction
    moved = ledger.record([_gpu("u", "a/sft-2", 6.0)])  # same subject, stage and category
    assert (done.superseded, moved.superseded) == (1, 1)
    assert [(u.run, u.quantity) for u in ledger.usages("a")] == [("a/sft-2", 6.0)]


def test_an_id_given_twice_in_one_write_is_refused(ledger: Ledger) -> None:
    ledger.record([Subject(id="a", name="A"), _run("a/sft", "a")])
    head = ledger.head()
    with pytest.raises(InputError, match="usage 'u' is given twice with different content"):
        ledger.record([_gpu("u", "a/sft", 1.0), _gpu("u", "a/sft", 2.0)])
    assert ledger.head() == head


def test_loading_a_case_whose_usage_id_is_another_subjects_is_refused(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    first = tmp_path / "first.yaml"
    first.write_text(CASE, encoding="utf-8")
    assert runner.invoke(app, ["load", str(first), "--ledger", sqlite_url]).exit_code == 0
    other = tmp_path / "other.yaml"
    other.write_text(
        CASE.replace("id: toy\n", "id: other\n")
        .replace("subject: toy", "subject: other")
        .replace("{id: toy, name: Toy}", "{id: other, name: Other}")
        .replace("toy/sft,", "other/sft,")
        .replace("run: toy/sft", "run: other/sft")
        .replace("toy/all", "other/all"),
        encoding="utf-8",
    )
    _refused(runner, sqlite_url, ["load", str(other)], "usage 'toy/sft/gpu'", "subject 'toy'")


def test_a_case_file_with_a_duplicate_id_is_refused(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(
        CASE.replace("scopes:", "  - {id: toy/sft/gpu, run: toy/sft, resource: gpu/H100, "
                     "unit: gpu_hour, quantity: 9.0, provenance: measured}\nscopes:"),
        encoding="utf-8",
    )  # fmt: skip
    _refused(runner, sqlite_url, ["load", str(path)], str(path), "line 18", "usages[1].id")


def test_a_label_studio_export_with_a_repeated_annotation_id_is_refused(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    tasks = json.loads((DATA / "labelstudio" / "export.json").read_text(encoding="utf-8"))
    tasks[1]["annotations"][0]["id"] = tasks[0]["annotations"][0]["id"]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    args = ["import", "label-studio", str(path), "--subject", "s", "--create-subject"]
    _refused(runner, sqlite_url, args, str(path), "field id", "annotation 1001 is also in task 1")


# -- 2. values that cannot be true --------------------------------------------------------------


def test_a_run_that_ends_before_it_starts_is_refused(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(
        CASE.replace('citation: "lab notebook p. 3"}', 'citation: "lab notebook p. 3",\n'
                     "     started_at: 2024-05-02T00:00:00Z, ended_at: 2024-05-01T00:00:00Z}"),
        encoding="utf-8",
    )  # fmt: skip
    _refused(runner, sqlite_url, ["load", str(path)], str(path), "runs[0]", "is before started_at")


def test_a_run_dated_in_the_future_is_refused(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(
        CASE.replace('citation: "lab notebook p. 3"}',
                     f'citation: "lab notebook p. 3", started_at: "{FUTURE}T00:00:00Z"}}'),
        encoding="utf-8",
    )  # fmt: skip
    _refused(runner, sqlite_url, ["load", str(path)], str(path), "runs[0]", "in the future")


def test_an_absurd_usage_quantity_in_a_case_is_refused(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(CASE.replace("quantity: 2.0", "quantity: 1.0e+12"), encoding="utf-8")
    _refused(runner, sqlite_url, ["load", str(path)], str(path), "line 11", "usages[0]", "1e+09")


def test_a_price_card_csv_row_with_more_cells_than_its_header_is_refused(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "cards.csv"
    path.write_text(
        (DATA / "cards_ok.csv").read_text(encoding="utf-8").rstrip("\n") + ",extra\n",
        encoding="utf-8",
    )
    _refused(runner, sqlite_url, ["prices", "add", str(path)], str(path), "line 2", "9 cells")


def test_a_price_card_dated_in_the_future_is_refused(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "cards.csv"
    text = (DATA / "cards_ok.csv").read_text(encoding="utf-8")
    path.write_text(text.replace("2025-01-15", FUTURE), encoding="utf-8")
    _refused(runner, sqlite_url, ["prices", "add", str(path)], str(path), "date", "future")


def test_nan_metrics_in_lm_eval_files_are_refused(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(LM_EVAL, out)
    (results,) = out.rglob("results_*.json")
    original = results.read_text(encoding="utf-8")
    results.write_text(original.replace('"exact_match,none": 0.5,', '"exact_match,none": NaN,'))
    args = ["import", "lm-eval", str(out), "--subject", "s"]
    _refused(runner, sqlite_url, args, str(results), "results.aime24_nofigures.exact_match,none")
    results.write_text(original, encoding="utf-8")
    (samples,) = out.rglob("samples_*.jsonl")
    samples.write_text(
        samples.read_text(encoding="utf-8").replace('"exact_match": 1,', '"exact_match": NaN,', 1)
    )
    _refused(runner, sqlite_url, args, str(samples), "line 1", "field exact_match")


def test_an_absurd_sacct_elapsed_time_is_refused(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    lines = (DATA / "sacct" / "malformed_elapsed.txt").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "sacct.txt"
    path.write_text(f"{lines[0]}\n{lines[1].replace('|5400|', '|' + '1' + '0' * 30 + '|')}\n")
    args = ["import", "sacct", str(path), "--subject", "s", "--create-subject",
            "--stage", "sft", "--category", "fine_tuning"]  # fmt: skip
    _refused(runner, sqlite_url, args, str(path), "line 2", "ElapsedRaw", "1e+10")


def test_absurd_api_token_counts_are_refused(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    line = json.loads((DATA / "api" / "api.jsonl").read_text(encoding="utf-8").splitlines()[0])
    line["usage"]["completion_tokens"] = 10**30
    path = tmp_path / "api.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    args = ["import", "api-log", str(path), "--subject", "s", "--create-subject"]
    _refused(runner, sqlite_url, args, str(path), "line 1", "usage.completion_tokens", "1e+09")


def test_an_absurd_label_studio_lead_time_is_refused(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    tasks = json.loads((DATA / "labelstudio" / "export.json").read_text(encoding="utf-8"))
    tasks[0]["annotations"][0]["lead_time"] = 1e300
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    args = ["import", "label-studio", str(path), "--subject", "s", "--create-subject"]
    _refused(runner, sqlite_url, args, str(path), "task 1", "field lead_time", "1e+300")


def test_the_store_fast_path_refuses_an_absurd_quantity(ledger: Ledger) -> None:
    ledger.record([Subject(id="a", name="A"), _run("a/sft", "a")])
    with pytest.raises(InputError, match="above the plausible bound"):
        ledger.append_usages(
            run="a/sft", resource="gpu/H100", unit="gpu_hour", provenance="measured",
            quantities=[1.0, 1e12],
        )  # fmt: skip


# -- 3. valid input accepted --------------------------------------------------------------------


def test_a_byte_order_mark_opens_a_csv_price_file_and_an_api_log(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    cards = tmp_path / "cards.csv"
    cards.write_bytes(b"\xef\xbb\xbf" + (DATA / "cards_ok.csv").read_bytes())
    done = runner.invoke(app, ["prices", "add", str(cards), "--ledger", sqlite_url])
    assert done.exit_code == 0, done.output
    log = tmp_path / "api.jsonl"
    log.write_bytes(b"\xef\xbb\xbf" + (DATA / "api" / "api.jsonl").read_bytes())
    args = ["import", "api-log", str(log), "--subject", "s", "--create-subject"]
    done = runner.invoke(app, [*args, "--ledger", sqlite_url])
    assert done.exit_code == 0, done.output
