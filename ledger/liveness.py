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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import text

from ledger import formats
from ledger.schema import Record, Run, RunStatus, Usage, utcnow
from ledger.tables import Database

MIN_STALE_S = 120.0
"""A heartbeat from another host is stale after max(3 intervals, this many seconds)."""

UPSERT_HEARTBEAT = """
    INSERT INTO heartbeats (run_id, host, pid, beat_at, interval_s, wall_time_s, snapshot, format)
    VALUES (:run_id, :host, :pid, :beat_at, :interval_s, :wall_time_s, :snapshot, :format)
    ON CONFLICT (run_id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
        beat_at = excluded.beat_at, interval_s = excluded.interval_s,
        wall_time_s = excluded.wall_time_s, snapshot = excluded.snapshot,
        format = excluded.format
"""
"""A run's heartbeat, written or replaced."""


class RunLedger(Database, Protocol):
    """What liveness needs of a ledger (:class:`ledger.store.Ledger` is one)."""

    def running_runs(self) -> list[Run]:
        """Runs whose current state is ``running``."""
        ...

    def record(self, records: Iterable[Record]) -> object:
        """Append records in one transaction."""
        ...


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
    ledger: Database, run_id: str, *, wall_time_s: float, interval_s: float, usages: list[Usage]
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
        "format": formats.ENTRY_FORMAT,
    }
    with ledger.transaction() as conn:
        conn.execute(text(UPSERT_HEARTBEAT), params)


def last_beat(ledger: Database, run_id: str) -> Heartbeat | None:
    """The run's last heartbeat, if it ever sent one (its usages upgraded from the format it
    was written in, as entries are: see :mod:`ledger.formats`)."""
    with ledger.connect() as conn:
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
        usages=[
            Usage.model_validate(
                formats.upgrade("usage", u, row["format"], f"heartbeat of run {run_id}")
            )
            for u in json.loads(row["snapshot"])
        ],
    )


def is_stale(heartbeat: Heartbeat, now: datetime) -> bool:
    """Whether the wrapper behind a heartbeat is gone: on this host, when its process is; from
    another host, when the heartbeat is older than three intervals (at least
    :data:`MIN_STALE_S`)."""
    if heartbeat.host == socket.gethostname():
        return not _pid_alive(heartbeat.pid)
    age_s = (now - heartbeat.beat_at).total_seconds()
    return age_s > max(3 * heartbeat.interval_s, MIN_STALE_S)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def reap(ledger: RunLedger, now: datetime | None = None) -> list[Run]:
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
                # A wall clock set back while the run ran must not end it before it started.
                "ended_at": max(ended, run.started_at) if run.started_at else ended,
                "wall_time_s": wall,
                "note": "wrapper died; closed at its last heartbeat with the usage metered so far",
            }
        )
        kept = [
            u.model_copy(update={"note": (u.note or "") + " (up to the last heartbeat)"})
            for u in usages
        ]
        ledger.record([final, *kept])
        forget(ledger, run.id)
        closed.append(final)
    return closed


def forget(ledger: Database, run_id: str) -> None:
    """Drop ``run_id``'s heartbeat (the run is finished, or was never written)."""
    with ledger.transaction() as conn:
        conn.execute(text("DELETE FROM heartbeats WHERE run_id = :r"), {"r": run_id})


def finish(ledger: RunLedger, run: Run, usages: list[Usage]) -> None:
    """Finalise a run: its closing state and usages in one transaction, then drop its heartbeat."""
    ledger.record([run, *usages])
    forget(ledger, run.id)
