"""Dollar amounts as text: the one implementation every renderer uses (the terminal, the bottom
line, the appendix, the verdict card, the verdicts' reasons).

Two precisions, each for its place:

* **table** (:func:`usd`): ``$13.80``, ``$3,922``, ``$3.92M``: cents below $1,000, so that a
  table's column reads exactly;
* **reading** (:func:`usd_rounded`): ``$6``, ``$13.80``, ``$3,675``, ``$21k``, ``$3.9M``: for
  sentences, where the tables beside them carry the exact amounts.

:func:`usd_range` writes a range in either precision. Rules: a missing amount is a dash, never
``$0``; a positive amount below a cent is ``<$0.01``, never ``$0.00``; a range whose ends agree is
one amount; and a bound published as money ("under $500"), whose low end nobody knows, is
``up to $500``. Whether an amount is such a bound is told by the caller from the data
(``upper_bound_only`` of :class:`~ledger.report.CostLine`, :class:`~ledger.report.ScopeCost` and
the other report records), never guessed from a low end of zero.
"""

from __future__ import annotations

from decimal import Decimal

MISSING = "—"
"""A figure nobody could compute."""
CENT = Decimal("0.01")
UNKNOWN_LOW = "up to"
"""What stands before the high end of a range whose low end is unknown."""


def _dec(value: Decimal | float) -> Decimal:
    """A float as the Decimal of its shortest repr, so that rounding reads as the float does."""
    return value if isinstance(value, Decimal) else Decimal(repr(float(value)))


def usd(value: Decimal | float | None, *, places: int | None = None) -> str:
    """An amount at table precision: ``$13.80``, ``$3,922``, ``$3.92M``; ``<$0.01`` for a positive
    amount below a cent; a dash where it is missing. ``places`` fixes the decimals instead (a
    price per kWh: ``$0.0771``)."""
    if value is None:
        return MISSING
    v = _dec(value)
    if places is not None:
        return f"${v:,.{places}f}"
    if 0 < v < CENT:
        return "<$0.01"
    if v >= 1_000_000:
        return f"${v / 1_000_000:,.2f}M"
    if v >= 1_000:
        return f"${v:,.0f}"
    return f"${v:,.2f}"


def usd_rounded(value: Decimal | float, scale: Decimal | float | None = None) -> str:
    """An amount at reading precision: ``$6``, ``$13.80``, ``$3,675``, ``$21k``, ``$3.9M``,
    ``$40M``, ``<$0.01`` for a positive amount below a cent; ``scale`` (the larger end of a
    range) writes both ends of a range alike (``$1.3k–$21k``)."""
    v = _dec(value)
    if 0 < v < CENT:
        return "<$0.01"  # a priced amount too small for cents is not $0.00
    top = max(v, _dec(scale) if scale is not None else v)
    if top >= 1_000_000:
        m = v / 1_000_000
        return f"${m:,.0f}M" if m >= 10 else f"${m:,.1f}M"
    if top >= 10_000:
        k = v / 1_000
        return f"${k:,.0f}k" if k >= 10 else f"${k:,.1f}k"
    if v >= 100 or v == v.to_integral_value():
        return f"${v:,.0f}"
    return f"${v:,.2f}"


def usd_exact(value: Decimal) -> str:
    """An amount exactly as stated, at least to the cent: ``$0.075``, ``$2.99``, ``$1,200``."""
    text = format(value.normalize(), "f")
    whole, _, cents = text.partition(".")
    return f"${int(whole):,}" + (f".{cents.ljust(2, '0')}" if cents else "")


def usd_range(
    low: Decimal | float | None,
    high: Decimal | float | None,
    *,
    upper_bound_only: bool = False,
    rounded: bool = False,
) -> str:
    """``$13.80–$85.21`` (or, ``rounded``, ``$1.3k–$21k``); one amount where both ends read
    alike; a dash where either end is missing; ``up to $500`` where ``upper_bound_only`` says
    the amount is known only as a published upper bound, its low end unknown (not $0)."""
    if low is None or high is None:
        return MISSING
    if upper_bound_only:
        return f"{UNKNOWN_LOW} {usd_rounded(high) if rounded else usd(high)}"
    if rounded:
        a, b = usd_rounded(low, high), usd_rounded(high)
    else:
        a, b = usd(low), usd(high)
    return a if a == b else f"{a}–{b}"
