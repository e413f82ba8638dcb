"""GPU metering: a narrow meter interface, the NVML meter (the only module that imports pynvml,
lazily), the null meter, GPU model names, and the usages a metered window yields.

Public API: :class:`GpuMeter` (the interface), :class:`NullMeter`, :class:`NvmlMeter` and
:func:`open_meter` (NVML where it initialises, else the null meter), :class:`Sampler` (readings to
what a window consumed), :class:`Clock` / :class:`SystemClock`, the records :class:`GpuDevice`,
:class:`GpuSample`, :class:`DeviceUsage` and :class:`Reading`, :func:`gpu_model_name`, and the
meters' errors. The usage rule (:mod:`probes.gpu.usage`) builds ledger usages from them.

Fakes for tests (``FakeGpuMeter``, ``FakeClock``, ``ReplayMeter``) ship in
:mod:`probes.gpu.testing`. Nothing here imports pydantic, SQLAlchemy or pynvml at import time.
"""

from probes.gpu.errors import DeviceLost, MeterError, MeterUnavailable, NotSupported
from probes.gpu.meter import Clock, GpuMeter, NullMeter, Reading, Sampler, SystemClock
from probes.gpu.names import gpu_model_name
from probes.gpu.nvml import NvmlMeter, open_meter
from probes.gpu.schema import DeviceUsage, EnergyMethod, GpuDevice, GpuSample

__all__ = [
    "Clock",
    "DeviceLost",
    "DeviceUsage",
    "EnergyMethod",
    "GpuDevice",
    "GpuMeter",
    "GpuSample",
    "MeterError",
    "MeterUnavailable",
    "NotSupported",
    "NullMeter",
    "NvmlMeter",
    "Reading",
    "Sampler",
    "SystemClock",
    "gpu_model_name",
    "open_meter",
]
