"""The data files ``receipts tokens count`` reads: JSONL, JSON arrays, CSV and parquet, streamed.

:func:`open_source` tells a file's format (magic, then suffix) and rejects what is not data;
:func:`read_batches` streams its records as :class:`Batch` es of text columns, raising
:class:`~ledger.errors.InputError` (file, line or record, what is wrong) on anything malformed.
pyarrow is imported only for parquet files.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import InputError

BATCH_RECORDS = 1024
BATCH_BYTES = 1 << 20


@dataclass(frozen=True)
class Source:
    """One input file and its format."""

    path: Path
    format: str
    """``jsonl``, ``json`` (an array of objects), ``csv`` or ``parquet``."""
    size_bytes: int


@dataclass
class Column:
    """One field of a batch of records: its strings, and how many belong to each record."""

    texts: list[str] = field(default_factory=list)
    parts: list[int] = field(default_factory=list)
    """Strings per record: 1 for a string, the list's length for a list of strings."""
    flat: bool = True
    """Every record holds one string (``parts`` is all ones)."""

    def add(self, value: Any, where: str, name: str, path: Path) -> None:
        if isinstance(value, str):
            self.texts.append(value)
            self.parts.append(1)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            self.texts += value
            self.parts.append(len(value))
            self.flat = False
        else:
            raise InputError(f"{path}: {where}: field {name!r} is {_kind(value)}, not text")


@dataclass
class Batch:
    """Up to :data:`BATCH_RECORDS` records, one :class:`Column` per field."""

    columns: list[Column]
    records: int = 0
    nbytes: int = 0
    """Bytes of the file read for this batch (for progress)."""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number",
             dict: "an object"}  # fmt: skip
    if isinstance(value, list):
        return "a list of non-text values"
    return names.get(type(value), type(value).__name__)


def open_source(path: Path) -> Source:
    """Check that ``path`` is a readable data file and tell its format (magic, then suffix)."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a data file")
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    suffix = path.suffix.lower()
    if head.startswith(b"PAR1"):
        return Source(path, "parquet", size)
    if suffix in (".parquet", ".pq"):
        raise InputError(f"{path}: not a parquet file (no PAR1 header)")
    if not head.strip():
        raise InputError(f"{path}: empty file (no records)")
    if head.startswith(b"\x1f\x8b"):
        raise InputError(f"{path}: gzip-compressed; decompress it first")
    if b"\x00" in head:
        raise InputError(f"{path}: binary file, not JSONL, JSON, CSV or parquet")
    first = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    if suffix in (".jsonl", ".ndjson", ".jsonlines"):
        fmt = "jsonl"
    elif suffix == ".json":
        fmt = "json" if first == b"[" else "jsonl"
    elif suffix == ".csv":
        fmt = "csv"
    elif first in (b"[", b"{"):
        fmt = "json" if first == b"[" else "jsonl"
    else:
        raise InputError(f"{path}: unknown format (use .jsonl, .json, .csv or .parquet)")
    return Source(path, fmt, size)


def read_batches(source: Source, fields: Sequence[str]) -> Iterator[Batch]:
    """The records of ``source`` in batches; any malformed record is an :class:`InputError`."""
    if source.format == "parquet":
        yield from _parquet_batches(source, fields)
        return
    readers = {"jsonl": _jsonl_records, "json": _json_records, "csv": _csv_records}
    batch = Batch([Column() for _ in fields])
    seen = 0
    for where, record, nbytes in readers[source.format](source, fields):
        if not isinstance(record, dict):
            raise InputError(f"{source.path}: {where}: expected an object, found {_kind(record)}")
        for name, column in zip(fields, batch.columns, strict=True):
            if name not in record:
                raise InputError(
                    f"{source.path}: {where}: no field {name!r} "
                    f"(fields: {', '.join(map(str, record)) or 'none'})"
                )
            column.add(record[name], where, name, source.path)
        batch.records += 1
        batch.nbytes += nbytes
        if batch.records >= BATCH_RECORDS or batch.nbytes >= BATCH_BYTES:
            seen += batch.records
            yield batch
            batch = Batch([Column() for _ in fields])
    if batch.records:
        seen += batch.records
        yield batch
    if not seen:
        raise InputError(f"{source.path}: empty file (no records)")


def _jsonl_records(source: Source, _fields: Sequence[str]) -> Iterator[tuple[str, Any, int]]:
    from ledger.files import parse_json  # lazily: it brings pydantic

    skipped = 0
    with source.path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{source.path}: line {number}: not UTF-8 text") from None
            if not line.strip():
                skipped += len(raw)
                continue
            try:
                record = parse_json(line, f"{source.path}: line {number}")
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{source.path}: line {number}: malformed JSON ({exc.msg}, column {exc.colno})"
                ) from None
            if b"\\u" in raw:  # an escape may spell a lone surrogate, which is not text
                _check_unicode(record, source.path, f"line {number}")
            yield f"line {number}", record, len(raw) + skipped
            skipped = 0


def _json_records(source: Source, _fields: Sequence[str]) -> Iterator[tuple[str, Any, int]]:
    # An array cannot be parsed piecewise by the standard library: it is read whole (use JSONL for
    # large data).
    from ledger.files import parse_json  # lazily: it brings pydantic

    try:
        text = source.path.read_text(encoding="utf-8-sig")
        data = parse_json(text, str(source.path))
    except UnicodeDecodeError:
        raise InputError(f"{source.path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source.path}: line {exc.lineno}, column {exc.colno}: malformed JSON ({exc.msg})"
        ) from None
    if not isinstance(data, list):
        raise InputError(f"{source.path}: expected a JSON array of objects, found {_kind(data)}")
    share = source.size_bytes // max(len(data), 1)
    escaped = "\\u" in text
    for index, record in enumerate(data, 1):
        if escaped:
            _check_unicode(record, source.path, f"record {index}")
        yield f"record {index}", record, share


def _check_unicode(record: Any, path: Path, where: str) -> None:
    for name, value in record.items() if isinstance(record, dict) else ():
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                try:
                    text.encode()
                except UnicodeEncodeError:
                    raise InputError(
                        f"{path}: {where}: field {name!r} holds a lone surrogate, not text"
                    ) from None


def _csv_records(source: Source, fields: Sequence[str]) -> Iterator[tuple[str, Any, int]]:
    # Long solutions overflow csv's default 128 KiB cell limit; the limit is process-wide.
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    with source.path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader, [])
            missing = [name for name in fields if name not in header]
            if missing:
                raise InputError(
                    f"{source.path}: no column {missing[0]!r} (columns: {', '.join(header)})"
                )
            done = 0
            for index, row in enumerate(reader, 1):
                if not row:
                    continue
                if len(row) != len(header):
                    raise InputError(
                        f"{source.path}: line {reader.line_num}: {len(row)} cells, "
                        f"the header has {len(header)}"
                    )
                position = raw.tell()
                yield f"record {index}", dict(zip(header, row, strict=True)), position - done
                done = position
        except UnicodeDecodeError:
            raise InputError(f"{source.path}: line {reader.line_num + 1}: not UTF-8 text") from None
        except csv.Error as exc:
            raise InputError(
                f"{source.path}: line {reader.line_num}: malformed CSV ({exc})"
            ) from None


def _parquet_batches(source: Source, fields: Sequence[str]) -> Iterator[Batch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = source.path
    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
        rows = parquet.metadata.num_rows
        for name in fields:
            if name not in schema.names:
                raise InputError(f"{path}: no column {name!r} (columns: {', '.join(schema.names)})")
            if not _arrow_text(schema.field(name).type):
                raise InputError(f"{path}: column {name!r} is {schema.field(name).type}, not text")
        if rows == 0:
            raise InputError(f"{path}: empty file (no records)")
        offset = 0
        for chunk in parquet.iter_batches(batch_size=BATCH_RECORDS, columns=list(fields)):
            batch = Batch([Column() for _ in fields], chunk.num_rows)
            batch.nbytes = source.size_bytes * chunk.num_rows // rows
            for name, column in zip(fields, batch.columns, strict=True):
                for index, value in enumerate(chunk.column(name).to_pylist()):
                    if value is None or (isinstance(value, list) and None in value):
                        where = f"record {offset + index + 1}"
                        raise InputError(f"{path}: {where}: field {name!r} is null")
                    column.add(value, f"record {offset + index + 1}", name, path)
            offset += chunk.num_rows
            yield batch
    except (pa.ArrowException, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{path}: unreadable parquet ({first})") from None


def _arrow_text(kind: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))
