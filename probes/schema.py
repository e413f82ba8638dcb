"""The probes' contract: devices, samples and what a metered window consumed.

These are small value types (:class:`probes.value.Value`), not pydantic records, named tuples or
dataclasses: only the meters make them (ten times a second per device while sampling), nothing
reads them from outside, and ``receipts run`` builds them before its child starts, where importing
pydantic, :mod:`typing` or :mod:`dataclasses` would cost more than the rest of its start (see
:mod:`probes.launch`). What is stored is a :class:`~ledger.schema.Usage`, built by one rule
(:mod:`probes.gpu_usage`).
"""

from __future__ import annotations

from probes.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see probes.value)
if TYPE_CHECKING:
    from typing import Literal, TypeAlias

    EnergyMethod: TypeAlias = Literal["counter", "integrated_power"]


class GpuDevice(Value):
    """One physical device visible to the job."""

    __slots__ = ("index", "memory_total_bytes", "name", "uuid")

    def __init__(self, index: int, uuid: str, name: str, memory_total_bytes: int | None) -> None:
        self.index = index
        """NVML index (not the CUDA index after ``CUDA_VISIBLE_DEVICES`` renumbering)."""
        self.uuid = uuid
        """NVML UUID, e.g. ``GPU-5b1f...``."""
        self.name = name
        """Marketing name, e.g. ``NVIDIA H100 80GB HBM3``."""
        self.memory_total_bytes = memory_total_bytes
        """Device memory in bytes."""


class GpuSample(Value):
    """One reading of one device."""

    __slots__ = ("device_uuid", "memory_used_bytes", "power_w", "sm_util_pct", "t_s")

    def __init__(
        self,
        t_s: float,
        device_uuid: str,
        power_w: float | None,
        sm_util_pct: float | None,
        memory_used_bytes: int | None,
    ) -> None:
        self.t_s = t_s
        """Monotonic seconds since the window started."""
        self.device_uuid = device_uuid
        """Which device."""
        self.power_w = power_w
        """Board power draw in watts."""
        self.sm_util_pct = sm_util_pct
        """Percent of the sample period in which a kernel ran (NVML's GPU utilisation)."""
        self.memory_used_bytes = memory_used_bytes
        """Device memory in use, bytes."""


class DeviceUsage(Value):
    """What one device consumed over a metered window."""

    __slots__ = (
        "allocated_gpu_s",
        "busy_gpu_s",
        "device",
        "energy_j",
        "energy_method",
        "foreign_pids",
        "partial_reason",
        "peak_memory_used_bytes",
        "samples",
        "shared",
        "wall_s",
    )

    def __init__(
        self,
        device: GpuDevice,
        wall_s: float,
        allocated_gpu_s: float,
        busy_gpu_s: float | None,
        energy_j: float | None,
        energy_method: EnergyMethod | None,
        samples: int,
        peak_memory_used_bytes: int | None,
        shared: bool,
        foreign_pids: list[int],
        partial_reason: str | None = None,
    ) -> None:
        self.device = device
        """The device."""
        self.wall_s = wall_s
        """Window length in seconds (monotonic clock)."""
        self.allocated_gpu_s = allocated_gpu_s
        """The device's share of allocated time: equal to ``wall_s`` (one device, whole window)."""
        self.busy_gpu_s = busy_gpu_s
        """Utilisation-weighted seconds, integrated over the samples; ``None`` without samples."""
        self.energy_j = energy_j
        """Energy in joules; ``None`` where neither method could measure it."""
        self.energy_method = energy_method
        """``counter`` (difference of the cumulative energy counter) or ``integrated_power``."""
        self.samples = samples
        """Samples taken."""
        self.peak_memory_used_bytes = peak_memory_used_bytes
        """Largest memory use seen."""
        self.shared = shared
        """A process outside the job's process tree used the device during the window."""
        self.foreign_pids = foreign_pids
        """Those processes' ids."""
        self.partial_reason = partial_reason
        """Why the readings stop early (the device was lost), where they do."""
