"""The ledger's tables at the level of one connection: the chain head, the current entry of a
record, appending hashed rows and keeping the usage totals cache in step.

This is the public low-level API that :mod:`ledger.store`, :mod:`ledger.merge`,
:mod:`ledger.verify` and :mod:`ledger.liveness` share. Every function takes an open
:class:`~sqlalchemy.Connection`; writes must run inside :meth:`Database.transaction`, which holds
the append lock, so that the chain stays one line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.chain import COLUMNS, CURRENT, digest
from ledger.engine import append_lock, db_message
from ledger.errors import StoreError


class Database(Protocol):
    """What the ledger's own modules need of an open ledger (:class:`ledger.store.Ledger` is
    one): a read connection and a write transaction."""

    def connect(self) -> Connection:
        """A connection for reading (a context manager)."""
        ...

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction holding the append lock, database errors as ``StoreError``."""
        ...


@contextmanager
def write_transaction(engine: Engine, url: str) -> Iterator[Connection]:
    """A transaction on ``engine`` holding the append lock; database errors (at begin, inside,
    or at commit) are raised as :class:`~ledger.errors.StoreError` naming ``url``: SQLAlchemy's,
    and the driver's own from the rows :func:`insert_rows` hands it directly (a full disk is
    ``sqlite3.OperationalError: database or disk is full`` there)."""
    driver_error = getattr(engine.dialect.dbapi, "Error", None)
    errors: tuple[type[Exception], ...] = (SQLAlchemyError,)
    if isinstance(driver_error, type) and issubclass(driver_error, Exception):
        errors += (driver_error,)
    try:
        with engine.begin() as conn:
            append_lock(conn)
            yield conn
    except errors as exc:
        raise StoreError(db_message(url, exc)) from None


def head(conn: Connection) -> tuple[int, str]:
    """``(seq, hash)`` of the last entry, from the head row."""
    row = conn.execute(text("SELECT seq, hash FROM ledger_head WHERE id = 1")).one()
    return int(row[0]), str(row[1])


def set_head(conn: Connection, seq: int, head_hash: str) -> None:
    """Move the head row to the entry just appended."""
    conn.execute(
        text("UPDATE ledger_head SET seq = :s, hash = :h WHERE id = 1"),
        {"s": seq, "h": head_hash},
    )


def ledger_id(conn: Connection) -> str:
    """The random id the ledger was given when it was created."""
    return str(conn.execute(text("SELECT ledger_id FROM ledger_head WHERE id = 1")).one()[0])


def current_entry(conn: Connection, kind: str, record_id: str) -> dict[str, Any] | None:
    """The row of the record's current (not superseded) entry, where there is one."""
    row = (
        conn.execute(
            text(f"SELECT * FROM entries WHERE kind = :k AND record_id = :r AND {CURRENT}"),
            {"k": kind, "r": record_id},
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def append(conn: Connection, seq: int, prev: str, values: Sequence[tuple[Any, ...]]) -> str:
    """Append entries (hashed column values, in ``COLUMNS`` order) from sequence number ``seq``
    on, chained onto ``prev``; returns the hash of the last one."""
    rows = []
    for entry in values:
        entry_hash = digest(prev, entry)
        rows.append((seq, *entry, prev, entry_hash))
        prev = entry_hash
        seq += 1
    insert_rows(conn, rows)
    return prev


def insert_rows(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert complete rows: ``seq``, the ``COLUMNS`` values, ``prev_hash`` and ``hash``."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    columns = ("seq", *COLUMNS, "prev_hash", "hash")
    sql = f"INSERT INTO entries ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    if conn.dialect.name == "sqlite":
        # Straight to the driver: SQLAlchemy's per-row parameter handling costs more than
        # SQLite's own insert here, and these rows need no type processing.
        dbapi = conn.connection.driver_connection
        assert dbapi is not None
        dbapi.executemany(sql, rows)
    else:
        conn.exec_driver_sql(sql, rows)


def roll(conn: Connection, key: tuple[str, ...], row: dict[str, Any], sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) one usage row's quantities in the totals cache."""
    q = row["quantity"]
    if q is None:
        return
    low = q if row["quantity_low"] is None else row["quantity_low"]
    high = q if row["quantity_high"] is None else row["quantity_high"]
    roll_sums(conn, key, sign * q, sign * low, sign * high, sign)


def roll_sums(
    conn: Connection, key: tuple[str, ...], q: float, low: float, high: float, rows: int
) -> None:
    """Add sums to one group of the usage totals cache (``key``: ``ROLLUP_KEY`` values)."""
    conn.execute(
        text(
            """
            INSERT INTO usage_rollup VALUES (:s, :c, :st, :r, :res, :u, :p, :q, :lo, :hi, :n)
            ON CONFLICT (subject, category, stage, run_id, resource, unit, provenance)
            DO UPDATE SET quantity = usage_rollup.quantity + excluded.quantity,
                          quantity_low = usage_rollup.quantity_low + excluded.quantity_low,
                          quantity_high = usage_rollup.quantity_high + excluded.quantity_high,
                          rows = usage_rollup.rows + excluded.rows
            """
        ),
        dict(zip(("s", "c", "st", "r", "res", "u", "p"), key, strict=True))
        | {"q": q, "lo": low, "hi": high, "n": rows},
    )
