"""The probes' contract: devices, samples and what a metered window consumed.

Small frozen dataclasses, not pydantic records: only the meters make them (every sampling interval,
per device), and nothing reads them from outside. What is stored is a
:class:`~ledger.schema.Usage`, built by one rule (:mod:`probes.gpu.usage`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

EnergyMethod: TypeAlias = Literal["counter", "integrated_power"]


@dataclass(frozen=True, slots=True)
class GpuDevice:
    """One physical device visible to the job."""

    index: int
    """NVML index (not the CUDA index after ``CUDA_VISIBLE_DEVICES`` renumbering)."""
    uuid: str
    """NVML UUID, e.g. ``GPU-5b1f...``."""
    name: str
    """Marketing name, e.g. ``NVIDIA H100 80GB HBM3``."""
    memory_total_bytes: int | None
    """Device memory in bytes."""


@dataclass(frozen=True, slots=True)
class GpuSample:
    """One reading of one device."""

    t_s: float
    """Monotonic seconds since the window started."""
    device_uuid: str
    """Which device."""
    power_w: float | None
    """Board power draw in watts."""
    sm_util_pct: float | None
    """Percent of the sample period in which a kernel ran (NVML's GPU utilisation)."""
    memory_used_bytes: int | None
    """Device memory in use, bytes."""


@dataclass(frozen=True, slots=True)
class DeviceUsage:
    """What one device consumed over a metered window."""

    device: GpuDevice
    """The device."""
    wall_s: float
    """Window length in seconds (monotonic clock)."""
    allocated_gpu_s: float | None
    """The device's share of allocated time: equal to ``wall_s`` (one device, whole window);
    ``None`` where no time was observed (a Prometheus series with a single sample)."""
    busy_gpu_s: float | None
    """Utilisation-weighted seconds, integrated over the samples; ``None`` without samples."""
    energy_j: float | None
    """Energy in joules; ``None`` where neither method could measure it."""
    energy_method: EnergyMethod | None
    """``counter`` (difference of the cumulative energy counter) or ``integrated_power``."""
    samples: int
    """Samples taken."""
    peak_memory_used_bytes: int | None
    """Largest memory use seen."""
    shared: bool
    """A process outside the job's process tree used the device during the window."""
    foreign_pids: list[int] = field(default_factory=list)
    """Those processes' ids."""
    partial_reason: str | None = None
    """Why the readings stop early (the device was lost), where they do."""
