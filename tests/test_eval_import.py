"""``receipts import lm-eval`` and ``import inspect-ai``: results people already have, as reported
eval runs with per-item correctness. The lm-eval fixture follows the harness's result schema
(``results_<ts>.json`` + ``samples_<task>_<ts>.jsonl``) for a budget-forced s1 run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ledger.cli import ErrorHandlingGroup
from ledger.schema import RunStatus
from ledger.store import Ledger
from probes.evals.cli import register
from probes.evals.show import summarize
from tests.inspect_archive import eval_archive

DATA = Path(__file__).parent / "data"
LM_EVAL = DATA / "lm_eval" / "s1-budget-forcing"
RESULTS = LM_EVAL / "simplescaling__s1-32B" / "results_2025-02-03T10-11-12.345678.json"
INSPECT = DATA / "inspect" / "aime2024_s1-32B.json"


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer(cls=ErrorHandlingGroup)
    imports = typer.Typer(cls=ErrorHandlingGroup)
    register(root, imports)
    root.add_typer(imports, name="import")
    return root


def test_an_lm_eval_run_imports_one_run_per_task_with_per_item_correctness(
    app: typer.Typer, runner: CliRunner, sqlite_url: str
) -> None:
    done = runner.invoke(app, [
        "import", "lm-eval", str(LM_EVAL), "--subject", "s1-32B", "--tokenizer", "qwen2.5",
        "--ledger", sqlite_url, "--json",
    ])  # fmt: skip
    assert done.exit_code == 0, done.output
    found = {r["task"]: r for r in json.loads(done.stdout)}
    assert found["aime24_nofigures"]["accuracy"] == found["aime24_nofigures"]["reported"] == 0.5
    assert found["aime24_nofigures"]["metrics"] == ["exact_match,none"]
    assert found["gpqa_diamond_openai"]["items"] == 0  # no samples file: aggregate only

    with Ledger(sqlite_url) as store:
        runs = {r.detail["benchmark"]: r for r in store.runs("s1-32B") if r.detail}
        aime = runs["aime24_nofigures"]
        items = store.eval_items(aime.id)
        summary = summarize(store, aime.id)
    assert set(runs) == {"aime24_nofigures", "gpqa_diamond_openai"}
    assert aime.status is RunStatus.REPORTED and aime.citation == str(RESULTS)
    assert aime.stage == "eval" and aime.category.value == "evaluation"
    detail = aime.detail
    assert detail is not None
    assert detail["imported_from"] == "lm-eval" and detail["source_path"] == str(RESULTS)
    assert detail["model"] == "simplescaling/s1-32B" and detail["backend"] == "vllm"
    assert detail["model_args"]["tensor_parallel_size"] == 8
    assert detail["n"] == 4 and detail["protocol"] == "greedy"
    assert (detail["num_wait"], detail["max_thinking_tokens"], detail["wait_string"]) == (
        1, 8000, "Wait",
    )  # fmt: skip
    assert detail["max_answer_tokens"] == 32768 and detail["seed"] == 0
    assert detail["gen_kwargs"]["thinking_n_ignore"] == 1

    assert [(i.item_id, i.correct) for i in items] == [
        ("60", True), ("61", False), ("62", True), ("63", False),
    ]  # fmt: skip
    assert [i.forced_end for i in items] == [False, True, True, False]
    assert items[0].id == f"{aime.id}/60" and items[0].gold_answer == "204"
    assert items[0].trace is not None and items[0].trace.startswith("<|im_start|>think")
    assert all(i.thinking_tokens and i.answer_tokens for i in items)
    assert summary.accuracy == 0.5 and summary.forced_end_rate == 0.5
    assert summary.imported_from == "lm-eval" and summary.ci_low is not None

    again = runner.invoke(app, ["import", "lm-eval", str(LM_EVAL), "--subject", "s1-32B",
                                "--ledger", sqlite_url])  # fmt: skip
    assert again.exit_code == 0
    with Ledger(sqlite_url) as store:
        assert len(store.runs("s1-32B")) == 2  # the same runs, not copies


def test_an_lm_eval_directory_without_results_is_refused(
    app: typer.Typer, runner: CliRunner, tmp_path: Path, sqlite_url: str
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "samples_x_2025.jsonl").write_text('{"doc_id": 0}\n')
    done = runner.invoke(app, ["import", "lm-eval", str(tmp_path / "out"), "--subject", "s1",
                               "--ledger", sqlite_url])  # fmt: skip
    assert done.exit_code == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no lm-eval results (results_*.json)" in lines[0]
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # not even opened


def test_malformed_lm_eval_results_write_nothing(
    app: typer.Typer, runner: CliRunner, tmp_path: Path, sqlite_url: str
) -> None:
    (tmp_path / "results_2025.json").write_text('{"config": {}}')
    done = runner.invoke(app, ["import", "lm-eval", str(tmp_path), "--subject", "s1",
                               "--ledger", sqlite_url])  # fmt: skip
    assert done.exit_code == 2 and "no 'results' object" in done.stderr
    with Ledger(sqlite_url) as store:
        assert store.runs() == []


def test_an_inspect_ai_log_imports_as_a_reported_run(
    app: typer.Typer, runner: CliRunner, sqlite_url: str
) -> None:
    done = runner.invoke(app, ["import", "inspect-ai", str(INSPECT), "--subject", "s1-32B",
                               "--ledger", sqlite_url, "--json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    [found] = json.loads(done.stdout)
    assert found["accuracy"] == pytest.approx(1 / 3) and found["reported"] == pytest.approx(1 / 3)
    with Ledger(sqlite_url) as store:
        [run] = store.runs("s1-32B")
        items = store.eval_items(run.id)
        tokens = {u.detail["role"]: u.quantity for u in store.usages("s1-32B")}
    assert run.status is RunStatus.REPORTED and run.detail is not None
    assert run.detail["imported_from"] == "inspect_ai" and run.detail["seed"] == 42
    assert [(i.item_id, i.correct) for i in items] == [("60", True), ("61", False), ("62", False)]
    assert items[0].thinking_tokens == 850 and items[0].answer_tokens == 50
    assert tokens == {"prompt": 363, "thinking": 2550, "answer": 153}


def test_a_file_that_is_neither_a_json_log_nor_an_archive_is_refused(
    app: typer.Typer, runner: CliRunner, tmp_path: Path, sqlite_url: str
) -> None:
    log = tmp_path / "run.eval"
    log.write_bytes(b"PK\x03\x04")  # a zip's magic and nothing more
    done = runner.invoke(app, ["import", "inspect-ai", str(log), "--subject", "s1",
                               "--ledger", sqlite_url])  # fmt: skip
    assert done.exit_code == 2 and "run.eval: not a .eval archive" in done.stderr
    other = tmp_path / "run.txt"
    other.write_text("{}")
    done = runner.invoke(app, ["import", "inspect-ai", str(other), "--subject", "s1",
                               "--ledger", sqlite_url])  # fmt: skip
    assert done.exit_code == 2 and "expected a JSON log (.json) or a .eval archive" in done.stderr
    with Ledger(sqlite_url) as store:
        assert store.runs() == []


def _imported(store: Ledger, subject: str) -> tuple[list[Any], list[Any], list[Any]]:
    """The run, items and usages imported for ``subject``, without the file they cite."""
    runs = [r.model_dump(exclude={"citation"}) for r in store.runs(subject)]
    for run in runs:
        run["detail"].pop("source_path")
    items = [i.model_dump() for r in store.runs(subject) for i in store.eval_items(r.id)]
    usages = [u.model_dump(exclude={"citation"}) for u in store.usages(subject)]
    return runs, items, usages


@pytest.mark.parametrize("name", ["aime2024_s1-32B", "aime2024_claude-3-5-sonnet"])
def test_a_dot_eval_archive_imports_as_the_same_run_as_its_json_log(
    app: typer.Typer, runner: CliRunner, tmp_path: Path, name: str
) -> None:
    """inspect's default log format: the archive of the same eval records the same run, items
    and (priced) usages as the JSON log, citing the archive."""
    data = json.loads((DATA / "inspect" / f"{name}.json").read_text())
    archive = tmp_path / f"{name}.eval"
    archive.write_bytes(eval_archive(data))
    found = {}
    for path, url in ((DATA / "inspect" / f"{name}.json", tmp_path / "json.db"),
                      (archive, tmp_path / "eval.db")):  # fmt: skip
        done = runner.invoke(app, ["import", "inspect-ai", str(path), "--subject", "s",
                                   "--ledger", f"sqlite:///{url}", "--json"])  # fmt: skip
        assert done.exit_code == 0, done.output
        with Ledger(f"sqlite:///{url}") as store:
            found[path.suffix] = (json.loads(done.stdout), _imported(store, "s"))
            if path == archive:
                [run] = store.runs("s")
                assert run.citation == str(archive)
                assert {u.citation for u in store.usages("s")} == {str(archive)}
    assert found[".eval"] == found[".json"]
    runs, items, usages = found[".eval"][1]
    assert len(runs) == 1 and len(items) == len(data["samples"]) and usages


def test_a_dot_eval_archive_orders_samples_as_inspect_does(
    app: typer.Typer, runner: CliRunner, tmp_path: Path, sqlite_url: str
) -> None:
    data = json.loads(INSPECT.read_text())
    data["samples"] = data["samples"][::-1]  # members in finishing order, not id order
    archive = tmp_path / "run.eval"
    archive.write_bytes(eval_archive(data))
    done = runner.invoke(app, ["import", "inspect-ai", str(archive), "--subject", "s1-32B",
                               "--ledger", sqlite_url])  # fmt: skip
    assert done.exit_code == 0, done.output
    with Ledger(sqlite_url) as store:
        [run] = store.runs("s1-32B")
        items = store.eval_items(run.id)
    assert [(i.item_id, i.correct) for i in items] == [("60", True), ("61", False), ("62", False)]


def test_an_unfinished_dot_eval_archive_says_it_has_no_header(
    app: typer.Typer, runner: CliRunner, tmp_path: Path, sqlite_url: str
) -> None:
    archive = tmp_path / "running.eval"
    unfinished = ("header.json", "summaries.json", "reductions.json")  # written at the end
    archive.write_bytes(eval_archive(json.loads(INSPECT.read_text()), drop=unfinished))
    done = runner.invoke(app, ["import", "inspect-ai", str(archive), "--subject", "s1",
                               "--ledger", sqlite_url])  # fmt: skip
    assert done.exit_code == 2
    assert "running.eval: member header.json: missing" in done.stderr
    assert "did not finish" in done.stderr
    with Ledger(sqlite_url) as store:
        assert store.runs() == []


def test_an_imported_subject_follows_the_ledger_id_rule() -> None:
    from probes.evals.errors import EvalInputError
    from probes.evals.imports import check_subject

    assert check_subject("s1-32B") == "s1-32B"
    for bad in ("s1\n", "-s1", "s 1", ""):
        with pytest.raises(EvalInputError, match="not a valid id"):
            check_subject(bad)


def test_an_inspect_ai_log_against_an_api_model_is_priced_as_api_usage(
    app: typer.Typer, runner: CliRunner, sqlite_url: str
) -> None:
    from decimal import Decimal

    from ledger.audit import build_report
    from ledger.schema import Unit

    log = DATA / "inspect" / "aime2024_claude-3-5-sonnet.json"
    done = runner.invoke(app, ["import", "inspect-ai", str(log), "--subject", "judge",
                               "--ledger", sqlite_url])  # fmt: skip
    assert done.exit_code == 0, done.output
    with Ledger(sqlite_url) as store:
        [run] = store.runs("judge")
        items = store.eval_items(run.id)
        usages = {u.unit: u for u in store.usages("judge")}
        report = build_report(store, "judge", "run")
    resource = "api/claude-3-5-sonnet-20241022"  # as `receipts import api-log` names it
    assert {u.resource for u in usages.values()} == {resource}
    assert {unit: u.quantity for unit, u in usages.items()} == {
        Unit.INPUT_TOKEN: 360, Unit.CACHE_WRITE_TOKEN: 1900, Unit.CACHED_INPUT_TOKEN: 3800,
        Unit.OUTPUT_TOKEN: 2150,
    }  # fmt: skip
    # the log does not report reasoning tokens apart: unknown, not 0
    assert usages[Unit.OUTPUT_TOKEN].detail["thinking_tokens"] is None  # type: ignore[index]
    assert all(i.thinking_tokens is None for i in items)
    (group,) = report.groups
    cost = (360 * Decimal("3") + 1900 * Decimal("3.75") + 3800 * Decimal("0.30")
            + 2150 * Decimal("15")) / 10**6  # fmt: skip
    assert group.cost_usd_low == group.cost_usd_high == cost
    assert report.unpriced == []


def test_an_inspect_ai_api_usage_with_a_bad_count_is_one_line(
    app: typer.Typer, runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    data = json.loads((DATA / "inspect" / "aime2024_claude-3-5-sonnet.json").read_text())
    data["stats"]["model_usage"]["anthropic/claude-3-5-sonnet-20241022"]["output_tokens"] = "12k"
    log = tmp_path / "log.json"
    log.write_text(json.dumps(data))
    done = runner.invoke(app, ["import", "inspect-ai", str(log), "--subject", "judge",
                               "--ledger", sqlite_url])  # fmt: skip
    assert done.exit_code == 2
    assert "stats.model_usage.anthropic/claude-3-5-sonnet-20241022.output_tokens" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    with Ledger(sqlite_url) as store:
        assert store.runs() == []


def test_eval_show_lists_each_item_and_only_the_wrong_ones_with_failed(
    app: typer.Typer, runner: CliRunner, sqlite_url: str
) -> None:
    done = runner.invoke(app, ["import", "lm-eval", str(LM_EVAL), "--subject", "s1-32B",
                               "--tokenizer", "qwen2.5", "--ledger", sqlite_url])  # fmt: skip
    assert done.exit_code == 0, done.output
    run = "aime24_nofigures/2025-02-03T10-11-12.345678"
    show = ["eval", "show", run, "--ledger", sqlite_url]
    plain = json.loads(runner.invoke(app, [*show, "--json"]).stdout)
    assert plain["per_item"] is None  # the summary alone unless asked

    every = json.loads(runner.invoke(app, [*show, "--items", "--json"]).stdout)["per_item"]
    assert [(i["item_id"], i["correct"]) for i in every] == [
        ("60", True), ("61", False), ("62", True), ("63", False),
    ]  # fmt: skip
    assert {i["metric"] for i in every} == {"exact_match,none"}
    assert all(i["thinking_tokens"] and i["answer_tokens"] for i in every)
    assert [i["forced_end"] for i in every] == [False, True, True, False]

    wrong = json.loads(runner.invoke(app, [*show, "--failed", "--json"]).stdout)["per_item"]
    assert [i["item_id"] for i in wrong] == ["61", "63"]

    table = runner.invoke(app, [*show, "--failed"], env={"COLUMNS": "120"})
    assert table.exit_code == 0, table.output
    assert "Items judged wrong (2)" in table.stdout
    lines = [line for line in table.stdout.splitlines() if line.startswith("│ 6")]
    assert [line.split("│")[1].strip() for line in lines] == ["61", "63"]
    assert "$\\boxed{20}$" in lines[0] and "113" in lines[0] and "yes" in lines[0]
