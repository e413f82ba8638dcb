"""Issue 16 item 7: a script run under ``receipts run`` that also uses the Trainer callback is one
job. The wrapper meters the devices; the callback's run is linked to the wrapper's
(``detail.parent_run``) and meters none of its own, so a report counts the GPU time once.

A real child process (``python script.py``) trains a tiny random-init Qwen2 on the CPU for two
steps. Both sides see the same fake H100, as they would see the node's one GPU: the wrapper
through ``run_command(meter=...)``, the script through the callback's ``meter=``.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("accelerate")
pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("datasets")

from ledger.audit import build_report
from ledger.schema import Category, Unit
from ledger.store import Ledger
from ledger.summary import complete_report
from probes.gpu.meter import SystemClock
from probes.gpu.testing import FakeDevice, FakeGpuMeter, fake_device
from probes.run.session import RunSpec
from probes.run.wrap import run_command

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import datasets, torch, transformers
    from probes.gpu.meter import SystemClock
    from probes.gpu.testing import FakeDevice, FakeGpuMeter, fake_device
    from probes.tokens.tokenizer import load_tokenizer
    from probes.training.callback import ReceiptsCallback, receipts_training

    url, out = sys.argv[1], sys.argv[2]
    tokenizer = load_tokenizer("qwen2.5")
    torch.manual_seed(0)
    config = transformers.Qwen2Config(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
        intermediate_size=64, vocab_size=len(tokenizer), tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    model = transformers.Qwen2ForCausalLM(config)
    texts = ["one two three", "four five six seven", "eight nine", "ten eleven twelve"]
    data = datasets.Dataset.from_list([{"input_ids": tokenizer(t)["input_ids"]} for t in texts])
    # The node's GPU as this process would see it: metered here, it would be counted twice.
    gpu = lambda: FakeGpuMeter([FakeDevice(fake_device(0))], SystemClock())
    callback = ReceiptsCallback(url, subject="lab-7b", meter=gpu, heartbeat_s=3600)
    args = transformers.TrainingArguments(
        output_dir=out, max_steps=2, per_device_train_batch_size=2, use_cpu=True,
        report_to=[], save_strategy="no", logging_steps=1, disable_tqdm=True, seed=0,
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=data, processing_class=tokenizer,
        data_collator=transformers.DataCollatorForLanguageModeling(tokenizer, mlm=False),
        callbacks=[callback],
    )
    with receipts_training(trainer):
        trainer.train()
    """
)


def test_the_callback_inside_receipts_run_is_linked_and_counted_once(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    wrapper_meter = FakeGpuMeter([FakeDevice(fake_device(0))], SystemClock())
    spec = RunSpec(subject="lab-7b", stage="sft", category=Category.FINE_TUNING)
    argv = [sys.executable, str(script), url, str(tmp_path / "out")]
    started: list[str] = []
    with Ledger(url) as store:
        code = run_command(
            store,
            spec,
            argv,
            meter=wrapper_meter,
            sample_interval_s=0.05,
            on_start=lambda run: started.append(run.run_id),
        )
    assert code == 0

    with Ledger(url) as store:
        runs = store.runs("lab-7b")
        usages = store.usages("lab-7b")
        report = complete_report(store, build_report(store, "lab-7b"))
    (wrapper,) = [r for r in runs if r.id in started]
    (inner,) = [r for r in runs if r.id not in started]
    assert inner.detail is not None and inner.detail.get("parent_run") == wrapper.id

    gpu = [u for u in usages if u.unit is Unit.GPU_HOUR]
    assert {u.run for u in gpu} == {wrapper.id}  # GPU time once: the wrapper's
    tokens = [u for u in usages if u.unit is Unit.TOKEN]
    assert [u.run for u in tokens] == [inner.id] and tokens[0].quantity  # tokens: the callback's

    (own,) = report.totals
    assert own.gpu_hours == pytest.approx(sum(u.quantity or 0 for u in gpu))
    (quiet,) = report.quiet_runs
    assert quiet.run == inner.id and quiet.parent_run == wrapper.id and not quiet.recorded_nothing
