"""The run wrapper's fast path: append a ``running`` run and its first heartbeat to an existing
SQLite ledger with the standard library only.

``receipts run`` must write its run before the child starts. Through :class:`~ledger.store.Ledger`
that first write costs about half a second of imports (SQLAlchemy, pydantic) on a small machine,
5 % of a 10 s job. This module writes the same entry, hashed by the same rules
(:mod:`ledger.canonical`), in one ``BEGIN IMMEDIATE`` transaction; the store takes over once the
child runs (see :mod:`probes.launch`).

It handles the ordinary case only, and says so by returning ``None`` or ``False``, so that the
caller takes the full path (which creates and migrates ledgers and reports errors properly): a
plain ``sqlite:///FILE`` URL whose file exists, at exactly the schema in :data:`MIGRATIONS`, and a
subject the ledger already has. Nothing is written on those paths.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ledger.canonical import COLUMNS, CURRENT, entry_bytes
from ledger.errors import StoreError


def _builtin_sha256() -> Any:
    """CPython's built-in SHA-256 (``_sha2`` from 3.12, ``_sha256`` before), else hashlib's:
    importing :mod:`hashlib` loads OpenSSL, about 7 ms on a small machine, for the two digests this
    module computes. The digest is the same; a test checks it against :func:`ledger.chain.digest`.
    """
    for name in ("_sha2", "_sha256"):
        try:
            return __import__(name).sha256
        except ImportError:
            continue
    import hashlib

    return hashlib.sha256


_sha256 = _builtin_sha256()


def digest(prev_hash: str, values: tuple[Any, ...]) -> str:
    """The hash of an entry, as :func:`ledger.chain.digest` computes it."""
    return str(_sha256(entry_bytes(prev_hash, values)).hexdigest())


MIN_STALE_S = 120.0
"""A heartbeat from another host is stale after max(3 intervals, this many seconds)."""

MIGRATIONS = (
    "m001_entries",
    "m002_head",
    "m003_indexes",
    "m004_usage_rollup",
    "m005_heartbeats",
    "m006_record_indexes",
)
"""The migrations this module writes for, in order (a test checks them against
:data:`ledger.migrations.MIGRATIONS`): a ledger with any other set takes the full path."""

RUN_FIELDS = (
    "id",
    "subject",
    "stage",
    "category",
    "name",
    "status",
    "started_at",
    "ended_at",
    "wall_time_s",
    "host",
    "node_rank",
    "job_id",
    "command",
    "working_dir",
    "git_commit",
    "exit_code",
    "citation",
    "note",
    "detail",
)
"""The fields of :class:`ledger.schema.Run` in declaration order (checked by a test): the order of
``Run.model_dump_json()``, which :func:`run_body` reproduces."""


SQLITE_PRAGMAS = ("busy_timeout = 60000", "journal_mode = WAL", "synchronous = NORMAL")
"""Set on every connection to a SQLite ledger, by the store's engine and by this module alike:
wait up to a minute for the write lock, and write-ahead logging."""


def default_url() -> str:
    """The ledger used when neither ``--ledger`` nor ``RECEIPTS_LEDGER`` names one."""
    from platformdirs import user_data_dir

    return f"sqlite:///{os.path.join(user_data_dir('receipts', appauthor=False), 'ledger.db')}"


def resolve_url(url: str | None) -> str:
    """The option's URL, else ``RECEIPTS_LEDGER``, else the default SQLite file."""
    return url or os.environ.get("RECEIPTS_LEDGER") or default_url()


def sqlite_path(url: str) -> str | None:
    """The file of a plain ``sqlite:///PATH`` URL (``sqlite:////abs`` for an absolute path), the
    way SQLAlchemy reads it; ``None`` for anything else (another database, ``:memory:``, query
    parameters, a driver name, percent-escapes, a leading ``~``, which SQLAlchemy does not
    expand)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :]
    if not path or path == ":memory:" or "?" in path or "%" in path or path.startswith("~"):
        return None
    return path


def utc_json(moment: datetime) -> str:
    """A UTC timestamp as pydantic writes it in JSON: ``2026-11-25T06:20:58.123456Z``."""
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    return f"{text}Z"


def run_body(fields: dict[str, Any]) -> str:
    """The JSON body of a run entry, as ``Run.model_dump_json()`` writes it: every field in
    declaration order, ``null`` for the missing ones, timestamps in pydantic's form."""
    unknown = set(fields) - set(RUN_FIELDS)
    if unknown:
        raise ValueError(f"not run fields: {sorted(unknown)}")
    values = {name: fields.get(name) for name in RUN_FIELDS}
    for name, value in values.items():
        if isinstance(value, datetime):
            values[name] = utc_json(value)
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


class RunKey(NamedTuple):
    """The columns of a run entry besides its body."""

    run_id: str
    subject: str
    stage: str
    category: str


class LiteLedger:
    """An open SQLite ledger for the fast path. Use :meth:`open`; close it when done."""

    def __init__(self, conn: sqlite3.Connection, url: str) -> None:
        self._conn = conn
        self._url = url

    @classmethod
    def open(cls, url: str) -> LiteLedger | None:
        """The ledger at ``url`` where the fast path applies to it, else ``None``."""
        path = sqlite_path(url)
        if path is None or not os.path.isfile(path):
            return None
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=60.0)
        except sqlite3.Error:
            return None
        try:
            for pragma in SQLITE_PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            applied = [r[0] for r in conn.execute("SELECT name FROM receipts_migrations")]
        except sqlite3.Error:
            conn.close()
            return None
        if sorted(applied) != list(MIGRATIONS):
            conn.close()
            return None
        return cls(conn, url)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def has_subject(self, subject: str) -> bool:
        """Whether the ledger has a current subject with this id."""
        row = self._conn.execute(
            f"SELECT 1 FROM entries WHERE kind = 'subject' AND record_id = ? AND {CURRENT}",
            (subject,),
        ).fetchone()
        return row is not None

    def stale_runs(self, host: str, now: datetime | None = None) -> list[str]:
        """Running runs whose wrapper died (by :func:`is_stale`): where there is one, the caller
        takes the full path, which reaps them as it opens the ledger."""
        rows = self._conn.execute(
            "SELECT h.run_id, h.host, h.pid, h.beat_at, h.interval_s FROM heartbeats h "
            "JOIN entries e ON e.kind = 'run' AND e.record_id = h.run_id "
            f'WHERE e.body LIKE \'%"status":"running"%\' AND e.{CURRENT}'
        ).fetchall()
        now = now or datetime.now(UTC)
        stale = []
        for run_id, beat_host, pid, beat_at, interval_s in rows:
            moment = datetime.fromisoformat(beat_at)
            if is_stale(beat_host, int(pid), moment, float(interval_s), now=now, host=host):
                stale.append(run_id)
        return stale

    def start_run(self, key: RunKey, body: str, *, host: str, pid: int, heartbeat_s: float) -> bool:
        """Append the ``running`` run entry and its first heartbeat in one transaction.

        Returns ``False`` (and writes nothing) where SQLite refuses: a read-only file, a full disk,
        a lock held past the busy timeout. The full path then reports why.
        """
        now = datetime.now(UTC).isoformat()
        try:
            with self._transaction():
                self._append_run(key, body, None, now)
                self._conn.execute(
                    "INSERT INTO heartbeats (run_id, host, pid, beat_at, interval_s, wall_time_s, "
                    "snapshot) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key.run_id, host, pid, now, heartbeat_s, 0.0, "[]"),
                )
        except (sqlite3.Error, ValueError):  # ValueError: text SQLite cannot take (lone surrogates)
            return False
        return True

    def beat(self, run_id: str, wall_time_s: float) -> None:
        """Record that ``run_id`` is alive after ``wall_time_s`` seconds, with no usage so far (the
        runs this path finishes by itself meter nothing)."""
        with self._transaction():
            self._conn.execute(
                "UPDATE heartbeats SET beat_at = ?, wall_time_s = ? WHERE run_id = ?",
                (datetime.now(UTC).isoformat(), wall_time_s, run_id),
            )

    def finish_run(self, key: RunKey, body: str) -> None:
        """Append the run's final entry (superseding its current one) and drop its heartbeat, in
        one transaction.

        Raises:
            StoreError: SQLite refused (the run stays ``running`` and is reaped later).
        """
        try:
            with self._transaction():
                row = self._conn.execute(
                    f"SELECT seq FROM entries WHERE kind = 'run' AND record_id = ? AND {CURRENT}",
                    (key.run_id,),
                ).fetchone()
                now = datetime.now(UTC).isoformat()
                self._append_run(key, body, row and row[0], now)
                self._conn.execute("DELETE FROM heartbeats WHERE run_id = ?", (key.run_id,))
        except sqlite3.Error as exc:
            raise StoreError(f"ledger {self._url}: {exc}") from None

    def _append_run(self, key: RunKey, body: str, supersedes: int | None, recorded_at: str) -> None:
        run_id, subject, stage, category = key
        values: tuple[Any, ...] = (
            "run", run_id, subject, run_id, category, stage,
            None, None, None, None, None, None,  # resource, unit, quantities, provenance
            body, supersedes, None, recorded_at,
        )  # fmt: skip
        assert len(values) == len(COLUMNS)
        seq, prev = self._conn.execute("SELECT seq, hash FROM ledger_head WHERE id = 1").fetchone()
        entry_hash = digest(prev, values)
        columns = ("seq", *COLUMNS, "prev_hash", "hash")
        self._conn.execute(
            f"INSERT INTO entries ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            (seq + 1, *values, prev, entry_hash),
        )
        self._conn.execute(
            "UPDATE ledger_head SET seq = ?, hash = ? WHERE id = 1", (seq + 1, entry_hash)
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")  # a failed commit (disk full) must not keep the lock
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise


def is_stale(
    beat_host: str, pid: int, beat_at: datetime, interval_s: float, *, now: datetime, host: str
) -> bool:
    """Whether the wrapper behind a heartbeat is gone: on this ``host``, when its process is;
    from another host, when the heartbeat is older than three intervals (at least
    :data:`MIN_STALE_S`)."""
    if beat_host == host:
        return not _pid_alive(pid)
    return (now - beat_at).total_seconds() > max(3 * interval_s, MIN_STALE_S)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
