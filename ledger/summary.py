"""What ``receipts report`` adds to a cost report before it is shown: totals rows, the runs that
recorded no GPU time (or nothing), and the bottom line; and, for an audit, the wall time of the
scopes that are one run. Reads the ledger; the arithmetic is sums of the report's own lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ledger.bottom_line import report_bottom_line
from ledger.costs import INFORMATIONAL_UNITS, in_scope
from ledger.report import Audit, CostLine, CostReport, QuietRun, ReportTotal
from ledger.schema import GPU_UNMETERED, PARENT_RUN, RunStatus, Unit
from ledger.store import Ledger


def _total(label: str, inherited: bool, lines: Sequence[CostLine]) -> ReportTotal:
    priced = [ln for ln in lines if ln.cost_usd_low is not None and ln.cost_usd_high is not None]
    gpu = [ln for ln in lines if ln.unit is Unit.GPU_HOUR]
    return ReportTotal(
        label=label,
        inherited=inherited,
        cost_usd_low=sum((ln.cost_usd_low or Decimal(0) for ln in priced), Decimal(0)),
        cost_usd_high=sum((ln.cost_usd_high or Decimal(0) for ln in priced), Decimal(0)),
        gpu_hours=sum(ln.quantity for ln in gpu) if gpu else None,
        gpu_hours_low=sum(ln.quantity_low for ln in gpu) if gpu else None,
        gpu_hours_high=sum(ln.quantity_high for ln in gpu) if gpu else None,
        unpriced_lines=sum(
            1 for ln in lines if ln.cost_usd_low is None and ln.unit not in INFORMATIONAL_UNITS
        ),
    )


def totals(report: CostReport) -> list[ReportTotal]:
    """The totals rows: the subject's own lines, then everything with what it inherits (only
    where it inherits priced lines)."""
    lines = [line for g in report.groups for line in g.lines]
    own = [line for line in lines if not line.inherited]
    rows = [_total(f"total, {report.subject}", False, own)]
    if len(own) != len(lines):
        rows.append(_total("total, with inherited", True, lines))
    return rows


def quiet_runs(ledger: Ledger, report: CostReport) -> list[QuietRun]:
    """The subject's finished runs that recorded no GPU time: nothing at all, or other usages
    (tokens, calls) only. A run whose wrapper said why (NVML unavailable, no GPU visible) carries
    the reason; one that ran inside a wrapped run names it."""
    lines = [line for g in report.groups for line in g.lines]
    used: dict[str, set[Unit]] = {}
    for line in lines:
        used.setdefault(line.run, set()).add(line.unit)
    for u in report.unpriced:
        used.setdefault(u.run, set()).add(u.unit)
    found = []
    for run in ledger.runs(report.subject):
        if run.status in (RunStatus.RUNNING, RunStatus.REPORTED):
            continue
        units = used.get(run.id, set())
        if Unit.GPU_HOUR in units or Unit.USD in units:
            continue
        detail = run.detail or {}
        why = detail.get(GPU_UNMETERED)
        parent = detail.get(PARENT_RUN)
        if not units or why is not None or parent is not None:
            found.append(
                QuietRun(
                    run=run.id,
                    stage=run.stage,
                    status=run.status.value,
                    recorded_nothing=not units,
                    why=str(why) if why is not None else None,
                    parent_run=str(parent) if parent is not None else None,
                )
            )
    return found


def complete_report(ledger: Ledger, report: CostReport) -> CostReport:
    """``report`` with its totals rows, quiet runs and bottom line."""
    done = report.model_copy(
        update={"totals": totals(report), "quiet_runs": quiet_runs(ledger, report)}
    )
    return done.model_copy(update={"bottom_line": report_bottom_line(done)})


def scope_walls(ledger: Ledger, audit: Audit) -> dict[str, float]:
    """Wall time in seconds of each of the subject's scopes whose lines all come from one run
    that has one (``s1/final-sft-rented``: the 26-minute run), by scope id."""
    lines = [line for g in audit.categories for line in g.lines]
    runs = {run.id: run for s in audit.lineage for run in ledger.runs(s)}
    walls = {}
    for scope in ledger.scopes(audit.subject):
        ids = {line.run for line in lines if in_scope(line, scope)}
        if len(ids) == 1:
            run = runs.get(ids.pop())
            if run is not None and run.wall_time_s:
                walls[scope.id] = run.wall_time_s
    return walls
