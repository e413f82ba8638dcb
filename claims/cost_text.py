"""The words of cost verdicts: a scope's figure, the scopes a bound holds for and how, the price
it needs, and each checked scope's line of evidence (:mod:`claims.costs` decides, this module
writes).

Amounts are written by :mod:`ledger.money`: a dash where nothing in a scope has a cost, "up to"
where only a published upper bound is known of part of it, never $0 for what nobody priced.
"""

from __future__ import annotations

from collections.abc import Sequence

from claims.cost_bases import PUBLISHED
from claims.report import ScopeCheck
from ledger.money import MISSING, usd, usd_range


def scope_figure(c: ScopeCheck) -> str:
    """A scope's representative cost: a dash where nothing in it has a cost, "up to" where only
    published upper bounds are known of part of it (their low end is unknown, not $0)."""
    if c.status == "unquantified":
        return MISSING
    if c.status == "upper_bound" or c.upper_bound_only:
        return f"up to {usd(c.representative_usd_high)}"
    return usd_range(c.representative_usd_low, c.representative_usd_high)


def scope_span(c: ScopeCheck, subject: bool = False) -> str:
    """A scope with its figure and the price it is read at (``the recipe: ... ($494.87–$2,022 at
    the median cards near 2025-02-05, a lower bound)``); with ``subject``, its subject first."""
    whose = f"{c.subject}'s " if subject else ""
    if c.status == "unquantified":
        return f"{whose}{c.label} (nothing in it has a cost)"
    text = f"{whose}{c.label} ({scope_figure(c)} at {c.representative}"
    if c.gaps:
        text += ", a lower bound"
    if c.implied_usd_per_gpu_hour is not None:
        text += f"; the figure implies {usd(c.implied_usd_per_gpu_hour)}/GPU-hour"
    return text + ")"


def scope_spans(checks: Sequence[ScopeCheck], subject: bool = False) -> str:
    """Scopes that hold, each saying how: at the representative price, only at the cheap end of
    the prices, or as far as known (a lower bound)."""
    how = {
        "extreme_prices": " only at the cheap end of the prices",
        "lower_bound": ", as far as known",
    }
    return "; ".join(scope_span(c, subject) + how.get(c.status, "") for c in checks)


def scope_gaps(c: ScopeCheck) -> str:
    """What the scope counts that nobody quantified or priced, by name."""
    return "; ".join(c.gaps)


def price_needed(c: ScopeCheck) -> str:
    """Where a bound holds only at the cheap (or dear) end: the price it needs, and the count."""
    rep = usd_range(c.representative_usd_low, c.representative_usd_high)
    implied, typical = c.implied_usd_per_gpu_hour, c.representative_usd_per_gpu_hour
    if implied is None or typical is None:
        return (
            f"the ends of its range ({usd_range(c.cost_usd_low, c.cost_usd_high)}); at "
            f"{c.representative} it is {rep}"
        )
    end = "cheap" if typical > implied else "dear"
    text = (
        f"the {end} end of the prices: it needs about {usd(implied)}/GPU-hour, against "
        f"{usd(typical)} at {c.representative}"
    )
    if c.cards_total:
        text += f"; {c.cards_within} of {c.cards_total} near cards meet it"
    return f"{text}; at the representative price it is {rep}"


def scope_evidence(c: ScopeCheck) -> str:
    """One scope's line of evidence: how it is read, its status, its figure at the
    representative price and at the market, GPU-hours, the implied price, gaps and notes."""
    whose = f"{c.subject}: " if c.reading == "other_subject" else ""
    text = f"{whose}{c.label} [{c.reading}]: {c.status.replace('_', ' ')}"
    if c.status != "unquantified":
        text += f"; {scope_figure(c)} at {c.representative}"
        if c.representative != PUBLISHED:
            text += f"; market {usd_range(c.cost_usd_low, c.cost_usd_high)}"
    if c.gpu_hours is not None:
        text += f", {c.gpu_hours:,.2f} GPU-hours"
    if c.implied_usd_per_gpu_hour is not None:
        text += f"; the figure implies {usd(c.implied_usd_per_gpu_hour)}/GPU-hour"
        if c.card_usd_per_gpu_hour_low is not None:
            text += (
                f" (near cards {usd(c.card_usd_per_gpu_hour_low)}–"
                f"{usd(c.card_usd_per_gpu_hour_high)}/GPU-hour; holds at {c.cards_within} of "
                f"{c.cards_total})"
            )
    if c.gaps:
        text += f"; no cost: {scope_gaps(c)}"
    if c.notes:
        text += f"; {'; '.join(c.notes)}"
    return text
