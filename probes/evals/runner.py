"""``receipts eval run``: budget-forced generation over a benchmark, recorded as a metered run.

Everything that can be checked before generation starts is checked first (the settings, every
JSONL item, the model directory and its tokenizer); bad input raises
:class:`~probes.evals.errors.EvalInputError` and writes nothing. Then the run is written as
``running``, the backend is built (its load time is part of the eval's cost), items run in
batches, and each finished batch's items are appended at once, so a crash mid-way finishes the
run as ``failed`` with the items done so far. Token usages (prompt, thinking, answer) are
written when the run ends, however it ends.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import InputError
from ledger.schema import Category, EvalItem, Provenance, Run, RunStatus, Usage
from ledger.store import Ledger
from probes.evals.backends import BACKENDS, BackendOptions, build_backend, check_model_dir
from probes.evals.data import Item, load_items, render_question
from probes.evals.errors import EvalInputError
from probes.evals.forcing import (
    Backend,
    ForcingConfig,
    Generation,
    HfVocabulary,
    Sampling,
    Vocabulary,
    budget_force,
    chat_prompt,
)
from probes.evals.imports import role_token_usages
from probes.evals.scoring import judge
from probes.gpu.meter import Clock, GpuMeter
from probes.run.session import MeteredRun, RunSpec

DEFAULT_TEMPLATE = "{question}"


@dataclass(frozen=True)
class EvalSpec:
    """Everything ``receipts eval run`` was asked to do."""

    model: str
    """Model directory (``transformers``, ``vllm``) or served model name (``openai``)."""
    backend: str
    data: Path
    subject: str
    forcing: ForcingConfig
    benchmark: str | None = None
    """Benchmark name; the data file's stem by default."""
    limit: int | None = None
    seed: int = 0
    temperature: float = 0.0
    top_p: float = 1.0
    samples: int = 1
    """Samples per item (``pass@1 over k samples``); 1 for greedy."""
    batch_size: int = 8
    tokenizer: str | None = None
    """Tokenizer directory or ``qwen2.5``; the model directory by default."""
    fields: dict[str, str] = field(default_factory=dict)
    prompt_template: str = DEFAULT_TEMPLATE
    options: BackendOptions = field(default_factory=BackendOptions)
    command: list[str] | None = None

    @property
    def benchmark_name(self) -> str:
        return self.benchmark or self.data.stem

    @property
    def model_name(self) -> str:
        return Path(self.model.rstrip("/")).name or self.model

    @property
    def protocol(self) -> str:
        if self.temperature <= 0 and self.samples == 1:
            return "greedy"
        noun = "sample" if self.samples == 1 else "samples"
        return f"pass@1 over {self.samples} {noun} at temperature {self.temperature:g}"

    def detail(self) -> dict[str, Any]:
        """The run's ``detail``, in the shape claims read."""
        return {
            "model": self.model,
            "backend": self.backend,
            "benchmark": self.benchmark_name,
            "n": None,
            "protocol": self.protocol,
            "num_wait": self.forcing.num_wait,
            "max_thinking_tokens": self.forcing.max_thinking_tokens,
            "max_answer_tokens": self.forcing.max_answer_tokens,
            "wait_string": self.forcing.wait_string,
            "seed": self.seed,
            "gen_kwargs": {
                "temperature": self.temperature,
                "top_p": self.top_p,
                "samples": self.samples,
                "batch_size": self.batch_size,
                "prompt_template": self.prompt_template,
                "chat_format": "qwen",
                "limit": self.limit,
            },
            "imported_from": None,
            "source_path": str(self.data),
        }


@dataclass(frozen=True)
class Prepared:
    """A spec checked against its inputs: what runs, before anything is written."""

    spec: EvalSpec
    items: list[Item]
    vocab: Vocabulary
    tokenizer: str
    """The tokenizer's name: a directory or ``qwen2.5``."""


def prepare(spec: EvalSpec) -> Prepared:
    """Check the settings, load every item and the tokenizer, check the model directory.

    Raises:
        EvalInputError: anything wrong with the inputs; nothing has been written.
    """
    if spec.backend not in BACKENDS:
        choose = ", ".join(BACKENDS)
        raise EvalInputError(f"--backend: unknown backend {spec.backend!r} (choose from {choose})")
    if spec.samples < 1:
        raise EvalInputError(f"--samples must be at least 1, got {spec.samples}")
    if spec.batch_size < 1:
        raise EvalInputError(f"--batch-size must be at least 1, got {spec.batch_size}")
    if spec.temperature < 0:
        raise EvalInputError(f"--temperature must not be negative, got {spec.temperature}")
    if "{question}" not in spec.prompt_template:
        raise EvalInputError("--prompt-template must contain {question}")
    items = load_items(spec.data, spec.fields, spec.limit)
    if spec.backend != "openai":
        check_model_dir(spec.model)
    tokenizer = spec.tokenizer or (spec.model if spec.backend != "openai" else "qwen2.5")
    return Prepared(spec, items, HfVocabulary(_tokenizer(tokenizer)), tokenizer)


def _tokenizer(name: str) -> Any:
    from probes.tokens.tokenizer import load_tokenizer

    try:
        return load_tokenizer(name)
    except InputError:
        raise
    except Exception as exc:  # a directory without tokenizer files
        raise EvalInputError(f"tokenizer {name}: cannot load ({type(exc).__name__})") from None


@dataclass
class Totals:
    """Tokens of the items done so far."""

    prompt: int = 0
    thinking: int = 0
    answer: int = 0
    items: int = 0

    def add(self, g: Generation) -> None:
        self.prompt += g.prompt_tokens
        self.thinking += g.thinking_tokens
        self.answer += g.answer_tokens
        self.items += 1


def run_eval(
    ledger: Ledger,
    prepared: Prepared,
    *,
    backend_factory: Callable[[], Backend] | None = None,
    meter: GpuMeter | None = None,
    clock: Clock | None = None,
    progress: Callable[[int, int], None] | None = None,
    phase: Callable[[str, int | None], None] | None = None,
    heartbeat_s: float = 10.0,
) -> Run:
    """Run the eval as a metered run and record its items and token usages.

    Args:
        ledger: where the run goes.
        prepared: the checked spec (see :func:`prepare`).
        backend_factory: builds the backend inside the run; the spec's backend by default.
        meter: GPU meter; NVML where it initialises, else none.
        clock: monotonic clock of the run's wall time.
        progress: called with (samples done, samples in all) after each batch (after each
            item with a batch size of 1).
        phase: called with (what starts, samples it does or ``None``) as the backend is built
            and as generation starts (:meth:`ledger.progress.Activity.phase` fits).
        heartbeat_s: seconds between heartbeats.

    Returns:
        The run as finally recorded (``succeeded``).

    Raises:
        Whatever the backend raised; the run is then recorded as ``failed`` (``killed`` on
        Ctrl-C) with the items done so far.
    """
    spec = prepared.spec
    if meter is None:
        from probes.gpu.nvml import open_meter

        meter = open_meter()
    detail = spec.detail() | {"n": len(prepared.items)}
    detail["gen_kwargs"]["tokenizer"] = prepared.tokenizer
    run_spec = RunSpec(
        subject=spec.subject,
        stage="eval",
        category=Category.EVALUATION,
        name=f"eval {spec.benchmark_name} {spec.model_name}",
        command=spec.command,
        working_dir=os.getcwd(),
        detail=detail,
    )
    metered = MeteredRun(
        ledger, run_spec, meter=meter, clock=clock, heartbeat_s=heartbeat_s,
        job_pids=lambda: {os.getpid()},
    )  # fmt: skip
    metered.start()
    totals = Totals()
    try:
        factory = backend_factory or (
            lambda: build_backend(spec.backend, spec.model, prepared.vocab, spec.options)
        )
        if phase is not None:
            phase(f"loading {spec.model_name} ({spec.backend})", None)
        backend = factory()
        if phase is not None:
            phase(f"{spec.benchmark_name}: generating", len(prepared.items) * spec.samples)
        try:
            _run_items(ledger, metered.run_id, prepared, backend, totals, progress)
        finally:
            backend.close()
    except KeyboardInterrupt:
        _finish(metered, prepared, totals, RunStatus.KILLED, "interrupted by Ctrl-C")
        raise
    except BaseException as exc:
        _finish(metered, prepared, totals, RunStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500])
        raise
    return _finish(metered, prepared, totals, RunStatus.SUCCEEDED, None)


def _jobs(prepared: Prepared) -> Iterator[tuple[Item, int]]:
    for item in prepared.items:
        for sample in range(prepared.spec.samples):
            yield item, sample


def _run_items(
    ledger: Ledger,
    run_id: str,
    prepared: Prepared,
    backend: Backend,
    totals: Totals,
    progress: Callable[[int, int], None] | None,
) -> None:
    spec = prepared.spec
    sampling = Sampling(spec.temperature, spec.top_p, spec.seed)
    jobs = list(_jobs(prepared))
    done = 0
    for start in range(0, len(jobs), spec.batch_size):
        batch = jobs[start : start + spec.batch_size]
        prompts = [
            (_key(item, sample), chat_prompt(render_question(item, spec.prompt_template)),
             spec.seed + start + i)
            for i, (item, sample) in enumerate(batch)
        ]  # fmt: skip
        gens = budget_force(backend, prepared.vocab, prompts, spec.forcing, sampling)
        records = [
            _record(run_id, spec.benchmark_name, item, sample, g, prepared.vocab)
            for (item, sample), g in zip(batch, gens, strict=True)
        ]
        ledger.record(records)
        for g in gens:
            totals.add(g)
        done += len(batch)
        if progress is not None:
            progress(done, len(jobs))


def _key(item: Item, sample: int) -> str:
    return f"{item.id}#{sample}"


def item_record_id(run_id: str, item_id: str, sample: int) -> str:
    """``<run id>/<item id>``, with ``/s<k>`` for samples after the first; id-safe."""
    safe = "".join(c if c.isalnum() or c in "._:/@+-" else "_" for c in item_id)
    return f"{run_id}/{safe}" + (f"/s{sample}" if sample else "")


def _record(
    run_id: str, benchmark: str, item: Item, sample: int, g: Generation, vocab: Vocabulary
) -> EvalItem:
    answer_text = vocab.decode(g.answer_ids)
    extracted, correct = judge(answer_text, item.answer, item.choices)
    return EvalItem(
        id=item_record_id(run_id, item.id, sample),
        run=run_id,
        benchmark=benchmark,
        item_id=item.id,
        correct=correct,
        metric="choice_letter" if item.choices else "math_verify",
        extracted_answer=extracted,
        gold_answer=item.answer,
        prompt_tokens=g.prompt_tokens,
        thinking_tokens=g.thinking_tokens,
        answer_tokens=g.answer_tokens,
        num_waits=g.num_waits,
        forced_end=g.forced_end,
        latency_s=g.latency_s,
        trace=vocab.decode(g.context() + g.answer_ids),
        sample=sample,
    )


def token_usages(run_id: str, model_name: str, totals: Totals, tokenizer: str) -> list[Usage]:
    """One measured token usage per role for the items done."""
    counts = {"prompt": totals.prompt, "thinking": totals.thinking, "answer": totals.answer}
    detail = {"items": totals.items, "tokenizer": tokenizer}
    return role_token_usages(
        run_id, model_name, counts, provenance=Provenance.MEASURED, detail=detail
    )


def _finish(
    metered: MeteredRun, prepared: Prepared, totals: Totals, status: RunStatus, note: str | None
) -> Run:
    model = prepared.spec.model_name
    for usage in token_usages(metered.run_id, model, totals, prepared.tokenizer):
        metered.add_usage(usage)
    return metered.finish(status, note=note)


def items_in(ledger: Ledger, run_id: str) -> Sequence[EvalItem]:
    """The items recorded for a run."""
    return ledger.eval_items(run_id)
