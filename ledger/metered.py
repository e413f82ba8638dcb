"""One job metered twice: the rule every way into the ledger applies before it writes a run that
measures GPU time.

Two runs under different ids that *measured* the GPU time of the same job (``job_id``) on the same
node (``host``, compared without its domain: a wrapper records the name the node gives itself, the
DCGM exporter's label may be the short one) over overlapping windows, on devices they share, are
two measurements of the same GPUs, and ``receipts report`` would add them. Whichever comes second
is refused: ``receipts import prometheus`` after a ``receipts run`` wrapper, ``receipts ledger
merge`` of a wrapper's per-node ledger into a ledger holding a Prometheus import of the job, or
``receipts run`` starting on a node a Prometheus import already covers.

The devices a run measured are the UUIDs in its ``detail.gpu_devices`` (a wrapper writes those it
meters when it starts, an import those its series name), else those of its measured usages
(``detail.device_uuid``). Two steps of one Slurm job on disjoint GPUs of one node (``srun --exact
--gpus=4`` twice) measure different devices and both stand; a run whose devices are not known
shares them with every run.

Never blocking: a run linked to another (``detail.parent_run``: it meters nothing of its own), a
run without measured GPU time (no NVML on the node, a declared allocation, Slurm's reported
figures), a run without a job id, a host or a start. A run still ``running`` has measured nothing
yet but will, unless it said it meters no GPU (``detail.gpu_unmetered``): it blocks. A window
without an end (still running, or never closed) reaches up to now and beyond.

The check reads the ledger inside the write transaction that records the new run
(:func:`already_metered_in`), which holds the ledger's append lock (SQLite's ``BEGIN IMMEDIATE``,
PostgreSQL's advisory lock): of two writers racing to meter the same GPUs, the second sees the
first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, text

from ledger.chain import CURRENT, row_to_record
from ledger.schema import GPU_UNMETERED, PARENT_RUN, Provenance, Run, RunStatus, Unit, Usage

GPU_TIME = (Unit.GPU_HOUR, Unit.GPU_HOUR_BUSY)
"""The units of GPU time: a run with a measured usage in one of them metered GPUs."""

IMPORTER = "importer"
"""Key of ``Run.detail`` naming the importer that wrote a run (``prometheus``, ``sacct``)."""

GPU_DEVICES = "gpu_devices"
"""Key of ``Run.detail``: the UUIDs of the GPUs the run measures (sorted), or ``None`` where it
measures GPUs it cannot name; absent on runs written before it existed (their measured usages'
``device_uuid`` then say)."""

Measured = Mapping[str, frozenset[str]]
"""Run id -> the devices (``detail.device_uuid``) of its measured usages of GPU time, for every
run that has one (:func:`measuring_runs`); an empty set where they name none."""


def node_name(host: str | None) -> str:
    """``gpu-01`` of ``gpu-01.cluster.example.org`` (Slurm's rule for node names too)."""
    return (host or "").split(".", 1)[0]


def stamp(at: datetime | None, missing: str) -> str:
    """``2025-03-01T10:00:00Z``, or ``missing`` without a time (``?`` for a start, ``now`` for
    an end): how a message shows a run's window."""
    return f"{at:%Y-%m-%dT%H:%M:%SZ}" if at is not None else missing


def window(run: Run) -> str:
    """``FROM to TO`` of a run, for a message."""
    return f"{stamp(run.started_at, '?')} to {stamp(run.ended_at, 'now')}"


def overlaps(a: Run, b: Run) -> bool:
    """Whether two runs' windows share time; a window without an end reaches past now. A run
    without a start has no window, and overlaps nothing."""
    if a.started_at is None or b.started_at is None:
        return False
    return (b.ended_at is None or a.started_at < b.ended_at) and (
        a.ended_at is None or b.started_at < a.ended_at
    )


def measuring_runs(usages: Iterable[Usage]) -> dict[str, frozenset[str]]:
    """The runs with a measured usage of GPU time among ``usages`` (a figure: a usage recorded
    as not measured is none), each with the devices those usages name (see :data:`Measured`)."""
    found: dict[str, set[str]] = {}
    for u in usages:
        if u.unit in GPU_TIME and u.provenance is Provenance.MEASURED and u.quantity is not None:
            uuid = (u.detail or {}).get("device_uuid")
            found.setdefault(u.run, set()).update([uuid] if isinstance(uuid, str) else [])
    return {run: frozenset(uuids) for run, uuids in found.items()}


def devices(run: Run, measured: Measured) -> frozenset[str] | None:
    """The GPUs ``run`` measures: its ``detail.gpu_devices`` where it has the key, else the
    devices of its measured usages; ``None`` where they are not known."""
    detail = run.detail or {}
    if GPU_DEVICES in detail:
        named = detail[GPU_DEVICES]
        found = frozenset(u for u in named if isinstance(u, str)) if named else frozenset()
    else:
        found = measured.get(run.id, frozenset())
    return found or None


def share_devices(a: Run, b: Run, measured: Measured) -> bool:
    """Whether two runs measured a device in common; unknown devices are shared with any."""
    mine, theirs = devices(a, measured), devices(b, measured)
    return mine is None or theirs is None or not mine.isdisjoint(theirs)


def meters_gpus(run: Run, measured: Measured) -> bool:
    """Whether ``run`` counts as a measurement of its node's GPUs: it measured GPU time
    (``run.id`` in ``measured``), or it is still running and did not say it meters none; never
    when it is linked to the run that meters them."""
    detail = run.detail or {}
    if PARENT_RUN in detail:
        return False
    if run.id in measured:
        return True
    return run.status is RunStatus.RUNNING and not detail.get(GPU_UNMETERED)


@dataclass(frozen=True)
class MeteredTwice:
    """A run about to be written, and the run already there that measured the same GPUs."""

    new: Run
    """The run that would be written (its GPUs measured)."""
    old: Run
    """The run already in the ledger that measured them."""

    @property
    def job_id(self) -> str:
        """The job both runs belong to."""
        return self.new.job_id or ""

    @property
    def host(self) -> str:
        """The node, as the new run names it."""
        return self.new.host or ""

    def old_run(self) -> str:
        """``run X (what it is, from .. to ..)``: the run already there, for a message."""
        old = self.old
        what = (old.detail or {}).get(IMPORTER)
        kind = f"imported from {what}" if what else "metered by a wrapper"
        if old.status is RunStatus.RUNNING:
            kind += ", still running"
        return f"run {old.id} ({kind}, {window(old)})"

    def new_run(self) -> str:
        """``run X (from .. to ..)``: the refused run, for a message."""
        return f"run {self.new.id} ({window(self.new)})"


def metered_twice(
    existing: Sequence[Run], measured: Measured, new: Sequence[Run]
) -> list[MeteredTwice]:
    """The pairs of a ``new`` run and an ``existing`` one that measured the GPUs of the same job
    on the same node over overlapping windows, on a device they share (pure). ``new`` holds only
    runs that measure GPU time; ``measured`` covers the existing runs that measured GPU time and
    the new ones (:func:`measuring_runs`). A run with the id of a new one is its earlier state,
    not another measurement."""
    mine: dict[tuple[str, str], list[Run]] = {}
    for run in new:
        if run.job_id and node_name(run.host) and PARENT_RUN not in (run.detail or {}):
            mine.setdefault((run.job_id, node_name(run.host)), []).append(run)
    ids = {run.id for run in new}
    found = []
    for old in existing:
        if old.id in ids or not old.job_id or not meters_gpus(old, measured):
            continue
        for run in mine.get((old.job_id, node_name(old.host)), []):
            if overlaps(old, run) and share_devices(old, run, measured):
                found.append(MeteredTwice(new=run, old=old))
    return found


def already_metered_in(
    conn: Connection, new: Sequence[Run], measured: Measured | None = None
) -> list[MeteredTwice]:
    """:func:`metered_twice` against the current runs and usages read over ``conn``: call it in
    the write transaction that records ``new``, so that no other writer slips in between.
    ``measured`` covers the new runs' measured usages where their ``detail`` names no devices."""
    jobs = {run.job_id for run in new if run.job_id}
    if not jobs:
        return []
    rows = conn.execute(
        text(f"SELECT * FROM entries WHERE kind = 'run' AND {CURRENT} ORDER BY seq")
    ).mappings()
    existing = [run for row in rows if (run := row_to_record(dict(row))).job_id in jobs]
    if not existing:
        return []
    usages = conn.execute(
        text(
            f"SELECT * FROM entries WHERE kind = 'usage' AND run_id IN :runs AND {CURRENT}"
        ).bindparams(bindparam("runs", expanding=True)),
        {"runs": sorted({run.id for run in existing})},
    ).mappings()
    found = measuring_runs(row_to_record(dict(row)) for row in usages)
    return metered_twice(existing, {**found, **(measured or {})}, new)
