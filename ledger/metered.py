"""One job metered twice: the rule every way into the ledger applies before it writes a run that
measures GPU time.

Two runs under different ids that *measured* the GPU time of the same job (``job_id``) on the same
node (``host``, compared without its domain: a wrapper records the name the node gives itself, the
DCGM exporter's label may be the short one) over overlapping windows are two measurements of the
same GPUs, and ``receipts report`` would add them. Whichever comes second is refused:
``receipts import prometheus`` after a ``receipts run`` wrapper, ``receipts ledger merge`` of a
wrapper's per-node ledger into a ledger holding a Prometheus import of the job, or ``receipts run``
starting on a node a Prometheus import already covers.

Never blocking: a run linked to another (``detail.parent_run``: it meters nothing of its own), a
run without measured GPU time (no NVML on the node, a declared allocation, Slurm's reported
figures), a run without a job id, a host or a start. A run still ``running`` has measured nothing
yet but will, unless it said it meters no GPU (``detail.gpu_unmetered``): it blocks. A window
without an end (still running, or never closed) reaches up to now and beyond.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger.schema import GPU_UNMETERED, PARENT_RUN, Provenance, Run, RunStatus, Unit, Usage

if TYPE_CHECKING:
    from ledger.store import Ledger

GPU_TIME = (Unit.GPU_HOUR, Unit.GPU_HOUR_BUSY)
"""The units of GPU time: a run with a measured usage in one of them metered GPUs."""

IMPORTER = "importer"
"""Key of ``Run.detail`` naming the importer that wrote a run (``prometheus``, ``sacct``)."""


def node_name(host: str | None) -> str:
    """``gpu-01`` of ``gpu-01.cluster.example.org`` (Slurm's rule for node names too)."""
    return (host or "").split(".", 1)[0]


def overlaps(a: Run, b: Run) -> bool:
    """Whether two runs' windows share time; a window without an end reaches past now. A run
    without a start has no window, and overlaps nothing."""
    if a.started_at is None or b.started_at is None:
        return False
    return (b.ended_at is None or a.started_at < b.ended_at) and (
        a.ended_at is None or b.started_at < a.ended_at
    )


def measuring_runs(usages: Iterable[Usage]) -> set[str]:
    """Ids of the runs with a measured usage of GPU time among ``usages``."""
    return {u.run for u in usages if u.unit in GPU_TIME and u.provenance is Provenance.MEASURED}


def meters_gpus(run: Run, measured: set[str]) -> bool:
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
        start = f"{old.started_at:%Y-%m-%dT%H:%M:%SZ}" if old.started_at else "?"
        end = f"{old.ended_at:%Y-%m-%dT%H:%M:%SZ}" if old.ended_at else "now"
        return f"run {old.id} ({kind}, {start} to {end})"

    def compare_hint(self) -> str:
        """How to read the two measurements side by side."""
        return (
            f"`receipts reconcile --job {self.job_id}` sets the two side by side "
            "(`receipts import prometheus --compare` before an import)"
        )


def metered_twice(
    existing: Sequence[Run], measured: set[str], new: Sequence[Run]
) -> list[MeteredTwice]:
    """The pairs of a ``new`` run and an ``existing`` one that measured the GPUs of the same job
    on the same node over overlapping windows (pure). ``new`` holds only runs that measure GPU
    time; ``measured`` is the ids of the existing runs that measured GPU time
    (:func:`measuring_runs`). A run with the id of a new one is its earlier state, not another
    measurement."""
    mine: dict[tuple[str, str], list[Run]] = {}
    for run in new:
        if run.job_id and node_name(run.host) and PARENT_RUN not in (run.detail or {}):
            mine.setdefault((run.job_id, node_name(run.host)), []).append(run)
    ids = {run.id for run in new}
    found = []
    for old in existing:
        if old.id in ids or not old.job_id:
            continue
        for run in mine.get((old.job_id, node_name(old.host)), []):
            if meters_gpus(old, measured) and overlaps(old, run):
                found.append(MeteredTwice(new=run, old=old))
    return found


def already_metered(ledger: Ledger, new: Sequence[Run]) -> list[MeteredTwice]:
    """:func:`metered_twice` against the runs and usages of ``ledger``."""
    if not any(run.job_id for run in new):
        return []
    jobs = {run.job_id for run in new if run.job_id}
    existing = [run for run in ledger.runs() if run.job_id in jobs]
    if not existing:
        return []
    ids = {run.id for run in existing}
    usages = [
        u for subject in sorted({r.subject for r in existing}) for u in ledger.usages(subject)
    ]
    return metered_twice(existing, measuring_runs(u for u in usages if u.run in ids), new)
