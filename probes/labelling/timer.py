"""Human labelling time kept by a timer in the ledger.

:func:`start_timer` writes a ``running`` run (stage ``labelling``, its task and annotator in
``detail``); :func:`stop_timer`, in another shell or on another day, finds it and closes it with a
measured ``labour/annotator`` ``person_hour`` usage. Start and stop are different processes,
perhaps on different machines, so no monotonic clock spans them: the time is the difference of the
two UTC wall-clock timestamps. The run sends no heartbeat, so opening the ledger never reaps it
(:mod:`ledger.liveness` reaps only runs that heartbeat).
"""

from __future__ import annotations

import socket
import uuid
from datetime import datetime

from ledger.errors import InputError, NotFoundError
from ledger.liveness import finish
from ledger.schema import Category, Provenance, Run, RunStatus, Unit, Usage, utcnow
from ledger.store import Ledger
from probes.labelling.schema import (
    RESOURCE,
    STAGE,
    TIMER,
    StoppedTimer,
    TimerSession,
    TimerStatus,
)
from probes.subjects import check_subject, costs_of_runs, subject_records


def _nonempty(text: str, option: str) -> str:
    if not text.strip():
        raise InputError(f"{option}: must not be empty")
    return text.strip()


def open_timers(
    ledger: Ledger,
    *,
    subject: str | None = None,
    annotator: str | None = None,
    task: str | None = None,
) -> list[Run]:
    """Labelling timers still running, narrowed by whichever of the filters are given."""
    found = []
    for run in ledger.running_runs():
        detail = run.detail or {}
        if detail.get("timer") != TIMER:
            continue
        if subject is not None and run.subject != subject:
            continue
        if annotator is not None and detail.get("annotator") != annotator:
            continue
        if task is not None and detail.get("task") != task:
            continue
        found.append(run)
    return found


def _describe(run: Run) -> str:
    detail = run.detail or {}
    since = f"{run.started_at:%Y-%m-%d %H:%M} UTC" if run.started_at else "an unknown time"
    return (
        f"{detail.get('annotator')} on {run.subject}, task {detail.get('task')}, since {since} "
        f"(run {run.id})"
    )


def start_timer(
    ledger: Ledger,
    *,
    subject: str,
    task: str,
    annotator: str,
    category: Category = Category.DATA,
    now: datetime | None = None,
) -> Run:
    """Open a labelling timer: a running run in the ledger, which outlives this process.

    A missing subject is created bare (id and name), as ``receipts run`` does.

    Raises:
        InputError: the subject is not a valid id, the task or annotator is empty, or the
            annotator already has an open timer on the subject.
    """
    check_subject(subject)
    task, annotator = _nonempty(task, "--task"), _nonempty(annotator, "--annotator")
    clash = open_timers(ledger, subject=subject, annotator=annotator)
    if clash:
        raise InputError(
            f"a timer is already open for {_describe(clash[0])}: stop it first "
            "(receipts label stop)"
        )
    now = now or utcnow()
    new_subject = subject_records(ledger, subject, create=True)
    run = Run(
        id=f"{subject}/{STAGE}/{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        subject=subject,
        stage=STAGE,
        category=category,
        name=f"labelling {task} ({annotator})",
        status=RunStatus.RUNNING,
        started_at=now,
        host=socket.gethostname(),
        detail={"timer": TIMER, "task": task, "annotator": annotator},
    )
    ledger.record([*new_subject, run])
    return run


def stop_timer(
    ledger: Ledger,
    *,
    subject: str | None = None,
    annotator: str | None = None,
    task: str | None = None,
    now: datetime | None = None,
) -> StoppedTimer:
    """Close the one open timer the filters select, with its person-hours (measured).

    Raises:
        NotFoundError: no open timer matches.
        InputError: several match (name one), or this clock reads earlier than the start.
    """
    found = open_timers(ledger, subject=subject, annotator=annotator, task=task)
    if not found:
        asked = ", ".join(
            f"{name} {value}"
            for name, value in (("subject", subject), ("annotator", annotator), ("task", task))
            if value is not None
        )
        raise NotFoundError(
            "no open labelling timer" + (f" for {asked}" if asked else "")
            + ": start one with `receipts label start`"
        )  # fmt: skip
    if len(found) > 1:
        listed = "; ".join(_describe(run) for run in found)
        raise InputError(
            f"{len(found)} labelling timers are open ({listed}): choose one with --subject, "
            "--annotator or --task"
        )
    run = found[0]
    now = now or utcnow()
    assert run.started_at is not None  # start_timer always sets it
    elapsed = (now - run.started_at).total_seconds()
    if elapsed < 0:
        raise InputError(
            f"this clock reads {now:%Y-%m-%d %H:%M:%S} UTC, before the timer started "
            f"({run.started_at:%Y-%m-%d %H:%M:%S} UTC on {run.host}): check the clocks"
        )
    detail = run.detail or {}
    clock = "UTC wall-clock time from `label start` to `label stop` (the timer spans shells)"
    final = Run.model_validate(
        {
            **run.model_dump(),
            "status": RunStatus.SUCCEEDED,
            "ended_at": now,
            "wall_time_s": elapsed,
            "note": clock,
        }
    )
    usage = Usage(
        id=f"{run.id}/person-hours",
        run=run.id,
        resource=RESOURCE,
        unit=Unit.PERSON_HOUR,
        quantity=elapsed / 3600,
        provenance=Provenance.MEASURED,
        note=clock,
        detail={
            "task": detail.get("task"),
            "annotator": detail.get("annotator"),
            "seconds": elapsed,
            "started_at": run.started_at.isoformat(),
            "stopped_at": now.isoformat(),
            "start_host": run.host,
            "stop_host": socket.gethostname(),
        },
    )
    finish(ledger, final, [usage])
    cost = costs_of_runs(ledger, run.subject, [run.id])[run.id]
    return StoppedTimer(run=final, usage=usage, cost=cost)


def timer_status(
    ledger: Ledger,
    *,
    subject: str | None = None,
    annotator: str | None = None,
    recent: int = 10,
    now: datetime | None = None,
) -> TimerStatus:
    """The open labelling timers (oldest first) and the ``recent`` latest closed ones (most
    recently stopped first), narrowed by subject and annotator where given.

    Raises:
        InputError: ``recent`` is negative.
    """
    if recent < 0:
        raise InputError(f"--recent: must be 0 or more, got {recent}")
    now = now or utcnow()
    timers = [
        run
        for run in ledger.runs(subject)
        if (run.detail or {}).get("timer") == TIMER
        and run.started_at is not None
        and (annotator is None or (run.detail or {}).get("annotator") == annotator)
    ]
    running = sorted((r for r in timers if r.status is RunStatus.RUNNING), key=_started)
    closed = [r for r in timers if r.status is RunStatus.SUCCEEDED and r.ended_at is not None]
    closed.sort(key=lambda r: (r.ended_at, r.id), reverse=True)
    return TimerStatus(
        now=now,
        open=[_session(r, now) for r in running],
        recent=[_session(r, now) for r in closed[:recent]],
    )


def _started(run: Run) -> tuple[datetime, str]:
    assert run.started_at is not None
    return run.started_at, run.id


def _session(run: Run, now: datetime) -> TimerSession:
    detail = run.detail or {}
    assert run.started_at is not None
    end = run.ended_at or now
    elapsed = run.wall_time_s if run.ended_at is not None and run.wall_time_s is not None else None
    seconds = elapsed if elapsed is not None else (end - run.started_at).total_seconds()
    return TimerSession(
        run=run.id,
        subject=run.subject,
        stage=run.stage,
        task=detail.get("task"),
        annotator=detail.get("annotator"),
        host=run.host,
        started_at=run.started_at,
        stopped_at=run.ended_at,
        elapsed_s=seconds,
        person_hours=seconds / 3600 if run.ended_at is not None else None,
    )
