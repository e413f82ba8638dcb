"""The Trainer callback on CPU: a tiny random-init Qwen2 with the real Qwen2.5 tokenizer, five
real optimizer steps with ``transformers.Trainer`` and TRL's ``SFTTrainer``, padded batches.

The token count the ledger gets is checked against what the model actually saw: a forward
pre-hook records every training batch's ``attention_mask``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("accelerate")  # the Trainer needs it; pyproject's `train` extra should too
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from ledger.schema import Run, RunStatus, Unit, Usage  # noqa: E402
from ledger.store import Ledger  # noqa: E402
from probes.gpu.testing import FakeClock, FakeDevice, FakeGpuMeter, fake_device  # noqa: E402
from probes.run.cluster import ClusterContext  # noqa: E402
from probes.tokens.tokenizer import load_tokenizer  # noqa: E402
from probes.training.callback import ReceiptsCallback, receipts_training  # noqa: E402

STEPS, BATCH, MAX_LENGTH = 5, 2, 32


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return load_tokenizer("qwen2.5")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Twelve shipped MATH500 problems cut to 3, 5, ... 25 words: every batch of two is padded."""
    bench = resources.files("probes") / "data" / "bench" / "math500.jsonl"
    rows = [json.loads(line) for line in bench.read_text(encoding="utf-8").splitlines()[:12]]
    return [" ".join(row["problem"].split()[: 3 + 2 * i]) for i, row in enumerate(rows)]


@pytest.fixture(scope="module")
def tiny_qwen2(tokenizer: Any) -> Callable[[], Any]:
    """Fresh copies of one seeded, random-init Qwen2: hidden 64, 2 layers, the Qwen2.5
    vocabulary (initialising it takes seconds on a small CPU; copying it, milliseconds)."""
    template = random_qwen2(tokenizer)
    return lambda: copy.deepcopy(template)


def random_qwen2(tokenizer: Any) -> Any:
    torch.manual_seed(0)
    config = transformers.Qwen2Config(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return transformers.Qwen2ForCausalLM(config)


class Seen:
    """Records each training forward's non-padding and padded token counts."""

    def __init__(self, model: Any, fail_at: int | None = None) -> None:
        self.real: list[int] = []
        self.padded: list[int] = []
        self.fail_at = fail_at
        model.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, _module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if self.fail_at is not None and len(self.real) + 1 == self.fail_at:
            raise RuntimeError(f"boom at forward {self.fail_at}")
        mask = kwargs["attention_mask"]
        self.real.append(int(mask.sum()))
        self.padded.append(mask.numel())


def training_args(tmp_path: Path, cls: Any = None, **extra: Any) -> Any:
    cls = cls or transformers.TrainingArguments
    return cls(
        output_dir=str(tmp_path / "out"),
        max_steps=STEPS,
        per_device_train_batch_size=BATCH,
        learning_rate=1e-3,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        seed=0,
        **extra,
    )


def plain_trainer(
    tmp_path: Path, tokenizer: Any, texts: list[str], callback: ReceiptsCallback, model: Any
) -> Any:
    datasets = pytest.importorskip("datasets")
    encoded = [
        {"input_ids": tokenizer(text, truncation=True, max_length=MAX_LENGTH)["input_ids"]}
        for text in texts
    ]
    return transformers.Trainer(
        model=model,
        args=training_args(tmp_path),
        train_dataset=datasets.Dataset.from_list(encoded),
        data_collator=transformers.DataCollatorForLanguageModeling(tokenizer, mlm=False),
        processing_class=tokenizer,
        callbacks=[callback],
    )


def sft_trainer(
    tmp_path: Path, tokenizer: Any, texts: list[str], callback: ReceiptsCallback, model: Any
) -> Any:
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    # TRL's SFTConfig turns checkpointing on under transformers' old name, which transformers 5
    # warns about; the new name, where there is one, keeps TRL's setting without the warning.
    names = {field.name for field in dataclasses.fields(trl.SFTConfig)}
    renamed = {"activation_checkpointing": True} if "activation_checkpointing" in names else {}
    config = training_args(tmp_path, trl.SFTConfig, max_length=MAX_LENGTH, packing=False, **renamed)
    return trl.SFTTrainer(
        model=model,
        args=config,
        train_dataset=datasets.Dataset.from_list([{"text": text} for text in texts]),
        processing_class=tokenizer,
        callbacks=[callback],
    )


def the_run(url: str) -> tuple[Run, list[Usage]]:
    with Ledger(url) as ledger:
        (run,) = ledger.runs("tiny")
        return run, [u for u in ledger.usages("tiny") if u.run == run.id]


def no_gpu_meter() -> None:
    """The meter of a machine without NVML (what the default finds on a CPU box)."""
    return None


@pytest.mark.parametrize("build", [plain_trainer, sft_trainer], ids=["Trainer", "SFTTrainer"])
def test_five_cpu_steps_record_exactly_the_non_padding_tokens(
    build: Callable[..., Any],
    tmp_path: Path,
    tokenizer: Any,
    texts: list[str],
    tiny_qwen2: Callable[[], Any],
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    callback = ReceiptsCallback(url, subject="tiny", meter=no_gpu_meter, heartbeat_s=3600)
    model = tiny_qwen2()
    seen = Seen(model)
    trainer = build(tmp_path, tokenizer, texts, callback, model)
    with receipts_training(trainer):
        trainer.train()

    run, usages = the_run(url)
    assert run.status is RunStatus.SUCCEEDED
    assert run.stage == "sft" and run.category.value == "fine_tuning"
    assert run.wall_time_s is not None and run.wall_time_s > 0
    assert run.detail is not None
    assert run.detail["steps"] == STEPS == len(seen.real)
    assert run.detail["epoch"] == pytest.approx(STEPS * BATCH / len(texts))
    assert run.detail["token_counting"] == "non_padding"
    assert sum(seen.real) < sum(seen.padded)  # the batches were padded
    by_unit = {u.unit: u for u in usages}
    tokens = by_unit[Unit.TOKEN]
    assert tokens.quantity == sum(seen.real)
    assert tokens.resource == "tokens/qwen2"
    assert tokens.detail is not None and tokens.detail["role"] == "training"
    assert tokens.provenance.value == "measured"
    assert by_unit[Unit.FLOP].quantity == pytest.approx(trainer.state.total_flos)
    assert not [u for u in usages if u.resource.startswith("gpu/")]  # no meter: none, not zeros
    assert callback.runs == [run.id]


def test_a_training_that_raises_is_closed_failed_with_what_it_cost(
    tmp_path: Path, tokenizer: Any, texts: list[str], tiny_qwen2: Callable[[], Any]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    callback = ReceiptsCallback(url, subject="tiny", meter=no_gpu_meter, heartbeat_s=3600)
    model = tiny_qwen2()
    seen = Seen(model, fail_at=3)
    trainer = plain_trainer(tmp_path, tokenizer, texts, callback, model)
    with pytest.raises(RuntimeError, match="boom"), receipts_training(trainer):
        trainer.train()

    run, usages = the_run(url)
    assert run.status is RunStatus.FAILED
    assert run.note is not None and "RuntimeError: boom at forward 3" in run.note
    assert run.detail is not None and run.detail["steps"] == 2
    (tokens,) = [u for u in usages if u.unit is Unit.TOKEN]
    assert tokens.quantity == sum(seen.real) == sum(seen.real[:2])
    flop = [u for u in usages if u.unit is Unit.FLOP]
    assert flop and flop[0].quantity is not None and flop[0].quantity > 0


def test_creating_the_trainer_touches_no_meter_and_no_ledger(
    tmp_path: Path, tokenizer: Any, texts: list[str], tiny_qwen2: Callable[[], Any]
) -> None:
    def explode() -> None:
        raise AssertionError("the meter was opened before training")

    unwritable = f"sqlite:///{tmp_path / 'missing' / 'x' / 'ledger.db'}"
    (tmp_path / "missing").write_text("a file where a directory should be")
    callback = ReceiptsCallback(unwritable, subject="tiny", meter=explode)
    trainer = plain_trainer(tmp_path, tokenizer, texts, callback, tiny_qwen2())
    assert callback in trainer.callback_handler.callbacks
    assert callback.metered is None and not torch.cuda.is_initialized()


# -- ranks, without a Trainer --------------------------------------------------------------------


def cluster(local_rank: int, node_rank: int) -> ClusterContext:
    return ClusterContext(
        "node", node_rank, local_rank, 8 * node_rank + local_rank, 16, "j1", "torchrun"
    )


@pytest.fixture
def args(tmp_path: Path) -> Any:
    return transformers.TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[])


def state(local_zero: bool, world_zero: bool) -> Any:
    return transformers.TrainerState(
        is_local_process_zero=local_zero, is_world_process_zero=world_zero
    )


def finish_training(callback: ReceiptsCallback, args: Any, st: Any, clock: FakeClock) -> None:
    control = transformers.TrainerControl()
    callback.on_train_begin(args, st, control)
    clock.advance(300)
    st.global_step, st.epoch, st.num_input_tokens_seen = 2, 0.4, 500
    callback.on_step_end(args, st, control)
    if callback.metered is not None and st.is_world_process_zero:  # what a heartbeat carries
        so_far = [u.quantity for u in callback.metered.usages_so_far() if u.unit is Unit.TOKEN]
        assert so_far == [500]
    clock.advance(300)
    st.global_step, st.epoch, st.num_input_tokens_seen, st.total_flos = 5, 1.0, 1234, 5e12
    callback.on_train_end(args, st, control)


def test_only_local_rank_zero_opens_the_ledger_but_every_rank_counts_tokens(
    tmp_path: Path, args: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'missing'}/ledger.db"
    (tmp_path / "missing").write_text("not a directory: opening this ledger would fail")
    clock = FakeClock()
    callback = ReceiptsCallback(url, subject="tiny", cluster=cluster(3, 1), clock=clock)
    finish_training(callback, args, state(False, False), clock)
    assert callback.runs == []
    assert args.include_num_input_tokens_seen == "non_padding"  # the count is a collective


def test_a_node_meters_its_gpus_and_only_global_rank_zero_records_tokens(
    tmp_path: Path, args: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    recorded: dict[bool, list[Usage]] = {}
    for world_zero, node in ((True, 0), (False, 1)):
        clock = FakeClock()
        meter = FakeGpuMeter([FakeDevice(fake_device(0)), FakeDevice(fake_device(1))], clock)
        callback = ReceiptsCallback(
            url,
            subject="tiny",
            cluster=cluster(0, node),
            clock=clock,
            meter=meter,
            background=False,
        )
        finish_training(callback, args, state(True, world_zero), clock)
        with Ledger(url) as ledger:
            (run_id,) = callback.runs
            run = next(r for r in ledger.runs("tiny") if r.id == run_id)
            assert run.node_rank == node and run.job_id == "j1"
            assert run.detail is not None and run.detail["records_job_totals"] is world_zero
            recorded[world_zero] = [u for u in ledger.usages("tiny") if u.run == run_id]
    for world_zero, found in recorded.items():
        gpu = [u for u in found if u.unit is Unit.GPU_HOUR]
        assert [u.resource for u in gpu] == ["gpu/H100", "gpu/H100"]
        assert sum(u.quantity or 0 for u in gpu) == pytest.approx(2 * 600 / 3600)
        tokens = [u.quantity for u in found if u.unit is Unit.TOKEN]
        flop = [u.quantity for u in found if u.unit is Unit.FLOP]
        assert (tokens, flop) == (([1234.0], [5e12]) if world_zero else ([], []))
