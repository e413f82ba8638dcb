"""The arithmetic of a Prometheus import, as pure functions over raw samples: one GPU's energy,
busy time and allocated time over a job's window. The rules are stated in :mod:`probes.prometheus`.

Samples are ``(unix seconds, value)`` pairs, sorted by time, already cut to the window.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

Sample = tuple[float, float]
"""``(unix seconds, value)`` as Prometheus stores it (millisecond timestamps)."""


@dataclass(frozen=True)
class CounterEnergy:
    """Energy read from the cumulative counter ``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`` (mJ)."""

    energy_j: float
    """Sum of the counter's increases between consecutive samples, in joules."""
    resets: int
    """Times the counter went down (a driver reload or a reboot restarts it at 0)."""
    first_s: float
    """Time of the first sample used (unix seconds)."""
    last_s: float
    """Time of the last sample used (unix seconds)."""


def counter_energy(samples: Sequence[Sample]) -> CounterEnergy | None:
    """Energy between the first and the last sample of a millijoule counter, resets included.

    Each step between consecutive samples adds ``v1 - v0``; where the counter went down
    (``v1 < v0``), it restarted at 0 in between, so the step adds ``v1`` (what it counted since
    the restart), as Prometheus's own ``increase()`` does; what the device used between the sample
    before the restart and the restart itself is not seen. Unlike ``increase()``, nothing is
    extrapolated to the window's edges.

    Returns:
        ``None`` with fewer than two samples: no interval was covered, nothing was measured.
    """
    if len(samples) < 2:
        return None
    steps: list[float] = []
    resets = 0
    for (_, v0), (_, v1) in itertools.pairwise(samples):
        if v1 >= v0:
            steps.append(v1 - v0)
        else:
            steps.append(v1)
            resets += 1
    return CounterEnergy(math.fsum(steps) / 1000.0, resets, samples[0][0], samples[-1][0])


def trapezoid(samples: Sequence[Sample]) -> float | None:
    """Trapezoidal integral between the first and the last sample (value x seconds); ``None``
    with fewer than two samples."""
    if len(samples) < 2:
        return None
    return math.fsum(
        (t1 - t0) * (v0 + v1) / 2.0 for (t0, v0), (t1, v1) in itertools.pairwise(samples)
    )


def held_integral(samples: Sequence[Sample], start_s: float, wall_s: float) -> float | None:
    """Integral over the whole window (``wall_s`` seconds from ``start_s``): trapezoids between
    samples, the first value held back to the window's start and the last held on to its end (as
    the NVML meter holds its last sample to the end of a run). ``None`` without samples.

    Times are taken relative to the start, so that a constant value integrates to exactly
    ``value * wall_s``, whatever the samples' timestamps."""
    if not samples:
        return None
    rel = [(t - start_s, v) for t, v in samples]
    edges = rel[0][0] * rel[0][1] + (wall_s - rel[-1][0]) * rel[-1][1]
    return math.fsum([edges, trapezoid(rel) or 0.0])


def within(samples: Sequence[Sample], start_s: float, end_s: float) -> list[Sample]:
    """The samples with ``start_s <= t <= end_s``, sorted by time, one per timestamp.

    Raises:
        ValueError: two samples share a timestamp with different values (two series of one GPU
            that the selectors did not tell apart); the message names the timestamp.
    """
    kept: dict[float, float] = {}
    for t, v in samples:
        if not start_s <= t <= end_s:
            continue
        if t in kept and kept[t] != v:
            raise ValueError(f"two different values ({kept[t]:g} and {v:g}) at {t:.3f}")
        kept[t] = v
    return sorted(kept.items())
