"""The runs table and the cost contrast: pure functions of cost lines and usages."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import Decimal

from ledger.costs import group_lines
from ledger.enums import Provenance, Unit
from ledger.report import CostGroup, CostLine, Unpriced
from ledger.schema import Run, Usage
from receipts.appendix.schema import CostContrast, RunRow

METERED_UNITS = frozenset({Unit.GPU_HOUR, Unit.GPU_HOUR_BUSY, Unit.KWH})
"""Units a GPU meter records per device (see ``probes.run.session.device_usages``)."""


def run_rows(
    runs: Sequence[Run],
    own_subject: str,
    lines: Sequence[CostLine],
    measured: Iterable[Usage],
    missing: Sequence[Unpriced],
) -> list[RunRow]:
    """One row a run: its priced lines summed, its metered devices described.

    Args:
        runs: every run of the subject and its ancestors, in the order to show them.
        own_subject: the audited subject (the others' runs are inherited).
        lines: every cost line of those runs.
        measured: the measured GPU usages (allocated, busy, energy) with their ``detail``.
        missing: what carries no cost, for the count of unquantified usages per run.
    """
    groups = {g.key: g for g in group_lines(lines, lambda line: line.run)}
    by_run: dict[str, list[Usage]] = {}
    for usage in measured:
        by_run.setdefault(usage.run, []).append(usage)
    unquantified: dict[str, int] = {}
    for item in missing:
        if item.quantity is None:
            unquantified[item.run] = unquantified.get(item.run, 0) + 1
    return [
        _row(
            run,
            run.subject != own_subject,
            groups.get(run.id),
            by_run.get(run.id, []),
            unquantified.get(run.id, 0),
        )
        for run in runs
    ]


def _sum(lines: Sequence[CostLine], unit: Unit) -> float | None:
    found = [line.quantity for line in lines if line.unit is unit]
    return math.fsum(found) if found else None


def _row(
    run: Run, inherited: bool, group: CostGroup | None, metered: list[Usage], unquantified: int
) -> RunRow:
    lines = group.lines if group else []
    priced = any(line.cost_usd_low is not None for line in lines)
    allocated = group.gpu_hours if group else None
    busy = _sum(lines, Unit.GPU_HOUR_BUSY)
    measured_alloc = [u for u in metered if u.unit is Unit.GPU_HOUR]
    details = [u.detail or {} for u in metered]
    devices = {str(d.get("device_uuid")) for d in details if d.get("device_uuid")}
    methods = sorted(
        {
            str(d["method"])
            for u, d in zip(metered, details, strict=True)
            if u.unit is Unit.KWH and d.get("method")
        }
    )
    return RunRow(
        id=run.id,
        subject=run.subject,
        inherited=inherited,
        category=run.category,
        stage=run.stage,
        name=run.name,
        status=run.status,
        provenance=group.provenance if group else [],
        started_at=run.started_at,
        wall_time_s=run.wall_time_s,
        host=run.host,
        citation=run.citation,
        note=run.note,
        gpu_hours=allocated,
        gpu_hours_low=group.gpu_hours_low if group else None,
        gpu_hours_high=group.gpu_hours_high if group else None,
        gpu_hours_busy=busy,
        busy_pct=_busy_pct(busy, measured_alloc),
        energy_kwh=_sum(lines, Unit.KWH),
        energy_methods=methods,
        devices=len(devices) if devices else None,
        shared=any(bool(d.get("shared")) for d in details),
        cost_usd_low=group.cost_usd_low if group and priced else None,
        cost_upper_bound_only=group.upper_bound_only if group else False,
        cost_usd_high=group.cost_usd_high if group and priced else None,
        unpriced_lines=group.unpriced_lines if group else 0,
        unquantified=unquantified,
    )


def _busy_pct(busy: float | None, allocated: list[Usage]) -> float | None:
    """Busy share of the *measured* allocation (a declared allocation has no busy time)."""
    hours = math.fsum(u.quantity or 0.0 for u in allocated if u.provenance is Provenance.MEASURED)
    if busy is None or not hours:
        return None
    return 100.0 * busy / hours


def _geomean(low: Decimal, high: Decimal) -> float:
    return math.sqrt(float(low) * float(high))


def contrast(categories: Sequence[CostGroup]) -> CostContrast | None:
    """The dearest category against the cheapest one with a positive priced range."""
    priced = [
        g for g in categories if g.category is not None and g.cost_usd_low > 0 and g.cost_usd_high
    ]
    if len(priced) < 2:
        return None
    large = max(priced, key=lambda g: _geomean(g.cost_usd_low, g.cost_usd_high))
    small = min(priced, key=lambda g: _geomean(g.cost_usd_low, g.cost_usd_high))
    assert large.category is not None and small.category is not None
    return CostContrast(
        large=large.category,
        large_inherited=large.inherited,
        small=small.category,
        ratio=_geomean(large.cost_usd_low, large.cost_usd_high)
        / _geomean(small.cost_usd_low, small.cost_usd_high),
        ratio_low=float(large.cost_usd_low / small.cost_usd_low),
        ratio_high=float(large.cost_usd_high / small.cost_usd_high),
    )
