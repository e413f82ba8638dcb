"""The pydantic contract of the Slurm import and reconciliation: what the commands render, as
text or ``--json``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ledger.schema import RunStatus


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ImportedRun(_Model):
    """One attempt of one job, as written to the ledger."""

    run_id: str
    """``slurm/<cluster>/<JobIDRaw>/<start, UTC>``."""
    job_id: str
    """JobIDRaw of the allocation."""
    display_id: str
    """JobID as sacct shows it."""
    name: str
    """Job name."""
    state: str
    """Slurm state as exported."""
    status: RunStatus
    """Ledger status it maps to."""
    started_at: datetime
    """Start of the attempt (UTC)."""
    elapsed_s: int
    """ElapsedRaw, in seconds."""
    nodes: str | None
    """Slurm host list."""
    gpus: int
    """GPUs allocated."""
    gpu_hours: dict[str, float]
    """GPU-hours by resource (``gpu/H100``): GPUs of that model x elapsed_s / 3600."""
    steps: list[str]
    """Steps listed under the attempt (not counted: they overlap the allocation)."""


class Skipped(_Model):
    """A record that was read but not imported, and why."""

    job: str
    """JobID as sacct shows it."""
    where: str
    """Line or JSON path."""
    reason: str
    """Why it was not imported."""


class ImportResult(_Model):
    """What ``receipts import sacct`` did."""

    file: str
    """The export."""
    format: str
    """``sacct -P`` or ``sacct --json``."""
    runs: list[ImportedRun]
    """Attempts imported, in file order."""
    skipped: list[Skipped]
    """Records not imported."""
    gpu_hours: float
    """Sum of the runs' GPU-hours over every resource."""
    appended: int = 0
    """Ledger records new."""
    superseded: int = 0
    """Ledger records corrected (same run, changed content)."""
    unchanged: int = 0
    """Ledger records already present."""


class Reconciliation(_Model):
    """Slurm's GPU-hours for one job beside the probes' allocated and busy GPU-hours."""

    job_id: str
    """The Slurm job id (JobIDRaw; ``SLURM_JOB_ID`` inside the job)."""
    slurm_runs: list[str]
    """Imported sacct runs of the job: one per attempt."""
    slurm_gpu_hours: float | None
    """Reported GPU-hours of every attempt's allocation; ``None`` where none was imported."""
    slurm_nodes: list[str]
    """Nodes Slurm allocated (expanded host list, union over attempts)."""
    probe_runs: list[str]
    """Runs the wrapper's probes (``receipts run``) recorded under the job id (one per node and
    attempt); runs imported from Prometheus are counted apart."""
    probe_hosts: list[str]
    """Short host names of those runs."""
    probe_gpu_hours: float | None
    """Measured allocated GPU-hours (devices x wall time), summed over nodes; ``None`` if none."""
    probe_busy_gpu_hours: float | None
    """Measured utilisation-weighted GPU-hours, summed over nodes; ``None`` if none."""
    difference_gpu_hours: float | None
    """``slurm_gpu_hours - probe_gpu_hours`` where both exist."""
    coverage: float | None
    """``probe_gpu_hours / slurm_gpu_hours``: the fraction of Slurm's figure the probes saw."""
    utilisation: float | None
    """``probe_busy_gpu_hours / probe_gpu_hours``: the fraction of metered GPU time at work."""
    agrees: bool | None
    """Whether both figures exist and differ by at most ``AGREEMENT`` of Slurm's."""
    nodes_without_probe: list[str]
    """Allocated nodes where no probe ran."""
    hosts_outside_allocation: list[str]
    """Probe hosts Slurm did not allocate to the job."""
    explanation: list[str]
    """Why the figures differ, one reason a line."""
    probe_energy_kwh: float | None = None
    """Energy the wrapper's probes measured (NVML), summed over nodes; ``None`` if none."""
    prometheus_runs: list[str] = []
    """Runs imported from Prometheus (``receipts import prometheus``, DCGM) under the job id."""
    prometheus_hosts: list[str] = []
    """Short host names of those runs."""
    prometheus_gpu_hours: float | None = None
    """Their measured allocated GPU-hours (GPUs x window); ``None`` if none."""
    prometheus_busy_gpu_hours: float | None = None
    """Their measured utilisation-weighted GPU-hours; ``None`` if none."""
    prometheus_energy_kwh: float | None = None
    """Their measured energy (DCGM's counter); ``None`` if none."""
    prometheus_difference_gpu_hours: float | None = None
    """``slurm_gpu_hours - prometheus_gpu_hours`` where both exist."""
    prometheus_agrees: bool | None = None
    """Whether Slurm's and Prometheus's GPU-hours both exist and differ by at most
    ``AGREEMENT`` of Slurm's."""
