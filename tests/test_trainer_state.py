"""`receipts import trainer-state`: a Hugging Face trainer_state.json (fixtures modelled on
``TrainerState.save_to_json``) as a reported fine-tuning run: steps, runtime, total_flos as FLOP,
tokens seen where counted, GPU-hours only where declared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import assert_bad_input
from typer.testing import CliRunner

from ledger.schema import Provenance, Unit
from ledger.store import Ledger
from receipts.cli import app

DATA = Path(__file__).parent / "data" / "training"
STATE = DATA / "trainer_state.json"
CHECKPOINT = DATA / "checkpoint_trainer_state.json"


def args(path: Path, url: str, *extra: str) -> list[str]:
    return ["import", "trainer-state", str(path), "--subject", "s1-32B", "--stage", "sft",
            "--category", "fine_tuning", "--create-subject", "--ledger", url, *extra]  # fmt: skip


def test_a_final_state_records_runtime_steps_flops_tokens_and_declared_gpu_hours(
    runner: CliRunner, sqlite_url: str
) -> None:
    done = runner.invoke(app, args(STATE, sqlite_url, "--gpus", "16", "--gpu-model", "H100"))
    assert done.exit_code == 0, done.output
    with Ledger(sqlite_url) as ledger:
        (run,) = ledger.runs("s1-32B")
        usages = {u.unit: u for u in ledger.usages("s1-32B")}
    assert run.status.value == "reported" and run.category.value == "fine_tuning"
    assert run.wall_time_s == 1560.0
    assert run.detail is not None
    assert (run.detail["global_step"], run.detail["num_train_epochs"]) == (315, 5)
    assert run.detail["train_samples_per_second"] == 3.205
    flop, tokens, gpu = usages[Unit.FLOP], usages[Unit.TOKEN], usages[Unit.GPU_HOUR]
    assert (flop.quantity, flop.provenance) == (6.998046127e18, Provenance.REPORTED)
    assert (tokens.quantity, tokens.provenance) == (48234496, Provenance.REPORTED)
    assert (gpu.resource, gpu.provenance) == ("gpu/H100", Provenance.DECLARED)
    assert gpu.quantity == pytest.approx(16 * 1560 / 3600)
    again = runner.invoke(app, args(STATE, sqlite_url, "--gpus", "16", "--gpu-model", "H100"))
    assert again.exit_code == 0 and "0 new" in again.stdout


def test_no_gpu_hours_without_declared_gpus(runner: CliRunner, sqlite_url: str) -> None:
    done = runner.invoke(app, args(STATE, sqlite_url, "--json"))
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["gpu_hours"] is None
    with Ledger(sqlite_url) as ledger:
        units = {u.unit for u in ledger.usages("s1-32B")}
    assert units == {Unit.FLOP, Unit.TOKEN}


def test_a_checkpoint_state_has_no_runtime_and_uncounted_tokens(
    runner: CliRunner, sqlite_url: str
) -> None:
    done = runner.invoke(app, args(CHECKPOINT, sqlite_url, "--gpus", "8", "--json"))
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert (result["runtime_s"], result["tokens_seen"], result["gpu_hours"]) == (None, None, None)
    with Ledger(sqlite_url) as ledger:
        usages = {u.unit: u for u in ledger.usages("s1-32B")}
    assert Unit.TOKEN not in usages  # num_input_tokens_seen 0: not counted, not 0 tokens
    gpu = usages[Unit.GPU_HOUR]
    assert gpu.quantity is None and gpu.provenance is Provenance.DECLARED


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        (lambda s: s.__setitem__("total_flos", -1.0), ("field total_flos", "-1.0")),
        (lambda s: s.__setitem__("global_step", "315"), ("field global_step",)),
        (lambda s: s.pop("log_history"), ("log_history", "missing")),
        (lambda s: s["log_history"][-1].__setitem__("train_runtime", "26m"),
         ("log_history[4]", "field train_runtime")),
        (lambda s: s.__setitem__("num_input_tokens_seen", 1e30), ("num_input_tokens_seen",)),
    ],
)  # fmt: skip
def test_bad_states_write_nothing(
    runner: CliRunner, sqlite_url: str, tmp_path: Path, change: object, needles: tuple[str, ...]
) -> None:
    state = json.loads(STATE.read_text(encoding="utf-8"))
    change(state)  # type: ignore[operator]
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps(state), encoding="utf-8")
    done = runner.invoke(app, args(path, sqlite_url))
    assert_bad_input(done, str(path), *needles)
    with Ledger(sqlite_url) as ledger:
        assert ledger.runs() == []


def test_gpus_must_be_positive(runner: CliRunner, sqlite_url: str) -> None:
    assert_bad_input(runner.invoke(app, args(STATE, sqlite_url, "--gpus", "0")), "--gpus")
