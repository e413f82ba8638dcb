"""How ledger entries are encoded and chained: the hashed columns, their canonical text, the
SHA-256 chain, and the mapping between records and rows. Shared by the store, verification and
merging; nothing here touches a database. The column order, the text and the digest are defined
in :mod:`ledger.canonical` (standard library only) and re-exported here, with the entry format
(:mod:`ledger.formats`) as the last hashed column."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from ledger import canonical, formats
from ledger.canonical import CURRENT as CURRENT
from ledger.canonical import GENESIS as GENESIS
from ledger.canonical import ROLLUP_KEY, entry_bytes
from ledger.canonical import render as render
from ledger.formats import format_of, upgrade
from ledger.schema import (
    EvalItem,
    FunnelStep,
    HeadlineFigure,
    PriceCard,
    Record,
    Run,
    Scope,
    Source,
    Subject,
    Usage,
    utcnow,
)

KINDS: dict[type[Record], str] = {
    Subject: "subject",
    Run: "run",
    Usage: "usage",
    Scope: "scope",
    Source: "source",
    PriceCard: "price_card",
    HeadlineFigure: "headline",
    FunnelStep: "funnel_step",
    EvalItem: "eval_item",
}


MODELS = {kind: model for model, kind in KINDS.items()}

COLUMNS = (*canonical.COLUMNS, "format")
"""Hashed columns in hash order. ``format``, the entry format version, is hashed where present:
an entry written before formats existed has none and hashes as it always did."""

USAGE_EXTRAS = ("citation", "estimate", "note", "detail")


def digest(prev_hash: str, values: Sequence[Any]) -> str:
    """SHA-256 (hex) of the previous hash followed by an entry's hashed column values (in
    ``COLUMNS`` order; a missing format, the last value, is left out)."""
    if len(values) == len(COLUMNS) and values[-1] is None:
        values = values[:-1]
    return hashlib.sha256(entry_bytes(prev_hash, values)).hexdigest()


def as_float(value: float | None) -> float | None:
    return None if value is None else float(value)


ROLLUP_COLUMNS = (
    "subject, category, stage, run_id, resource, unit, provenance, "
    "quantity, quantity_low, quantity_high, rows"
)


ROLLUP_RECOMPUTE = f"""
    SELECT subject, category, stage, run_id, resource, unit, provenance,
           SUM(quantity), SUM(COALESCE(quantity_low, quantity)),
           SUM(COALESCE(quantity_high, quantity)), COUNT(*)
    FROM entries
    WHERE kind = 'usage' AND quantity IS NOT NULL AND {CURRENT}
    GROUP BY subject, category, stage, run_id, resource, unit, provenance
"""


def rollup_key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row[c]) for c in ROLLUP_KEY)


FLOAT_IDX = {COLUMNS.index(c) for c in ("quantity", "quantity_low", "quantity_high")}


def record_id_of(record: Record) -> str:
    return record.tag if isinstance(record, Source) else str(record.id)  # type: ignore[attr-defined]


def row_values(
    record: Record, kind: str, run: Run | None, supersedes: int | None
) -> tuple[Any, ...]:
    """The hashed column values of one entry, in ``COLUMNS`` order."""
    subject = run_id = category = stage = resource = unit = provenance = body = None
    q = q_low = q_high = None
    if isinstance(record, Usage):
        assert run is not None
        subject, run_id, category, stage = run.subject, run.id, run.category.value, run.stage
        resource, unit, provenance = record.resource, record.unit.value, record.provenance.value
        q = as_float(record.quantity)
        q_low, q_high = as_float(record.quantity_low), as_float(record.quantity_high)
        extras = record.model_dump(mode="json", include=set(USAGE_EXTRAS), exclude_none=True)
        body = json.dumps(extras, sort_keys=True) if extras else None
    else:
        body = record.model_dump_json()  # every field: required-but-None ones must survive
        if isinstance(record, Subject):
            subject = record.id
        elif isinstance(record, Run):
            subject, run_id, category, stage = (
                record.subject,
                record.id,
                record.category.value,
                record.stage,
            )
        elif isinstance(record, Scope | HeadlineFigure | FunnelStep):
            subject = record.subject
        elif isinstance(record, EvalItem):
            assert run is not None
            subject, run_id, category, stage = run.subject, run.id, run.category.value, run.stage
        elif isinstance(record, PriceCard):
            resource, unit = record.resource, record.unit.value
    return (
        kind,
        record_id_of(record),
        subject,
        run_id,
        category,
        stage,
        resource,
        unit,
        q,
        q_low,
        q_high,
        provenance,
        body,
        supersedes,
        None,
        utcnow().isoformat(),
        formats.ENTRY_FORMAT,
    )


def row_to_record(row: dict[str, Any]) -> Any:
    """The record an entry row holds, upgraded from the row's entry format where it is older.

    Raises:
        StoreError: the row is in a newer entry format than this release reads.
    """
    kind = row["kind"]
    version = format_of(row.get("format"))
    where = f"ledger entry {row.get('seq')} ({kind})"
    if kind != "usage":
        if version == formats.ENTRY_FORMAT:
            return MODELS[kind].model_validate_json(row["body"])
        fields = upgrade(kind, json.loads(row["body"]), version, where)
        return MODELS[kind].model_validate_json(json.dumps(fields))
    extras = json.loads(row["body"]) if row["body"] else {}
    fields = {
        "id": row["record_id"] or f"seq-{row['seq']}",
        "run": row["run_id"],
        "resource": row["resource"],
        "unit": row["unit"],
        "quantity": row["quantity"],
        "quantity_low": row["quantity_low"],
        "quantity_high": row["quantity_high"],
        "provenance": row["provenance"],
        **extras,
    }
    if version != formats.ENTRY_FORMAT:
        fields = upgrade(kind, fields, version, where)
    return Usage.model_validate(fields)
