"""Heartbeats of running runs, and closing the runs whose wrapper died as ``interrupted``.

A wrapper (``receipts run``, the Trainer callback) writes its run as ``running`` before the job
starts, then overwrites one heartbeat row every few seconds with the usage metered so far. If the
wrapper itself is killed (``kill -9``, a lost node), nothing finalises the run; the next time any
process opens the ledger (or ``receipts runs --reap``), a run whose heartbeat is stale is closed
as ``interrupted`` at its last heartbeat, with the usage that heartbeat carried.

A heartbeat is stale when its wrapper's process is gone on this host, or when it is older than
three intervals (at least ``MIN_STALE_S``) for a wrapper on another host. Only runs that have sent
a heartbeat are ever reaped: wrappers send their first one as they start, while a run that is
running without a process behind it on purpose (a labelling timer) sends none and stays open.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from ledger import lite
from ledger.lite import MIN_STALE_S as MIN_STALE_S
from ledger.schema import Run, RunStatus, Usage, utcnow
from ledger.store import Ledger


@dataclass(frozen=True)
class Heartbeat:
    """The last sign of life of a running run."""

    run_id: str
    host: str
    pid: int
    beat_at: datetime
    interval_s: float
    wall_time_s: float
    usages: list[Usage]


def beat(
    ledger: Ledger, run_id: str, *, wall_time_s: float, interval_s: float, usages: list[Usage]
) -> None:
    """Record that ``run_id`` is alive, with the usage metered so far (replaces the last beat)."""
    snapshot = json.dumps([u.model_dump(mode="json", exclude_none=True) for u in usages])
    params = {
        "run_id": run_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "beat_at": utcnow().isoformat(),
        "interval_s": interval_s,
        "wall_time_s": wall_time_s,
        "snapshot": snapshot,
    }
    with ledger._transaction() as conn:
        conn.execute(text(lite.UPSERT_HEARTBEAT), params)


def last_beat(ledger: Ledger, run_id: str) -> Heartbeat | None:
    """The run's last heartbeat, if it ever sent one."""
    with ledger._engine.connect() as conn:
        row = (
            conn.execute(text("SELECT * FROM heartbeats WHERE run_id = :r"), {"r": run_id})
            .mappings()
            .first()
        )
    if row is None:
        return None
    return Heartbeat(
        run_id=row["run_id"],
        host=row["host"],
        pid=int(row["pid"]),
        beat_at=datetime.fromisoformat(row["beat_at"]),
        interval_s=float(row["interval_s"]),
        wall_time_s=float(row["wall_time_s"]),
        usages=[Usage.model_validate(u) for u in json.loads(row["snapshot"])],
    )


def is_stale(heartbeat: Heartbeat, now: datetime) -> bool:
    """Whether the wrapper behind a heartbeat is gone (the rule: :func:`ledger.lite.is_stale`)."""
    return lite.is_stale(
        heartbeat.host,
        heartbeat.pid,
        heartbeat.beat_at,
        heartbeat.interval_s,
        now=now,
        host=socket.gethostname(),
    )


def reap(ledger: Ledger, now: datetime | None = None) -> list[Run]:
    """Close every running run whose wrapper died as ``interrupted``; returns the closed runs."""
    now = now or utcnow()
    closed = []
    for run in ledger.running_runs():
        heartbeat = last_beat(ledger, run.id)
        if heartbeat is None or not is_stale(heartbeat, now):
            continue
        ended, wall, usages = heartbeat.beat_at, heartbeat.wall_time_s, heartbeat.usages
        final = Run.model_validate(
            {
                **run.model_dump(),
                "status": RunStatus.INTERRUPTED,
                "ended_at": ended,
                "wall_time_s": wall,
                "note": "wrapper died; closed at its last heartbeat with the usage metered so far",
            }
        )
        kept = [
            u.model_copy(update={"note": (u.note or "") + " (up to the last heartbeat)"})
            for u in usages
        ]
        ledger.record([final, *kept])
        _forget(ledger, run.id)
        closed.append(final)
    return closed


def _forget(ledger: Ledger, run_id: str) -> None:
    with ledger._transaction() as conn:
        conn.execute(text("DELETE FROM heartbeats WHERE run_id = :r"), {"r": run_id})


def finish(ledger: Ledger, run: Run, usages: list[Usage]) -> None:
    """Finalise a run: its closing state and usages in one transaction, then drop its heartbeat."""
    ledger.record([run, *usages])
    _forget(ledger, run.id)
