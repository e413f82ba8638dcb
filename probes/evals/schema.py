"""The eval package's result records: what ``receipts eval show`` and the importers return."""

from __future__ import annotations

from decimal import Decimal

from ledger.schema import Record


class ItemResult(Record):
    """One sample of one benchmark item, as ``receipts eval show --items`` lists it."""

    item_id: str
    """The item's id in the benchmark."""
    sample: int
    """Sample index (0 for the first or only sample)."""
    metric: str
    """The metric ``correct`` refers to (the summary's)."""
    correct: bool | None
    """Judged right or wrong; ``None`` where it could not be judged."""
    extracted_answer: str | None
    """The answer extracted from the output; ``None`` where none could be parsed."""
    gold_answer: str | None
    """The reference answer."""
    prompt_tokens: int | None
    """Tokens of the prompt; ``None`` where not recorded."""
    thinking_tokens: int | None
    """Tokens generated while thinking, inserted Waits included."""
    answer_tokens: int | None
    """Tokens of the answer phase."""
    num_waits: int | None
    """Times the end of thinking was suppressed and a Wait appended."""
    forced_end: bool | None
    """Whether the thinking budget ran out and thinking was ended by force."""
    latency_s: float | None
    """Seconds from request to final token (a batch's for batched backends)."""


class EvalSummary(Record):
    """An eval run summed up: accuracy with its interval, tokens per item, forced ends, cost."""

    run: str
    """The eval run's id."""
    subject: str
    """Its subject."""
    status: str
    """Its status (``succeeded``, ``failed``, ``reported`` for imports...)."""
    model: str | None
    """Model path or name, from the run's detail."""
    backend: str | None
    """Backend that generated (``transformers``, ``vllm``, ``openai``); ``None`` for imports."""
    benchmark: str | None
    """Benchmark name."""
    protocol: str | None
    """``greedy`` or ``pass@1 over k samples at temperature T``."""
    imported_from: str | None
    """``lm-eval`` or ``inspect_ai`` for imported runs; ``None`` for runs measured here."""
    metric: str
    """The metric the accuracy is of."""
    items: int
    """Distinct benchmark items judged."""
    samples: int
    """Judged samples (items x samples per item)."""
    unjudged: int
    """Samples whose correctness is unknown (``correct`` is ``None``); left out of the accuracy."""
    correct: float
    """Correct items: the sum over items of each item's share of correct samples."""
    accuracy: float | None
    """``correct / items``; ``None`` with no judged item."""
    ci_low: float | None
    """Low end of the Wilson 95 % interval of the accuracy (over items)."""
    ci_high: float | None
    """High end of that interval."""
    ci_method: str = "wilson, 95%"
    """How the interval is computed (statsmodels ``proportion_confint``)."""
    prompt_tokens_per_item: float | None
    """Mean prompt tokens per sample; ``None`` where not recorded."""
    thinking_tokens_per_item: float | None
    """Mean thinking tokens per sample (sampled tokens and inserted Waits)."""
    answer_tokens_per_item: float | None
    """Mean answer tokens per sample."""
    waits_per_item: float | None
    """Mean Waits appended per sample."""
    forced_end_rate: float | None
    """Share of samples whose thinking was ended by force (budget spent)."""
    latency_s_per_item: float | None
    """Mean latency per sample, seconds (a batch's wall time for batched backends)."""
    wall_time_s: float | None
    """Wall time of the whole eval run, seconds."""
    gpu_hours: float | None
    """Allocated GPU-hours metered for the run; ``None`` where no GPU was metered."""
    energy_kwh: float | None
    """GPU energy metered for the run, kWh."""
    tokens: dict[str, float]
    """Token usages recorded for the run, by role (prompt, thinking, answer)."""
    cost_usd_low: Decimal | None
    """Low end of the run's priced usages (GPU-hours x price cards); ``None`` with nothing
    priced."""
    cost_usd_high: Decimal | None
    """High end of the run's priced usages."""
    cards: list[str]
    """Price cards used for the cost."""
    per_item: list[ItemResult] | None = None
    """Each sample's result, in recorded order, where asked for (``eval show --items``; only
    the wrong ones with ``--failed``); ``None`` otherwise."""


class ImportedRun(Record):
    """One run an importer recorded."""

    run: str
    """The run's id."""
    task: str
    """The task (lm-eval) or eval (inspect_ai) name."""
    items: int
    """Items recorded for it, every metric counted."""
    metrics: list[str]
    """Metrics with per-item correctness."""
    accuracy: float | None
    """The primary metric's mean over the items, as recomputed from the samples."""
    reported: float | None
    """The same metric as the results file reports it, where it does."""
