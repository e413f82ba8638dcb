"""The meters' exceptions. They are raised only by meters; NVML's own errors are translated into
these in one place (:mod:`probes.gpu.nvml`)."""

from __future__ import annotations

from probes.errors import ProbeError


class MeterError(ProbeError):
    """A GPU meter failed."""


class MeterUnavailable(MeterError):
    """No GPU library or driver here: use the null meter, or declare the allocation."""


class NotSupported(MeterError):
    """The device does not support this reading (e.g. the energy counter before Volta)."""


class DeviceLost(MeterError):
    """The device stopped answering mid-run (fell off the bus, reset)."""
