"""Slurm accounting: ``sacct`` exports as reported runs, reconciled with what the probes measured.

Reads ``sacct -P`` (``--parsable2``: ``|`` between fields, a header line; ``-p`` with its trailing
``|`` too) and ``sacct --json`` (data_parser v0.0.39 to v0.0.41 layouts, Slurm 23.02 to 24.x).

Counting rules (the contract the tests hold):

- **One run per allocation record.** A job's allocation line (``JobIDRaw`` without a dot) carries
  the GPUs Slurm allocated (``AllocTRES`` ``gres/gpu``) and the allocation's elapsed time
  (``ElapsedRaw``). GPU-hours = allocated GPUs x ElapsedRaw / 3600. Step lines (``.batch``,
  ``.extern``, ``.0``) run *inside* the allocation and overlap it, so they are listed but never
  added.
- **Requeues.** Exported with ``--duplicates``, every attempt of a requeued job is its own
  allocation line (earlier ones in state ``REQUEUED``); each is a separate run, because its GPU
  time was really used. Without ``--duplicates`` sacct shows only the last attempt. An attempt's
  run id is ``slurm/<cluster>/<JobIDRaw>/<start, UTC>``, so the same attempt imported again (from
  the same file, a later export, or the other format) is the same record, never a second one;
  :meth:`~ledger.store.Ledger.record` skips it when unchanged and supersedes it when corrected.
- **GPU models.** Typed gres (``gres/gpu:h100=8``, ``gres/gpu:nvidia_a100-sxm4-80gb=2``) name the
  model: resource ``gpu/H100``, ``gpu/A100``. GPUs beyond the typed ones (``gres/gpu=4`` alone)
  are ``gpu/unknown`` unless a model is given (``--gpu-model``).
- **States.** COMPLETED: succeeded. FAILED, NODE_FAIL, OUT_OF_MEMORY, TIMEOUT, BOOT_FAIL,
  DEADLINE, LAUNCH_FAILED: failed. CANCELLED (``CANCELLED by <uid>``): killed. REQUEUED, PREEMPTED,
  SPECIAL_EXIT: interrupted. Unfinished states (PENDING, RUNNING, SUSPENDED, ...) are skipped: a
  running job's ElapsedRaw is a snapshot that grows, and a partial figure would sit in the reports
  until the next import: import it again once it ends. A job that never started (no Start) used
  no time and is skipped.
- **Job ids.** ``JobIDRaw`` is the job's own id. An export without that column is read by
  ``JobID`` where it is the same (``4100``, ``4100.batch``); a line whose JobID is an array task
  (``4110_1``) or a heterogeneous job's component (``4120+1``), whose raw ids JobID does not show,
  is refused with a request to export JobIDRaw.
- **Jobs without GPUs** are still runs (their stage history and wall time count), with no usage.
- **Times.** ``sacct -P`` prints local wall-clock times without a zone: they are read in the
  ``timezone`` given (default UTC). JSON carries Unix times. Wall time is ElapsedRaw, never
  End - Start; a local time repeated by a daylight-saving change is read as its first occurrence.

Modules: :mod:`~probes.slurm.records` (typed records and field rules), :mod:`~probes.slurm.parse`
(the two formats), :mod:`~probes.slurm.schema` (the pydantic results),
:mod:`~probes.slurm.importer` (runs and usages) and :mod:`~probes.slurm.reconciliation` (against the
probes); GPU model names come from :mod:`probes.gpu.names`. The commands ``import sacct`` and
``reconcile`` are in :mod:`~probes.slurm.cli`. Names load on first use: importing the package (the
CLI does, to mount its commands) pulls in neither pydantic nor SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probes.lazy import lazy_exports

if TYPE_CHECKING:
    from probes.slurm.importer import RUN_PREFIX, ImportPlan, import_sacct, plan_import
    from probes.slurm.parse import SACCT_FORMAT, read_sacct
    from probes.slurm.reconciliation import AGREEMENT, reconcile
    from probes.slurm.records import (
        SacctExport,
        SacctJob,
        SacctRecord,
        expand_hostlist,
        gpus_by_model,
        parse_alloc_tres,
    )
    from probes.slurm.schema import ImportedRun, ImportResult, Reconciliation, Skipped

_WHERE = {
    "AGREEMENT": "reconciliation",
    "reconcile": "reconciliation",
    "RUN_PREFIX": "importer",
    "ImportPlan": "importer",
    "import_sacct": "importer",
    "plan_import": "importer",
    "SACCT_FORMAT": "parse",
    "read_sacct": "parse",
    "SacctExport": "records",
    "SacctJob": "records",
    "SacctRecord": "records",
    "expand_hostlist": "records",
    "gpus_by_model": "records",
    "parse_alloc_tres": "records",
    "ImportedRun": "schema",
    "ImportResult": "schema",
    "Reconciliation": "schema",
    "Skipped": "schema",
}

__all__ = [
    "AGREEMENT",
    "RUN_PREFIX",
    "SACCT_FORMAT",
    "ImportPlan",
    "ImportResult",
    "ImportedRun",
    "Reconciliation",
    "SacctExport",
    "SacctJob",
    "SacctRecord",
    "Skipped",
    "expand_hostlist",
    "gpus_by_model",
    "import_sacct",
    "parse_alloc_tres",
    "plan_import",
    "read_sacct",
    "reconcile",
]

__getattr__ = lazy_exports(__name__, _WHERE)
