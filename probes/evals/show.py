"""``receipts eval show``: an eval run summed up from its per-item records and usages."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from statistics import fmean

from ledger.errors import NotFoundError
from ledger.schema import EvalItem, Run, Unit
from ledger.store import Ledger
from probes.evals.schema import EvalSummary, ItemResult


def wilson(correct: float, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """The Wilson score interval of ``correct / n`` (statsmodels)."""
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(correct, n, alpha=alpha, method="wilson")
    return float(low), float(high)


def find_run(ledger: Ledger, run_id: str) -> Run:
    """The run with this id, or the one run whose id ends with it.

    Raises:
        NotFoundError: no run, or several runs, match.
    """
    runs = ledger.runs()
    exact = [r for r in runs if r.id == run_id]
    if exact:
        return exact[0]
    found = [r for r in runs if r.id.endswith(run_id) and r.stage == "eval"]
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(r.id for r in found[:5])
        raise NotFoundError(f"run {run_id!r} is ambiguous: {names}")
    raise NotFoundError(f"no run {run_id!r} (receipts runs --json lists them)")


def _primary_metric(run: Run, items: list[EvalItem]) -> str:
    declared = (run.detail or {}).get("primary_metric")
    if isinstance(declared, str):
        return declared
    counts = Counter(i.metric for i in items)
    return counts.most_common(1)[0][0] if counts else "exact_match"


def _mean(values: list[float | int | None]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return fmean(known) if known else None


def item_results(items: list[EvalItem], *, failed: bool = False) -> list[ItemResult]:
    """Each sample's result (only those judged wrong with ``failed``), in recorded order."""
    return [
        ItemResult(
            item_id=i.item_id,
            sample=i.sample,
            metric=i.metric,
            correct=i.correct,
            extracted_answer=i.extracted_answer,
            gold_answer=i.gold_answer,
            prompt_tokens=i.prompt_tokens,
            thinking_tokens=i.thinking_tokens,
            answer_tokens=i.answer_tokens,
            num_waits=i.num_waits,
            forced_end=i.forced_end,
            latency_s=i.latency_s,
        )
        for i in items
        if not failed or i.correct is False
    ]


def summarize(
    ledger: Ledger, run_id: str, *, per_item: bool = False, failed: bool = False
) -> EvalSummary:
    """Accuracy (Wilson 95 %), tokens per item, forced-end rate and cost of one eval run; with
    ``per_item``, each sample's result of the summary's metric too (only the wrong ones with
    ``failed``)."""
    run = find_run(ledger, run_id)
    everything = ledger.eval_items(run.id)
    metric = _primary_metric(run, everything)
    items = [i for i in everything if i.metric == metric]
    judged = [i for i in items if i.correct is not None]
    by_item: dict[str, list[bool]] = defaultdict(list)
    for i in judged:
        by_item[i.item_id].append(bool(i.correct))
    correct = sum(sum(v) / len(v) for v in by_item.values())
    n = len(by_item)
    low, high = wilson(correct, n) if n else (None, None)
    detail = run.detail or {}
    return EvalSummary(
        run=run.id,
        subject=run.subject,
        status=run.status.value,
        model=detail.get("model"),
        backend=detail.get("backend"),
        benchmark=detail.get("benchmark"),
        protocol=detail.get("protocol"),
        imported_from=detail.get("imported_from"),
        metric=metric,
        items=n,
        samples=len(judged),
        unjudged=len(items) - len(judged),
        correct=correct,
        accuracy=correct / n if n else None,
        ci_low=low,
        ci_high=high,
        prompt_tokens_per_item=_mean([i.prompt_tokens for i in items]),
        thinking_tokens_per_item=_mean([i.thinking_tokens for i in items]),
        answer_tokens_per_item=_mean([i.answer_tokens for i in items]),
        waits_per_item=_mean([i.num_waits for i in items]),
        forced_end_rate=_mean([None if i.forced_end is None else int(i.forced_end) for i in items]),
        latency_s_per_item=_mean([i.latency_s for i in items]),
        wall_time_s=run.wall_time_s,
        per_item=item_results(items, failed=failed) if per_item else None,
        **_cost(ledger, run),
    )


def _cost(ledger: Ledger, run: Run) -> dict[str, object]:
    from ledger.audit import price_book
    from ledger.costs import price_lines

    totals = [t for t in ledger.usage_totals([run.subject]) if t.run == run.id]
    gpu = [t.quantity for t in totals if t.unit is Unit.GPU_HOUR]
    energy = [t.quantity for t in totals if t.unit is Unit.KWH]
    tokens: dict[str, float] = {}
    for usage in ledger.usages(run.subject):
        if usage.run == run.id and usage.unit is Unit.TOKEN and usage.quantity is not None:
            role = str((usage.detail or {}).get("role", usage.resource))
            tokens[role] = tokens.get(role, 0.0) + usage.quantity
    lines = price_lines(totals, price_book(ledger), run.subject)
    lows = [x.cost_usd_low for x in lines if x.cost_usd_low is not None]
    highs = [x.cost_usd_high for x in lines if x.cost_usd_high is not None]
    priced = [x for x in lines if x.cost_usd_low is not None and x.cost_usd_high is not None]
    return {
        "gpu_hours": sum(gpu) if gpu else None,
        "energy_kwh": sum(energy) if energy else None,
        "tokens": tokens,
        "cost_usd_low": sum(lows, Decimal(0)) if priced else None,
        "cost_usd_high": sum(highs, Decimal(0)) if priced else None,
        "cards": sorted({c for x in priced for c in x.cards}),
    }
