"""The arithmetic of a Prometheus import, as pure functions over raw samples: one GPU's energy,
busy time and allocated time over a job's window. The rules are stated in :mod:`probes.prometheus`.

Samples are ``(unix seconds, value)`` pairs, sorted by time, already cut to the window.
"""

from __future__ import annotations

import itertools
import math
import statistics
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


def scrape_interval(stamps: Sequence[float]) -> float | None:
    """The scrape interval, estimated as the median gap between consecutive sample times (robust
    to a missed scrape); ``None`` with fewer than two samples."""
    ordered = sorted(set(stamps))
    if len(ordered) < 2:
        return None
    return statistics.median(t1 - t0 for t0, t1 in itertools.pairwise(ordered))


def held_integral(
    samples: Sequence[Sample], start_s: float, wall_s: float, hold_s: float | None = None
) -> float | None:
    """Integral over the window (``wall_s`` seconds from ``start_s``): trapezoids between samples,
    the first value held back towards the window's start and the last held on towards its end
    (as the NVML meter holds its last sample to the end of a run), each for at most ``hold_s``
    seconds (a scrape interval: a value says nothing of a time the scraper did not look at);
    ``hold_s=None`` holds them to the edges. ``None`` without samples.

    Times are taken relative to the start, so that a constant value integrates to exactly
    ``value * wall_s``, whatever the samples' timestamps, where the holds reach the edges."""
    if not samples:
        return None
    rel = [(t - start_s, v) for t, v in samples]
    before, after = rel[0][0], wall_s - rel[-1][0]
    if hold_s is not None:
        before, after = min(before, hold_s), min(after, hold_s)
    edges = before * rel[0][1] + after * rel[-1][1]
    return math.fsum([edges, trapezoid(rel) or 0.0])


@dataclass(frozen=True)
class Coverage:
    """How much of the window a GPU's samples cover."""

    interval_s: float | None
    """Estimated scrape interval: the largest of the series' own (:func:`scrape_interval` of each
    metric's samples); ``None`` where no series has two samples."""
    span_s: float
    """Seconds from the first to the last sample in the window (any series)."""
    covered_from_s: float | None
    """Start of the covered time, in seconds from the window's start: the earliest sample of a
    series less its own interval, not before the window; ``None`` where nothing was covered."""
    covered_to_s: float | None
    """End of the covered time, in seconds from the window's start: the latest sample of a
    series plus its own interval, not past the window; ``None`` where nothing was covered."""
    wall_s: float
    """The window's length."""

    @property
    def covered_s(self) -> float | None:
        """The covered time's length; ``None`` where no series has two samples: nothing was
        measured over time, and the GPU's allocated and busy time are not measured."""
        if self.covered_from_s is None or self.covered_to_s is None:
            return None
        return self.covered_to_s - self.covered_from_s

    @property
    def sampled_window(self) -> bool:
        """Whether the samples cover at least :data:`COVERED_SHARE` of the window: then the GPU
        counts as allocated for all of it; else for :attr:`covered_s` only."""
        covered = self.covered_s
        return covered is not None and covered >= COVERED_SHARE * self.wall_s


COVERED_SHARE = 0.9
"""Share of the window the samples (each edge held one interval) must cover for the GPU to be
counted allocated over the whole window: a generous ``--end`` does not buy GPU-hours."""


def coverage(series: Sequence[Sequence[float]], start_s: float, wall_s: float) -> Coverage:
    """The coverage of the sample times of a GPU's series (one sequence of unix seconds per
    metric, inside the window). Each series is held one of its *own* intervals beyond its first
    and last sample: series scraped at offsets from one another (two exporters, a recording
    rule) are not taken for one series sampled every few milliseconds. A series with fewer than
    two samples has no interval and covers nothing."""
    spans: list[tuple[float, float, float]] = []
    for stamps in series:
        ordered = sorted(set(stamps))
        interval = scrape_interval(ordered)
        if interval is not None:
            spans.append((ordered[0] - start_s, ordered[-1] - start_s, interval))
    every = sorted({t for stamps in series for t in stamps})
    span = every[-1] - every[0] if every else 0.0
    if not spans:
        return Coverage(None, span, None, None, wall_s)
    return Coverage(
        interval_s=max(interval for _, _, interval in spans),
        span_s=span,
        covered_from_s=max(0.0, min(first - interval for first, _, interval in spans)),
        covered_to_s=min(wall_s, max(last + interval for _, last, interval in spans)),
        wall_s=wall_s,
    )


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
