"""GPU metering: a narrow meter interface, the null meter, and the sampler that turns readings into
what a window consumed.

Energy comes from the difference of a device's cumulative energy counter between the window's
start and end where the device has one (Volta and newer); otherwise from integrating sampled power
(trapezoidal rule). Each :class:`~probes.gpu.schema.DeviceUsage` says which method produced it. Busy
GPU-seconds integrate NVML's utilisation (the share of time a kernel ran) over the samples, beside
allocated GPU-seconds (the whole window), which is what a cloud bills.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from probes.gpu.errors import DeviceLost, MeterError, NotSupported
from probes.gpu.schema import DeviceUsage, EnergyMethod, GpuDevice, GpuSample


@dataclass(frozen=True, slots=True)
class Reading:
    """One instantaneous reading of a device; ``None`` where the device does not support it."""

    power_w: float | None
    """Board power draw in watts."""
    sm_util_pct: float | None
    """Percent of the sample period in which a kernel ran."""
    memory_used_bytes: int | None
    """Device memory in use, bytes."""


class GpuMeter(Protocol):
    """What the rest of receipts needs from a GPU library. Units are in the method names."""

    def devices(self) -> list[GpuDevice]:
        """Devices the job may use (``CUDA_VISIBLE_DEVICES`` respected)."""
        ...

    def energy_mj(self, device: GpuDevice) -> int:
        """Cumulative energy counter in millijoules. Raises NotSupported or DeviceLost."""
        ...

    def read(self, device: GpuDevice) -> Reading:
        """Power, utilisation and memory now. Raises DeviceLost."""
        ...

    def process_ids(self, device: GpuDevice) -> set[int]:
        """Ids of the compute processes on the device. Raises DeviceLost."""
        ...

    def close(self) -> None:
        """Release the library."""
        ...


class NullMeter:
    """The meter where there is no GPU library: no devices, so no readings, never zeros."""

    def devices(self) -> list[GpuDevice]:
        return []

    def energy_mj(self, device: GpuDevice) -> int:
        raise NotSupported("no GPU meter")

    def read(self, device: GpuDevice) -> Reading:
        raise NotSupported("no GPU meter")

    def process_ids(self, device: GpuDevice) -> set[int]:
        return set()

    def close(self) -> None:
        return None


class Clock(Protocol):
    """Monotonic time, so that durations never jump with the wall clock."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin."""
        ...


class SystemClock:
    """The real monotonic clock."""

    def monotonic(self) -> float:
        return time.monotonic()


class _Track:
    """What the sampler knows of one device during the window."""

    __slots__ = ("device", "energy_start_mj", "foreign", "lost_at_s", "lost_reason", "samples")

    def __init__(self, device: GpuDevice) -> None:
        self.device = device
        self.energy_start_mj: int | None = None
        self.samples: list[GpuSample] = []
        self.foreign: set[int] = set()
        self.lost_at_s: float | None = None
        self.lost_reason: str | None = None


class Sampler:
    """Samples every device of a meter over one window, in a background thread or step by step.

    Args:
        meter: where readings come from.
        clock: monotonic time source.
        interval_s: seconds between samples in the background thread.
        job_pids: the process ids that belong to the job (its process tree); a compute process
            outside them marks the device ``shared``. Called at most once per sample, and only
            when a device lists a process that was not the job's when it was last called (reading
            /proc costs milliseconds; most samples list only the job's own processes).
    """

    def __init__(
        self,
        meter: GpuMeter,
        *,
        clock: Clock | None = None,
        interval_s: float = 1.0,
        job_pids: Callable[[], set[int]] = set,
    ) -> None:
        if not interval_s > 0:
            raise MeterError(f"sampling interval must be positive, got {interval_s}")
        self.meter = meter
        self.clock = clock or SystemClock()
        self.interval_s = interval_s
        self.job_pids = job_pids
        self._tracks: list[_Track] = []
        self._t0 = 0.0
        self._lock = threading.Lock()
        self._state = threading.Lock()  # the sampling thread's start against stop()
        self._closing = False
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._stopped: list[DeviceUsage] | None = None
        self._mine: set[int] = set()

    def start(self, *, background: bool = True) -> None:
        """Read the energy counters, take the first sample, and (with ``background``, where there
        is a device) sample every ``interval_s`` in a thread until :meth:`stop`; without it, call
        :meth:`step` yourself."""
        self._t0 = self.clock.monotonic()
        self._tracks = [_Track(device) for device in self.meter.devices()]
        for track in self._tracks:
            try:
                track.energy_start_mj = self.meter.energy_mj(track.device)
            except NotSupported:
                track.energy_start_mj = None
            except DeviceLost as exc:
                self._lose(track, 0.0, exc)
        self.step()
        if background:
            self.start_thread()

    def start_thread(self) -> None:
        """Sample every ``interval_s`` in a thread until :meth:`stop` (after ``start(background=
        False)``; nothing where there is no device)."""
        if not self._tracks:
            return
        with self._state:
            if self._thread is not None or self._closing:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._loop, args=(self._stop,), name="receipts-sampler", daemon=True
            )
            self._thread.start()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            self.step()

    def step(self) -> None:
        """Take one sample of every device still answering."""
        t = self.clock.monotonic() - self._t0
        refreshed = False
        with self._lock:
            for track in self._tracks:
                if track.lost_at_s is not None:
                    continue
                try:
                    reading = self.meter.read(track.device)
                    pids = self.meter.process_ids(track.device)
                except DeviceLost as exc:
                    self._lose(track, t, exc)
                    continue
                track.samples.append(
                    GpuSample(
                        t_s=t,
                        device_uuid=track.device.uuid,
                        power_w=reading.power_w,
                        sm_util_pct=reading.sm_util_pct,
                        memory_used_bytes=reading.memory_used_bytes,
                    )
                )
                if not refreshed and not pids <= self._mine:
                    self._mine, refreshed = self.job_pids(), True
                track.foreign |= pids - self._mine

    @staticmethod
    def _lose(track: _Track, t: float, exc: Exception) -> None:
        track.lost_at_s = t
        track.lost_reason = f"device lost after {t:.1f} s: {exc}"

    def snapshot(self) -> list[DeviceUsage]:
        """Usage so far, without stopping (for heartbeats)."""
        return self._usages(final=False)

    def stop(self) -> list[DeviceUsage]:
        """Stop sampling, take a last sample, read the counters, and return each device's usage.

        Stopping again returns the first stop's usages: the window ends once.
        """
        with self._state:  # one stop at a time, and no thread started once it began
            if self._stopped is not None:
                return self._stopped
            self._closing = True
            if self._stop is not None:
                self._stop.set()
            if self._thread is not None:
                self._thread.join()
            if self._tracks:
                self.step()
            self._stopped = self._usages(final=True)
            return self._stopped

    def samples(self) -> list[GpuSample]:
        """Every sample so far, in time order per device."""
        with self._lock:
            return [s for track in self._tracks for s in track.samples]

    def _usages(self, *, final: bool) -> list[DeviceUsage]:
        wall = self.clock.monotonic() - self._t0
        with self._lock:
            return [self._usage(track, wall, final) for track in self._tracks]

    def _usage(self, track: _Track, wall: float, final: bool) -> DeviceUsage:
        energy: float | None = None
        method: EnergyMethod | None = None
        if track.energy_start_mj is not None and track.lost_at_s is None:
            try:
                end = self.meter.energy_mj(track.device)
            except (NotSupported, DeviceLost):
                end = None
            if end is not None and end >= track.energy_start_mj:  # a driver reload resets it
                energy, method = (end - track.energy_start_mj) / 1000.0, "counter"
        if energy is None:
            energy = _integrate(track.samples, "power_w", wall if track.lost_at_s is None else None)
            method = "integrated_power" if energy is not None else None
        busy = _integrate(track.samples, "sm_util_pct", wall if track.lost_at_s is None else None)
        memory = [s.memory_used_bytes for s in track.samples if s.memory_used_bytes is not None]
        return DeviceUsage(
            device=track.device,
            wall_s=wall,
            allocated_gpu_s=wall,
            busy_gpu_s=None if busy is None else busy / 100.0,
            energy_j=energy,
            energy_method=method,
            samples=len(track.samples),
            peak_memory_used_bytes=max(memory) if memory else None,
            shared=bool(track.foreign),
            foreign_pids=sorted(track.foreign),
            partial_reason=track.lost_reason,
        )


def _integrate(samples: list[GpuSample], name: str, until_s: float | None) -> float | None:
    """Trapezoidal integral of a sampled quantity over time, held flat to ``until_s``."""
    points = [(s.t_s, getattr(s, name)) for s in samples if getattr(s, name) is not None]
    if not points:
        return None
    total = 0.0
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        total += (t1 - t0) * (v0 + v1) / 2.0
    if until_s is not None and until_s > points[-1][0]:
        total += (until_s - points[-1][0]) * points[-1][1]
    return total
