"""Heartbeats and reaping: which running runs are closed as interrupted, and with what."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from ledger.liveness import MIN_STALE_S, beat, last_beat, reap
from ledger.schema import Provenance, Run, RunStatus, Subject, Unit, Usage, utcnow
from ledger.store import Ledger


def _running(ledger: Ledger, run_id: str) -> Run:
    run = Run(id=run_id, subject="s", stage="sft", category="fine_tuning", name=run_id,
              status="running", started_at=utcnow())  # fmt: skip
    ledger.record([Subject(id="s", name="s"), run])
    return run


def test_a_run_without_heartbeat_is_never_reaped(ledger: Ledger) -> None:
    _running(ledger, "timer")  # a labelling timer: no process behind it on purpose
    assert reap(ledger, now=utcnow() + timedelta(days=3)) == []
    assert ledger.runs("s")[0].status is RunStatus.RUNNING


def test_a_remote_heartbeat_goes_stale_after_three_intervals(ledger: Ledger) -> None:
    _running(ledger, "remote")
    used = Usage(id="remote/gpu", run="remote", resource="gpu/H100", unit=Unit.GPU_HOUR,
                 quantity=0.5, provenance=Provenance.MEASURED)  # fmt: skip
    beat(ledger, "remote", wall_time_s=1800.0, interval_s=10.0, usages=[used])
    with ledger.transaction() as conn:  # pretend another host wrote it
        conn.execute(text("UPDATE heartbeats SET host = 'elsewhere'"))
    beat_at = last_beat(ledger, "remote").beat_at  # type: ignore[union-attr]
    assert reap(ledger, now=beat_at + timedelta(seconds=MIN_STALE_S - 1)) == []
    (closed,) = reap(ledger, now=beat_at + timedelta(seconds=MIN_STALE_S + 1))
    assert closed.status is RunStatus.INTERRUPTED and closed.wall_time_s == 1800.0
    assert closed.ended_at == beat_at
    (kept,) = ledger.usages("s")
    assert kept.quantity == 0.5 and "last heartbeat" in (kept.note or "")
    assert last_beat(ledger, "remote") is None and ledger.verify().ok


def test_a_live_local_wrapper_is_left_alone(ledger: Ledger) -> None:
    _running(ledger, "alive")
    beat(ledger, "alive", wall_time_s=1.0, interval_s=10.0, usages=[])  # this very process
    assert reap(ledger, now=utcnow() + timedelta(days=1)) == []


def test_a_second_beat_replaces_the_first(ledger: Ledger) -> None:
    """The upsert's conflict path, on each backend."""
    _running(ledger, "twice")
    used = Usage(id="twice/gpu", run="twice", resource="gpu/H100", unit=Unit.GPU_HOUR,
                 quantity=0.25, provenance=Provenance.MEASURED)  # fmt: skip
    beat(ledger, "twice", wall_time_s=1.0, interval_s=10.0, usages=[])
    beat(ledger, "twice", wall_time_s=2.0, interval_s=5.0, usages=[used])
    last = last_beat(ledger, "twice")
    assert last is not None and (last.wall_time_s, last.interval_s) == (2.0, 5.0)
    assert last.usages == [used]
    with ledger.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM heartbeats")).scalar() == 1
