"""An export's allocation records as ledger runs and reported GPU-hours: planned (pure), then
written in one transaction. The counting rules are in :mod:`probes.slurm`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger.errors import InputError
from ledger.schema import Category, Provenance, Run, Unit, Usage
from probes.gpu.names import gpu_model_name
from probes.slurm.records import (
    _STATUS,
    _UNFINISHED,
    SacctExport,
    SacctJob,
    SacctRecord,
    gpus_by_model,
)
from probes.slurm.schema import ImportedRun, ImportResult, Skipped
from probes.subjects import check_subject, subject_records

if TYPE_CHECKING:
    from ledger.store import Ledger

RUN_PREFIX = "slurm/"
"""Every run imported from sacct has an id starting with this."""


@dataclass(frozen=True)
class ImportPlan:
    """The ledger records of an export, before writing."""

    runs: list[Run]
    usages: list[Usage]
    result: ImportResult


def plan_import(
    export: SacctExport,
    *,
    subject: str,
    stage: str,
    category: Category,
    cluster: str | None = None,
    gpu_model: str | None = None,
) -> ImportPlan:
    """The runs and usages of an export (pure: nothing is written).

    Raises:
        InputError: the subject is not a valid id, or an attempt appears twice with different
            values.
    """
    check_subject(subject)
    seen: dict[str, tuple[SacctRecord, Run, list[Usage]]] = {}
    rows: list[ImportedRun] = []
    skipped = [
        Skipped(job=r.display_id, where=r.where, reason="step without its job's record")
        for r in export.orphans
    ]
    for job in export.jobs:
        record = job.record
        reason = _skip_reason(record)
        if reason:
            skipped.append(Skipped(job=record.display_id, where=record.where, reason=reason))
            continue
        run, usages = _records(job, subject, stage, category, cluster, gpu_model)
        if run.id in seen:
            first = seen[run.id]
            if (first[1], first[2]) != (run, usages):
                raise InputError(
                    f"{export.path}: {record.where}: job {record.display_id} started "
                    f"{run.started_at:%Y-%m-%dT%H:%M:%SZ} again with different values (first "
                    f"at {first[0].where}); one attempt cannot have two records"
                )
            again = f"same attempt as {first[0].where}: counted once"
            skipped.append(Skipped(job=record.display_id, where=record.where, reason=again))
            continue
        seen[run.id] = (record, run, usages)
        assert run.started_at is not None
        rows.append(
            ImportedRun(
                run_id=run.id,
                job_id=record.job_id,
                display_id=record.display_id,
                name=record.name,
                state=record.state_text,
                status=run.status,
                started_at=run.started_at,
                elapsed_s=record.elapsed_s,
                nodes=record.nodelist,
                gpus=record.gpus,
                gpu_hours={u.resource: u.quantity or 0.0 for u in usages},
                steps=[s.step or "" for s in job.steps],
            )
        )
    result = ImportResult(
        file=str(export.path),
        format=export.format,
        runs=rows,
        skipped=skipped,
        gpu_hours=math.fsum(h for row in rows for h in row.gpu_hours.values()),
    )
    return ImportPlan(
        runs=[run for _, run, _ in seen.values()],
        usages=[u for _, _, usages in seen.values() for u in usages],
        result=result,
    )


def _skip_reason(record: SacctRecord) -> str | None:
    if record.state in _UNFINISHED:
        return f"not finished ({record.state}): import it again once it ends"
    if record.state == "REVOKED":
        return "federation sibling revoked: it ran on another cluster"
    if record.started_at is None:
        return f"never started ({record.state_text}): no time used"
    return None


def _records(
    job: SacctJob,
    subject: str,
    stage: str,
    category: Category,
    cluster: str | None,
    gpu_model: str | None,
) -> tuple[Run, list[Usage]]:
    record = job.record
    assert record.started_at is not None
    place = re.sub(r"[^A-Za-z0-9._-]+", "-", cluster or record.cluster or "slurm").strip("-")
    run_id = f"{RUN_PREFIX}{place or 'slurm'}/{record.job_id}/{record.started_at:%Y%m%dT%H%M%SZ}"
    notes = []
    if record.state_text != record.state:
        notes.append(record.state_text)
    if record.state == "REQUEUED":
        notes.append("requeued: Slurm ran the job again; each attempt is its own run")
    if not record.gpus:
        notes.append("no GPUs allocated (AllocTRES has no gres/gpu)")
    label = f"Slurm job {record.display_id}"
    code = None
    if record.exit_code is not None:
        rc, signal = record.exit_code
        code = 128 + signal if signal and not rc else rc  # a signal exits like a shell reports it
    run = Run(
        id=run_id,
        subject=subject,
        stage=stage,
        category=category,
        name=f"{record.name} (Slurm job {record.display_id})" if record.name else label,
        status=_STATUS[record.state],
        started_at=record.started_at,
        ended_at=record.ended_at,
        wall_time_s=float(record.elapsed_s),
        host=record.nodelist,
        job_id=record.job_id,
        exit_code=code,
        citation=f"Slurm accounting (sacct), job {record.display_id}",
        note="; ".join(notes) or None,
        detail={
            "importer": "sacct",
            "job": record.display_id,
            "partition": record.partition,
            "account": record.account,
            "nnodes": record.nnodes,
            "state": record.state_text,
        },
    )
    usages = [
        Usage(
            id=f"{run_id}/gpu/{model}",
            run=run_id,
            resource=f"gpu/{model}",
            unit=Unit.GPU_HOUR,
            quantity=count * record.elapsed_s / 3600,
            provenance=Provenance.REPORTED,
            citation=f"Slurm accounting (sacct), job {record.display_id}",
            detail={
                "gpus": count,
                "elapsed_s": record.elapsed_s,
                "state": record.state_text,
                "nodes": record.nodelist,
                "nnodes": record.nnodes,
                "gres": _gres_names(record, model),
            },
        )
        for model, count in gpus_by_model(record, gpu_model).items()
    ]
    return run, usages


def _gres_names(record: SacctRecord, model: str) -> list[str]:
    typed = [f"gres/gpu:{k}" for k in record.gpu_types if gpu_model_name(k) == model]
    return typed or ["gres/gpu"]


def import_sacct(
    ledger: Ledger,
    export: SacctExport,
    *,
    subject: str,
    stage: str,
    category: Category,
    cluster: str | None = None,
    gpu_model: str | None = None,
    create_subject: bool = False,
) -> ImportResult:
    """Write an export's runs and GPU-hours in one transaction; re-importing adds nothing.

    The subject must exist, unless ``create_subject`` makes a bare one (id and name only).

    Raises:
        NotFoundError: the subject does not exist and ``create_subject`` is off.
        InputError: the export repeats an attempt with different values.
    """
    plan = plan_import(
        export,
        subject=subject,
        stage=stage,
        category=category,
        cluster=cluster,
        gpu_model=gpu_model,
    )
    new_subject = subject_records(ledger, subject, create_subject)
    done = ledger.record([*new_subject, *plan.runs, *plan.usages])
    return plan.result.model_copy(
        update={
            "appended": done.appended,
            "superseded": done.superseded,
            "unchanged": done.unchanged,
        }
    )
