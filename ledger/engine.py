"""Opening the database behind a ledger: URLs, engines, SQLite's locking, and error messages
that never show a password."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
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


_SECRET_KEY = r"[^=&#;?]*(?:pass|pwd|secret|token|key)[^=&#;?]*"
"""A query parameter that holds a secret (``password``, ``sslpassword``, ``api_key``...)."""
_SECRET_QUERY = re.compile(rf"([?&;]{_SECRET_KEY}=)[^&#;]*", re.IGNORECASE)
_USERINFO = re.compile(r"(://[^:/?#@]*:)[^?#]*@")
"""``user:password@``, up to the last ``@`` (a password that does not parse may hold one)."""


def safe_url(url: str) -> str:
    """``url`` with its password hidden, for messages: ``user:***@`` and ``?password=***`` (also
    in a URL that does not parse)."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        shown = url
    return _SECRET_QUERY.sub(r"\1***", _USERINFO.sub(r"\1***@", shown))


def _secrets(url: str) -> list[str]:
    """The password and secret query values in ``url``, to scrub from a driver's message."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return []
    found = [parsed.password] if parsed.password else []
    for key, value in parsed.query.items():
        if re.fullmatch(_SECRET_KEY, key, re.IGNORECASE):
            found += [value] if isinstance(value, str) else list(value)
    return [str(secret) for secret in found if secret]


def create_ledger_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine for the ledger at ``url``; with ``read_only``, a SQLite file is opened with
    ``mode=ro`` (nothing is created or written, so read-only media work) and must exist."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError(f"ledger URL {safe_url(url)!r} is not a database URL") from None
    except ValueError as exc:  # the only one: int() of a port that is not a number
        bad = str(exc).rpartition(": ")[2]
        raise InputError(f"ledger URL {safe_url(url)}: the port {bad} is not a number") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            if read_only:
                return _sqlite_engine(_read_only(parsed, url), create_dirs=False)
            return _sqlite_engine(parsed)
        return create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise InputError(f"ledger URL {safe_url(url)}: unsupported database ({exc})") from None


def _read_only(parsed: Any, url: str) -> Any:
    """The SQLite URL as a ``mode=ro`` URI filename."""
    database = parsed.database or ""
    query = dict(parsed.query)
    if not database or database == ":memory:" or query.get("mode") == "memory":
        return parsed
    if database.startswith("file:") and query.get("uri") == "true":
        path = database[len("file:") :]
    else:
        path = os.path.abspath(os.path.expanduser(database))
        database = "file:" + quote(path)
    if not Path(path).is_file():
        raise StoreError(f"ledger {safe_url(url)}: no such file {path}")
    return parsed.set(database=database, query=query | {"mode": "ro", "uri": "true"})


def _sqlite_engine(parsed: Any, *, create_dirs: bool = True) -> Engine:
    database = parsed.database
    if database and database != ":memory:":
        try:
            if create_dirs and not database.startswith("file:"):
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


def db_message(url: str, exc: Exception) -> str:
    """One line for a database error (SQLAlchemy's or the driver's): the ledger's URL without its
    password, and the first line of the driver's reason with any secret of the URL scrubbed."""
    reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    for secret in _secrets(url):
        first = first.replace(secret, "***")
    return f"ledger {safe_url(url)}: {first}"
