"""The curation funnel report: every funnel of a subject read back from the ledger, each step
priced with the ledger's price book, and funnels that count the same pipeline differently (the s1
paper's and notebook's counts) aligned step by step.

:func:`funnel_report` reads the ledger; :func:`build_funnel_report` is the pure part. The funnels
are written by the funnel probe as it runs each step, or loaded from a case file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ledger.costs import group_lines, price_lines
from ledger.errors import NotFoundError
from ledger.prices import PriceBook
from ledger.report import CostLine, Usd
from ledger.schema import SCHEMA_VERSION, FunnelStep, Provenance, Record
from ledger.store import Ledger


class FunnelStepCost(Record):
    """One funnel step with its counts and the cost of its runs."""

    order: int
    """Position in the funnel, from 1."""
    name: str
    """What the step does."""
    records_in: int | None
    """Records entering; ``None`` where not stated."""
    records_out: int
    """Records leaving."""
    dropped: int | None
    """``records_in - records_out`` (negative where a step adds records)."""
    kept_pct: float | None
    """``100 * records_out / records_in``; ``None`` without ``records_in`` or with zero in."""
    wall_time_s: float | None
    """Wall time of the step, where measured."""
    provenance: Provenance
    """How the counts are known."""
    citation: str | None
    """Where reported counts come from."""
    note: str | None
    """What a reader must know about the step."""
    runs: list[str]
    """Runs that executed the step."""
    cost_usd_low: Usd | None
    """Low total of the runs' priced usages; ``None`` where nothing is priced (missing, not 0)."""
    cost_usd_high: Usd | None
    """High total of the runs' priced usages; ``None`` where nothing is priced."""
    gpu_hours: float | None
    """Central allocated GPU-hours of the runs; ``None`` where none were recorded."""
    unpriced_lines: int
    """Usage lines without a price card (informational units such as tokens excluded)."""
    unquantified: int
    """Usages of the runs that nobody quantified."""
    cost_provenance: list[Provenance]
    """Provenances of the runs' usage lines, most direct first (empty without lines)."""
    lines: list[CostLine]
    """Every usage line of the step's runs, priced or not (tokens, FLOP: informational)."""


class FunnelSummary(Record):
    """One funnel of a subject, step by step."""

    funnel: str
    """Funnel name."""
    steps: list[FunnelStepCost]
    """The steps, in order."""
    records_start: int
    """Records at the top: the first step's ``records_in``, else its ``records_out``."""
    records_final: int
    """Records leaving the last step."""
    kept_pct: float | None
    """``100 * records_final / records_start``; ``None`` where ``records_start`` is 0."""
    wall_time_s: float | None
    """Sum of the steps' wall times; ``None`` unless every step has one."""
    cost_usd_low: Usd | None
    """Low total over the funnel's distinct runs; ``None`` where nothing is priced."""
    cost_usd_high: Usd | None
    """High total over the funnel's distinct runs; ``None`` where nothing is priced."""


class AlignedStep(Record):
    """A step of the reference funnel beside the other funnel's step that counts the same cut."""

    reference_order: int | None
    """Step in the reference funnel; ``None`` where only the other funnel has the step."""
    reference_name: str | None
    """Its name."""
    reference_in: int | None
    """Its records in."""
    reference_out: int | None
    """Its records out."""
    other_order: int | None
    """Step in the other funnel; ``None`` where only the reference has the step."""
    other_name: str | None
    """Its name."""
    other_in: int | None
    """Its records in."""
    other_out: int | None
    """Its records out."""
    difference_out: int | None
    """``other_out - reference_out`` where both funnels have the step."""


class FunnelComparison(Record):
    """Two funnels of one subject aligned step by step on their counts."""

    reference: str
    """The funnel compared against."""
    other: str
    """The funnel compared."""
    rows: list[AlignedStep]
    """Aligned steps, top of the funnel first."""


class FunnelReport(Record):
    """Every curation funnel of a subject, with step costs and the funnels' differences."""

    schema_version: int = SCHEMA_VERSION
    """Format version."""
    subject: str
    """Subject whose data the funnels built."""
    funnels: list[FunnelSummary]
    """The funnels, the reference first."""
    comparisons: list[FunnelComparison]
    """The reference against every other funnel (empty with one funnel)."""
    price_cards: list[str]
    """Ids of every card used."""


_GAP = 0.25
"""Alignment cost of a step one funnel has and the other does not: two steps whose counts differ
by more than 50% are never paired."""


def _pair_cost(a: FunnelStep, b: FunnelStep) -> float:
    return abs(a.records_out - b.records_out) / max(a.records_out, b.records_out, 1)


def align(reference: Sequence[FunnelStep], other: Sequence[FunnelStep]) -> list[AlignedStep]:
    """Pair the steps of two funnels in order, on their output counts (minimum-cost alignment).

    Pairing costs the relative difference of the counts out, leaving a step unpaired costs
    ``_GAP``; ties prefer pairing. The s1 paper's five steps align with six of the notebook's:
    the notebook's 59,029 -> 58,986 step has no counterpart in the paper.
    """
    n, m = len(reference), len(other)
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i * _GAP
    for j in range(1, m + 1):
        cost[0][j] = j * _GAP
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(
                cost[i - 1][j - 1] + _pair_cost(reference[i - 1], other[j - 1]),
                cost[i - 1][j] + _GAP,
                cost[i][j - 1] + _GAP,
            )
    rows: list[AlignedStep] = []
    i, j = n, m
    while i or j:
        a = reference[i - 1] if i else None
        b = other[j - 1] if j else None
        if a and b and cost[i][j] == cost[i - 1][j - 1] + _pair_cost(a, b):
            rows.append(_aligned(a, b))
            i, j = i - 1, j - 1
        elif a and cost[i][j] == cost[i - 1][j] + _GAP:
            rows.append(_aligned(a, None))
            i -= 1
        else:
            rows.append(_aligned(None, b))
            j -= 1
    return rows[::-1]


def _aligned(a: FunnelStep | None, b: FunnelStep | None) -> AlignedStep:
    return AlignedStep(
        reference_order=a.order if a else None,
        reference_name=a.name if a else None,
        reference_in=a.records_in if a else None,
        reference_out=a.records_out if a else None,
        other_order=b.order if b else None,
        other_name=b.name if b else None,
        other_in=b.records_in if b else None,
        other_out=b.records_out if b else None,
        difference_out=b.records_out - a.records_out if a and b else None,
    )


def _pct(part: int, whole: int | None) -> float | None:
    return None if not whole else 100.0 * part / whole


def _step_cost(step: FunnelStep, lines: Sequence[CostLine], unquantified: int) -> FunnelStepCost:
    mine = [line for line in lines if line.run in step.runs]
    groups = group_lines(mine, lambda _line: step.id)
    priced = any(line.cost_usd_low is not None for line in mine)
    group = groups[0] if groups else None
    return FunnelStepCost(
        order=step.order,
        name=step.name,
        records_in=step.records_in,
        records_out=step.records_out,
        dropped=None if step.records_in is None else step.records_in - step.records_out,
        kept_pct=_pct(step.records_out, step.records_in),
        wall_time_s=step.wall_time_s,
        provenance=step.provenance,
        citation=step.citation,
        note=step.note,
        runs=list(step.runs),
        cost_usd_low=group.cost_usd_low if group and priced else None,
        cost_usd_high=group.cost_usd_high if group and priced else None,
        gpu_hours=group.gpu_hours if group else None,
        unpriced_lines=group.unpriced_lines if group else 0,
        unquantified=unquantified,
        cost_provenance=group.provenance if group else [],
        lines=mine,
    )


def _summary(
    name: str,
    steps: Sequence[FunnelStep],
    lines: Sequence[CostLine],
    unquantified: Mapping[str, int],
) -> FunnelSummary:
    costs = [_step_cost(s, lines, sum(unquantified.get(r, 0) for r in s.runs)) for s in steps]
    runs = {run for s in steps for run in s.runs}  # a run shared by two steps is counted once
    mine = [line for line in lines if line.run in runs]
    groups = group_lines(mine, lambda _line: name)
    priced = bool(groups) and any(line.cost_usd_low is not None for line in mine)
    walls = [s.wall_time_s for s in steps]
    first = steps[0]
    start = first.records_in if first.records_in is not None else first.records_out
    return FunnelSummary(
        funnel=name,
        steps=costs,
        records_start=start,
        records_final=steps[-1].records_out,
        kept_pct=_pct(steps[-1].records_out, start),
        wall_time_s=None if None in walls else sum(w for w in walls if w is not None),
        cost_usd_low=groups[0].cost_usd_low if priced else None,
        cost_usd_high=groups[0].cost_usd_high if priced else None,
    )


def _reference(by_funnel: Mapping[str, Sequence[FunnelStep]]) -> str:
    """The funnel that costs are attached to: most steps with runs, then the first by name."""
    return min(by_funnel, key=lambda f: (-sum(1 for s in by_funnel[f] if s.runs), f))


def build_funnel_report(
    subject: str,
    steps: Sequence[FunnelStep],
    lines: Sequence[CostLine],
    unquantified: Mapping[str, int] | None = None,
    reference: str | None = None,
) -> FunnelReport:
    """The funnel report from the steps, the priced usage lines of their runs, and the count of
    unquantified usages per run. Pure: no ledger access.

    Args:
        reference: the funnel the others are compared with; by default the one with the most
            steps that name runs (the one costs are attached to), ties broken by name.

    Raises:
        NotFoundError: no steps, or ``reference`` is not one of the subject's funnels.
    """
    by_funnel: dict[str, list[FunnelStep]] = {}
    for step in sorted(steps, key=lambda s: (s.funnel, s.order)):
        by_funnel.setdefault(step.funnel, []).append(step)
    if not by_funnel:
        raise NotFoundError(f"subject {subject!r} has no curation funnel")
    if reference is None:
        reference = _reference(by_funnel)
    elif reference not in by_funnel:
        known = ", ".join(by_funnel)
        raise NotFoundError(f"subject {subject!r} has no funnel {reference!r} (funnels: {known})")
    order = [reference, *(f for f in by_funnel if f != reference)]
    counts = unquantified or {}
    return FunnelReport(
        subject=subject,
        funnels=[_summary(f, by_funnel[f], lines, counts) for f in order],
        comparisons=[
            FunnelComparison(
                reference=reference, other=f, rows=align(by_funnel[reference], by_funnel[f])
            )
            for f in order[1:]
        ],
        price_cards=sorted({card for line in lines for card in line.cards}),
    )


def funnel_report(
    ledger: Ledger,
    subject: str,
    *,
    funnel: str | None = None,
    reference: str | None = None,
    book: PriceBook | None = None,
) -> FunnelReport:
    """Read a subject's funnels from the ledger and price their steps.

    Only runs of the subject itself are priced (a funnel builds its own subject's data).

    Raises:
        NotFoundError: the subject is unknown, or it has no funnel (the message says how to load
            one), or ``funnel`` / ``reference`` names none of its funnels.
    """
    from ledger.audit import price_book  # the audit module pulls in every report model

    try:
        ledger.subject(subject)
    except NotFoundError as exc:
        raise NotFoundError(f"{exc}; {_load_hint(subject)}") from None
    steps = ledger.funnel_steps(subject, funnel)
    if not steps and funnel is not None:
        known = sorted({s.funnel for s in ledger.funnel_steps(subject)})
        raise NotFoundError(
            f"subject {subject!r} has no funnel {funnel!r} (funnels: {', '.join(known) or 'none'})"
        )
    if not steps:
        raise NotFoundError(
            f"subject {subject!r} has no curation funnel in this ledger; {_load_hint(subject)}"
        )
    runs = {run for step in steps for run in step.runs}
    totals = [t for t in ledger.usage_totals([subject]) if t.run in runs]
    lines = price_lines(totals, book or price_book(ledger), subject)
    unquantified: dict[str, int] = {}
    for usage in ledger.unquantified([subject]):
        if usage.run in runs:
            unquantified[usage.run] = unquantified.get(usage.run, 0) + 1
    return build_funnel_report(subject, steps, lines, unquantified, reference)


def _load_hint(subject: str) -> str:
    """What to run to get the subject's funnel into the ledger."""
    from ledger.cases import bundled_case_names, load_case

    cases = [name for name in bundled_case_names() if load_case(name).subject == subject]
    if cases:
        return f"`receipts audit {cases[0]}` loads the bundled case that has it"
    return "load a case file with funnel_steps (`receipts load FILE`) or execute a Funnel"
