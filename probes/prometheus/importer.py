"""A job metered from Prometheus, written to the ledger as ``receipts run`` writes a multi-node
job: one measured run per node, tagged with the job id, with allocated, busy and energy usages
per GPU. The window comes from the options or from the job's imported sacct record.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ledger.errors import InputError
from ledger.metered import GPU_DEVICES, MeteredTwice, already_metered_in, stamp, window
from ledger.schema import Category, Provenance, Run, RunStatus, Unit, Usage
from probes.gpu.names import gpu_model_name
from probes.gpu.usage import device_usage_fields
from probes.ids import id_part
from probes.prometheus.errors import PrometheusError
from probes.prometheus.meter import (
    UNSAMPLED_NOTE,
    GpuMeasure,
    Selection,
    allocated_from,
    meter_job,
)
from probes.prometheus.query import PrometheusSource, shown_url
from probes.prometheus.schema import ImportedGpu, ImportedNode, ImportResult
from probes.subjects import check_subject, subject_records

if TYPE_CHECKING:
    from ledger.store import Ledger

RUN_PREFIX = "prometheus/"
"""Every run imported from Prometheus has an id starting with this."""
IMPORTER = "prometheus"
"""``detail.importer`` of those runs (the sacct import's is ``sacct``)."""


def job_window(
    ledger: Ledger, job_id: str, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime, str, RunStatus | None]:
    """The window to meter: ``--start``/``--end`` where both are given, else the job's imported
    sacct record (its start and end, and its status).

    Raises:
        PrometheusError: one bound without the other, an end before the start, or no single
            sacct attempt of the job to take the window from.
    """
    if (start is None) != (end is None):
        raise PrometheusError("--start and --end go together (or neither: the sacct record)")
    if start is not None and end is not None:
        if end <= start:
            raise PrometheusError(f"--end {end.isoformat()} is not after --start")
        return start, end, "options", None
    attempts = [
        run
        for run in ledger.runs()
        if run.job_id == job_id and (run.detail or {}).get("importer") == "sacct"
    ]
    if not attempts:
        raise PrometheusError(
            f"--job {job_id}: no sacct record of the job in the ledger to take the window "
            "from: give --start and --end, or run `receipts import sacct` first"
        )
    if len(attempts) > 1:
        starts = ", ".join(sorted(stamp(r.started_at, "?") for r in attempts))
        raise PrometheusError(
            f"--job {job_id}: Slurm ran the job {len(attempts)} times ({starts}): give --start "
            "and --end of the attempt to meter"
        )
    run = attempts[0]
    if run.started_at is None or run.ended_at is None:
        raise PrometheusError(f"--job {job_id}: the sacct record {run.id} has no start or end")
    return run.started_at, run.ended_at, f"sacct run {run.id}", run.status


def plan_runs(
    measures: Sequence[GpuMeasure],
    *,
    selection: Selection,
    url: str,
    subject: str,
    stage: str,
    category: Category,
    start: datetime,
    end: datetime,
    status: RunStatus,
    window_from: str,
) -> tuple[list[Run], list[Usage], ImportResult]:
    """The runs and usages of a metered job (pure: nothing is written)."""
    by_host: dict[str, list[GpuMeasure]] = {}
    for measure in measures:
        by_host.setdefault(measure.host, []).append(measure)
    runs: list[Run] = []
    usages: list[Usage] = []
    nodes: list[ImportedNode] = []
    shown = shown_url(url)
    for host, gpus in sorted(by_host.items()):
        run_id = f"{RUN_PREFIX}{id_part(selection.job_id)}/{id_part(host)}/{start:%Y%m%dT%H%M%SZ}"
        until = measured_until(gpus, start, end)
        runs.append(
            Run(
                id=run_id,
                subject=subject,
                stage=stage,
                category=category,
                name=f"{stage} on {host} (job {selection.job_id}, DCGM via Prometheus)",
                status=status,
                started_at=start,
                ended_at=until,
                wall_time_s=(until - start).total_seconds(),
                host=host,
                job_id=selection.job_id,
                note=f"metered from Prometheus ({shown}); window from {window_from}",
                detail={
                    "importer": IMPORTER,
                    "prometheus_url": shown,
                    "selector": selection.shown(),
                    "window_from": window_from,
                    "gpus": len(gpus),
                    # The devices it measured, that a step of the job on other GPUs of the node
                    # does not clash with; unknown where a series names no UUID.
                    GPU_DEVICES: sorted(g.usage.device.uuid for g in gpus)
                    if all(g.uuid_label for g in gpus)
                    else None,
                },
            )
        )
        usages += _usages(run_id, gpus, shown, selection)
        nodes.append(ImportedNode(run_id=run_id, host=host, gpus=[_row(g) for g in gpus]))
    rows = [g for node in nodes for g in node.gpus]
    allocated = [g.allocated_gpu_s for g in rows if g.allocated_gpu_s is not None]
    busy = [g.busy_gpu_s for g in rows if g.busy_gpu_s is not None]
    energy = [g.energy_j for g in rows if g.energy_j is not None]
    result = ImportResult(
        url=shown,
        job_id=selection.job_id,
        selector=selection.shown(),
        started_at=start,
        ended_at=end,
        window_from=window_from,
        status=status,
        nodes=nodes,
        gpus=len(rows),
        allocated_gpu_hours=math.fsum(allocated) / 3600 if allocated else None,
        busy_gpu_hours=math.fsum(busy) / 3600 if busy else None,
        energy_kwh=math.fsum(energy) / 3.6e6 if energy else None,
        unmeasured_energy=len(rows) - len(energy),
    )
    return runs, usages, result


def _usages(run_id: str, gpus: Sequence[GpuMeasure], url: str, selection: Selection) -> list[Usage]:
    samples = [s for g in gpus for s in g.samples]
    fields = device_usage_fields(run_id, [g.usage for g in gpus], samples=samples)
    extra: dict[str, dict[str, Any]] = {
        g.usage.device.uuid: {
            "source": f"dcgm-exporter via Prometheus {url}",
            "selector": selection.shown(),
            "host": g.host,
            "energy_j": g.usage.energy_j,
            "energy_span_s": g.energy_span_s,
            "counter_resets": g.counter_resets,
            "dropped_samples": g.dropped,
            "prometheus_series": g.series,
            **g.coverage_detail(),
        }
        for g in gpus
    }
    gaps = [gap for g in gpus if g.unsampled for gap in _not_measured(run_id, g)]
    return [
        Usage(**{**f, "detail": {**f["detail"], **extra[f["detail"]["device_uuid"]]}})
        for f in [*fields, *gaps]
    ]


def _not_measured(run_id: str, g: GpuMeasure) -> list[dict[str, Any]]:
    """The allocated and busy time of a GPU no series of which has two samples in the window, as
    ``Usage`` fields: not measured (``quantity`` ``None``, :data:`UNSAMPLED_NOTE`), never the
    window's length."""
    d = g.usage.device
    return [
        {
            "id": f"{run_id}/gpu{d.index}/{suffix}",
            "run": run_id,
            "resource": f"gpu/{gpu_model_name(d.name)}",
            "unit": unit.value,
            "quantity": None,
            "provenance": Provenance.MEASURED.value,
            "note": UNSAMPLED_NOTE,
            "detail": {
                "device_uuid": d.uuid,
                "device_name": d.name,
                "device_index": d.index,
                "samples": g.usage.samples,
            },
        }
        for suffix, unit in (("allocated", Unit.GPU_HOUR), ("busy", Unit.GPU_HOUR_BUSY))
    ]


def measured_until(gpus: Sequence[GpuMeasure], start: datetime, end: datetime) -> datetime:
    """The end of a node's run: the window's end where each GPU's samples cover (nearly) all of
    it, else the end of the time its samples covered (:attr:`Coverage.covered_to_s`), so that a
    generous ``--end`` does not claim the node's GPUs past what was measured: a later step of the
    job there is another measurement, not this one's."""
    ends = [g.coverage.covered_to_s for g in gpus if g.coverage is not None]
    if all(g.coverage is not None and g.coverage.sampled_window for g in gpus):
        return end
    known = [t for t in ends if t is not None]
    return start + timedelta(seconds=max(known)) if known else end


def _row(g: GpuMeasure) -> ImportedGpu:
    u = g.usage
    return ImportedGpu(
        index=u.device.index,
        uuid=u.device.uuid,
        model=u.device.name,
        samples=u.samples,
        allocated_gpu_s=u.allocated_gpu_s,
        busy_gpu_s=u.busy_gpu_s,
        energy_j=u.energy_j,
        energy_method=u.energy_method,
        counter_resets=g.counter_resets,
        energy_span_s=g.energy_span_s,
        dropped_samples=g.dropped,
        sample_span_s=g.coverage.span_s if g.coverage else None,
        scrape_interval_s=g.coverage.interval_s if g.coverage else None,
        allocated_from=allocated_from(g.coverage) if g.coverage else "window",
    )


def metering_runs(ledger: Ledger, planned: Sequence[Run]) -> list[tuple[Run, Run]]:
    """``(planned run, ledger run)`` pairs where a run that is not a Prometheus import (a
    ``receipts run`` wrapper's, a Trainer callback's metering alone) measured GPUs of the same
    job on the same node over an overlapping window, or is still running there
    (:mod:`ledger.metered`): what ``--compare`` sets beside the import."""
    with ledger.connect() as conn:
        clashes = already_metered_in(conn, planned)
    return [
        (clash.new, clash.old)
        for clash in clashes
        if (clash.old.detail or {}).get("importer") != IMPORTER
    ]


def refuse_overlap(clashes: Sequence[MeteredTwice]) -> None:
    """The import's runs measure the job's GPUs: a run of the same job and node that measured
    the same devices over an overlapping window under another id (an earlier import under
    another start, a wrapper's) would have them counted twice (:mod:`ledger.metered`, the rule
    ``receipts ledger merge`` and ``receipts run`` apply too).

    Raises:
        InputError: naming the first such run.
    """
    for clash in clashes:
        old, new = clash.old, clash.new
        if (old.detail or {}).get("importer") == IMPORTER and old.ended_at is not None:
            raise InputError(
                f"--start/--end: the window overlaps run {old.id} of job {old.job_id} on "
                f"{old.host} ({window(old)}), already imported: importing it would count the "
                "same GPU time twice; give the same --start to correct that run"
            )
        when = "still running" if old.status is RunStatus.RUNNING else "already metered"
        raise InputError(
            f"--job {new.job_id}: run {old.id} ({when}, {window(old)}) measured job "
            f"{new.job_id}'s GPUs on {new.host}: importing them too would count them twice; add "
            "--compare to set Prometheus beside it without recording, or select the other "
            "nodes with --host"
        )


def import_prometheus(
    ledger: Ledger,
    source: PrometheusSource,
    selection: Selection,
    *,
    subject: str,
    stage: str,
    category: Category,
    start: datetime | None = None,
    end: datetime | None = None,
    status: RunStatus = RunStatus.SUCCEEDED,
    create_subject: bool = False,
) -> ImportResult:
    """Meter a job from Prometheus and write its runs and usages in one transaction.

    Importing the same job and window again adds nothing; the same start with another end
    corrects the runs; an overlapping window under another start is refused.

    Raises:
        PrometheusError: bad options, an unreachable server, an empty or ambiguous selection.
        NotFoundError: the subject does not exist and ``create_subject`` is off.
        InputError: the window overlaps an imported run of the same job and node.
    """
    check_subject(subject)
    begin, finish, window_from, sacct_status = job_window(ledger, selection.job_id, start, end)
    new_subject = subject_records(ledger, subject, create_subject)
    measures = meter_job(
        source,
        selection,
        begin.timestamp(),
        finish.timestamp(),
        (finish - begin).total_seconds(),
    )
    runs, usages, result = plan_runs(
        measures,
        selection=selection,
        url=source.url,
        subject=subject,
        stage=stage,
        category=category,
        start=begin,
        end=finish,
        status=sacct_status or status,
        window_from=window_from,
    )
    done = ledger.record(
        [*new_subject, *runs, *usages],
        check=lambda conn: refuse_overlap(already_metered_in(conn, runs)),
    )
    return result.model_copy(
        update={
            "appended": done.appended,
            "superseded": done.superseded,
            "unchanged": done.unchanged,
        }
    )
