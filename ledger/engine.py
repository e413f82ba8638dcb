"""Opening the database behind a ledger: URLs, engines, SQLite's locking, and error messages
that never show a password."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from ledger.errors import InputError, StoreError

SQLITE_PRAGMAS = ("busy_timeout = 60000", "journal_mode = WAL", "synchronous = NORMAL")
"""Set on every connection to a SQLite ledger: wait up to a minute for the write lock, and
write-ahead logging."""


def default_url() -> str:
    """The ledger used when neither ``--ledger`` nor ``RECEIPTS_LEDGER`` names one."""
    from platformdirs import user_data_dir

    return f"sqlite:///{os.path.join(user_data_dir('receipts', appauthor=False), 'ledger.db')}"


def resolve_url(url: str | None) -> str:
    """The option's URL, else ``RECEIPTS_LEDGER``, else the default SQLite file."""
    return url or os.environ.get("RECEIPTS_LEDGER") or default_url()


def safe_url(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def create_ledger_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError(f"ledger URL {url!r} is not a database URL") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        return create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise InputError(f"ledger URL {safe_url(url)}: unsupported database ({exc})") from None


def _sqlite_engine(parsed: Any) -> Engine:
    database = parsed.database
    if database and database != ":memory:":
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the ledger directory for {database}: {exc}") from None
        engine = create_engine(parsed)
    else:
        engine = create_engine(parsed, poolclass=StaticPool)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


PG_LOCK_KEY = 0x5EC1E7
"""The PostgreSQL advisory lock that serialises appends (and migrations)."""


def append_lock(conn: Connection) -> None:
    """Take the ledger's append lock for the rest of ``conn``'s transaction.

    SQLite takes its write lock with ``BEGIN IMMEDIATE`` (see :func:`create_ledger_engine`);
    PostgreSQL takes a transaction-scoped advisory lock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})


def db_message(url: str, exc: SQLAlchemyError) -> str:
    reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    return f"ledger {safe_url(url)}: {first}"
