"""The append-only, hash-chained ledger over SQLAlchemy (SQLite by default, PostgreSQL by URL).

Every entry stores the SHA-256 of the previous entry together with its own content, and a
one-row head table holds the last hash, so :meth:`Ledger.verify` finds an edited, inserted or
deleted row. Entries are never updated: a correction is a new entry that *supersedes* an old one,
and every read sees only entries nobody superseded (the *current view*).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from ledger import formats, liveness, tables
from ledger.chain import (
    COLUMNS,
    CURRENT,
    KINDS,
    ROLLUP_COLUMNS,
    record_id_of,
    render,
    rollup_key,
    row_to_record,
    row_values,
)
from ledger.engine import create_ledger_engine, db_message, resolve_url
from ledger.errors import InputError, NotFoundError, StoreError
from ledger.migrations import applied, migrate
from ledger.schema import (
    Category,
    EvalItem,
    FunnelStep,
    HeadlineFigure,
    PriceCard,
    Provenance,
    Record,
    Run,
    Scope,
    Source,
    Subject,
    Unit,
    Usage,
    utcnow,
)
from ledger.verify import VerifyResult, verify

__all__ = ["Ledger", "RecordResult", "UsageTotal", "VerifyResult"]

_BATCH_ROWS = 20_000


@dataclass(frozen=True)
class RecordResult:
    """What :meth:`Ledger.record` did."""

    appended: int
    """New records."""
    superseded: int
    """Records whose changed content was appended as a correction."""
    unchanged: int
    """Records already present with the same content (not written again)."""


@dataclass(frozen=True)
class UsageTotal:
    """Usages summed per subject, category, stage, run, resource, unit and provenance."""

    subject: str
    category: Category
    stage: str
    run: str
    resource: str
    unit: Unit
    provenance: Provenance
    quantity: float
    """Sum of central values of the quantified usages."""
    quantity_low: float
    """Sum of low ends."""
    quantity_high: float
    """Sum of high ends."""
    rows: int
    """Number of quantified usages summed."""


class Ledger:
    """An open ledger. Use as a context manager, or call :meth:`close`."""

    def __init__(self, url: str | None = None, *, reap: bool = True) -> None:
        """Open (creating and migrating where needed) the ledger at ``url``.

        With ``reap`` (the default), runs whose wrapper died are closed as ``interrupted`` first
        (see :mod:`ledger.liveness`).
        """
        self.url = resolve_url(url)
        self._engine = create_ledger_engine(self.url)
        try:
            migrate(self._engine)
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise StoreError(db_message(self.url, exc)) from None
        if reap:
            liveness.reap(self)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    # -- connections: the low-level API of merge, verify and liveness (see ledger.tables) -----

    def connect(self) -> Connection:
        """A connection for reading; use it as a context manager."""
        return self._engine.connect()

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction holding the append lock; database errors raise ``StoreError``.

        Writes to ``entries`` must go through :mod:`ledger.tables` so that the chain, the head
        and the usage totals stay in step.
        """
        return tables.write_transaction(self._engine, self.url)

    def applied_migrations(self) -> list[str]:
        """Names of the applied migrations, in order."""
        with self.connect() as conn:
            return applied(conn)

    # -- writing --------------------------------------------------------------------------------

    def record(self, records: Iterable[Record]) -> RecordResult:
        """Append records in one transaction; unchanged ones are skipped, changed ones supersede.

        Records are matched on their kind and id. A usage's run must be recorded first (in this
        call or before); the usage takes its subject, category and stage from that run.

        Raises:
            InputError: a usage names a run the ledger does not have.
        """
        appended = superseded = unchanged = 0
        with self.transaction() as conn:
            seq, prev = tables.head(conn)
            runs: dict[str, Run] = {}
            for record in records:
                kind = KINDS[type(record)]
                record_id = record_id_of(record)
                current = tables.current_entry(conn, kind, record_id)
                if current is not None and row_to_record(current) == record:
                    unchanged += 1
                    if isinstance(record, Run):
                        runs[record.id] = record
                    continue
                run = None
                if isinstance(record, Usage | EvalItem):
                    run = runs.get(record.run) or _run(conn, record.run)
                if isinstance(record, Run):
                    runs[record.id] = record
                seq += 1
                supersedes = None if current is None else int(current["seq"])
                values = row_values(record, kind, run, supersedes)
                prev = tables.append(conn, seq, prev, [values])
                if current is not None and current["kind"] == "usage":
                    tables.roll(conn, rollup_key(current), current, sign=-1)
                if isinstance(record, Usage):
                    fresh = dict(zip(COLUMNS, values, strict=True))
                    tables.roll(conn, rollup_key(fresh), fresh, sign=1)
                appended += current is None
                superseded += current is not None
            tables.set_head(conn, seq, prev)
        return RecordResult(appended, superseded, unchanged)

    def append_usages(
        self,
        *,
        run: str,
        resource: str,
        unit: Unit,
        provenance: Provenance,
        quantities: Sequence[float],
        citation: str | None = None,
    ) -> int:
        """Append many usages of one resource for one run, hash chain included.

        The fast path for samples (per-step tokens, per-interval GPU time): the shared fields are
        validated once and every quantity is checked to be finite and non-negative.

        Returns:
            The number of usages appended.

        Raises:
            InputError: a quantity is negative, NaN or infinite, or the run does not exist.
        """
        template = Usage(
            id="batch",
            run=run,
            resource=resource,
            unit=unit,
            quantity=0.0,
            quantity_low=0.0,
            quantity_high=0.0,
            provenance=provenance,
            citation=citation,
        )
        if provenance is Provenance.ESTIMATED:
            raise InputError("estimated usages carry their own estimate: use Ledger.record")
        for index, quantity in enumerate(quantities):
            if not (quantity >= 0 and quantity != float("inf")):
                raise InputError(
                    f"usage quantity #{index} for run {run!r}: {quantity!r} is negative, NaN or "
                    "infinite"
                )
        body = json.dumps({"citation": citation}, sort_keys=True) if citation else None
        with self.transaction() as conn:
            owner = _run(conn, run)
            seq, prev = tables.head(conn)
            recorded_at = utcnow().isoformat()
            head = (
                "usage",
                None,
                owner.subject,
                run,
                owner.category.value,
                owner.stage,
                template.resource,
                template.unit.value,
            )
            tail = (
                None,
                None,
                provenance.value,
                body,
                None,
                None,
                recorded_at,
                formats.ENTRY_FORMAT,
            )
            # The digest of every row differs only in prev_hash and quantity: render the rest once.
            # This must stay byte-for-byte what digest() renders for the same values.
            middle = render(head)
            suffix = render(tail)
            sha256 = hashlib.sha256
            for start in range(0, len(quantities), _BATCH_ROWS):
                rows = []
                for raw in quantities[start : start + _BATCH_ROWS]:
                    q = float(raw)
                    entry = f"{prev}\x1f{middle}\x1f{q!r}\x1f{suffix}"
                    entry_hash = sha256(entry.encode()).hexdigest()
                    seq += 1
                    rows.append((seq, *head, q, *tail, prev, entry_hash))
                    prev = entry_hash
                tables.insert_rows(conn, rows)
            total = math.fsum(float(q) for q in quantities)
            key = (
                owner.subject,
                owner.category.value,
                owner.stage,
                run,
                template.resource,
                template.unit.value,
                provenance.value,
            )
            tables.roll_sums(conn, key, total, total, total, len(quantities))
            tables.set_head(conn, seq, prev)
        return len(quantities)

    @property
    def ledger_id(self) -> str:
        """Random id given to this ledger when it was created; merges use it to name origins."""
        with self.connect() as conn:
            return tables.ledger_id(conn)

    # -- reading --------------------------------------------------------------------------------

    def _select(
        self, kind: str, where: str = "", params: dict[str, Any] | None = None
    ) -> list[Any]:
        # "kind <> 'usage'" lets the partial record index serve every non-usage read.
        records = "AND kind <> 'usage'" if kind != "usage" else ""
        sql = (
            f"SELECT * FROM entries WHERE kind = :kind {records} AND {CURRENT} {where} ORDER BY seq"
        )
        with self.connect() as conn:
            rows = conn.execute(text(sql), {"kind": kind, **(params or {})}).mappings()
            return [row_to_record(dict(row)) for row in rows]

    def subjects(self) -> list[Subject]:
        """Every current subject."""
        return self._select("subject")

    def subject(self, subject_id: str) -> Subject:
        """One subject.

        Raises:
            NotFoundError: no such subject; the message lists the known ones.
        """
        found = self._select("subject", "AND record_id = :r", {"r": subject_id})
        if not found:
            known = ", ".join(s.id for s in self.subjects()) or "none"
            raise NotFoundError(f"unknown subject {subject_id!r} (known: {known})")
        return found[0]

    def lineage(self, subject_id: str) -> list[Subject]:
        """The subject followed by its ancestors, nearest first."""
        chain = [self.subject(subject_id)]
        while chain[-1].base is not None and len(chain) < 64:
            try:
                chain.append(self.subject(chain[-1].base))
            except NotFoundError:
                break  # an ancestor nobody accounted for: nothing to inherit
        return chain

    def runs(self, subject: str | None = None) -> list[Run]:
        """Current runs, of one subject where given."""
        if subject is None:
            return self._select("run")
        return self._select("run", "AND subject = :s", {"s": subject})

    def running_runs(self) -> list[Run]:
        """Runs whose current state is ``running``."""
        runs = self._select("run", "AND body LIKE :pattern", {"pattern": '%"status":"running"%'})
        return [run for run in runs if run.status.value == "running"]

    def usages(self, subject: str | None = None) -> list[Usage]:
        """Current usages, of one subject where given (materialised: use totals for big ledgers)."""
        if subject is None:
            return self._select("usage")
        return self._select("usage", "AND subject = :s", {"s": subject})

    def scopes(self, subject: str | None = None) -> list[Scope]:
        """Named scopes, of one subject where given."""
        if subject is None:
            return self._select("scope")
        return self._select("scope", "AND subject = :s", {"s": subject})

    def sources(self) -> list[Source]:
        """Every cited source."""
        return self._select("source")

    def price_cards(self) -> list[PriceCard]:
        """Price cards the user added to this ledger."""
        return self._select("price_card")

    def funnel_steps(self, subject: str, funnel: str | None = None) -> list[FunnelStep]:
        """Curation-funnel steps of a subject, in funnel and step order."""
        steps: list[FunnelStep] = self._select("funnel_step", "AND subject = :s", {"s": subject})
        chosen = [step for step in steps if funnel is None or step.funnel == funnel]
        return sorted(chosen, key=lambda step: (step.funnel, step.order))

    def eval_items(self, run: str) -> list[EvalItem]:
        """Per-item results of one eval run, in the order they were recorded."""
        return self._select("eval_item", "AND run_id = :r", {"r": run})

    def headline_figures(self, subject: str) -> list[HeadlineFigure]:
        """Dollar figures published about a subject."""
        return self._select("headline", "AND subject = :s", {"s": subject})

    def usage_totals(self, subjects: Sequence[str]) -> list[UsageTotal]:
        """Quantified usages of the given subjects, summed in the database."""
        if not subjects:
            return []
        names = {f"s{i}": s for i, s in enumerate(subjects)}
        sql = f"""
            SELECT {ROLLUP_COLUMNS} FROM usage_rollup
            WHERE rows > 0 AND subject IN ({", ".join(":" + k for k in names)})
            ORDER BY subject, category, stage, run_id, resource, unit, provenance
        """
        with self.connect() as conn:
            rows = conn.execute(text(sql), names).all()
        return [
            UsageTotal(
                subject=r[0],
                category=Category(r[1]),
                stage=r[2],
                run=r[3],
                resource=r[4],
                unit=Unit(r[5]),
                provenance=Provenance(r[6]),
                quantity=float(r[7]),
                quantity_low=float(r[8]),
                quantity_high=float(r[9]),
                rows=int(r[10]),
            )
            for r in rows
        ]

    def unquantified(self, subjects: Sequence[str]) -> list[Usage]:
        """Usages known to exist that nobody quantified."""
        found: list[Usage] = []
        for subject in subjects:
            found += self._select("usage", "AND subject = :s AND quantity IS NULL", {"s": subject})
        return found

    # -- integrity ------------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last entry: the ledger's fingerprint."""
        with self.connect() as conn:
            return tables.head(conn)

    def verify(self, head: str | None = None) -> VerifyResult:
        """Recompute the hash chain from the first entry to the head (see :mod:`ledger.verify`).

        With ``head`` (a fingerprint an appendix printed), the chain must also contain an entry
        with that hash: the ledger then still holds, unchanged, everything the appendix saw.
        """
        return verify(self, head)


def _run(conn: Connection, run_id: str) -> Run:
    row = tables.current_entry(conn, "run", run_id)
    if row is None:
        raise InputError(f"usage names run {run_id!r}, which the ledger does not have")
    run: Run = row_to_record(row)
    return run
