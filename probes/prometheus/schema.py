"""The pydantic contract of ``receipts import prometheus``: what the command renders, as text or
``--json``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ledger.schema import RunStatus


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ImportedGpu(_Model):
    """One physical GPU of the job, as metered from its exporter's series."""

    index: int
    """The exporter's ``gpu`` label (the NVML index on its node)."""
    uuid: str
    """The ``UUID`` label (``uuid`` with the exporter's old namespace)."""
    model: str
    """The ``modelName`` label: ``NVIDIA H100 80GB HBM3``."""
    samples: int
    """Scrapes of the device inside the window."""
    allocated_gpu_s: float | None
    """Window length where the samples (each edge held one scrape interval) cover at least 90 %
    of it: the device was the job's from start to end; else the covered seconds only; ``None``
    (not measured) where no series of the device has two samples in the window."""
    busy_gpu_s: float | None
    """``DCGM_FI_DEV_GPU_UTIL`` / 100 integrated over the window, the edge values held at most
    one scrape interval; ``None`` without samples, or where no series has two."""
    energy_j: float | None
    """Energy between the first and last sample; ``None`` where nothing could measure it."""
    energy_method: str | None
    """``counter`` (``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`` differences) or
    ``integrated_power`` (``DCGM_FI_DEV_POWER_USAGE``, trapezoids)."""
    counter_resets: int
    """Times the energy counter restarted (driver reload, reboot) inside the window."""
    energy_span_s: float | None
    """Seconds between the first and the last sample the energy covers."""
    dropped_samples: int
    """Samples that were not a finite, non-negative number, left out."""
    sample_span_s: float | None = None
    """Seconds from the first to the last sample of the device in the window."""
    scrape_interval_s: float | None = None
    """The largest of its series' own scrape intervals (each the median gap between that
    metric's samples); ``None`` where no series has two samples."""
    allocated_from: str | None = "window"
    """``window`` (allocated for the whole window) or ``samples`` (for the covered seconds:
    the samples covered less than 90 % of the window); ``None`` where not measured."""


class ImportedNode(_Model):
    """One node of the job: one ledger run, as ``receipts run`` writes one per node."""

    run_id: str
    """``prometheus/<job>/<host>/<start, UTC>``."""
    host: str
    """The exporter's ``Hostname`` (``hostname`` since dcgm-exporter 4.5), else the target's
    ``instance``."""
    gpus: list[ImportedGpu]
    """Its GPUs, by index."""


class ImportResult(_Model):
    """What ``receipts import prometheus`` did."""

    url: str
    """The Prometheus server (without credentials)."""
    job_id: str
    """The job's id, recorded on every run."""
    selector: str
    """The PromQL label matchers used (beside the metric names)."""
    started_at: datetime
    """Window start (UTC)."""
    ended_at: datetime
    """Window end (UTC)."""
    window_from: str
    """``options`` (``--start``/``--end``) or the imported sacct run the window was taken from."""
    status: RunStatus
    """Status the runs were recorded with."""
    nodes: list[ImportedNode]
    """Nodes, by host name."""
    gpus: int
    """GPUs metered."""
    allocated_gpu_hours: float | None
    """Sum of the GPUs' allocated hours; ``None`` where no GPU's was measured."""
    busy_gpu_hours: float | None
    """Sum of the busy hours; ``None`` where no GPU had utilisation samples."""
    energy_kwh: float | None
    """Sum of the measured energy; ``None`` where no GPU's could be measured."""
    unmeasured_energy: int
    """GPUs whose energy could not be measured (counted in no sum)."""
    appended: int = 0
    """Ledger records new."""
    superseded: int = 0
    """Ledger records corrected (same run, changed content)."""
    unchanged: int = 0
    """Ledger records already present."""


class NodeComparison(_Model):
    """One node of the job: Prometheus's figures beside those of the runs that metered it."""

    host: str
    """The node."""
    prometheus_run: str
    """The run the import would write (``prometheus/<job>/<host>/<start>``); not written."""
    wrapper_runs: list[str]
    """Runs of the job on the node over the window (``receipts run``, a callback metering
    alone); empty where none ran."""
    wrapper_gpu_hours: float | None
    """Their measured allocated GPU-hours; ``None`` without one."""
    wrapper_busy_gpu_hours: float | None
    """Their measured busy GPU-hours."""
    wrapper_energy_kwh: float | None
    """Their measured energy."""
    prometheus_gpu_hours: float
    """Allocated GPU-hours metered from Prometheus."""
    prometheus_busy_gpu_hours: float | None
    """Busy GPU-hours metered from Prometheus; ``None`` without utilisation samples."""
    prometheus_energy_kwh: float | None
    """Energy metered from Prometheus; ``None`` where no GPU's could be measured."""


class Comparison(_Model):
    """What ``receipts import prometheus --compare`` shows: Prometheus beside the runs that
    already metered the job, node by node. Nothing is recorded: the two are two measurements of
    one job, never added."""

    url: str
    """The Prometheus server (without credentials)."""
    job_id: str
    """The job's id."""
    started_at: datetime
    """Window start (UTC)."""
    ended_at: datetime
    """Window end (UTC)."""
    window_from: str
    """``options`` or the imported sacct run the window was taken from."""
    nodes: list[NodeComparison]
    """Nodes, by host name."""
    explanation: list[str]
    """Why the figures differ, one line each."""
