"""``receipts import api-log``: a JSONL log of API responses as one reported run, its tokens
per model priced by dated cards (each line read by :func:`probes.api.usage.parse_response`).

Idempotent: the run id derives from the file's SHA-256, so the same file imported again adds
nothing; a log that grew since it was imported (its beginning is an imported file) adds only the
lines after that file, as a new run. The whole file is checked before anything is written.
An OpenAI Batch API output file (lines ``{"id", "custom_id", "response": {"status_code",
"request_id", "body"}, "error"}``) is read as it is: its calls are priced by the batch cards
(``api/<model>/batch``), and its failed lines are calls without usage, never $0.
A response id on several lines (an OpenAI background response logged ``queued`` and then
``completed``) is one call, in its final state (:class:`probes.api.usage.Tally`).
See docs/api-and-labelling.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ledger.audit import price_book
from ledger.errors import InputError
from ledger.files import parse_json
from ledger.schema import Category, Provenance, Run, RunStatus
from ledger.store import Ledger
from probes.api.response import ApiCall, parse_response
from probes.api.usage import ModelTally, Tally
from probes.ids import id_part
from probes.subjects import RunCost, check_subject, costs_of_runs, subject_records

IMPORTER = "api-log"
"""``detail.importer`` of the runs ``receipts import api-log`` writes."""


class ApiLogImport(BaseModel):
    """What ``receipts import api-log`` did."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    file: str
    """The log."""
    sha256: str
    """SHA-256 of the file's bytes."""
    run: str | None
    """The run written; ``None`` where nothing was new."""
    first_line: int
    """First line read (after the part an earlier import already counted)."""
    last_line: int
    """Last line of the file."""
    calls: int
    """Calls read (a response id logged on several lines is one call, in its last state)."""
    repeated_ids: int = 0
    """Lines that repeated an earlier line's response id (a background response logged
    ``queued``, then ``completed``): each replaced the earlier state instead of adding a call."""
    models: list[ModelTally]
    """Per resource."""
    already_imported: str | None = None
    """The run that already holds this exact file, where one does (nothing was written)."""
    continues: str | None = None
    """The run holding the beginning of this file, where the log grew since it was imported."""
    cost: RunCost | None = None
    """The run's cost as ``receipts report`` computes it."""
    appended: int = 0
    """Ledger records new."""
    superseded: int = 0
    """Ledger records corrected."""
    unchanged: int = 0
    """Ledger records already present."""


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or an :class:`InputError` saying why they cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def _previous(ledger: Ledger) -> list[Run]:
    return [r for r in ledger.runs() if (r.detail or {}).get("importer") == IMPORTER]


def _continuation(path: Path, data: bytes, previous: list[Run]) -> tuple[int, Run | None]:
    """Where the new part of a grown log starts: the longest earlier import it begins with."""
    best: tuple[int, Run | None] = (0, None)
    for run in previous:
        detail = run.detail or {}
        end = detail.get("bytes")
        if not isinstance(end, int) or not 0 < end < len(data) or end <= best[0]:
            continue
        if hashlib.sha256(data[:end]).hexdigest() != detail.get("sha256"):
            continue
        if data[end - 1 : end] != b"\n":
            if data[end : end + 1] != b"\n":
                raise InputError(
                    f"{path}: extends the last line of the log imported as run {run.id}, which "
                    "was then incomplete; import a copy that ends with whole lines"
                )
            end += 1  # the earlier file's last line had no newline
        best = (end, run)
    return best


def _batch_line(obj: dict[str, Any]) -> bool:
    """Whether a line is one of an OpenAI Batch API output (or error) file: ``custom_id``,
    ``response`` (``status_code``, ``request_id``, ``body``, or null) and ``error``."""
    inner = obj.get("response", False)
    if isinstance(inner, dict):
        return "body" in inner or "status_code" in inner
    return "custom_id" in obj and "response" in obj


def _batch_call(obj: dict[str, Any], where: str) -> ApiCall | str | None:
    """One Batch API output line: the call, priced by the batch cards, where it succeeded
    (``status_code`` 200 and no ``error``); else the model its body names (``None`` where it
    names none), for a call without usage: OpenAI's batch guide says failed and expired requests
    go to the error file with ``response`` null or a non-200 ``status_code`` and ``error`` set.
    """
    inner, error = obj.get("response"), obj.get("error")
    if inner is not None and not isinstance(inner, dict):
        raise InputError(
            f"{where}: field response: expected an object or null, found {type(inner).__name__}"
        )
    if error is not None and not isinstance(error, dict):
        raise InputError(
            f"{where}: field error: expected an object or null, found {type(error).__name__}"
        )
    status = None if inner is None else inner.get("status_code")
    if inner is not None and (isinstance(status, bool) or not isinstance(status, int)):
        raise InputError(
            f"{where}: field response.status_code: expected an HTTP status code (an integer), "
            f"found {status!r}"
        )
    body = None if inner is None else inner.get("body")
    if body is not None and not isinstance(body, dict):
        raise InputError(
            f"{where}: field response.body: expected an object, found {type(body).__name__}"
        )
    if error is not None or status != 200:
        model = body.get("model") if body is not None else None
        return str(model) if isinstance(model, str) and model else None
    if body is None:
        raise InputError(f"{where}: field response.body: missing (status_code 200)")
    call = parse_response(body, where=f"{where}: response.body")
    return replace(call, batch=True)


def _unwrap(obj: dict[str, Any], where: str) -> tuple[Any, str | None]:
    if any(k in obj for k in ("usage", "usageMetadata", "usage_metadata")):
        return obj, None
    inner = obj.get("response")
    if isinstance(obj.get("result"), dict) and "custom_id" in obj:
        raise InputError(
            f"{where}: an Anthropic Message Batches result line: not supported (batch calls "
            "are billed at a discount that no card prices)"
        )
    if isinstance(inner, dict):
        model = obj.get("model")
        return inner, model if isinstance(model, str) else None
    return obj, None


Progress = Callable[[int, int], None]
"""Called with (lines read, lines in all) as a log is parsed."""

PROGRESS_EVERY = 500
"""Lines parsed between two progress calls."""


def parse_api_log(
    path: Path, data: bytes, start: int = 0, progress: Progress | None = None
) -> tuple[list[ApiCall], int, int]:
    """The calls of a JSONL log from byte ``start``: one response (or ``{"response": ...}``, or
    an OpenAI Batch API output line) a line; blank lines are skipped. Every line is checked
    before anything is returned; ``progress`` hears how many lines are read.

    A failed Batch API line (the error file's shape) is a call without usage of the model its
    body names, else of the model the file's other batch lines name where they name one only
    (a batch runs one model), else of ``unknown``.

    Returns:
        ``(calls, first line number, last line number)``.

    Raises:
        InputError: a line is not UTF-8, not JSON, not an object or not a known response.
    """
    first = data[:start].count(b"\n") + 1
    lines = data[start:].split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    calls: list[ApiCall] = []
    failed: list[str | None] = []
    for offset, raw in enumerate(lines):
        if progress is not None and offset % PROGRESS_EVERY == 0:
            progress(offset, len(lines))
        where = f"{path}: line {first + offset}"
        try:  # a byte-order mark may open the file (Windows tools write one)
            text = raw.decode("utf-8-sig" if start == offset == 0 else "utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{where}: not UTF-8 text") from None
        if not text.strip():
            continue
        try:
            obj = parse_json(text, where)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: malformed JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise InputError(
                f"{where}: expected a JSON object (one API response a line), found "
                f"{type(obj).__name__}"
            )
        if _batch_line(obj):
            call = _batch_call(obj, where)
            if isinstance(call, ApiCall):
                calls.append(call)
            else:
                failed.append(call)
            continue
        response, model = _unwrap(obj, where)
        calls.append(parse_response(response, model=model, where=where))
    batch_models = {c.model for c in calls if c.batch}
    only = next(iter(batch_models)) if len(batch_models) == 1 else "unknown"
    calls += [
        ApiCall(provider="openai-batch", model=model or only, has_usage=False, batch=True)
        for model in failed
    ]
    if progress is not None:
        progress(len(lines), len(lines))
    return calls, first, first + len(lines) - 1


def import_api_log(
    ledger: Ledger,
    path: Path,
    *,
    subject: str,
    stage: str = "api",
    category: Category = Category.DATA,
    create_subject: bool = False,
    progress: Progress | None = None,
) -> ApiLogImport:
    """Import a JSONL log of API responses as one reported run with its usages per model.

    The run id derives from the file's SHA-256, so importing the same file again adds nothing.
    A log that grew since it was imported (its beginning is an imported file) adds only the
    lines after that file, as a new run. The whole file is checked before anything is written;
    ``progress`` hears how many of its lines are parsed.

    Raises:
        InputError: the file is unreadable or a line is malformed (nothing is written).
        NotFoundError: the subject does not exist and ``create_subject`` is off.
    """
    check_subject(subject)
    data = read_bytes(path)
    sha = hashlib.sha256(data).hexdigest()
    previous = _previous(ledger)
    same = next((r for r in previous if (r.detail or {}).get("sha256") == sha), None)
    last = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    base = ApiLogImport(
        file=str(path), sha256=sha, run=None, first_line=1, last_line=last, calls=0, models=[]
    )
    if same is not None:
        return base.model_copy(update={"already_imported": same.id})
    start, continues = _continuation(path, data, previous)
    calls, first, last = parse_api_log(path, data, start, progress)
    base = base.model_copy(update={"first_line": first, "last_line": last})
    if continues is not None:
        base = base.model_copy(update={"continues": continues.id})
    if not calls:
        if continues is not None:
            return base  # only blank lines were added
        raise InputError(f"{path}: no API responses (the file has no non-blank line)")
    new_subject = subject_records(ledger, subject, create_subject)
    tally = Tally(price_book(ledger))
    for call in calls:
        tally.add(call)
    counted = sum(t.calls for t in tally.models.values())
    run_id = f"{subject}/{id_part(stage)}/api-log-{sha[:12]}"
    citation = f"{path.name} (sha256 {sha[:12]}), lines {first}-{last}"
    run = Run(
        id=run_id,
        subject=subject,
        stage=stage,
        category=category,
        name=f"API calls logged in {path.name}",
        status=RunStatus.REPORTED,
        citation=citation,
        note=f"continues run {continues.id}" if continues else None,
        detail={
            "importer": IMPORTER,
            "file": path.name,
            "sha256": sha,
            "bytes": len(data),
            "first_line": first,
            "last_line": last,
            "calls": counted,
            "lines_replaced": tally.replaced,
        },
    )
    done = ledger.record([*new_subject, run, *tally.usages(run_id, Provenance.REPORTED, citation)])
    return base.model_copy(
        update={
            "run": run_id,
            "calls": counted,
            "repeated_ids": tally.replaced,
            "models": list(tally.models.values()),
            "cost": costs_of_runs(ledger, subject, [run_id])[run_id],
            "appended": done.appended,
            "superseded": done.superseded,
            "unchanged": done.unchanged,
        }
    )
