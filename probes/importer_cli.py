"""What the importers' commands share (``receipts import api-log``, ``import label-studio``,
``label start|stop``): the subject, category and create-subject options, and a run's cost in one
line. Only options and formatting here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.enums import Category

if TYPE_CHECKING:
    from probes.subjects import RunCost

SubjectOpt = Annotated[str, typer.Option("--subject", help="Subject the usage belongs to.")]
CategoryOpt = Annotated[Category, typer.Option("--category", help="Cost category of the runs.")]
CreateOpt = Annotated[
    bool, typer.Option("--create-subject", help="Create a bare subject (id and name) if missing.")
]


def usd_cents(value: Decimal) -> str:
    """Dollars, with four decimals below ten cents."""
    from ledger.render import usd

    return f"${value:,.4f}" if 0 < value < Decimal("0.1") else usd(value)


def cost_line(cost: RunCost) -> str:
    """A run's cost range, and how many of its usages are unpriced."""
    low, high = usd_cents(cost.cost_usd_low), usd_cents(cost.cost_usd_high)
    text = low if low == high else f"{low}–{high}"
    if cost.unpriced:
        text += f" ({cost.unpriced} unpriced usages: missing, not $0)"
    return text
