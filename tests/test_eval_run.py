"""``receipts eval run`` and ``eval show`` end to end on the CPU: a tiny random-init Qwen2 with
the real Qwen2.5 tokenizer, five shipped AIME24 items, the transformers backend. Its accuracy is
near zero and that is fine: the records, the token counts and the metering are what is tested.
Bad input writes nothing; a crash mid-way leaves a failed run with the items done so far."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import probes
from ledger.cli import ErrorHandlingGroup
from ledger.schema import Run, RunStatus, Unit
from ledger.store import Ledger
from probes.evals.cli import register
from probes.evals.forcing import Completion, ForcingConfig, Request, Sampling
from probes.evals.runner import EvalSpec, prepare, run_eval
from probes.evals.testing import ScriptedBackend, make_tiny_qwen
from probes.gpu.testing import FakeClock, FakeDevice, FakeGpuMeter, fake_device

AIME24 = Path(probes.__file__).parent / "data" / "bench" / "aime24.jsonl"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_qwen(tmp_path_factory.mktemp("models") / "tiny-qwen2", seed=0)


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer(cls=ErrorHandlingGroup, pretty_exceptions_show_locals=False)
    local_import = typer.Typer(cls=ErrorHandlingGroup)
    register(root, local_import)
    root.add_typer(local_import, name="import")
    return root


def test_five_aime24_items_are_recorded_with_token_counts_and_a_metered_run(
    app: typer.Typer, runner: CliRunner, tiny_model: Path, sqlite_url: str
) -> None:
    done = runner.invoke(app, [
        "eval", "run", "--model", str(tiny_model), "--backend", "transformers",
        "--data", str(AIME24), "--subject", "tiny-qwen2", "--limit", "5", "--num-wait", "1",
        "--max-thinking-tokens", "24", "--max-answer-tokens", "8", "--seed", "7",
        "--batch-size", "5", "--device", "cpu", "--ledger", sqlite_url, "--json",
    ])  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["items"] == 5 and summary["status"] == "succeeded"
    assert 0 <= summary["ci_low"] <= summary["accuracy"] <= summary["ci_high"] <= 1

    with Ledger(sqlite_url) as store:
        [run] = store.runs("tiny-qwen2")
        items = store.eval_items(run.id)
        usages = [u for u in store.usages("tiny-qwen2") if u.run == run.id]
        with store.connect() as conn:
            bodies = (
                conn.exec_driver_sql(
                    "SELECT body FROM entries WHERE kind = 'run' AND record_id = ? ORDER BY seq",
                    (run.id,),
                )
                .scalars()
                .all()
            )
    # Written twice, running then finished, and the settings are there from the start.
    assert [Run.model_validate_json(b).status for b in bodies] == ["running", "succeeded"]
    assert Run.model_validate_json(bodies[0]).detail == run.detail
    assert run.stage == "eval" and run.category.value == "evaluation"
    assert run.status is RunStatus.SUCCEEDED and run.wall_time_s and run.wall_time_s > 0
    assert run.detail is not None
    assert {k: run.detail[k] for k in ("backend", "benchmark", "n", "protocol", "num_wait")} == {
        "backend": "transformers", "benchmark": "aime24", "n": 5, "protocol": "greedy",
        "num_wait": 1,
    }  # fmt: skip
    assert run.detail["max_thinking_tokens"] == 24 and run.detail["max_answer_tokens"] == 8
    assert run.detail["imported_from"] is None and run.detail["seed"] == 7
    assert [i.item_id for i in items] == ["60", "61", "62", "63", "64"]
    for item in items:
        assert item.id == f"{run.id}/{item.item_id}"
        assert item.prompt_tokens and item.prompt_tokens > 50
        assert item.thinking_tokens is not None and 0 < item.thinking_tokens <= 24
        assert item.answer_tokens is not None and 0 < item.answer_tokens <= 8
        assert item.num_waits is not None and item.num_waits <= 1
        assert item.forced_end is not None and item.gold_answer
        assert item.correct is not None and item.latency_s is not None
        assert item.trace and item.trace.startswith("<|im_start|>system\n")
        assert "<|im_start|>think" in item.trace and "<|im_start|>answer" in item.trace
    tokens = {u.detail["role"]: u.quantity for u in usages if u.unit is Unit.TOKEN}
    assert tokens == {
        "prompt": sum(i.prompt_tokens or 0 for i in items),
        "thinking": sum(i.thinking_tokens or 0 for i in items),
        "answer": sum(i.answer_tokens or 0 for i in items),
    }
    assert all(u.resource == "tokens/tiny-qwen2" for u in usages if u.unit is Unit.TOKEN)

    shown = runner.invoke(app, ["eval", "show", run.id, "--ledger", sqlite_url])
    assert shown.exit_code == 0, shown.output
    assert "95% CI" in shown.stdout and "(Wilson)" in shown.stdout
    assert "forced-end rate" in shown.stdout
    again = runner.invoke(app, ["eval", "show", run.id.rsplit("/", 1)[1], "--ledger", sqlite_url,
                                "--json"])  # fmt: skip
    assert json.loads(again.stdout)["run"] == run.id


def test_a_gpu_meter_is_recorded_with_the_run(tiny_model: Path, sqlite_url: str) -> None:
    clock = FakeClock()
    meter = FakeGpuMeter([FakeDevice(fake_device(0))], clock)
    spec = EvalSpec(
        model=str(tiny_model), backend="transformers", data=AIME24, subject="tiny",
        forcing=ForcingConfig(4, 2), limit=2, options=_cpu(),
    )  # fmt: skip
    prepared = prepare(spec)

    def factory() -> ScriptedBackend:
        clock.advance(30)  # the model "loads" for 30 s
        return ScriptedBackend({"60#0": [], "61#0": []}, filler=100)

    with Ledger(sqlite_url) as store:
        run = run_eval(store, prepared, backend_factory=factory, meter=meter, clock=clock)
        usages = [u for u in store.usages("tiny") if u.run == run.id]
    gpu = [u for u in usages if u.unit is Unit.GPU_HOUR]
    assert [u.resource for u in gpu] == ["gpu/H100"]
    assert gpu[0].quantity == pytest.approx(30 / 3600)
    assert run.wall_time_s == pytest.approx(30)


def _cpu() -> object:
    from probes.evals.backends import BackendOptions

    return BackendOptions(device="cpu")


class _Crashes:
    """Scripted for the first batch, then the engine dies."""

    name = "crashes"

    def __init__(self) -> None:
        self.inner = ScriptedBackend({f"{i}#0": [] for i in range(60, 90)}, filler=100)
        self.calls = 0

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[Completion]:
        self.calls += 1
        if self.calls > 2:  # thinking and answer of batch 1 done
            raise RuntimeError("engine died")
        return self.inner.generate(requests, sampling)

    def close(self) -> None:
        return None


def test_a_crash_mid_way_leaves_a_failed_run_with_the_items_done(
    tiny_model: Path, sqlite_url: str
) -> None:
    spec = EvalSpec(
        model=str(tiny_model), backend="transformers", data=AIME24, subject="tiny",
        forcing=ForcingConfig(3, 2), limit=4, batch_size=2,
    )  # fmt: skip
    with Ledger(sqlite_url) as store:
        with pytest.raises(RuntimeError, match="engine died"):
            meter = FakeGpuMeter([], FakeClock())
            run_eval(store, prepare(spec), backend_factory=_Crashes, meter=meter)
        [run] = store.runs("tiny")
        items = store.eval_items(run.id)
        tokens = {u.detail["role"]: u.quantity for u in store.usages("tiny") if u.run == run.id}
    assert run.status is RunStatus.FAILED and "engine died" in (run.note or "")
    assert [i.item_id for i in items] == ["60", "61"]
    assert tokens["thinking"] == 2 * 3 and tokens["answer"] == 2 * 2


def _runs(url: str) -> list[object]:
    with Ledger(url) as store:
        return list(store.runs())


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda d, m: ["--data", str(d / "bad.jsonl"), "--model", str(m)], "line 2: no answer"),
        (lambda d, m: ["--data", str(AIME24), "--model", str(d / "missing")], "no such file"),
        (lambda d, m: ["--data", str(AIME24), "--model", str(d / "bert")], "not a causal"),
        (
            lambda d, m: ["--data", str(AIME24), "--model", str(m), "--max-thinking-tokens", "0"],
            "--max-thinking-tokens must be positive",
        ),
        (
            lambda d, m: ["--data", str(AIME24), "--model", str(m), "--max-answer-tokens", "-1"],
            "--max-answer-tokens must be positive",
        ),
    ],
    ids=["item-without-answer", "missing-model", "not-causal-lm", "budget-0", "answer-cap-neg"],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    app: typer.Typer,
    runner: CliRunner,
    tiny_model: Path,
    tmp_path: Path,
    sqlite_url: str,
    make_args: object,
    message: str,
) -> None:
    (tmp_path / "bad.jsonl").write_text(
        '{"id": 1, "problem": "1+1?", "answer": "2"}\n{"id": 2, "problem": "2+2?"}\n'
    )
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(
        json.dumps({"model_type": "bert", "architectures": ["BertForMaskedLM"]})
    )
    args = make_args(tmp_path, tiny_model)  # type: ignore[operator]
    done = runner.invoke(app, ["eval", "run", "--subject", "tiny", "--ledger", sqlite_url, *args])
    assert done.exit_code == 2, done.output
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("receipts: error:") and message in lines[0]
    assert _runs(sqlite_url) == []


def test_a_mapping_reads_other_field_names(tmp_path: Path) -> None:
    from probes.evals.data import load_items, parse_field_map

    path = tmp_path / "other.jsonl"
    path.write_text('{"qid": "a", "prompt": "Pick", "options": ["x", "y"], "label": "y"}\n')
    [item] = load_items(path, parse_field_map(["id=qid", "answer=label"]))
    assert (item.id, item.question, item.answer, item.choices) == ("a", "Pick", "B", ("x", "y"))


def test_mounting_the_eval_commands_imports_no_heavy_module() -> None:
    import subprocess
    import sys

    heavy = ["sqlalchemy", "pydantic", "torch", "transformers", "vllm", "math_verify",
             "statsmodels", "pynvml"]  # fmt: skip
    code = (
        "import sys, typer, probes.evals.cli as c; c.register(typer.Typer(), typer.Typer()); "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
