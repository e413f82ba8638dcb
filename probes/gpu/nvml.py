"""The NVML meter: the only module that imports ``pynvml`` (from nvidia-ml-py), and lazily.

Every NVML call goes through :meth:`NvmlMeter._call`, the one place where ``pynvml.NVMLError`` is
translated into the probes' typed errors.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any, TypeVar

from probes.gpu.errors import DeviceLost, MeterError, MeterUnavailable, NotSupported
from probes.gpu.meter import Reading
from probes.gpu.schema import GpuDevice

T = TypeVar("T")

# NVML return codes (nvml.h), as pynvml exposes them.
_NOT_SUPPORTED = 3
_NO_PERMISSION = 4
_UNAVAILABLE = {1, 9, 12}  # uninitialized, driver not loaded, library not found
_LOST = {15, 18}  # GPU is lost, reset required


def visible_selectors(environ: dict[str, str] | None = None) -> list[str] | None:
    """The ``CUDA_VISIBLE_DEVICES`` entries (indices or UUID prefixes), ``None`` when unset."""
    value = (environ if environ is not None else dict(os.environ)).get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def select_visible(devices: list[GpuDevice], selectors: list[str] | None) -> list[GpuDevice]:
    """Devices named by ``CUDA_VISIBLE_DEVICES``, in order; CUDA stops at the first bad entry."""
    if selectors is None:
        return devices
    chosen: list[GpuDevice] = []
    for selector in selectors:
        if selector.isdigit():
            match = [d for d in devices if d.index == int(selector)]
        else:
            prefix = selector if selector.startswith("GPU-") else f"GPU-{selector}"
            match = [d for d in devices if d.uuid.startswith(prefix)]
        if len(match) != 1 or match[0] in chosen:
            break  # CUDA ignores this entry and everything after it
        chosen.append(match[0])
    return chosen


class NvmlMeter:
    """Reads NVIDIA GPUs through NVML.

    Raises:
        MeterUnavailable: nvidia-ml-py, the driver or the library is missing.
    """

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        try:
            import pynvml
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise MeterUnavailable(f"nvidia-ml-py is not installed ({exc})") from None
        self._nvml: Any = pynvml
        self._call(pynvml.nvmlInit)
        self._handles: dict[str, Any] = {}
        self._selectors = visible_selectors(environ)

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except self._nvml.NVMLError as exc:
            code = getattr(exc, "value", None)
            name = getattr(fn, "__name__", "NVML")
            if code == _NOT_SUPPORTED:
                raise NotSupported(f"{name}: not supported on this device") from None
            if code in _LOST:
                raise DeviceLost(f"{name}: {exc}") from None
            if code in _UNAVAILABLE:
                raise MeterUnavailable(f"NVML unavailable: {exc}") from None
            if code == _NO_PERMISSION:
                raise MeterError(f"{name}: no permission ({exc})") from None
            raise MeterError(f"{name}: {exc}") from None

    def devices(self) -> list[GpuDevice]:
        nv = self._nvml
        found = []
        for index in range(self._call(nv.nvmlDeviceGetCount)):
            handle = self._call(nv.nvmlDeviceGetHandleByIndex, index)
            uuid = str(self._call(nv.nvmlDeviceGetUUID, handle))
            try:
                memory = int(self._call(nv.nvmlDeviceGetMemoryInfo, handle).total)
            except NotSupported:
                memory = None
            self._handles[uuid] = handle
            found.append(
                GpuDevice(
                    index=index,
                    uuid=uuid,
                    name=str(self._call(nv.nvmlDeviceGetName, handle)),
                    memory_total_bytes=memory,
                )
            )
        return select_visible(found, self._selectors)

    def energy_mj(self, device: GpuDevice) -> int:
        handle = self._handles[device.uuid]
        return int(self._call(self._nvml.nvmlDeviceGetTotalEnergyConsumption, handle))

    def read(self, device: GpuDevice) -> Reading:
        nv, handle = self._nvml, self._handles[device.uuid]

        def optional(fn: Callable[[], T]) -> T | None:
            try:
                return fn()
            except NotSupported:
                return None

        power_mw = optional(lambda: self._call(nv.nvmlDeviceGetPowerUsage, handle))
        util = optional(lambda: self._call(nv.nvmlDeviceGetUtilizationRates, handle))
        memory = optional(lambda: self._call(nv.nvmlDeviceGetMemoryInfo, handle))
        return Reading(
            power_w=None if power_mw is None else power_mw / 1000.0,
            sm_util_pct=None if util is None else float(util.gpu),
            memory_used_bytes=None if memory is None else int(memory.used),
        )

    def process_ids(self, device: GpuDevice) -> set[int]:
        handle = self._handles[device.uuid]
        try:
            processes = self._call(self._nvml.nvmlDeviceGetComputeRunningProcesses, handle)
        except NotSupported:
            return set()
        return {int(p.pid) for p in processes}

    def close(self) -> None:
        with contextlib.suppress(MeterError):
            self._call(self._nvml.nvmlShutdown)


def open_meter(environ: dict[str, str] | None = None) -> NvmlMeter | None:
    """The NVML meter where NVML initialises, else ``None`` (then use the null meter)."""
    try:
        return NvmlMeter(environ)
    except MeterUnavailable:
        return None
