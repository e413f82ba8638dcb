"""The usages a GPU window yields, as the fields :class:`~ledger.schema.Usage` is built from (by
:mod:`probes.run.session`, for its heartbeats and its final entry).

Per metered device: allocated GPU-hours (``gpu_hour``, what a cloud bills), busy GPU-hours
(``gpu_hour_busy``) and energy (``kwh``), all ``measured``, with the device, the energy method and
the shared flag in ``detail``. A declared allocation (``--gpus N --gpu-model NAME``) is one
``declared`` usage, never a measured one.

A meter that misbehaves (a reading of NaN or infinity) does not stop a run: a figure that comes
out non-finite is recorded as not measured (``quantity`` ``None``, with a note saying why), and a
non-finite point of the power or utilisation series as ``None`` (:func:`finite`). This is the one
place that rule lives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ledger.enums import Provenance, Unit
from probes.gpu.names import gpu_model_name
from probes.gpu.schema import DeviceUsage, GpuSample

NOT_FINITE_NOTE = "not measured: the meter gave a reading that is not finite"
"""The note of a usage whose figure came out NaN or infinite."""

SERIES_POINTS = 600
"""At most this many samples per device are kept as the power and utilisation series."""


def device_series(mine: Sequence[GpuSample]) -> dict[str, list[float | None]]:
    """One device's samples as ``{"t_s", "power_w", "sm_util_pct"}`` lists of equal length,
    thinned evenly to at most :data:`SERIES_POINTS` (the last sample always kept)."""
    step = max(1, -(-len(mine) // SERIES_POINTS))
    kept = mine[::step]
    if mine and kept[-1] is not mine[-1]:
        kept = [*kept[: SERIES_POINTS - 1], mine[-1]]
    return {
        "t_s": [s.t_s for s in kept],
        "power_w": [finite(s.power_w) for s in kept],
        "sm_util_pct": [finite(s.sm_util_pct) for s in kept],
    }


def finite(value: float | None) -> float | None:
    """``value`` where it is a finite number, else ``None`` (not measured)."""
    return value if value is not None and math.isfinite(value) else None


def device_usage_fields(
    run_id: str,
    devices: Sequence[DeviceUsage],
    note: str | None = None,
    samples: Sequence[GpuSample] = (),
) -> list[dict[str, Any]]:
    """The allocated, busy and energy usages of each metered device, as ``Usage`` fields.

    With ``samples``, each device's power and utilisation series (thinned) goes into the detail
    of its allocated usage as ``series``: what the appendix plots over time. A reading nobody could
    take (busy time without samples, energy without counter or power) is left out, not zeroed; one
    that came out NaN or infinite is kept as not measured (``quantity`` ``None``, with
    :data:`NOT_FINITE_NOTE`).
    """
    out: list[dict[str, Any]] = []
    by_device: dict[str, list[GpuSample]] = {}
    for sample in samples:
        by_device.setdefault(sample.device_uuid, []).append(sample)
    for d in devices:
        resource = f"gpu/{gpu_model_name(d.device.name)}"
        detail: dict[str, Any] = {
            "device_uuid": d.device.uuid,
            "device_name": d.device.name,
            "device_index": d.device.index,
            "memory_total_bytes": d.device.memory_total_bytes,
            "peak_memory_used_bytes": d.peak_memory_used_bytes,
            "samples": d.samples,
            "shared": d.shared,
            "foreign_pids": d.foreign_pids,
            "partial_reason": d.partial_reason,
        }
        series = {"series": device_series(by_device.get(d.device.uuid, []))} if samples else {}
        readings: list[tuple[str, str, Unit, float | None, dict[str, Any]]] = [
            ("allocated", resource, Unit.GPU_HOUR, _hours(d.allocated_gpu_s), series),
            ("busy", resource, Unit.GPU_HOUR_BUSY, _hours(d.busy_gpu_s), {}),
            ("energy", "energy/gpu", Unit.KWH, _kwh(d.energy_j), {"method": d.energy_method}),
        ]
        out += [
            {
                "id": f"{run_id}/gpu{d.device.index}/{suffix}",
                "run": run_id,
                "resource": res,
                "unit": unit.value,
                "quantity": finite(quantity),
                "provenance": Provenance.MEASURED.value,
                "note": note if finite(quantity) is not None else _join(note, NOT_FINITE_NOTE),
                "detail": {**detail, **extra},
            }
            for suffix, res, unit, quantity, extra in readings
            if quantity is not None
        ]
    return out


def window_usage_fields(
    run_id: str,
    devices: Sequence[DeviceUsage],
    samples: Sequence[GpuSample],
    declared_gpus: int | None,
    declared_model: str | None,
    wall_s: float,
) -> list[dict[str, Any]]:
    """What a run's window recorded, as ``Usage`` fields: the metered devices where there were
    any, else the user's declared allocation where there is one (never both), else nothing."""
    if devices:
        return device_usage_fields(run_id, devices, samples=samples)
    if declared_gpus:
        return [declared_usage_fields(run_id, declared_gpus, declared_model, wall_s)]
    return []


def declared_usage_fields(
    run_id: str, gpus: int, model: str | None, wall_s: float
) -> dict[str, Any]:
    """A user's declared allocation of ``gpus`` devices over ``wall_s`` seconds, as ``Usage``
    fields: ``declared`` GPU-hours, never measured ones."""
    model = model or "unknown"
    return {
        "id": f"{run_id}/declared",
        "run": run_id,
        "resource": f"gpu/{model}",
        "unit": Unit.GPU_HOUR.value,
        "quantity": gpus * wall_s / 3600,
        "provenance": Provenance.DECLARED.value,
        "note": f"{gpus} x {model} declared by the user; not measured",
        "detail": {"gpus": gpus, "wall_s": wall_s},
    }


def _join(note: str | None, more: str) -> str:
    return f"{note}; {more}" if note else more


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


def _kwh(joules: float | None) -> float | None:
    return None if joules is None else joules / 3.6e6
