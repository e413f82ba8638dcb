"""The typed records of a sacct export, and the field rules both formats share.

States, AllocTRES (GPUs by gres type), host lists, times and exit codes. A malformed field raises
:class:`_Bad`; the format parsers in :mod:`probes.slurm.parse` add the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger.bounds import check_not_future, check_quantity, check_seconds
from ledger.errors import InputError
from ledger.schema import RunStatus, Unit
from probes.gpu.names import gpu_model_name

_STATUS = {
    "COMPLETED": RunStatus.SUCCEEDED,
    "FAILED": RunStatus.FAILED,
    "NODE_FAIL": RunStatus.FAILED,
    "OUT_OF_MEMORY": RunStatus.FAILED,
    "TIMEOUT": RunStatus.FAILED,
    "BOOT_FAIL": RunStatus.FAILED,
    "DEADLINE": RunStatus.FAILED,
    "LAUNCH_FAILED": RunStatus.FAILED,
    "CANCELLED": RunStatus.KILLED,
    "REQUEUED": RunStatus.INTERRUPTED,
    "PREEMPTED": RunStatus.INTERRUPTED,
    "SPECIAL_EXIT": RunStatus.INTERRUPTED,
}
_UNFINISHED = {
    "PENDING", "RUNNING", "SUSPENDED", "RESIZING", "CONFIGURING", "COMPLETING", "STAGE_OUT",
    "SIGNALING", "STOPPED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "POWER_UP_NODE",
    "UPDATE_DB",
}  # fmt: skip
# Flag states win over the base state, as in Slurm's job_state_string(): a JSON state list such
# as ["PENDING", "REQUEUED"] is a requeued attempt.
_FLAG_ORDER = (
    "COMPLETING", "STAGE_OUT", "CONFIGURING", "RESIZING", "REQUEUED", "REQUEUE_FED",
    "REQUEUE_HOLD", "SPECIAL_EXIT", "STOPPED", "REVOKED", "RESV_DEL_HOLD", "SIGNALING",
    "LAUNCH_FAILED", "UPDATE_DB", "POWER_UP_NODE",
)  # fmt: skip
_KNOWN = set(_STATUS) | _UNFINISHED | {"REVOKED"}
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_NO_TIME = {"", "unknown", "none"}

Format = Literal["sacct -P", "sacct --json"]


class _Bad(Exception):
    """A malformed field; the caller adds the file and line."""


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SacctRecord:
    """One allocation or step record of an export, typed."""

    where: str
    """Position in the file: ``line 7`` or ``jobs[2].steps[1]``."""
    job_id: str
    """JobIDRaw of the allocation (the job's own id, also for array tasks): ``4111``."""
    step: str | None
    """Step name (``batch``, ``extern``, ``0``); ``None`` for the allocation record."""
    display_id: str
    """JobID as sacct shows it: ``4110_1`` (array task), ``4120+0`` (het component)."""
    name: str
    """JobName (``batch``, ``extern`` or the program for steps)."""
    state: str
    """State word: ``CANCELLED``."""
    state_text: str
    """State as exported: ``CANCELLED by 123``."""
    elapsed_s: int
    """ElapsedRaw: seconds from start to end (or to the export, while running)."""
    started_at: datetime | None
    """Start (UTC); ``None`` where the job never started."""
    ended_at: datetime | None
    """End (UTC); ``None`` while running."""
    gpus: int = 0
    """GPUs allocated (``gres/gpu``, or the sum of the typed counts where it is missing)."""
    gpu_types: Mapping[str, int] = field(default_factory=dict)
    """GPUs by Slurm gres type as exported: ``{"h100": 8}``."""
    partition: str | None = None
    """Partition the job ran in (empty for steps)."""
    account: str | None = None
    """Account charged."""
    cluster: str | None = None
    """Cluster name, where the export carries one (JSON always; ``-P`` with a Cluster column)."""
    exit_code: tuple[int, int] | None = None
    """(return code, signal)."""
    nnodes: int | None = None
    """Nodes allocated (requested, where the job never ran)."""
    nodelist: str | None = None
    """Compressed host list: ``gpu-[01-02]``."""

    def __post_init__(self) -> None:
        """Refuse values that cannot be true (see :mod:`ledger.bounds`)."""
        try:
            check_seconds(self.elapsed_s, "ElapsedRaw (time.elapsed)")
            check_quantity(Unit.GPU_HOUR, self.gpus * self.elapsed_s / 3600, "GPUs x elapsed:")
            check_not_future(self.started_at, "Start")
            check_not_future(self.ended_at, "End")
        except ValueError as exc:
            raise _Bad(str(exc)) from None
        if self.started_at and self.ended_at and self.ended_at < self.started_at:
            raise _Bad(
                f"End {self.ended_at.isoformat()} is before Start {self.started_at.isoformat()}"
            )


@dataclass(frozen=True)
class SacctJob:
    """One attempt of a job: its allocation record and the steps that ran inside it."""

    record: SacctRecord
    steps: tuple[SacctRecord, ...] = ()


@dataclass(frozen=True)
class SacctExport:
    """A parsed export: jobs in file order, and records that belong to no job."""

    path: Path
    format: Format
    jobs: list[SacctJob]
    orphans: list[SacctRecord]
    """Step records whose allocation record is not in the export."""


# -- fields -----------------------------------------------------------------------------------


def parse_alloc_tres(text: str) -> tuple[int, dict[str, int]]:
    """GPUs in an AllocTRES string: ``(total, {gres type: count})``.

    ``billing=64,cpu=64,gres/gpu:h100=8,gres/gpu=8,mem=1T,node=1`` gives ``(8, {"h100": 8})``.
    Only GPU counts must be integers; other TRES values (``mem=1T``) are not read.
    """
    total: int | None = None
    typed: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise _Bad(f"AllocTRES item {item!r} is not name=count")
        if name != "gres/gpu" and not name.startswith("gres/gpu:"):
            continue
        if not value.isdigit():
            raise _Bad(f"AllocTRES {name}={value!r}: the GPU count is not a whole number")
        if name == "gres/gpu":
            total = int(value)
        else:
            kind = name.removeprefix("gres/gpu:")
            typed[kind] = typed.get(kind, 0) + int(value)
    typed_sum = sum(typed.values())
    return max(total if total is not None else typed_sum, typed_sum), typed


def gpus_by_model(record: SacctRecord, default_model: str | None = None) -> dict[str, int]:
    """GPU counts by ledger model; untyped GPUs go to ``default_model`` or ``unknown``."""
    out: dict[str, int] = {}
    for kind, count in record.gpu_types.items():
        model = gpu_model_name(kind)
        out[model] = out.get(model, 0) + count
    rest = record.gpus - sum(record.gpu_types.values())
    if rest > 0:
        model = gpu_model_name(default_model) if default_model else "unknown"
        out[model] = out.get(model, 0) + rest
    return {model: count for model, count in out.items() if count > 0}


def expand_hostlist(text: str | None) -> list[str]:
    """Host names of a Slurm host list: ``gpu-[01-02],cpu-7`` -> ``gpu-01, gpu-02, cpu-7``."""
    if not text or text.strip().lower() in {"none assigned", "(null)", "none"}:
        return []
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    hosts: list[str] = []
    for part in filter(None, (p.strip() for p in parts)):
        hosts += _expand_one(part)
    return hosts


def _expand_one(pattern: str) -> list[str]:
    match = re.search(r"\[([^\]]*)\]", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    values: list[str] = []
    for piece in match.group(1).split(","):
        low, _, high = piece.partition("-")
        if high and low.isdigit() and high.isdigit():
            values += [str(n).zfill(len(low)) for n in range(int(low), int(high) + 1)]
        else:
            values.append(piece)
    return [host for value in values for host in _expand_one(head + value + tail)]


def short_host(name: str) -> str:
    """``gpu-01`` of ``gpu-01.cluster.example.org``: Slurm names nodes by short host name."""
    return name.split(".", 1)[0]


def _state(text: Any) -> tuple[str, str]:
    """(state word, state text) of ``CANCELLED by 123`` or a JSON state list."""
    if not isinstance(text, str | list):
        raise _Bad(f"unknown job state {text!r}")
    if isinstance(text, list):
        words = [str(w).upper() for w in text]
        word = next((w for w in _FLAG_ORDER if w in words), words[0] if words else "")
        shown = word
    else:
        shown = text.strip()
        word = shown.split(" ", 1)[0].rstrip("+").upper() if shown else ""
    if word not in _KNOWN:
        raise _Bad(f"unknown job state {shown or '(empty)'!r}")
    return word, shown


def _int(value: str | None, name: str, *, optional: bool = False) -> int | None:
    text = (value or "").strip()
    if not text and optional:
        return None
    if not text.isdigit():
        unit = " of seconds" if name == "ElapsedRaw" else ""
        raise _Bad(f"{name} {text!r} is not a whole number{unit}")
    return int(text)


def _local_time(value: str | None, name: str, tz: tzinfo) -> datetime | None:
    text = (value or "").strip()
    if text.lower() in _NO_TIME:
        return None
    if not _TIME.match(text):
        raise _Bad(
            f"{name} {text!r} is not a sacct time (YYYY-MM-DDTHH:MM:SS); export with "
            "SLURM_TIME_FORMAT=standard"
        )
    try:
        return datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(UTC)
    except ValueError as exc:
        raise _Bad(f"{name} {text!r}: {exc}") from None


def _exit_code(value: str | None) -> tuple[int, int] | None:
    text = (value or "").strip()
    if not text:
        return None
    code, _, signal = text.partition(":")
    if not (code.isdigit() and (signal or "0").isdigit()):
        raise _Bad(f"ExitCode {text!r} is not return-code:signal")
    return int(code), int(signal or 0)


def timezone(name: str) -> tzinfo:
    """An IANA time zone (``Europe/Berlin``, ``UTC``) for the local times of ``sacct -P``."""
    try:
        return UTC if name.upper() == "UTC" else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InputError(
            f"--timezone: unknown time zone {name!r}: give an IANA name such as Europe/Berlin "
            "or UTC"
        ) from None
