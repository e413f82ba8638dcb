"""Merging ledgers: per-node SQLite files of a multi-node job into one, idempotently.

Each entry has an *origin*: ``<ledger id>:<seq>`` of the ledger that first recorded it (an entry
merged before keeps the origin it came with). Merging appends, in the source's order, every source
entry whose origin the target does not have yet, re-chained onto the target's hash chain; a
record the target already holds with the same content is mapped onto it instead of copied.
Supersessions are remapped to the target's sequence numbers. So merging the same file twice
changes nothing, and both chains stay verifiable.

A source whose run measured GPUs of a job on a node that a run of the target already measured
over an overlapping window (a Prometheus import of the same job, say) is refused, nothing
written (:mod:`ledger.metered`): the report would count those GPUs twice. The check reads the
target inside the merge's write transaction, so that no writer slips in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from ledger import tables
from ledger.chain import COLUMNS, digest, rollup_key, row_to_record
from ledger.engine import safe_url
from ledger.errors import InputError
from ledger.metered import (
    Measured,
    already_metered_in,
    measuring_runs,
    metered_twice,
    meters_gpus,
)
from ledger.schema import Run
from ledger.store import Ledger


@dataclass(frozen=True)
class MergeResult:
    """What one merge did."""

    source: str
    """The source URL (password hidden)."""
    copied: int
    """Entries appended to the target."""
    already_present: int
    """Entries the target had already (by origin or identical record)."""


def _origin(ledger_id: str, row: dict[str, Any]) -> str:
    return str(row["origin"] or f"{ledger_id}:{row['seq']}")


@dataclass(frozen=True)
class _Source:
    """A source ledger read (and verified) before anything is written."""

    url: str
    ledger_id: str
    rows: list[dict[str, Any]]
    metering: list[Run]
    """Its runs that measured GPU time (or, running, are measuring it)."""
    measured: Measured
    """The devices of its runs' measured GPU time (:func:`ledger.metered.measuring_runs`)."""


def _read(target: Ledger, source_url: str) -> _Source:
    with Ledger(source_url, reap=False) as source:
        if source.ledger_id == target.ledger_id:
            raise InputError(f"{safe_url(source_url)} is the target ledger itself")
        check = source.verify()
        if not check.ok:
            raise InputError(
                f"{safe_url(source_url)}: fails verification at entry {check.first_bad_seq} "
                f"({check.reason}); not merged"
            )
        with source.connect() as conn:
            rows = [
                dict(r) for r in conn.execute(text("SELECT * FROM entries ORDER BY seq")).mappings()
            ]
        measured = measuring_runs(source.usages())
        metering = [run for run in source.runs() if meters_gpus(run, measured)]
        return _Source(safe_url(source_url), source.ledger_id, rows, metering, measured)


def _refuse_metered_twice(conn: Connection, sources: list[_Source]) -> None:
    """A source's run that measured a job's GPUs on a node where a run of the target (read over
    the merge's transaction) or of a source merged before it measured the same devices over an
    overlapping window would have them counted twice (:mod:`ledger.metered`): the merge is
    refused, naming the source file and both runs."""
    earlier: list[Run] = []
    measured: dict[str, frozenset[str]] = {}
    for source in sources:
        measured.update(source.measured)
        clashes = already_metered_in(conn, source.metering, source.measured) + metered_twice(
            earlier, measured, source.metering
        )
        for clash in clashes:
            raise InputError(
                f"{source.url}: {clash.new_run()} measured job {clash.job_id}'s GPUs on "
                f"{clash.host}, and {clash.old_run()} measured them already: merging would "
                f"count them twice; nothing merged; leave {source.url} out (`receipts import "
                f"prometheus --job {clash.job_id} --compare` on it sets the two side by side)"
            )
        earlier += source.metering


def merge_all(target: Ledger, source_urls: list[str]) -> list[MergeResult]:
    """Append each source ledger's entries that the target lacks, in order, in one transaction:
    every source is read and checked before anything is written.

    Raises:
        InputError: a source fails verification (a broken ledger is never merged), or it is the
            target itself, or one of its runs measured the GPUs of a job on a node that a run
            already there measured over an overlapping window (:mod:`ledger.metered`).
    """
    sources = [_read(target, url) for url in source_urls]
    with target.transaction() as conn:
        _refuse_metered_twice(conn, sources)
        return [_append(conn, source) for source in sources]


def _append(conn: Connection, source: _Source) -> MergeResult:
    rows = source.rows
    copied = present = 0
    target_id = tables.ledger_id(conn)
    seq_of: dict[str, int] = {}
    for found in conn.execute(text("SELECT seq, origin FROM entries")).mappings():
        seq_of[_origin(target_id, dict(found))] = int(found["seq"])
    source_origin = {int(r["seq"]): _origin(source.ledger_id, r) for r in rows}
    seq, prev = tables.head(conn)
    for row in rows:
        origin = source_origin[int(row["seq"])]
        if origin in seq_of:
            present += 1
            continue
        same = _identical_current(conn, row)
        if same is not None:
            seq_of[origin] = same
            present += 1
            continue
        superseded = None
        if row["supersedes"] is not None:
            superseded = seq_of.get(source_origin.get(int(row["supersedes"]), ""))
        if superseded is None and row["record_id"] is not None:
            current = tables.current_entry(conn, row["kind"], row["record_id"])
            superseded = None if current is None else int(current["seq"])
        values = tuple(
            superseded if c == "supersedes" else origin if c == "origin" else row[c]
            for c in COLUMNS
        )
        seq += 1
        entry_hash = digest(prev, values)
        tables.insert_rows(conn, [(seq, *values, prev, entry_hash)])
        prev = entry_hash
        seq_of[origin] = seq
        copied += 1
        fresh = dict(zip(COLUMNS, values, strict=True))
        if superseded is not None:
            old = (
                conn.execute(text("SELECT * FROM entries WHERE seq = :s"), {"s": superseded})
                .mappings()
                .one()
            )
            if old["kind"] == "usage":
                tables.roll(conn, rollup_key(dict(old)), dict(old), sign=-1)
        if row["kind"] == "usage":
            tables.roll(conn, rollup_key(fresh), fresh, sign=1)
    tables.set_head(conn, seq, prev)
    return MergeResult(source.url, copied, present)


def _identical_current(conn: Connection, row: dict[str, Any]) -> int | None:
    """Seq of a current target entry holding the same record, where there is one."""
    if row["record_id"] is None:
        return None
    current = tables.current_entry(conn, row["kind"], row["record_id"])
    if current is not None and row_to_record(current) == row_to_record(row):
        return int(current["seq"])
    return None
