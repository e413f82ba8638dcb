"""Reading a ``sacct -P`` or ``sacct --json`` export (told apart by content) into a
:class:`~probes.slurm.records.SacctExport`: allocation records, their steps, and orphan steps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from ledger.errors import InputError
from ledger.files import parse_json as load_json
from ledger.files import read_text
from probes.slurm.records import (
    Format,
    SacctExport,
    SacctJob,
    SacctRecord,
    _Bad,
    _exit_code,
    _int,
    _local_time,
    _state,
    parse_alloc_tres,
    timezone,
)

SACCT_FORMAT = (
    "JobID,JobIDRaw,JobName,Partition,Account,AllocTRES,State,ExitCode,ElapsedRaw,Start,End,"
    "NNodes,NodeList"
)
"""The ``--format`` to export with: ``sacct -P --duplicates --format=...``."""
_RAW_ID = re.compile(r"^(\d+)(?:\.([A-Za-z0-9_+-]+))?$")
_REQUIRED = ("JobIDRaw", "State", "ElapsedRaw", "AllocTRES", "Start")


# -- sacct -P ---------------------------------------------------------------------------------


def parse_parsable(text: str, path: Path, tz: tzinfo = UTC) -> list[SacctRecord]:
    """Records of a ``sacct -P`` (or ``-p``) export with a header line, in file order.

    Raises:
        InputError: ``<file>: line <n>: ...`` for the first malformed line.
    """
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise InputError(f"{path}: empty file; export with sacct -P --format={SACCT_FORMAT}")
    header = lines[first]
    trailing = header.endswith("|")
    names = _split(header, trailing)
    if len(names) < 2 or _RAW_ID.match(names[0].strip()):
        what = "no header line (exported with --noheader?)" if len(names) > 1 else "no '|'"
        raise InputError(
            f"{path}: line {first + 1}: not a sacct -P export ({what}); export with "
            f"sacct -P --duplicates --format={SACCT_FORMAT}"
        )
    columns = {name.strip().lower(): i for i, name in enumerate(names)}
    missing = [
        name
        for name in _REQUIRED
        if name.lower() not in columns and not (name == "JobIDRaw" and "jobid" in columns)
    ]
    if missing:
        raise InputError(
            f"{path}: line {first + 1}: the header lacks {', '.join(missing)}; export with "
            f"sacct -P --duplicates --format={SACCT_FORMAT}"
        )
    records = []
    for number, line in enumerate(lines[first + 1 :], start=first + 2):
        if not line.strip():
            continue
        fields = _split(line, trailing)
        if len(fields) != len(names):
            raise InputError(
                f"{path}: line {number}: {len(fields)} fields where the header has "
                f"{len(names)} (a '|' in a job name, or a cut line?)"
            )
        row = {key: fields[i] for key, i in columns.items()}
        try:
            records.append(_parsable_record(row, f"line {number}", tz))
        except _Bad as exc:
            raise InputError(f"{path}: line {number}: {exc}") from None
    return records


def _ambiguous_job_id(shown: str) -> str:
    """Why a JobID cannot stand in for JobIDRaw. An array task (``4110_1``) and a heterogeneous
    job's component (``4120+1``) have their own raw ids, which JobID does not show; a pending
    array (``4110_[1-5]``) has none yet."""
    job = shown.split(".", 1)[0]
    if "_" in job:
        what = "an array task"
    elif "+" in job:
        what = "a heterogeneous job's component"
    else:
        return f"JobID {shown!r} is not a Slurm job id"
    return (
        f"JobID {shown!r} is {what}, whose raw id JobID does not show: export JobIDRaw too "
        f"(sacct -P --duplicates --format={SACCT_FORMAT})"
    )


def _split(line: str, trailing: bool) -> list[str]:
    return (line[:-1] if trailing and line.endswith("|") else line).split("|")


def _parsable_record(row: Mapping[str, str], where: str, tz: tzinfo) -> SacctRecord:
    def get(name: str) -> str | None:
        value = row.get(name.lower())
        return None if value is None else value.strip()

    raw = get("JobIDRaw")
    if raw is None:  # no JobIDRaw column: JobID is the raw id where it names a plain job
        raw = get("JobID") or ""
        match = _RAW_ID.match(raw)
        if match is None:
            raise _Bad(_ambiguous_job_id(raw))
    else:
        match = _RAW_ID.match(raw)
    if match is None:
        raise _Bad(f"JobIDRaw {raw!r} is not a Slurm job id")
    word, shown = _state(get("State") or "")
    gpus, typed = parse_alloc_tres(get("AllocTRES") or "")
    elapsed = _int(get("ElapsedRaw"), "ElapsedRaw")
    assert elapsed is not None
    return SacctRecord(
        where=where,
        job_id=match.group(1),
        step=match.group(2),
        display_id=get("JobID") or raw,
        name=get("JobName") or "",
        state=word,
        state_text=shown,
        elapsed_s=elapsed,
        started_at=_local_time(get("Start"), "Start", tz),
        ended_at=_local_time(get("End"), "End", tz),
        gpus=gpus,
        gpu_types=typed,
        partition=get("Partition") or None,
        account=get("Account") or None,
        cluster=get("Cluster") or None,
        exit_code=_exit_code(get("ExitCode")),
        nnodes=_int(get("NNodes"), "NNodes", optional=True),
        nodelist=get("NodeList") or None,
    )


# -- sacct --json -----------------------------------------------------------------------------


def parse_json(text: str, path: Path) -> list[SacctRecord]:
    """Records of a ``sacct --json`` export: each job, then its steps.

    Raises:
        InputError: ``<file>: jobs[<i>]: <field>: ...`` for the first malformed job.
    """
    try:
        data = load_json(text, str(path))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: line {exc.lineno}, column {exc.colno}: malformed JSON ({exc.msg})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise InputError(f'{path}: not a sacct --json export (no top-level "jobs" list)')
    records: list[SacctRecord] = []
    for i, job in enumerate(data["jobs"]):
        try:
            records += _json_job(job, f"jobs[{i}]")
        except _Bad as exc:
            raise InputError(f"{path}: jobs[{i}]: {exc}") from None
    return records


def _at(obj: Any, dotted: str, *, required: bool = True) -> Any:
    for key in dotted.split("."):
        if not isinstance(obj, dict) or key not in obj:
            if required:
                raise _Bad(f"{dotted}: missing")
            return None
        obj = obj[key]
    return obj


def _num(obj: Any, dotted: str, *, required: bool = False) -> int | None:
    """An integer field, plain or Slurm's ``{"set", "infinite", "number"}``; unset is None."""
    value = _at(obj, dotted, required=required)
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite", False):
            return None
        value = value.get("number")
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Bad(f"{dotted}: expected a whole number, got {value!r}")
    return value


def _text(obj: Any, dotted: str) -> str | None:
    value = _at(obj, dotted, required=False)
    if value is not None and not isinstance(value, str):
        raise _Bad(f"{dotted}: expected text, got {value!r}")
    return value or None


def _epoch(obj: Any, dotted: str) -> datetime | None:
    value = _num(obj, dotted)
    try:
        return None if not value else datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise _Bad(f"{dotted}: {value} is not a Unix time") from None


def _json_tres(obj: Any, dotted: str) -> tuple[int, dict[str, int]]:
    items = _at(obj, dotted, required=False) or []
    if not isinstance(items, list):
        raise _Bad(f"{dotted}: expected a list of {{type, name, count}}")
    parts = []
    for item in items:
        if not isinstance(item, dict) or "type" not in item:
            raise _Bad(f"{dotted}: {item!r} is not a {{type, name, count}} entry")
        name = f"{item['type']}/{item['name']}" if item.get("name") else str(item["type"])
        parts.append(f"{name}={item.get('count')}")
    try:
        return parse_alloc_tres(",".join(parts))
    except _Bad as exc:
        raise _Bad(f"{dotted}: {exc}") from None


def _json_exit(obj: Any, dotted: str) -> tuple[int, int] | None:
    value = _at(obj, dotted, required=False)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value, 0
    if not isinstance(value, dict):
        raise _Bad(f"{dotted}: expected {{return_code, signal}}, got {value!r}")
    code = _num(value, "return_code")
    signal = _num(value, "signal.id") if isinstance(value.get("signal"), dict) else None
    return (code or 0, signal or 0) if code is not None or signal is not None else None


def _json_job(job: Any, where: str) -> list[SacctRecord]:
    job_id = _num(job, "job_id", required=True)
    state_value = _at(job, "state.current")
    word, shown = _state(state_value)
    killer = _text(job, "kill_request_user")
    if word == "CANCELLED" and killer and shown == word:
        shown = f"CANCELLED by {killer}"
    array_id, task = _num(job, "array.job_id"), _num(job, "array.task_id")
    het_id, offset = _num(job, "het.job_id"), _num(job, "het.job_offset")
    display = (
        f"{array_id}_{task}"
        if array_id and task is not None
        else f"{het_id}+{offset}"
        if het_id and offset is not None
        else str(job_id)
    )
    gpus, typed = _json_tres(job, "tres.allocated")
    record = SacctRecord(
        where=where,
        job_id=str(job_id),
        step=None,
        display_id=display,
        name=_text(job, "name") or "",
        state=word,
        state_text=shown,
        elapsed_s=_num(job, "time.elapsed", required=True) or 0,
        started_at=_epoch(job, "time.start"),
        ended_at=_epoch(job, "time.end"),
        gpus=gpus,
        gpu_types=typed,
        partition=_text(job, "partition"),
        account=_text(job, "account"),
        cluster=_text(job, "cluster"),
        exit_code=_json_exit(job, "exit_code"),
        nnodes=_num(job, "allocation_nodes"),
        nodelist=_text(job, "nodes"),
    )
    steps = _at(job, "steps", required=False) or []
    if not isinstance(steps, list):
        raise _Bad(f"steps: expected a list, got {steps!r}")
    return [record, *(_json_step(record, s, f"{where}.steps[{i}]") for i, s in enumerate(steps))]


def _json_step(job: SacctRecord, step: Any, where: str) -> SacctRecord:
    try:
        ident = _at(step, "step.id")
        name = str(ident.get("step_id")) if isinstance(ident, dict) else str(ident).split(".")[-1]
        word, shown = _state(_at(step, "state"))
        gpus, typed = _json_tres(step, "tres.allocated")
        return SacctRecord(
            where=where,
            job_id=job.job_id,
            step=name,
            display_id=f"{job.display_id}.{name}",
            name=_text(step, "step.name") or "",
            state=word,
            state_text=shown,
            elapsed_s=_num(step, "time.elapsed", required=True) or 0,
            started_at=_epoch(step, "time.start"),
            ended_at=_epoch(step, "time.end"),
            gpus=gpus,
            gpu_types=typed,
            exit_code=_json_exit(step, "exit_code"),
            nnodes=_num(step, "nodes.count"),
            nodelist=_text(step, "nodes.range"),
        )
    except _Bad as exc:
        raise _Bad(f"{where.split('.', 1)[1]}: {exc}") from None


# -- reading ----------------------------------------------------------------------------------


def read_sacct(path: Path, timezone_name: str = "UTC") -> SacctExport:
    """Parse and validate a whole ``sacct -P`` or ``sacct --json`` export (told apart by content).

    Args:
        path: The export.
        timezone_name: IANA zone of the local Start/End times of ``sacct -P``; JSON ignores it.

    Raises:
        InputError: the file cannot be read, or a line or job is malformed (file and line named).
    """
    tz = timezone(timezone_name)
    text = read_text(path)
    if text.lstrip().startswith("{"):
        fmt: Format = "sacct --json"
        records = parse_json(text, path)
    else:
        fmt = "sacct -P"
        records = parse_parsable(text, path, tz)
    jobs: list[tuple[SacctRecord, list[SacctRecord]]] = []
    latest: dict[str, list[SacctRecord]] = {}
    orphans: list[SacctRecord] = []
    for record in records:
        if record.step is None:
            jobs.append((record, []))
            latest[record.job_id] = jobs[-1][1]
        elif record.job_id in latest:  # a step belongs to the attempt listed last before it
            latest[record.job_id].append(record)
        else:
            orphans.append(record)
    return SacctExport(path, fmt, [SacctJob(r, tuple(s)) for r, s in jobs], orphans)
