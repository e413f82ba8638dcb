"""Slurm's GPU-hours for a job beside the probes' allocated and busy GPU-hours, and why they
differ.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ledger.errors import NotFoundError
from ledger.schema import Provenance, Unit
from probes.slurm.importer import RUN_PREFIX
from probes.slurm.parse import SACCT_FORMAT
from probes.slurm.records import expand_hostlist, short_host
from probes.slurm.schema import Reconciliation

if TYPE_CHECKING:
    from ledger.store import Ledger

AGREEMENT = 0.02
"""Slurm and the probes agree when they differ by at most this fraction of Slurm's figure."""


PROMETHEUS_IMPORTER = "prometheus"
"""``detail.importer`` of the runs ``receipts import prometheus`` writes (DCGM via Prometheus):
measured like a wrapper's, but over the job's window rather than the command's lifetime, so they
are set beside the wrapper's figures, never added to them."""


def reconcile(ledger: Ledger, job_id: str) -> Reconciliation:
    """Set the imported Slurm accounting of one job beside the probes' measurements: the
    wrapper's runs and, apart from them, the runs metered from Prometheus.

    Raises:
        NotFoundError: no run in the ledger carries the job id.
    """
    runs = [run for run in ledger.runs() if run.job_id == job_id]
    if not runs:
        raise NotFoundError(
            f"no run in the ledger has job id {job_id!r}: import its accounting with "
            "`receipts import sacct`, or wrap the job with `receipts run`"
        )
    slurm = [run for run in runs if run.id.startswith(RUN_PREFIX)]
    dcgm = [
        run
        for run in runs
        if not run.id.startswith(RUN_PREFIX)
        and (run.detail or {}).get("importer") == PROMETHEUS_IMPORTER
    ]
    probes = [run for run in runs if run not in slurm and run not in dcgm]
    slurm_ids, probe_ids, dcgm_ids = (
        {r.id for r in slurm},
        {r.id for r in probes},
        {r.id for r in dcgm},
    )
    totals = ledger.usage_totals(sorted({run.subject for run in runs}))

    def total(ids: set[str], unit: Unit, provenance: Provenance) -> float | None:
        found = [
            t.quantity
            for t in totals
            if t.run in ids and t.unit is unit and t.provenance is provenance
        ]
        return math.fsum(found) if found else None

    slurm_hours = total(slurm_ids, Unit.GPU_HOUR, Provenance.REPORTED)
    if slurm and slurm_hours is None:
        slurm_hours = 0.0  # imported, and Slurm allocated no GPU
    alloc = total(probe_ids, Unit.GPU_HOUR, Provenance.MEASURED)
    busy = total(probe_ids, Unit.GPU_HOUR_BUSY, Provenance.MEASURED)
    dcgm_alloc = total(dcgm_ids, Unit.GPU_HOUR, Provenance.MEASURED)
    nodes = sorted({h for run in slurm for h in expand_hostlist(run.host)})
    hosts = sorted({short_host(run.host) for run in probes if run.host})
    diff = slurm_hours - alloc if slurm_hours is not None and alloc is not None else None
    dcgm_diff = (
        slurm_hours - dcgm_alloc if slurm_hours is not None and dcgm_alloc is not None else None
    )
    hosts_outside = [h for h in hosts if nodes and h not in nodes]
    result = Reconciliation(
        job_id=job_id,
        slurm_runs=sorted(slurm_ids),
        slurm_gpu_hours=slurm_hours,
        slurm_nodes=nodes,
        probe_runs=sorted(probe_ids),
        probe_hosts=hosts,
        probe_gpu_hours=alloc,
        probe_busy_gpu_hours=busy,
        difference_gpu_hours=diff,
        coverage=alloc / slurm_hours if slurm_hours and alloc is not None else None,
        utilisation=busy / alloc if busy is not None and alloc else None,
        agrees=_agrees(diff, slurm_hours),
        nodes_without_probe=[n for n in nodes if n not in hosts],
        hosts_outside_allocation=hosts_outside,
        explanation=[],
        probe_energy_kwh=total(probe_ids, Unit.KWH, Provenance.MEASURED),
        prometheus_runs=sorted(dcgm_ids),
        prometheus_hosts=sorted({short_host(run.host) for run in dcgm if run.host}),
        prometheus_gpu_hours=dcgm_alloc,
        prometheus_busy_gpu_hours=total(dcgm_ids, Unit.GPU_HOUR_BUSY, Provenance.MEASURED),
        prometheus_energy_kwh=total(dcgm_ids, Unit.KWH, Provenance.MEASURED),
        prometheus_difference_gpu_hours=dcgm_diff,
        prometheus_agrees=_agrees(dcgm_diff, slurm_hours),
    )
    return result.model_copy(update={"explanation": explain(result, attempts=len(slurm))})


def _agrees(diff: float | None, slurm_hours: float | None) -> bool | None:
    return None if diff is None else abs(diff) <= AGREEMENT * (slurm_hours or 0.0) + 1e-9


def explain(figures: Reconciliation, *, attempts: int) -> list[str]:
    """Reasons, one a line, why Slurm's and the probes' GPU-hours differ (pure).

    Args:
        figures: The reconciliation's numbers (its own explanation is ignored).
        attempts: Allocation records Slurm has for the job (more than one: requeued).
    """
    job, slurm, alloc = figures.job_id, figures.slurm_gpu_hours, figures.probe_gpu_hours
    busy, diff, nodes = (
        figures.probe_busy_gpu_hours,
        figures.difference_gpu_hours,
        figures.slurm_nodes,
    )
    lines: list[str] = []
    if slurm is None:
        lines.append(
            f"Slurm side missing: no sacct record of job {job} was imported; export it with "
            f"`sacct -j {job} -P --duplicates --format={SACCT_FORMAT}` and run "
            "`receipts import sacct FILE`."
        )
    if not figures.probe_runs and not figures.prometheus_runs:
        lines.append(
            f"Probe side missing: no probe ran under job {job}; wrap the command with "
            "`receipts run` on every node (it tags its runs with SLURM_JOB_ID), or meter it "
            f"from Prometheus with `receipts import prometheus --job {job}`."
        )
    elif figures.probe_runs and alloc is None:
        lines.append(f"The probe runs of job {job} carry no measured GPU-hours (no GPU visible?).")
    if slurm is not None and alloc is not None and diff is not None:
        lines += _gap_lines(job, slurm, alloc, diff, bool(figures.agrees))
    missing, outside = figures.nodes_without_probe, figures.hosts_outside_allocation
    if figures.probe_runs and missing:
        lines.append(
            f"Probes ran on {len(nodes) - len(missing)} of {len(nodes)} allocated nodes; none on "
            f"{', '.join(missing)}: their GPU time is in Slurm's figure only."
        )
    if outside:
        lines.append(
            f"Probe runs on hosts Slurm did not allocate to job {job} ({', '.join(outside)}): "
            "check the job id they were tagged with."
        )
    lines += _prometheus_lines(figures)
    if attempts > 1:
        lines.append(
            f"Slurm ran job {job} {attempts} times (requeued or preempted): every attempt's "
            "allocation counts; a probe counts only the attempts it wrapped."
        )
    if alloc and busy is not None:
        lines.append(
            f"Busy {busy:.2f} of {alloc:.2f} allocated GPU-hours ({busy / alloc:.0%}): the GPUs "
            "idled the rest of the time (data loading, communication, checkpointing, CPU-bound "
            "phases, or devices allocated but unused)."
        )
    elif alloc:
        lines.append("No busy GPU-hours were measured, so idle time cannot be told apart.")
    return lines


def _gap_lines(job: str, slurm: float, alloc: float, diff: float, agrees: bool) -> list[str]:
    if agrees:
        return [
            f"Slurm and the probes agree within {AGREEMENT:.0%}: {slurm:.2f} vs {alloc:.2f} "
            "GPU-hours."
        ]
    if diff > 0:
        return [
            f"Slurm counts {diff:.2f} GPU-hours more than the probes ({diff / slurm:.1%} of its "
            "figure).",
            "Slurm charges every allocated GPU from the start of the allocation to its release, "
            "including setup before the wrapped command (prolog, container and environment "
            "start-up, data staging) and teardown after it; a probe counts only the wrapped "
            "command's lifetime, on the devices the job could see, on the node it ran on.",
        ]
    return [
        f"The probes count {-diff:.2f} GPU-hours more than Slurm allocated to job {job}: a probe "
        "may have charged devices outside the allocation (CUDA_VISIBLE_DEVICES unset on a shared "
        "node), or runs of another job carry this job id."
    ]


def _prometheus_lines(figures: Reconciliation) -> list[str]:
    """How the job's figures from Prometheus (DCGM) compare with Slurm's and the wrapper's."""
    job, slurm, dcgm = figures.job_id, figures.slurm_gpu_hours, figures.prometheus_gpu_hours
    if not figures.prometheus_runs:
        return []
    if dcgm is None:
        return [f"The Prometheus runs of job {job} carry no measured GPU-hours."]
    lines = []
    diff = figures.prometheus_difference_gpu_hours
    if slurm is not None and diff is not None:
        if figures.prometheus_agrees:
            lines.append(
                f"Slurm and Prometheus (DCGM) agree within {AGREEMENT:.0%}: {slurm:.2f} vs "
                f"{dcgm:.2f} GPU-hours."
            )
        elif diff > 0:
            lines.append(
                f"Slurm counts {diff:.2f} GPU-hours more than Prometheus (DCGM): GPUs of the "
                "allocation without the job label, or a window shorter than the allocation."
            )
        else:
            lines.append(
                f"Prometheus (DCGM) counts {-diff:.2f} GPU-hours more than Slurm allocated to "
                f"job {job}: GPUs outside the allocation carry the job label, or the window is "
                "longer than the job."
            )
    wrapper = figures.probe_gpu_hours
    if wrapper is not None:
        lines.append(
            f"The wrapper measured {wrapper:.2f} allocated GPU-hours, Prometheus {dcgm:.2f}: "
            "the wrapper counts the command's lifetime, Prometheus the job's window; they are "
            "two measurements of one job, never added."
        )
    we, pe = figures.probe_energy_kwh, figures.prometheus_energy_kwh
    if we is not None and pe is not None:
        gap = f" ({(pe - we) / we:+.1%})" if we else ""
        lines.append(
            f"Energy: the wrapper's NVML counter {we:.3f} kWh, DCGM's counter {pe:.3f} kWh"
            f"{gap}; DCGM's covers the first to the last scrape in the window, NVML's the "
            "command's lifetime."
        )
    return lines
