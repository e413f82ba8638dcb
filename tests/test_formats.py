"""Entry format versions: what is written, how older entries are upgraded as they are read (never
rewritten), and that newer ones are refused. Run against SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from ledger import formats, tables
from ledger.chain import KINDS, row_values
from ledger.errors import StoreError
from ledger.liveness import beat, last_beat
from ledger.schema import Provenance, Run, Subject, Unit, Usage
from ledger.store import Ledger


def _gpu(quantity: float) -> Usage:
    return Usage(id="demo/gpu", run="demo/sft", resource="gpu/H100", unit=Unit.GPU_HOUR,
                 quantity=quantity, provenance=Provenance.MEASURED)  # fmt: skip


def _formats(ledger: Ledger, table: str = "entries") -> set[int | None]:
    with ledger.connect() as conn:
        return {row[0] for row in conn.execute(text(f"SELECT DISTINCT format FROM {table}"))}


def _noted(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A step from format 1 to a pretend format 2 that changed what a note says."""
    return {**fields, "note": f"{fields.get('note') or ''}[{kind} upgraded]"}


def test_new_entries_and_heartbeats_carry_the_current_format(
    ledger: Ledger, demo_run: tuple[Subject, Run]
) -> None:
    ledger.record([*demo_run, _gpu(1.0)])
    ledger.append_usages(run="demo/sft", resource="tokens/x", unit=Unit.TOKEN,
                         provenance=Provenance.MEASURED, quantities=[1.0, 2.0])  # fmt: skip
    beat(ledger, "demo/sft", wall_time_s=1.0, interval_s=10.0, usages=[_gpu(0.5)])
    assert _formats(ledger) == {formats.ENTRY_FORMAT}
    assert _formats(ledger, "heartbeats") == {formats.ENTRY_FORMAT}


def test_the_format_is_hashed(ledger: Ledger, demo_run: tuple[Subject, Run]) -> None:
    ledger.record(demo_run)
    with ledger.transaction() as conn:
        conn.execute(text("UPDATE entries SET format = NULL WHERE seq = 2"))
    check = ledger.verify()
    assert not check.ok and check.first_bad_seq == 2 and "edited" in (check.reason or "")


def test_entries_without_a_format_read_as_format_1(
    ledger: Ledger, demo_run: tuple[Subject, Run]
) -> None:
    """What releases before formats wrote: no format, hashed without one."""
    subject, run = demo_run
    with ledger.transaction() as conn:
        seq, prev = tables.head(conn)
        values = [(*row_values(r, KINDS[type(r)], None, None)[:-1], None) for r in demo_run]
        tables.set_head(conn, seq + 2, tables.append(conn, seq + 1, prev, values))
    assert _formats(ledger) == {None}
    assert ledger.verify().ok
    assert ledger.runs() == [run] and ledger.subjects() == [subject]
    assert ledger.record(demo_run).unchanged == 2  # the same records: nothing written again


def test_older_entries_are_upgraded_on_read_never_rewritten(
    ledger: Ledger, demo_run: tuple[Subject, Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record([*demo_run, _gpu(1.0)])
    beat(ledger, "demo/sft", wall_time_s=1.0, interval_s=10.0, usages=[_gpu(0.5)])
    head = ledger.head()
    monkeypatch.setattr(formats, "ENTRY_FORMAT", 2)
    monkeypatch.setitem(formats.UPGRADES, 1, _noted)
    (run,) = ledger.runs()
    assert run.note == "[run upgraded]"
    assert [u.note for u in ledger.usages()] == ["[usage upgraded]"]
    heartbeat = last_beat(ledger, "demo/sft")
    assert heartbeat is not None and heartbeat.usages[0].note == "[usage upgraded]"
    assert ledger.head() == head and ledger.verify().ok  # read, not rewritten
    assert _formats(ledger) == {1}
    assert ledger.record([run]).unchanged == 1  # the upgraded record is what the ledger holds
    ledger.record([run.model_copy(update={"note": "format 2"})])
    assert ledger.runs()[0].note == "format 2"  # written in format 2: no step applies
    assert _formats(ledger) == {1, 2} and ledger.verify().ok


def test_a_newer_format_is_refused(
    ledger: Ledger, demo_run: tuple[Subject, Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as later:
        later.setattr(formats, "ENTRY_FORMAT", 2)
        ledger.record(demo_run)
    with pytest.raises(StoreError, match=r"entry format 2, newer .* upgrade receipts"):
        ledger.runs()


def test_a_missing_step_is_a_bug_not_a_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "ENTRY_FORMAT", 3)
    monkeypatch.setitem(formats.UPGRADES, 1, _noted)
    with pytest.raises(StoreError, match="no upgrade from entry format 2"):
        formats.upgrade("run", {}, None, "entry 1")
