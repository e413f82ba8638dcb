"""``receipts import prometheus --compare``: a job metered from Prometheus set beside the runs
that already metered it (``receipts run`` on its nodes), node by node, with nothing recorded.

A node's GPUs are counted once in the ledger: where a wrapper metered them, the import is refused
(:func:`probes.prometheus.importer.import_prometheus`), and this comparison is how the two
measurements are read side by side. Both are measured; they differ by what they cover (the
command's lifetime against the job's window) and by their samplers (NVML in-process against
dcgm-exporter's scrapes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from ledger.metered import node_name
from ledger.schema import Category, Provenance, Run, RunStatus, Unit, Usage
from probes.prometheus.importer import job_window, metering_runs, plan_runs
from probes.prometheus.meter import Selection, meter_job
from probes.prometheus.query import PrometheusSource
from probes.prometheus.schema import Comparison, NodeComparison

if TYPE_CHECKING:
    from ledger.store import Ledger


def _sum(usages: Iterable[Usage], runs: set[str], unit: Unit) -> float | None:
    found = [
        u.quantity
        for u in usages
        if u.run in runs
        and u.unit is unit
        and u.provenance is Provenance.MEASURED
        and u.quantity is not None
    ]
    return math.fsum(found) if found else None


def compare_prometheus(
    ledger: Ledger,
    source: PrometheusSource,
    selection: Selection,
    *,
    subject: str,
    stage: str,
    category: Category,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Comparison:
    """Meter the job from Prometheus and set it beside the ledger's runs of the same job on the
    same nodes over the window; write nothing.

    Raises:
        PrometheusError: bad options, an unreachable server, an empty or ambiguous selection.
    """
    begin, finish, window_from, _ = job_window(ledger, selection.job_id, start, end)
    measures = meter_job(
        source, selection, begin.timestamp(), finish.timestamp(), (finish - begin).total_seconds()
    )
    planned, planned_usages, result = plan_runs(
        measures,
        selection=selection,
        url=source.url,
        subject=subject,
        stage=stage,
        category=category,
        start=begin,
        end=finish,
        status=RunStatus.SUCCEEDED,
        window_from=window_from,
    )
    pairs = metering_runs(ledger, planned)
    theirs: dict[str, list[Run]] = {}
    for new, old in pairs:
        theirs.setdefault(new.id, []).append(old)
    usages = [
        u
        for subject_id in sorted({old.subject for _, old in pairs})
        for u in ledger.usages(subject_id)
    ]
    nodes = []
    for run in planned:
        ids = {old.id for old in theirs.get(run.id, [])}
        mine = {run.id}
        nodes.append(
            NodeComparison(
                host=run.host or "",
                prometheus_run=run.id,
                wrapper_runs=sorted(ids),
                wrapper_gpu_hours=_sum(usages, ids, Unit.GPU_HOUR),
                wrapper_busy_gpu_hours=_sum(usages, ids, Unit.GPU_HOUR_BUSY),
                wrapper_energy_kwh=_sum(usages, ids, Unit.KWH),
                prometheus_gpu_hours=_sum(planned_usages, mine, Unit.GPU_HOUR) or 0.0,
                prometheus_busy_gpu_hours=_sum(planned_usages, mine, Unit.GPU_HOUR_BUSY),
                prometheus_energy_kwh=_sum(planned_usages, mine, Unit.KWH),
            )
        )
    return Comparison(
        url=result.url,
        job_id=selection.job_id,
        started_at=begin,
        ended_at=finish,
        window_from=window_from,
        nodes=nodes,
        explanation=explain(selection.job_id, nodes),
    )


def _gap(ours: float, theirs: float) -> str:
    return f" ({(ours - theirs) / theirs:+.1%})" if theirs else ""


def explain(job_id: str, nodes: list[NodeComparison]) -> list[str]:
    """One line per node, then what the figures cover (pure)."""
    lines = []
    for node in nodes:
        host = node_name(node.host)
        if not node.wrapper_runs:
            lines.append(
                f"{host}: no run of job {job_id} metered it over the window; `receipts import "
                f"prometheus --host {node.host}` records Prometheus's figures for it."
            )
            continue
        runs = ", ".join(node.wrapper_runs)
        alloc = node.wrapper_gpu_hours
        if alloc is None:
            lines.append(f"{host}: {runs} is still running and has recorded no GPU-hours yet.")
            continue
        line = (
            f"{host}: {runs} measured {alloc:.4f} allocated GPU-hours, Prometheus "
            f"{node.prometheus_gpu_hours:.4f}{_gap(node.prometheus_gpu_hours, alloc)}"
        )
        we, pe = node.wrapper_energy_kwh, node.prometheus_energy_kwh
        if we is not None and pe is not None:
            line += f"; energy {we:.4f} kWh (NVML) vs {pe:.4f} kWh (DCGM){_gap(pe, we)}"
        lines.append(line + ".")
    lines.append(
        "The wrapper counts the command's lifetime, Prometheus the job's window (DCGM's energy "
        "from its first to its last scrape in it): two measurements of one job, never added. "
        "Nothing was recorded."
    )
    return lines
