"""Verifying a ledger: recompute every entry's hash from the first to the head, check the head
row (so a deleted last entry shows), check the report cache against the entries, and optionally
find a published fingerprint in the chain."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ledger.chain import (
    COLUMNS,
    FLOAT_IDX,
    GENESIS,
    ROLLUP_COLUMNS,
    ROLLUP_RECOMPUTE,
    as_float,
    digest,
)
from ledger.tables import Database
from ledger.tables import head as head_of


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify` (and :meth:`ledger.store.Ledger.verify`)."""

    ok: bool
    """Whether every entry and the head are intact."""
    entries: int
    """Entries checked."""
    head_hash: str
    """Hash of the last entry (the fingerprint), or the genesis hash of an empty ledger."""
    first_bad_seq: int | None = None
    """Sequence number of the first entry that fails, where one does."""
    first_bad_entry: str | None = None
    """Its entry id."""
    reason: str | None = None
    """Why it fails."""
    expected_head: str | None = None
    """A published fingerprint that was checked (``receipts verify --head``)."""
    expected_head_seq: int | None = None
    """The entry whose hash the fingerprint is; ``None`` where no entry has it."""
    anchor: str | None = None
    """The witness file the chain was checked against; ``None``: the ledger is not anchored
    (see :mod:`ledger.anchor`), and a rollback, an older copy or a recomputed chain would pass."""
    anchor_seq: int | None = None
    """The entry the latest checkpoint vouches for."""
    anchor_at: str | None = None
    """When that checkpoint was written (UTC)."""


def verify(ledger: Database, head: str | None = None) -> VerifyResult:
    """Recompute the hash chain from the first entry to the head.

    With ``head`` (a fingerprint an appendix printed), the chain must also contain an entry
    with that hash: the ledger then still holds, unchanged, everything the appendix saw, and
    whatever was appended since comes after it.
    """
    prev, expected_seq, head_seq_found = GENESIS, 1, None
    columns = ", ".join(("seq", *COLUMNS, "prev_hash", "hash"))
    with ledger.connect() as conn:
        try:
            head_seq, head_hash = head_of(conn)
        except (SQLAlchemyError, ValueError, TypeError) as exc:
            cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
            text_of = str(cause).strip()
            reason = text_of.splitlines()[0] if text_of else type(cause).__name__
            return VerifyResult(
                False,
                0,
                "",
                None,
                None,
                f"the head table is missing or damaged ({reason}): the ledger was tampered with",
                head,
            )
        result = conn.execution_options(stream_results=True, yield_per=10_000).execute(
            text(f"SELECT {columns} FROM entries ORDER BY seq")
        )
        for row in result:
            seq, values, stored_prev, stored_hash = row[0], row[1:-2], row[-2], row[-1]
            bad = None
            if seq != expected_seq:
                bad = f"sequence jumps from {expected_seq - 1} to {seq}: an entry was deleted"
            elif stored_prev != prev:
                bad = "prev_hash does not match the previous entry"
            elif (
                digest(
                    prev,
                    tuple(as_float(v) if i in FLOAT_IDX else v for i, v in enumerate(values)),
                )
                != stored_hash
            ):
                bad = "content does not match its hash: the entry was edited"
            if bad:
                result.close()
                name = f"{row[1]} {row[2]}" if row[2] else f"{row[1]} #{seq}"
                return VerifyResult(False, seq - 1, head_hash, seq, name, bad, head)
            prev, expected_seq = stored_hash, seq + 1
            if stored_hash == head:
                head_seq_found = seq
    count = expected_seq - 1
    if (count, prev) != (head_seq, head_hash):
        return VerifyResult(
            False,
            count,
            head_hash,
            count + 1,
            None,
            f"the chain ends at entry {count} but the head names entry {head_seq}: "
            "entries after it were deleted or the head was edited",
            head,
        )
    problem = check_rollup(ledger)
    if problem:
        return VerifyResult(False, count, head_hash, None, None, problem, head)
    if head is not None and head_seq_found is None and head != GENESIS:
        return VerifyResult(
            False,
            count,
            prev,
            None,
            None,
            f"no entry of this ledger has the hash {head}: it is not the ledger the "
            "fingerprint was taken from, or that entry was changed",
            head,
        )
    return VerifyResult(True, count, prev, expected_head=head, expected_head_seq=head_seq_found)


def check_rollup(ledger: Database) -> str | None:
    """Compare the report cache with sums recomputed from the entries."""
    with ledger.connect() as conn:
        cached = {
            tuple(r[:7]): r[7:]
            for r in conn.execute(text(f"SELECT {ROLLUP_COLUMNS} FROM usage_rollup"))
            if r[10] != 0
        }
        fresh = {tuple(r[:7]): r[7:] for r in conn.execute(text(ROLLUP_RECOMPUTE))}
    if cached.keys() != fresh.keys():
        return "the usage totals cache does not match the entries"
    for key, sums in fresh.items():
        if sums[3] != cached[key][3] or not all(
            math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
            for a, b in zip(sums[:3], cached[key][:3], strict=True)
        ):
            return f"the usage totals cache does not match the entries for run {key[3]}"
    return None
