"""The run wrapper's fast path: a run, its heartbeats and its usages written to an existing SQLite
ledger with the standard library only.

``receipts run`` must write its run before the child starts. Through :class:`~ledger.store.Ledger`
that first write costs about half a second of imports (SQLAlchemy, pydantic) on a small machine,
5 % of a 10 s job. This module writes the same entries, hashed by the same rules
(:mod:`ledger.canonical`), each write one ``BEGIN IMMEDIATE`` transaction: the ``running`` run and
its first heartbeat, heartbeats with the usage metered so far, and the final run with its measured
or declared usages and their rollup (see :mod:`probes.launch`).

It handles the ordinary case only, and says so by returning ``None`` or ``False``, so that the
caller takes the full path (which creates and migrates ledgers and reports errors properly): a
plain ``sqlite:///FILE`` URL whose file exists, at exactly the schema in :data:`MIGRATIONS`, and a
subject the ledger already has. Nothing is written on those paths. Usages it cannot write as the
store would (a quantity that is not finite, a reported or estimated figure) raise ``ValueError``
before anything is written.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from ledger.canonical import COLUMNS, CURRENT, ROLLUP_KEY, entry_bytes, is_valid_id
from ledger.enums import Provenance, Unit
from ledger.errors import StoreError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (5 ms on a small machine)
if TYPE_CHECKING:
    from typing import Any


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


class RunKey:
    """The columns of a run entry besides its body."""

    __slots__ = ("category", "run_id", "stage", "subject")

    def __init__(self, run_id: str, subject: str, stage: str, category: str) -> None:
        self.run_id = run_id
        self.subject = subject
        self.stage = stage
        self.category = category


USAGE_FIELDS = (
    "id",
    "run",
    "resource",
    "unit",
    "quantity",
    "quantity_low",
    "quantity_high",
    "provenance",
    "citation",
    "estimate",
    "note",
    "detail",
)
"""The fields of :class:`ledger.schema.Usage` (checked by a test)."""

USAGE_EXTRAS = ("citation", "estimate", "note", "detail")
"""The fields of a usage that go into its entry's body (:data:`ledger.chain.USAGE_EXTRAS`)."""

LITE_PROVENANCES = frozenset({Provenance.MEASURED.value, Provenance.DECLARED.value})
"""What a meter writes; reported and estimated usages carry citations and estimates that only the
store checks."""

_UNITS = frozenset(unit.value for unit in Unit)


def _json_safe(value: Any) -> Any:
    """``value`` as pydantic's JSON mode writes it: a float that is not finite becomes ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _quantity(usage_id: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"usage {usage_id}: quantity is not a number: {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"usage {usage_id}: quantity must be finite and >= 0, got {value!r}")
    return float(value)


def check_usage(key: RunKey, usage: dict[str, Any]) -> float | None:
    """Check a measured or declared usage of the run ``key``, given as ``Usage`` fields, as the
    store would; its quantity as a float.

    Raises:
        ValueError: a field the store would reject or this module does not write (an unknown
            field, an invalid id, another run, an unknown unit, a quantity that is not finite
            and non-negative, a range, another provenance).
    """
    usage_id = str(usage.get("id"))
    unknown = set(usage) - set(USAGE_FIELDS)
    if unknown:
        raise ValueError(f"usage {usage_id}: not usage fields: {sorted(unknown)}")
    if not isinstance(usage.get("id"), str) or not is_valid_id(usage_id):
        raise ValueError(f"usage {usage_id!r}: not a valid id")
    if usage.get("run") != key.run_id:
        raise ValueError(f"usage {usage_id}: belongs to {usage.get('run')!r}, not {key.run_id}")
    if usage.get("unit") not in _UNITS:
        raise ValueError(f"usage {usage_id}: unknown unit {usage.get('unit')!r}")
    if usage.get("provenance") not in LITE_PROVENANCES:
        raise ValueError(
            f"usage {usage_id}: provenance {usage.get('provenance')!r} needs the store"
        )
    if usage.get("quantity_low") is not None or usage.get("quantity_high") is not None:
        raise ValueError(f"usage {usage_id}: a range needs the store")
    return _quantity(usage_id, usage.get("quantity"))


def usage_columns(key: RunKey, usage: dict[str, Any], recorded_at: str) -> tuple[Any, ...]:
    """The hashed columns of a measured or declared usage of the run ``key``, given as
    ``Usage`` fields: what :func:`ledger.chain.row_values` gives for the ``Usage`` built from them
    (a test checks it), with the body written as the store writes it.

    Raises:
        ValueError: what :func:`check_usage` rejects, or a detail that is not JSON.
    """
    quantity = check_usage(key, usage)
    extras = {k: usage[k] for k in USAGE_EXTRAS if usage.get(k) is not None}
    try:
        try:
            body = json.dumps(extras, sort_keys=True, allow_nan=False) if extras else None
        except ValueError:  # a reading that is not finite: null, as pydantic writes it
            body = json.dumps(_json_safe(extras), sort_keys=True)
    except TypeError as exc:
        raise ValueError(f"usage {usage['id']}: detail is not JSON: {exc}") from None
    return (
        "usage", usage["id"], key.subject, key.run_id, key.category, key.stage,
        str(usage["resource"]), str(usage["unit"]), quantity, None, None,
        str(usage["provenance"]),
        body, None, None, recorded_at,
    )  # fmt: skip


def usage_snapshot(usages: Sequence[dict[str, Any]]) -> str:
    """A heartbeat's snapshot of usages given as ``Usage`` fields: the JSON list that
    :func:`ledger.liveness.beat` writes (``None`` fields left out, as pydantic's
    ``exclude_none`` does) and the reaper reads back."""
    return json.dumps([{k: _json_safe(v) for k, v in u.items() if v is not None} for u in usages])


UPSERT_HEARTBEAT = """
    INSERT INTO heartbeats (run_id, host, pid, beat_at, interval_s, wall_time_s, snapshot)
    VALUES (:run_id, :host, :pid, :beat_at, :interval_s, :wall_time_s, :snapshot)
    ON CONFLICT (run_id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
        beat_at = excluded.beat_at, interval_s = excluded.interval_s,
        wall_time_s = excluded.wall_time_s, snapshot = excluded.snapshot
"""
"""A run's heartbeat, written or replaced (named parameters, which both ``sqlite3`` and
SQLAlchemy's ``text()`` take): the one statement of :func:`ledger.liveness.beat` and of this
module."""


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
                self._append(self._run_columns(key, body, None, now))
                self._write_beat(key, host, pid, heartbeat_s, wall_time_s=0.0, snapshot="[]")
        except (sqlite3.Error, ValueError):  # ValueError: text SQLite cannot take (lone surrogates)
            return False
        return True

    def beat(
        self,
        key: RunKey,
        wall_time_s: float,
        usages: Sequence[dict[str, Any]] = (),
        *,
        host: str,
        pid: int,
        heartbeat_s: float,
    ) -> None:
        """Record that the run is alive after ``wall_time_s`` seconds, with the usages metered so
        far (``Usage`` fields): what the reaper records if the wrapper dies. Replaces the run's
        heartbeat, or writes it again where it is gone, as :func:`ledger.liveness.beat` does.

        Raises:
            ValueError: a usage :func:`check_usage` rejects, or a detail that is not JSON
                (nothing written).
        """
        for usage in usages:
            check_usage(key, usage)
        try:
            snapshot = usage_snapshot(usages)
        except TypeError as exc:
            raise ValueError(f"run {key.run_id}: a usage's detail is not JSON: {exc}") from None
        with self._transaction():
            self._write_beat(
                key, host, pid, heartbeat_s, wall_time_s=wall_time_s, snapshot=snapshot
            )

    def _write_beat(
        self,
        key: RunKey,
        host: str,
        pid: int,
        heartbeat_s: float,
        *,
        wall_time_s: float,
        snapshot: str,
    ) -> None:
        row = {
            "run_id": key.run_id,
            "host": host,
            "pid": pid,
            "beat_at": datetime.now(UTC).isoformat(),
            "interval_s": heartbeat_s,
            "wall_time_s": wall_time_s,
            "snapshot": snapshot,
        }
        self._conn.execute(UPSERT_HEARTBEAT, row)

    def finish_run(self, key: RunKey, body: str, usages: Sequence[dict[str, Any]] = ()) -> None:
        """Append the run's final entry (superseding its current one) and its usages (``Usage``
        fields, measured or declared), keep the usage rollup in step, and drop the run's
        heartbeat, in one transaction: what the store's ``finish`` writes.

        Raises:
            ValueError: a usage :func:`usage_columns` rejects, or one with the same id is
                recorded already (which the store would supersede); nothing is written.
            StoreError: SQLite refused (the run stays ``running`` and is reaped later).
        """
        now = datetime.now(UTC).isoformat()
        rows = [usage_columns(key, usage, now) for usage in usages]
        try:
            with self._transaction():
                if self._any_recorded("usage", [values[1] for values in rows]):
                    raise ValueError(f"run {key.run_id}: some of these usages are recorded already")
                row = self._conn.execute(
                    f"SELECT seq FROM entries WHERE kind = 'run' AND record_id = ? AND {CURRENT}",
                    (key.run_id,),
                ).fetchone()
                self._append(self._run_columns(key, body, row and row[0], now), *rows)
                self._roll(rows)
                self._conn.execute("DELETE FROM heartbeats WHERE run_id = ?", (key.run_id,))
        except sqlite3.Error as exc:
            raise StoreError(f"ledger {self._url}: {exc}") from None

    def _any_recorded(self, kind: str, ids: list[str]) -> bool:
        """Whether the ledger has an entry of ``kind`` with any of these record ids."""
        if not ids:
            return False
        marks = ", ".join("?" * len(ids))
        found = self._conn.execute(
            f"SELECT 1 FROM entries WHERE kind = ? AND record_id IN ({marks}) LIMIT 1",
            (kind, *ids),
        ).fetchone()
        return found is not None

    @staticmethod
    def _run_columns(
        key: RunKey, body: str, supersedes: int | None, recorded_at: str
    ) -> tuple[Any, ...]:
        return (
            "run", key.run_id, key.subject, key.run_id, key.category, key.stage,
            None, None, None, None, None, None,  # resource, unit, quantities, provenance
            body, supersedes, None, recorded_at,
        )  # fmt: skip

    def _append(self, *entries: tuple[Any, ...]) -> None:
        """Append entries (hashed column values) to the chain, after its current head."""
        seq, prev = self._conn.execute("SELECT seq, hash FROM ledger_head WHERE id = 1").fetchone()
        rows = []
        for values in entries:
            assert len(values) == len(COLUMNS)
            entry_hash = digest(prev, values)
            seq += 1
            rows.append((seq, *values, prev, entry_hash))
            prev = entry_hash
        columns = ("seq", *COLUMNS, "prev_hash", "hash")
        self._conn.executemany(
            f"INSERT INTO entries ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            rows,
        )
        self._conn.execute("UPDATE ledger_head SET seq = ?, hash = ? WHERE id = 1", (seq, prev))

    def _roll(self, entries: Sequence[tuple[Any, ...]]) -> None:
        """Add new usage entries to the rollup, as the store does (the rule that
        :meth:`ledger.store.Ledger.verify` checks: :data:`ledger.chain.ROLLUP_RECOMPUTE`)."""
        sums: dict[tuple[Any, ...], list[float]] = {}
        for values in entries:
            row = dict(zip(COLUMNS, values, strict=True))
            if row["quantity"] is None:
                continue
            key = tuple(row[c] for c in ROLLUP_KEY)
            total = sums.setdefault(key, [0.0, 0])
            total[0] += row["quantity"]
            total[1] += 1
        self._conn.executemany(
            "INSERT INTO usage_rollup VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (subject, category, stage, run_id, resource, unit, provenance) "
            "DO UPDATE SET quantity = quantity + excluded.quantity, "
            "quantity_low = quantity_low + excluded.quantity_low, "
            "quantity_high = quantity_high + excluded.quantity_high, rows = rows + excluded.rows",
            [(*key, q, q, q, n) for key, (q, n) in sums.items()],
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
