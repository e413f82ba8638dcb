"""Statistics behind the verdicts: pure functions over counts or per-item results.

Proportions are fractions in [0, 1] here; :mod:`claims.compare` turns them into percentage points.
The intervals come from statsmodels (Wilson, Newcombe's hybrid score) and scipy (bootstrap); the
exact McNemar test from statsmodels. Randomness only enters through an explicit
:class:`numpy.random.Generator`. scipy and statsmodels are imported when first used, so that
``receipts --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import numpy.typing as npt

CONFIDENCE = 0.95
"""Confidence level of every interval."""
BOOTSTRAP_RESAMPLES = 10_000
"""Resamples of the paired bootstrap (as in the s1 paper's Table 2)."""

Outcomes = Sequence[bool] | npt.NDArray[np.bool_]
"""Per-item correctness, in item order."""


@dataclass(frozen=True)
class Interval:
    """A difference of two proportions with its interval."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class PairedResult:
    """A paired comparison of two models on the same items."""

    estimate: float
    """Mean of x minus mean of y."""
    low: float
    """Percentile bootstrap interval, lower end."""
    high: float
    """Upper end."""
    p_value: float
    """Exact McNemar p-value (two-sided binomial test on the discordant items)."""
    n: int
    """Items paired."""
    x_only: int
    """Items only x got right (McNemar's b)."""
    y_only: int
    """Items only y got right (McNemar's c)."""


def successes(value_pct: float, n: int, whole: bool) -> float:
    """The number of correct items behind a published percentage.

    With ``whole`` (one answer per item, e.g. greedy decoding) the count is a whole number: the
    percentage rounded to one decimal identifies it, so the nearest integer is taken where it
    reproduces the published figure to within 0.05 points. Otherwise (an average over samples,
    or a figure that no whole count reproduces) the count stays fractional: the Wilson and
    Newcombe formulas only use the proportion and n.
    """
    exact = value_pct / 100 * n
    if whole:
        nearest = round(exact)
        if abs(nearest / n * 100 - value_pct) <= 0.05 + 1e-9:
            return float(nearest)
    return exact


def wilson(count: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion (statsmodels ``proportion_confint``)."""
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(count, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def newcombe_difference(
    count1: float, n1: int, count2: float, n2: int, confidence: float = CONFIDENCE
) -> Interval:
    """Newcombe's hybrid score interval for p1 - p2 of two independent proportions.

    Method 10 of Newcombe (1998), built from the two Wilson intervals; statsmodels'
    ``confint_proportions_2indep(method="newcomb")``.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(
        count1, n1, count2, n2, method="newcomb", compare="diff", alpha=1 - confidence
    )
    return Interval(estimate=count1 / n1 - count2 / n2, low=float(low), high=float(high))


def weighted_difference(
    count1: float, n1: int, count2: float, n2: int, weight: float, confidence: float = CONFIDENCE
) -> Interval:
    """Interval for p1 - weight * p2 of two independent proportions (weight > 0).

    MOVER (Zou and Donner 2008) from the two Wilson intervals: the lower end is
    ``d - sqrt((p1 - l1)^2 + weight^2 (u2 - p2)^2)``, the upper ``d + sqrt((u1 - p1)^2 +
    weight^2 (p2 - l2)^2)``. With weight 1 it is Newcombe's hybrid score interval.
    """
    p1, p2 = count1 / n1, count2 / n2
    l1, u1 = wilson(count1, n1, confidence)
    l2, u2 = wilson(count2, n2, confidence)
    d = p1 - weight * p2
    low = d - ((p1 - l1) ** 2 + weight**2 * (u2 - p2) ** 2) ** 0.5
    high = d + ((u1 - p1) ** 2 + weight**2 * (p2 - l2) ** 2) ** 0.5
    return Interval(estimate=d, low=low, high=high)


def mcnemar_exact(x_only: int, y_only: int) -> float:
    """Exact (binomial) McNemar p-value from the discordant counts b and c."""
    from statsmodels.stats.contingency_tables import mcnemar

    if x_only + y_only == 0:
        return 1.0
    return float(mcnemar([[0, x_only], [y_only, 0]], exact=True).pvalue)


def paired_bootstrap(
    x: Outcomes,
    y: Outcomes,
    rng: np.random.Generator,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(x) - mean(y), resampling items (pairs) together."""
    from scipy.stats import bootstrap

    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError("paired results need two equally long, non-empty sequences")

    def difference(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.asarray(u.mean(axis=axis) - v.mean(axis=axis))

    result = bootstrap(
        (a, b),
        difference,
        paired=True,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        rng=rng,
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_difference(
    x: Outcomes,
    y: Outcomes,
    seed: int,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> PairedResult:
    """Difference of two models on the same items: bootstrap interval and exact McNemar."""
    a = np.asarray(x, dtype=bool)
    b = np.asarray(y, dtype=bool)
    low, high = paired_bootstrap(a, b, np.random.default_rng(seed), resamples, confidence)
    x_only = int(np.sum(a & ~b))
    y_only = int(np.sum(~a & b))
    return PairedResult(
        estimate=float(a.mean() - b.mean()),
        low=low,
        high=high,
        p_value=mcnemar_exact(x_only, y_only),
        n=int(a.size),
        x_only=x_only,
        y_only=y_only,
    )


@cache
def _library_versions() -> tuple[tuple[str, str], ...]:
    out = {}
    for name in ("receipts", "numpy", "scipy", "statsmodels"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return tuple(out.items())


def library_versions() -> dict[str, str]:
    """Versions of receipts and of the libraries that compute the statistics (read once a
    process: each lookup scans the installed distributions)."""
    return dict(_library_versions())
