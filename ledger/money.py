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

from decimal import ROUND_HALF_EVEN, Decimal

MISSING = "—"
"""A figure nobody could compute."""
CENT = Decimal("0.01")
UNKNOWN_LOW = "up to"
"""What stands before the high end of a range whose low end is unknown."""
_SCALES = ((Decimal(1_000_000), Decimal(1_000_000), "M"), (Decimal(10_000), Decimal(1_000), "k"))
"""Reading precision's scales, largest first: (from which amount, the unit, its suffix)."""


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
    ``$40M``, ``<$0.01`` for a positive amount below a cent.

    ``scale`` (the larger end of a range) writes both ends of a range alike (``$1.3k–$21k``),
    except where the low end would read as less than one unit of that scale (``$0.0k``,
    ``$0.2M``): it then reads at its own scale (``$35–$10k``, ``$230k–$1.4M``), so that an
    amount that is not zero never looks like zero or loses its figures."""
    v = _dec(value)
    if 0 < v < CENT:
        return "<$0.01"  # a priced amount too small for cents is not $0.00
    top = max(v, _dec(scale) if scale is not None else v)
    for start, unit, suffix in _SCALES:
        if top >= start:
            text = _in_units(v / unit, suffix)
            if text is not None:
                return text
            return usd_rounded(v)  # below one unit of the range's scale: its own scale
    if v >= 100 or v == v.to_integral_value():
        return f"${v:,.0f}"
    return f"${v:,.2f}"


def _in_units(amount: Decimal, suffix: str) -> str | None:
    """``$1.3k``, ``$21k``: one decimal below ten units, none from ten; None where the amount
    rounds to less than one unit (it would read ``$0.0k`` or ``$0.2M``)."""
    tenths = amount.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    if tenths < 1:
        return None
    if tenths >= 10:
        return f"${amount:,.0f}{suffix}"
    return f"${tenths:,.1f}{suffix}"


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
