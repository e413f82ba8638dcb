"""Schema migrations: an ordered list of small named functions, each recorded in a table.

Each migration runs in its own transaction together with the row that records it, so a failed
migration leaves nothing half-applied. The DDL is written once for SQLite and PostgreSQL alike.
Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text

from ledger.engine import append_lock

Migration = Callable[[Connection], None]

MIGRATIONS_TABLE = "receipts_migrations"


def m001_entries(conn: Connection) -> None:
    """The append-only, hash-chained entries table."""
    # In SQLite only "INTEGER PRIMARY KEY" aliases the rowid (no extra index); it is 64-bit there.
    seq_type = "INTEGER" if conn.dialect.name == "sqlite" else "BIGINT"
    conn.execute(
        text(
            f"""
            CREATE TABLE entries (
                seq {seq_type} PRIMARY KEY,
                kind TEXT NOT NULL,
                record_id TEXT,
                subject TEXT,
                run_id TEXT,
                category TEXT,
                stage TEXT,
                resource TEXT,
                unit TEXT,
                quantity DOUBLE PRECISION,
                quantity_low DOUBLE PRECISION,
                quantity_high DOUBLE PRECISION,
                provenance TEXT,
                body TEXT,
                supersedes BIGINT,
                origin TEXT,
                recorded_at TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            )
            """
        )
    )


def m002_head(conn: Connection) -> None:
    """One row holding the chain head (so a deleted last entry is detected) and the ledger's id."""
    conn.execute(
        text(
            "CREATE TABLE ledger_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, "
            "hash TEXT NOT NULL, ledger_id TEXT NOT NULL)"
        )
    )
    conn.execute(
        text("INSERT INTO ledger_head (id, seq, hash, ledger_id) VALUES (1, 0, :h, :l)"),
        {"h": "0" * 64, "l": uuid.uuid4().hex},
    )


def m003_indexes(conn: Connection) -> None:
    """Partial indexes for the current-view lookups.

    Bulk usage samples carry no record id and supersede nothing, so they add no index entries:
    appending them stays cheap, and reports scan them once.
    """
    conn.execute(
        text(
            "CREATE INDEX ix_entries_kind_record ON entries (kind, record_id) "
            "WHERE record_id IS NOT NULL"
        )
    )
    conn.execute(
        text(
            "CREATE INDEX ix_entries_supersedes ON entries (supersedes) "
            "WHERE supersedes IS NOT NULL"
        )
    )


def m004_usage_rollup(conn: Connection) -> None:
    """Per-group sums of current quantified usages, kept in step with every append.

    A derived cache, not part of the chain: reports read it instead of scanning every sample,
    and :meth:`ledger.store.Ledger.verify` recomputes it from the entries.
    """
    conn.execute(
        text(
            """
            CREATE TABLE usage_rollup (
                subject TEXT NOT NULL,
                category TEXT NOT NULL,
                stage TEXT NOT NULL,
                run_id TEXT NOT NULL,
                resource TEXT NOT NULL,
                unit TEXT NOT NULL,
                provenance TEXT NOT NULL,
                quantity DOUBLE PRECISION NOT NULL,
                quantity_low DOUBLE PRECISION NOT NULL,
                quantity_high DOUBLE PRECISION NOT NULL,
                rows BIGINT NOT NULL,
                PRIMARY KEY (subject, category, stage, run_id, resource, unit, provenance)
            )
            """
        )
    )
    conn.execute(
        text(
            """
            INSERT INTO usage_rollup
            SELECT subject, category, stage, run_id, resource, unit, provenance,
                   SUM(quantity), SUM(COALESCE(quantity_low, quantity)),
                   SUM(COALESCE(quantity_high, quantity)), COUNT(*)
            FROM entries
            WHERE kind = 'usage' AND quantity IS NOT NULL
              AND seq NOT IN (SELECT supersedes FROM entries WHERE supersedes IS NOT NULL)
            GROUP BY subject, category, stage, run_id, resource, unit, provenance
            """
        )
    )


def m005_heartbeats(conn: Connection) -> None:
    """Liveness of running runs: operational state beside the chain, not part of it.

    A wrapper overwrites its row every few seconds with the usage it has metered so far; a run
    whose heartbeat stops is closed as ``interrupted`` with that usage.
    """
    conn.execute(
        text(
            """
            CREATE TABLE heartbeats (
                run_id TEXT PRIMARY KEY,
                host TEXT NOT NULL,
                pid BIGINT NOT NULL,
                beat_at TEXT NOT NULL,
                interval_s DOUBLE PRECISION NOT NULL,
                wall_time_s DOUBLE PRECISION NOT NULL,
                snapshot TEXT NOT NULL
            )
            """
        )
    )
    conn.execute(
        text("CREATE INDEX ix_entries_origin ON entries (origin) WHERE origin IS NOT NULL")
    )


def m006_record_indexes(conn: Connection) -> None:
    """Indexes that keep record reads off the (possibly millions of) usage samples.

    Reads of subjects, runs, scopes and cards say ``kind <> 'usage'`` so that both SQLite and
    PostgreSQL use the first index; unquantified usages are few and get their own.
    """
    conn.execute(
        text(
            "CREATE INDEX ix_entries_records ON entries (kind, subject, seq) WHERE kind <> 'usage'"
        )
    )
    conn.execute(
        text(
            "CREATE INDEX ix_entries_unquantified ON entries (subject) "
            "WHERE kind = 'usage' AND quantity IS NULL"
        )
    )


def m007_entry_format(conn: Connection) -> None:
    """The entry format version, on every entry and heartbeat written from now on.

    Rows written before this migration keep ``NULL``, which reads as format 1 (see
    :mod:`ledger.formats`); no stored row is rewritten. On an entry the format is hashed with
    the other columns when it is present.
    """
    conn.execute(text("ALTER TABLE entries ADD COLUMN format INTEGER"))
    conn.execute(text("ALTER TABLE heartbeats ADD COLUMN format INTEGER"))


MIGRATIONS: list[Migration] = [
    m001_entries,
    m002_head,
    m003_indexes,
    m004_usage_rollup,
    m005_heartbeats,
    m006_record_indexes,
    m007_entry_format,
]
"""Every migration, in the order it must run."""


def migrate(engine: Engine) -> None:
    """Apply the migrations the database lacks, each in its own transaction with its record.

    Concurrent processes may open a new ledger at once: each migration is applied under the
    append lock and skipped where another process recorded it meanwhile.
    """
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
                "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
        )
        done = {row[0] for row in conn.execute(text(f"SELECT name FROM {MIGRATIONS_TABLE}"))}
    for migration in MIGRATIONS:
        if migration.__name__ in done:
            continue
        with engine.begin() as conn:
            append_lock(conn)
            again = conn.execute(
                text(f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE name = :n"),
                {"n": migration.__name__},
            ).first()
            if again:  # another process applied it meanwhile
                continue
            migration(conn)
            conn.execute(
                text(f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (:n, :t)"),
                {"n": migration.__name__, "t": datetime.now(UTC).isoformat()},
            )


def applied(conn: Connection) -> list[str]:
    """Names of the applied migrations, in order."""
    return list(conn.execute(text(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name")).scalars())


def pending(engine: Engine) -> list[str]:
    """Names of the migrations the database lacks (all of them where it has none), read
    without writing anything."""
    with engine.connect() as conn:
        exists = conn.execute(
            text(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :t"
                if conn.dialect.name == "sqlite"
                else "SELECT 1 FROM information_schema.tables WHERE table_name = :t "
                "AND table_schema = current_schema()"
            ),
            {"t": MIGRATIONS_TABLE},
        ).first()
        done = set(applied(conn)) if exists else set()
    return [m.__name__ for m in MIGRATIONS if m.__name__ not in done]
