"""Number formatting shared by the templates and the plots: formatting only, no arithmetic that
changes a figure. Dollar amounts and GPU-hours read as in the terminal (:mod:`ledger.render`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from ledger.bottom_line import scaled_range
from ledger.enums import Category, Provenance
from ledger.money import MISSING, usd, usd_exact, usd_range
from ledger.render import hours, markers, number

__all__ = [
    "category_name",
    "co2e_range",
    "count",
    "fraction_interval",
    "fraction_pct",
    "hours",
    "interval",
    "kwh",
    "kwh_range",
    "markers",
    "number",
    "number_range",
    "pct",
    "price",
    "provenance_words",
    "ratio",
    "seconds",
    "timestamp",
    "usd",
    "usd_high",
    "usd_low",
    "usd_range",
    "value",
]


def usd_low(value: Decimal | None, upper_bound_only: bool = False) -> str:
    """The "low" cell of a cost: a dash where the amount is only a published upper bound
    ("under $500"), whose low end nobody knows (never $0.00)."""
    return MISSING if upper_bound_only else usd(value)


def usd_high(value: Decimal | None, upper_bound_only: bool = False) -> str:
    """The "high" cell of a cost: ``up to $500.00`` for a published upper bound."""
    return usd_range(value, value, upper_bound_only=upper_bound_only)


price = usd_exact
"""A card's price exactly as stated: ``$0.075``, ``$2.99``, ``$1,200``."""


def pct(value: float | None, digits: int = 1) -> str:
    """``56.7%``."""
    return MISSING if value is None else f"{value:.{digits}f}%"


def fraction_pct(value: float | None, digits: int = 1) -> str:
    """A share (0.567) as a percentage: ``56.7%``."""
    return MISSING if value is None else f"{100 * value:.{digits}f}%"


def fraction_interval(low: float | None, high: float | None, digits: int = 1) -> str:
    """An interval of shares as percentages: ``[39.2, 72.7]``."""
    if low is None or high is None:
        return MISSING
    return f"[{100 * low:.{digits}f}, {100 * high:.{digits}f}]"


def value(x: float | int | str | None) -> str:
    """An estimator input: ``32.5e9`` reads ``3.25e+10``, ``0.3`` reads ``0.3``."""
    if x is None:
        return MISSING
    if isinstance(x, str):
        return x
    return f"{x:,}" if isinstance(x, int) and abs(x) < 10**7 else f"{x:.6g}"


def interval(low: float | None, high: float | None, digits: int = 1) -> str:
    """``[39.2, 72.7]``."""
    if low is None or high is None:
        return MISSING
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def kwh(value: float | None) -> str:
    """Energy: ``12.4 kWh``, ``0.0312 kWh``."""
    if value is None:
        return MISSING
    return f"{value:,.3g} kWh" if value < 100 else f"{value:,.0f} kWh"


def number_range(low: float | None, high: float | None) -> str:
    """``13.50–97.68``, ``1.97M–3.29M``; one figure where both ends read alike; a dash where
    the quantity is unknown (never 0)."""
    if low is None or high is None:
        return MISSING
    a, b = number(low), number(high)
    return a if a == b else f"{a}–{b}"


def kwh_range(low: float | None, high: float | None) -> str:
    """``7.29–14.0 kWh``, ``2,073–6,620 MWh`` (MWh from 10,000 kWh); a dash where unknown."""
    if low is None or high is None:
        return MISSING
    return scaled_range(low, high, "kWh", "MWh", _sig)


def co2e_range(low_kg: float | None, high_kg: float | None) -> str:
    """``2.69–5.16 kg``, ``766–2,446 t`` (tonnes from 10 t); a dash where unknown."""
    if low_kg is None or high_kg is None:
        return MISSING
    return scaled_range(low_kg, high_kg, "kg", "t", _sig)


def _sig(value: float) -> str:
    """Three significant digits below 1,000, whole numbers above (``7.29``, ``196``, ``3,022``)."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def count(value: int | float | None) -> str:
    """``59,029``."""
    return MISSING if value is None else f"{value:,.0f}"


def seconds(value: float | None) -> str:
    """``26 min``, ``3.2 h``, ``41 s``."""
    if value is None:
        return MISSING
    if value >= 3 * 3600:
        return f"{value / 3600:,.1f} h"
    if value >= 120:
        return f"{value / 60:,.0f} min"
    return f"{value:,.0f} s"


def ratio(value: float) -> str:
    """Two significant digits, grouped: ``370,000``, ``4.7``."""
    if value <= 0 or not math.isfinite(value):
        return MISSING
    digits = 1 - math.floor(math.log10(value))
    rounded = round(value, digits)
    return f"{rounded:,.{max(digits, 0)}f}"


def timestamp(value: datetime | None) -> str:
    """``2025-02-05 14:03 UTC``."""
    return MISSING if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


_PROVENANCE_WORDS = {
    Provenance.MEASURED: "measured",
    Provenance.REPORTED: "reported",
    Provenance.ESTIMATED: "estimated",
    Provenance.DECLARED: "declared",
}


def provenance_words(provenance: Sequence[Provenance]) -> str:
    """``reported + estimated``; a dash where nothing was quantified."""
    return " + ".join(_PROVENANCE_WORDS[p] for p in provenance) or MISSING


from ledger.names import CATEGORY_NAMES as _CATEGORY_NAMES  # noqa: E402 (one mapping)


def category_name(category: Category | str | None, inherited: bool = False) -> str:
    """``fine-tuning``, ``R&D``, ``inherited pretraining``."""
    if category is None:
        return MISSING
    name = _CATEGORY_NAMES[Category(category)]
    return f"inherited {name}" if inherited else name
