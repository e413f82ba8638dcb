"""Cost arithmetic: usage totals times price cards, summed per category, stage, run and scope.

All functions here are pure: they take usage totals (from :meth:`ledger.store.Ledger.usage_totals`)
and a :class:`~ledger.prices.PriceBook`, and return report records. Money stays ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Protocol

from ledger.prices import PriceBook
from ledger.report import CostGroup, CostLine, ScopeCost, Unpriced
from ledger.schema import Category, Provenance, Scope, Unit, Usage
from ledger.store import UsageTotal

ZERO = Decimal(0)
INFORMATIONAL_UNITS = frozenset({Unit.GPU_HOUR_BUSY, Unit.KWH, Unit.TOKEN, Unit.CALL, Unit.FLOP})
"""Units reported beside costs but not billed: busy GPU-hours, energy (a rented GPU-hour's price
includes its power), tokenizer counts, request counts and FLOP. A card for one of them, where a
user adds one (a kWh price for owned hardware), still prices it; without one it is not listed as
unpriced."""
_CATEGORY_NAMES = {c.value for c in Category}


def dec(value: float) -> Decimal:
    """A float quantity as the Decimal of its shortest repr (6.933333333333334, not the binary
    expansion), so that money arithmetic on it stays exact."""
    return Decimal(repr(value))


def price_lines(totals: Iterable[UsageTotal], book: PriceBook, own_subject: str) -> list[CostLine]:
    """One cost line per usage total; a line without a card has no cost and ``priced=False``."""
    lines = []
    for t in totals:
        found = None if t.unit is Unit.USD else book.range(t.resource, t.unit)
        low = high = None
        cards: list[str] = []
        bound = False
        if t.unit is Unit.USD:  # money reported as money: its own price
            low, high = dec(t.quantity_low), dec(t.quantity_high)
            # "under $500" is stored as 0..500 (ledger.cases.ReportedUsd): only its top is known
            bound = t.quantity_low == 0 < t.quantity_high
        elif found is not None:
            low = dec(t.quantity_low) * found.low.usd_per_unit
            high = dec(t.quantity_high) * found.high.usd_per_unit
            cards = [c.id for c in found.cards]
        lines.append(
            CostLine(
                subject=t.subject,
                inherited=t.subject != own_subject,
                category=t.category,
                stage=t.stage,
                run=t.run,
                resource=t.resource,
                unit=t.unit,
                provenance=t.provenance,
                quantity=t.quantity,
                quantity_low=t.quantity_low,
                quantity_high=t.quantity_high,
                cost_usd_low=low,
                cost_usd_high=high,
                low_card=found.low.id if found else None,
                high_card=found.high.id if found else None,
                cards=cards,
                upper_bound_only=bound,
            )
        )
    return lines


def group_lines(lines: Sequence[CostLine], key: Callable[[CostLine], str]) -> list[CostGroup]:
    """Sum priced lines under ``key``; GPU-hours are summed over ``gpu_hour`` lines."""
    groups: dict[str, list[CostLine]] = {}
    for line in lines:
        groups.setdefault(key(line), []).append(line)
    return [_group(name, members) for name, members in groups.items()]


def _group(name: str, members: Sequence[CostLine]) -> CostGroup:
    priced = [m for m in members if m.cost_usd_low is not None and m.cost_usd_high is not None]
    gpu = [m for m in members if m.unit is Unit.GPU_HOUR]
    categories = {m.category for m in members}
    return CostGroup(
        key=name,
        category=categories.pop() if len(categories) == 1 and name in _CATEGORY_NAMES else None,
        inherited=all(m.inherited for m in members),
        cost_usd_low=sum((m.cost_usd_low for m in priced if m.cost_usd_low is not None), ZERO),
        cost_usd_high=sum((m.cost_usd_high for m in priced if m.cost_usd_high is not None), ZERO),
        gpu_hours=sum(m.quantity for m in gpu) if gpu else None,
        gpu_hours_low=sum(m.quantity_low for m in gpu) if gpu else None,
        gpu_hours_high=sum(m.quantity_high for m in gpu) if gpu else None,
        provenance=sorted({m.provenance for m in members}, key=list(Provenance).index),
        unpriced_lines=sum(
            1 for m in members if m.cost_usd_low is None and m.unit not in INFORMATIONAL_UNITS
        ),
        lines=list(members),
        upper_bound_only=bool(priced) and all(m.upper_bound_only for m in priced),
    )


def by_category(lines: Sequence[CostLine]) -> list[CostGroup]:
    """Groups per category, in the canonical category order (empty ones left out)."""
    groups = {g.key: g for g in group_lines(lines, lambda line: line.category.value)}
    return [groups[c.value] for c in Category if c.value in groups]


class Scoped(Protocol):
    """What scope membership looks at: cost lines and unpriced items both have it."""

    @property
    def inherited(self) -> bool: ...
    @property
    def category(self) -> Category: ...
    @property
    def run(self) -> str: ...
    @property
    def resource(self) -> str: ...


def in_scope(line: Scoped, scope: Scope) -> bool:
    """Whether a cost line (or an unpriced item) counts under a scope."""
    if line.inherited and not scope.include_inherited:
        return False
    if line.category not in scope.categories:
        return False
    if scope.runs is not None and not line.inherited and line.run not in scope.runs:
        return False
    return scope.resource_prefixes is None or any(
        line.resource.startswith(p) for p in scope.resource_prefixes
    )


def scope_costs(
    lines: Sequence[CostLine], scopes: Iterable[Scope], missing: Sequence[Unpriced] = ()
) -> list[ScopeCost]:
    """Totals of every scope, with the unpriced lines and unquantified usages it leaves out."""
    out = []
    for scope in scopes:
        group = _group(scope.id, [line for line in lines if in_scope(line, scope)])
        unquantified = sum(1 for m in missing if m.quantity is None and in_scope(m, scope))
        out.append(
            ScopeCost(
                scope=scope.id,
                label=scope.label,
                categories=scope.categories,
                include_inherited=scope.include_inherited,
                cost_usd_low=group.cost_usd_low,
                cost_usd_high=group.cost_usd_high,
                gpu_hours=group.gpu_hours,
                gpu_hours_low=group.gpu_hours_low,
                gpu_hours_high=group.gpu_hours_high,
                unpriced_lines=group.unpriced_lines,
                unquantified=unquantified,
                upper_bound_only=group.upper_bound_only,
            )
        )
    return out


def unpriced(
    lines: Sequence[CostLine], unquantified: Iterable[tuple[Usage, str, Category]], own_subject: str
) -> list[Unpriced]:
    """Usages that carry no cost: quantified but without a card, or never quantified."""
    out = [
        Unpriced(
            subject=line.subject,
            inherited=line.inherited,
            category=line.category,
            run=line.run,
            resource=line.resource,
            unit=line.unit,
            quantity=line.quantity,
            reason=f"no price card for {line.resource} per {line.unit.value}",
        )
        for line in lines
        if line.cost_usd_low is None and line.unit not in INFORMATIONAL_UNITS
    ]
    for usage, subject, category in unquantified:
        out.append(
            Unpriced(
                subject=subject,
                inherited=subject != own_subject,
                category=category,
                run=usage.run,
                resource=usage.resource,
                unit=usage.unit,
                quantity=None,
                reason="not quantified" + (f": {usage.note}" if usage.note else ""),
                citation=usage.citation,
            )
        )
    return out
