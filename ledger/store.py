"""The append-only, hash-chained ledger over SQLAlchemy (SQLite by default, PostgreSQL by URL).

Every entry stores the SHA-256 of the previous entry together with its own content, and a
one-row head table holds the last hash, so :meth:`Ledger.verify` finds an edited, inserted or
deleted row that nobody covered by recomputing the chain; every write transaction also signs a
checkpoint of the head into a witness file outside the database (:mod:`ledger.anchor`), against
which a recomputed, rolled-back or older ledger fails too. Entries are never updated: a
correction is a new entry that *supersedes* an old one, and every read sees only entries nobody
superseded (the *current view*).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from ledger import anchor, formats, liveness, tables
from ledger.bounds import MAX_QUANTITY
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
from ledger.engine import create_ledger_engine, db_message, resolve_url, safe_url
from ledger.errors import InputError, NotFoundError, StoreError
from ledger.migrations import applied, migrate, pending
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

    def __init__(
        self, url: str | None = None, *, reap: bool = True, read_only: bool = False
    ) -> None:
        """Open (creating and migrating where needed) the ledger at ``url``.

        With ``reap`` (the default), runs whose wrapper died are closed as ``interrupted`` first
        (see :mod:`ledger.liveness`). With ``read_only``, for commands that only read, a SQLite
        file is opened with ``mode=ro`` (it must exist; read-only media work), nothing is
        reaped, and :meth:`transaction` is refused; a ledger that still needs a migration is
        migrated first through a writable connection, as any command would.
        """
        self.url = resolve_url(url)
        self.read_only = read_only
        self._engine = create_ledger_engine(self.url, read_only=read_only)
        self._anchor = anchor.Anchor(self.url)
        self._ledger_id: str | None = None
        try:
            if not read_only:
                migrate(self._engine)
            elif pending(self._engine):
                writable = create_ledger_engine(self.url)
                try:
                    migrate(writable)
                finally:
                    writable.dispose()
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise StoreError(db_message(self.url, exc)) from None
        if reap and not read_only:
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
        and the usage totals stay in step. A transaction that moved the head is followed, after
        its commit, by one signed checkpoint in the ledger's witness file (:mod:`ledger.anchor`).

        Raises:
            StoreError: the ledger was opened read-only.
        """
        if self.read_only:
            raise StoreError(f"ledger {safe_url(self.url)} was opened read-only")
        return self._checkpointed()

    @contextmanager
    def _checkpointed(self) -> Iterator[Connection]:
        with tables.write_transaction(self._engine, self.url) as conn:
            before = tables.head(conn)
            yield conn
            after = tables.head(conn)
            if after != before and self._ledger_id is None:
                self._ledger_id = tables.ledger_id(conn)
        if after != before and self._ledger_id is not None:
            self._anchor.checkpoint(self._ledger_id, *after)

    def applied_migrations(self) -> list[str]:
        """Names of the applied migrations, in order."""
        with self.connect() as conn:
            return applied(conn)

    # -- writing --------------------------------------------------------------------------------

    def record(
        self, records: Iterable[Record], *, check: Callable[[Connection], None] | None = None
    ) -> RecordResult:
        """Append records in one transaction; unchanged ones are skipped, changed ones supersede.

        Records are matched on their kind and id. A usage's run must be recorded first (in this
        call or before); the usage takes its subject, category and stage from that run.
        ``check``, where given, reads the ledger over the transaction before anything is written
        (it holds the append lock: no other writer gets in between); should it raise, nothing
        is written.

        Raises:
            InputError: a usage names a run the ledger does not have.
        """
        appended = superseded = unchanged = 0
        with self.transaction() as conn:
            if check is not None:
                check(conn)
            seq, prev = tables.head(conn)
            runs: dict[str, Run] = {}
            given: dict[tuple[str, str], Record] = {}
            for record in records:
                kind = KINDS[type(record)]
                record_id = record_id_of(record)
                if given.setdefault((kind, record_id), record) != record:
                    raise InputError(
                        f"{kind} {record_id!r} is given twice with different content: "
                        "ids must be unique"
                    )
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
                if current is not None:
                    _check_correction(current, values)
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
            if quantity > MAX_QUANTITY[template.unit]:
                raise InputError(
                    f"usage quantity #{index} for run {run!r}: {quantity:g} {template.unit.value} "
                    f"is above the plausible bound of {MAX_QUANTITY[template.unit]:g} per usage"
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

    def verify(self, head: str | None = None, witness: Path | None = None) -> VerifyResult:
        """Recompute the hash chain from the first entry to the head (see :mod:`ledger.verify`),
        then hold it against the latest signed checkpoint of its witness (:mod:`ledger.anchor`;
        ``witness`` names another witness file than the one kept for this ledger's location).

        With ``head`` (a fingerprint an appendix printed), the chain must also contain an entry
        with that hash: the ledger then still holds, unchanged, everything the appendix saw.

        Raises:
            InputError: ``witness`` was given and does not exist.
        """
        result = verify(self, head)
        if not result.ok:
            return result
        found = anchor.check(self, self.url, witness)
        return replace(
            result,
            ok=found.problem is None,
            reason=found.problem,
            first_bad_seq=found.bad_seq,
            anchor=found.witness,
            anchor_seq=found.seq,
            anchor_at=found.at,
        )


COHORT = ("subject", "category", "stage")
"""What a corrected usage or eval item keeps when it moves to another run."""


def _check_correction(current: dict[str, Any], values: tuple[Any, ...]) -> None:
    """Refuse a correction that would move an entry to another subject, stage or category.

    A record whose id the ledger has, with other content, supersedes that entry. It must keep
    the kind (records are matched on kind and id) and the subject; a usage or an eval item must
    keep its run, or move to a run of the same subject, stage and category (an annotation that
    moves from a Label Studio import's skipped run to its submitted run). Otherwise an id that
    collides with another owner's would silently take the entry away from it.
    """
    fresh = dict(zip(COLUMNS, values, strict=True))
    same = ("subject",) if current["kind"] not in ("usage", "eval_item") else COHORT
    if all(fresh[c] == current[c] for c in same):
        return
    kind, record_id = current["kind"], current["record_id"]

    def owner(row: dict[str, Any]) -> str:
        if kind not in ("usage", "eval_item"):
            return f"subject {row['subject']!r}"
        return f"run {row['run_id']!r} (subject {row['subject']!r}, stage {row['stage']!r})"

    raise InputError(
        f"{kind} {record_id!r} already belongs to {owner(current)}; a correction cannot move it "
        f"to {owner(fresh)}: give it another id"
    )


def open_for_reading(url: str | None = None) -> Ledger:
    """The ledger for a command that reports: opened as usual (dead wrappers' runs reaped), or,
    where it cannot be written (read-only media, an archived copy), read-only as it is."""
    try:
        return Ledger(url)
    except StoreError:
        return Ledger(url, reap=False, read_only=True)


def _run(conn: Connection, run_id: str) -> Run:
    row = tables.current_entry(conn, "run", run_id)
    if row is None:
        raise InputError(f"usage names run {run_id!r}, which the ledger does not have")
    run: Run = row_to_record(row)
    return run
