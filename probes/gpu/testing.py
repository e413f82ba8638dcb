"""Shipped fakes for meters and clocks: for our tests, and for users testing code that meters.

Nothing here ever produces a ``measured`` number in a real run: ``receipts run`` uses these only
when a test injects them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence

from ledger.errors import InputError
from probes.gpu.errors import DeviceLost, NotSupported
from probes.gpu.meter import Clock, Reading
from probes.gpu.schema import GpuDevice


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


def fake_device(index: int = 0, name: str = "NVIDIA H100 80GB HBM3") -> GpuDevice:
    """A device description like NVML's."""
    return GpuDevice(
        index=index,
        uuid=f"GPU-00000000-0000-0000-0000-{index:012d}",
        name=name,
        memory_total_bytes=80 * 1024**3,
    )


class FakeDevice:
    """Scripted behaviour of one fake device, as functions of the clock's time.

    Args:
        device: what the meter lists.
        power_w, sm_util_pct, memory_used_bytes: the readings at time t (``None``: not
            supported).
        energy_counter: whether the device has the cumulative energy counter (Volta and newer).
        energy_mj_at: the counter at time t; by default the integral of ``power_w`` from t = 0.
        lost_after_s: from this time on, every call raises DeviceLost.
        foreign_pids: compute processes on the device at time t that are not the job's.
        job_pids_on_device: the job's own compute processes on the device.
    """

    def __init__(
        self,
        device: GpuDevice,
        power_w: Callable[[float], float | None] = lambda t: 300.0,
        sm_util_pct: Callable[[float], float | None] = lambda t: 50.0,
        memory_used_bytes: Callable[[float], int | None] = lambda t: 10 * 1024**3,
        energy_counter: bool = True,
        energy_mj_at: Callable[[float], int] | None = None,
        lost_after_s: float | None = None,
        foreign_pids: Callable[[float], set[int]] = lambda t: set(),
        job_pids_on_device: set[int] | None = None,
    ) -> None:
        self.device = device
        self.power_w = power_w
        self.sm_util_pct = sm_util_pct
        self.memory_used_bytes = memory_used_bytes
        self.energy_counter = energy_counter
        self.energy_mj_at = energy_mj_at
        self.lost_after_s = lost_after_s
        self.foreign_pids = foreign_pids
        self.job_pids_on_device = set() if job_pids_on_device is None else job_pids_on_device


class FakeGpuMeter:
    """A meter whose devices follow scripts driven by a (fake or real) clock."""

    def __init__(self, devices: Sequence[FakeDevice], clock: Clock) -> None:
        self.fakes = {fake.device.uuid: fake for fake in devices}
        self.clock = clock
        self.closed = False
        self._origin = clock.monotonic()

    def _t(self, device: GpuDevice) -> tuple[FakeDevice, float]:
        fake = self.fakes[device.uuid]
        t = self.clock.monotonic() - self._origin
        if fake.lost_after_s is not None and t >= fake.lost_after_s:
            raise DeviceLost(f"{device.uuid} fell off the bus")
        return fake, t

    def devices(self) -> list[GpuDevice]:
        return [fake.device for fake in self.fakes.values()]

    def energy_mj(self, device: GpuDevice) -> int:
        fake, t = self._t(device)
        if not fake.energy_counter:
            raise NotSupported("energy counter not supported")
        if fake.energy_mj_at is not None:
            return fake.energy_mj_at(t)
        watts = fake.power_w(t)  # constant-power default: energy = P * t
        if watts is None or not math.isfinite(watts):
            watts = 0.0  # a counter is an integer: a bad power reading does not reach it
        return 5_000_000 + round(watts * t * 1000)

    def read(self, device: GpuDevice) -> Reading:
        fake, t = self._t(device)
        return Reading(fake.power_w(t), fake.sm_util_pct(t), fake.memory_used_bytes(t))

    def process_ids(self, device: GpuDevice) -> set[int]:
        fake, t = self._t(device)
        return fake.foreign_pids(t) | fake.job_pids_on_device

    def close(self) -> None:
        self.closed = True


class ReplayMeter:
    """Replays a recorded sample file (JSON lines) against a clock.

    Each line: ``{"t_s": 0.0, "uuid": "GPU-...", "name": "...", "power_w": 312.5,
    "sm_util_pct": 97, "memory_used_bytes": 123, "energy_mj": 456, "pids": [1, 2]}``;
    ``energy_mj`` and ``pids`` are optional. A reading at time t is the last line at or before t.
    """

    def __init__(self, path: str | os.PathLike[str], clock: Clock) -> None:
        import json

        self.clock = clock
        self._origin = clock.monotonic()
        self._lines: dict[str, list[dict[str, object]]] = {}
        self._devices: dict[str, GpuDevice] = {}
        with open(path, encoding="utf-8") as f:
            text_lines = f.read().splitlines()
        for number, text in enumerate(text_lines, start=1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
                uuid = str(line["uuid"])
                float(line["t_s"])
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(
                    f"{os.fspath(path)}: line {number}: not a sample ({exc})"
                ) from None
            self._lines.setdefault(uuid, []).append(line)
            self._devices.setdefault(
                uuid,
                GpuDevice(
                    index=len(self._devices),
                    uuid=uuid,
                    name=str(line.get("name", "replayed")),
                    memory_total_bytes=None,
                ),
            )
        for lines in self._lines.values():
            lines.sort(key=lambda line: float(line["t_s"]))  # type: ignore[arg-type]

    def _at(self, device: GpuDevice) -> dict[str, object]:
        t = self.clock.monotonic() - self._origin
        lines = self._lines[device.uuid]
        current = lines[0]
        for line in lines:
            if float(line["t_s"]) <= t:  # type: ignore[arg-type]
                current = line
        return current

    def devices(self) -> list[GpuDevice]:
        return list(self._devices.values())

    def energy_mj(self, device: GpuDevice) -> int:
        value = self._at(device).get("energy_mj")
        if value is None:
            raise NotSupported("no energy counter in the recording")
        return int(value)  # type: ignore[call-overload]

    def read(self, device: GpuDevice) -> Reading:
        line = self._at(device)
        power, util, memory = (
            line.get("power_w"),
            line.get("sm_util_pct"),
            line.get("memory_used_bytes"),
        )
        return Reading(
            None if power is None else float(power),  # type: ignore[arg-type]
            None if util is None else float(util),  # type: ignore[arg-type]
            None if memory is None else int(memory),  # type: ignore[call-overload]
        )

    def process_ids(self, device: GpuDevice) -> set[int]:
        return {int(p) for p in self._at(device).get("pids", [])}  # type: ignore[attr-defined]

    def close(self) -> None:
        return None
