"""Token counts of dataset fields: JSONL, JSON arrays, CSV and parquet, streamed, counted exactly.

Python API::

    result = count_tokens([Path("math500.jsonl")], ["problem", "solution"])
    result.files[0].fields[0].total  # tokens of every `problem`, as Qwen2.5 encodes them

Counts are those of ``tokenizer(text, add_special_tokens=False, split_special_tokens=True)`` in
transformers, the *reference*: no BOS/EOS is added, and special-token strings in the data
(``<|im_end|>``) are encoded as the ordinary text they are. Added tokens that are not special
(Qwen2.5's ``<tool_call>``, ``<|fim_prefix|>``, ...) are single tokens, as the reference has them.

Three modules: :mod:`probes.tokens.read` reads the files, :mod:`probes.tokens.encode` holds the
encoders (the reference, and the exact fast path for Qwen2.5-style tokenizers), and this one
counts, in one forked process per core where that pays, and computes the statistics. Their public
names are re-exported here.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import InputError
from probes.tokens.encode import (
    ASCII_SPLIT,
    CACHE_CHUNKS,
    QWEN_SPLIT,
    ByteLevelBpeEncoder,
    Encoder,
    ReferenceEncoder,
    TransformersEncoder,
    chunks,
    make_encoder,
    unmark,
)
from probes.tokens.read import (
    BATCH_BYTES,
    BATCH_RECORDS,
    Batch,
    Column,
    Source,
    open_source,
    read_batches,
)

if TYPE_CHECKING:
    import numpy as np

    from ledger.schema import Usage

# numpy (about 0.05 s to import) is imported when the first counts come back, while the workers
# count, not before they start; workers send their counts as array("q").

__all__ = [
    "ASCII_SPLIT",
    "BATCH_BYTES",
    "BATCH_RECORDS",
    "CACHE_CHUNKS",
    "PARALLEL_MIN_BYTES",
    "QWEN_SPLIT",
    "Batch",
    "ByteLevelBpeEncoder",
    "Column",
    "CountResult",
    "Encoder",
    "FieldStats",
    "FileCount",
    "Phase",
    "Progress",
    "RecordTo",
    "ReferenceEncoder",
    "Source",
    "TokenCounter",
    "TransformersEncoder",
    "chunks",
    "count_tokens",
    "make_encoder",
    "open_source",
    "read_batches",
    "token_usages",
    "unmark",
]

PARALLEL_MIN_BYTES = 1 << 20
"""Inputs smaller than this are counted in this process: starting workers would cost more."""

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) as the input is counted."""

Phase = Callable[[str, "int | None"], None]
"""Called with (what starts now, bytes it reads or ``None``): building the tokenizer, checking
the files (``--record``), counting (:meth:`ledger.progress.Activity.phase` fits)."""


@dataclass(frozen=True)
class FieldStats:
    """Tokens of one field over the records of one file (or of all files)."""

    field: str
    records: int
    total: int
    mean: float
    median: float
    """Middle record's count; the mean of the two middle ones for an even number of records."""
    p95: float
    """95th percentile, interpolated linearly between records (numpy's default)."""
    max: int

    @classmethod
    def of(cls, name: str, counts: np.ndarray) -> FieldStats:
        import numpy as np

        return cls(
            field=name,
            records=int(counts.size),
            total=int(counts.sum()),
            mean=float(counts.mean()),
            median=float(np.median(counts)),
            p95=float(np.percentile(counts, 95)),
            max=int(counts.max()),
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "field"}


@dataclass(frozen=True)
class FileCount:
    """Per-field token statistics of one file, and every record's count."""

    file: str
    format: str
    size_bytes: int
    records: int
    fields: list[FieldStats]
    counts: dict[str, np.ndarray] = field(repr=False)


@dataclass
class CountResult:
    """What ``receipts tokens count`` found, and where it was recorded."""

    tokenizer: str
    encoder: str
    files: list[FileCount]
    seconds: float
    """Counting: reading, parsing and encoding (and, with ``--record``, writing the run)."""
    tokenizer_seconds: float = 0.0
    """Building (loading) the tokenizer, before counting."""
    check_seconds: float = 0.0
    """With ``--record``: reading every file once to check it before the run is opened."""
    run: str | None = None
    usages: list[str] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        """Everything the command waited for: tokenizer, check and counting."""
        return self.tokenizer_seconds + self.check_seconds + self.seconds

    def combined(self) -> list[FieldStats]:
        """Each field over all files."""
        import numpy as np

        names = [s.field for s in self.files[0].fields] if self.files else []
        return [FieldStats.of(n, np.concatenate([f.counts[n] for f in self.files])) for n in names]

    def as_json(self) -> dict[str, Any]:
        return {
            "tokenizer": self.tokenizer,
            "encoder": self.encoder,
            "files": [
                {
                    "file": f.file,
                    "format": f.format,
                    "bytes": f.size_bytes,
                    "records": f.records,
                    "fields": {s.field: s.as_dict() for s in f.fields},
                }
                for f in self.files
            ],
            "fields": {s.field: s.as_dict() for s in self.combined()},
            "seconds": round(self.seconds, 3),
            "tokenizer_seconds": round(self.tokenizer_seconds, 3),
            "check_seconds": round(self.check_seconds, 3),
            "total_seconds": round(self.total_seconds, 3),
            "run": self.run,
            "usages": self.usages,
        }


_WORKER: list[Encoder] = []  # the encoder of a worker process (set once, by _start_worker)


def _start_worker(encoder: Encoder) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one worker per core already
    _WORKER.append(encoder)


def _count_in_worker(texts: list[str]) -> array[int]:
    return array("q", _WORKER[0].count(texts))


class _Done:
    def __init__(self, value: array[int]) -> None:
        self.value = value

    def get(self) -> array[int]:
        return self.value


class TokenCounter:
    """Counts batches with an encoder, in worker processes (forked, one per core) where that pays.

    Create it before starting threads (a heartbeat, a progress display): the workers are forked.
    """

    def __init__(self, encoder: Encoder, *, workers: int | None = None, parallel: bool) -> None:
        self.encoder = encoder
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self.workers = workers or cores or 1
        use = parallel and encoder.processes and self.workers > 1
        use = use and "fork" in multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork") if use else None
        self.pool = ctx.Pool(self.workers, _start_worker, (encoder,)) if ctx else None
        self._done = self._total = 0
        self._progress: Progress | None = None

    def __enter__(self) -> TokenCounter:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def count(
        self, sources: Sequence[Source], fields: Sequence[str], progress: Progress | None = None
    ) -> list[FileCount]:
        """Per-field statistics of every source, in order."""
        self._done, self._total = 0, sum(s.size_bytes for s in sources)
        self._progress = progress
        out, done = [], 0
        for source in sources:
            out.append(self._count_file(source, fields))
            done += source.size_bytes  # byte shares are estimates within a file: settle them
            self._advance(done - self._done)
        return out

    def _count_file(self, source: Source, fields: Sequence[str]) -> FileCount:
        per_field: list[list[np.ndarray]] = [[] for _ in fields]
        pending: deque[_Pending] = deque()
        records = 0
        for batch in read_batches(source, fields):
            records += batch.records
            for index, column in enumerate(batch.columns):
                share = batch.nbytes if index == len(fields) - 1 else 0
                parts = None if column.flat else column.parts
                pending.append((index, self._submit(column.texts), parts, share))
            while len(pending) > 2 * self.workers:
                self._collect(pending, per_field)
        while pending:
            self._collect(pending, per_field)
        import numpy as np

        counts = {n: np.concatenate(c) for n, c in zip(fields, per_field, strict=True)}
        stats = [FieldStats.of(n, counts[n]) for n in fields]
        return FileCount(str(source.path), source.format, source.size_bytes, records, stats, counts)

    def _submit(self, texts: list[str]) -> Any:
        if self.pool is None:
            return _Done(array("q", self.encoder.count(texts)))
        return self.pool.apply_async(_count_in_worker, (texts,))

    def _collect(self, pending: deque[_Pending], per_field: list[list[np.ndarray]]) -> None:
        import numpy as np

        index, result, parts, nbytes = pending.popleft()
        counts = np.frombuffer(result.get(), dtype=np.int64)
        per_field[index].append(counts if parts is None else _per_record(counts, parts))
        self._advance(nbytes)

    def _advance(self, nbytes: int) -> None:
        self._done += nbytes
        if self._progress is not None and nbytes:
            self._progress(self._done, self._total)


_Pending = tuple[int, Any, "list[int] | None", int]
"""A submitted column: field index, result, strings per record (lists only), bytes read."""


def _per_record(counts: np.ndarray, parts: list[int]) -> np.ndarray:
    """Per-record sums where a field holds lists of strings (``parts`` strings per record)."""
    import numpy as np

    ends = np.cumsum(parts)
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    return cumulative[ends] - cumulative[ends - np.asarray(parts)]


# -- the one entry point -------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordTo:
    """Where ``--record`` stores the counts: a metered run of this subject, stage and category."""

    ledger: str | None
    subject: str
    stage: str
    category: str = "data"


def count_tokens(
    paths: Sequence[Path],
    fields: Sequence[str],
    tokenizer: str = "qwen2.5",
    *,
    workers: int | None = None,
    record: RecordTo | None = None,
    progress: Progress | None = None,
    phase: Phase | None = None,
    parallel_min_bytes: int = PARALLEL_MIN_BYTES,
) -> CountResult:
    """Count the tokens of ``fields`` in every record of ``paths``; with ``record``, store them.

    Every file is checked whole before a run is opened, so bad input records nothing. The
    result's times split the wait: building the tokenizer, checking (``record`` only), counting.
    ``phase`` hears when each of them starts, ``progress`` how far counting is.

    Raises:
        InputError: a missing, empty, binary or malformed file, a missing or non-text field, an
            unknown tokenizer, or an invalid subject or stage.
    """
    if not paths:
        raise InputError("give at least one FILE to count")
    if not fields:
        raise InputError("give at least one --field NAME")
    fields = list(dict.fromkeys(fields))
    sources = [open_source(Path(p)) for p in paths]
    if record is not None:
        _check_ids(record)
    size = sum(s.size_bytes for s in sources)
    tell = phase or (lambda _what, _total: None)
    tell(f"building the {Path(tokenizer).name or tokenizer} tokenizer", None)
    start = time.perf_counter()
    name, encoder = make_encoder(tokenizer)
    built = time.perf_counter()
    if record is not None:
        tell("checking the files", None)
        for source in sources:  # validate everything before the run exists
            for _ in read_batches(source, fields):
                pass
    checked = time.perf_counter()
    tell("counting tokens", size)
    with TokenCounter(encoder, workers=workers, parallel=size >= parallel_min_bytes) as counter:
        if record is None:
            files = counter.count(sources, fields, progress)
            result = CountResult(name, encoder.description, files, time.perf_counter() - checked)
        else:
            result = _count_and_record(counter, sources, fields, name, tokenizer, record, progress)
    result.tokenizer_seconds = built - start
    result.check_seconds = checked - built if record is not None else 0.0
    return result


def _check_ids(record: RecordTo) -> None:
    from pydantic import TypeAdapter, ValidationError

    from ledger.schema import Id

    for option, value in (("--subject", record.subject), ("--stage", record.stage)):
        try:
            TypeAdapter(Id).validate_python(value)
        except ValidationError as exc:
            message = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise InputError(f"{option}: {message}") from None


def _count_and_record(
    counter: TokenCounter,
    sources: Sequence[Source],
    fields: Sequence[str],
    name: str,
    tokenizer: str,
    record: RecordTo,
    progress: Progress | None,
) -> CountResult:
    from ledger.store import Ledger
    from probes.run.session import metered_run

    start = time.perf_counter()
    with (
        Ledger(record.ledger) as store,
        metered_run(
            store,
            subject=record.subject,
            stage=record.stage,
            category=record.category,
            name="tokens count",
        ) as run,
    ):
        files = counter.count(sources, fields, progress)
        result = CountResult(name, counter.encoder.description, files, 0.0, run=run.run_id)
        for usage in token_usages(result, run.run_id, tokenizer):
            run.add_usage(usage)
            result.usages.append(usage.id)
    result.seconds = time.perf_counter() - start
    return result


def token_usages(result: CountResult, run_id: str, tokenizer: str) -> list[Usage]:
    """One measured usage per file and field: the total, with the statistics in ``detail``."""
    from ledger.schema import Provenance, Unit, Usage

    out: list[Usage] = []
    for file in result.files:
        for stats in file.fields:
            detail: dict[str, Any] = {"file": file.file, "field": stats.field, **stats.as_dict()}
            detail.pop("total")
            detail |= {"format": file.format, "bytes": file.size_bytes}
            if tokenizer != result.tokenizer:
                detail["tokenizer_path"] = str(Path(tokenizer).resolve())
            out.append(
                Usage(
                    id=f"{run_id}/tokens/{len(out) + 1}",
                    run=run_id,
                    resource=f"tokens/{result.tokenizer}",
                    unit=Unit.TOKEN,
                    quantity=float(stats.total),
                    provenance=Provenance.MEASURED,
                    detail=detail,
                )
            )
    return out
