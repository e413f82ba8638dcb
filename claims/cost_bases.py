"""A cost scope on every price basis, and the bound under each (docs/claims.md, "Price bases").

A dollar figure means something only with a price basis:

* **rental**: what renting the compute costs, the dated rental cards near the work
  (:func:`claims.pricing.price_scope`). What a headline "trained for $X" means where the words
  name no other basis;
* **owned**: what the compute costs on hardware one owns, the purchase price amortised over its
  lifetime with server and networking overhead, plus electricity (Epoch AI's method,
  :mod:`ledger.energy`); everything but GPU-hours at the near cards as on the rental basis;
* **the claimant's**: the rates the claim states (``basis:`` as a list).

:func:`scope_prices` prices a scope on each; :func:`bound_status` says how the bound fares under
one; :func:`basis_check` records it for the verdict. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from claims.cost_facts import SubjectCosts
from claims.pricing import CHEAPER_THAN_OWNING, OWNER_PRICE, ScopePrice, price_owned, price_scope
from claims.report import BasisCheck, ScopeCheck, ScopeStatus
from claims.schema import BasisKind, CostAssertion, CostBound
from ledger.money import usd_range
from ledger.report import CostLine, Unpriced
from ledger.schema import ABOUT_TOLERANCE

_T = 1 + ABOUT_TOLERANCE
PUBLISHED = "the published dollar figures"
_STATED = (
    "stated inputs (ledger/data/energy/assumptions.yaml): lifetime_years, utilisation, "
    "interconnect_cost_fraction, pue, gpu_power_fraction"
)


def scope_prices(
    a: CostAssertion,
    facts: SubjectCosts,
    lines: Sequence[CostLine],
    gaps: Sequence[Unpriced],
    claim_date: date | None,
) -> dict[BasisKind, ScopePrice]:
    """The scope on the rental and owned bases, and on the claimant's where the claim states
    rates, in that order."""
    common = (lines, gaps, facts.book, facts.dates, claim_date)
    out = {
        BasisKind.RENTAL: price_scope(*common),
        BasisKind.OWNED: price_owned(*common, facts.owned, facts.owned_rates),
    }
    if a.rates:
        out[BasisKind.CLAIMANT] = price_scope(*common, a.rates, facts.owned_rates)
    return out


def bound_status(bound: CostBound, y: Decimal, p: ScopePrice) -> ScopeStatus:
    """How a bound of ``y`` fares against one priced scope (the table in docs/claims.md)."""
    if not p.quantified:
        return "unquantified"
    at_basis: ScopeStatus = "extreme_prices" if p.basis_cheap else "holds"
    if bound is CostBound.ABOUT:
        if y < p.low / _T:
            return "fails"  # even the known part is more than "about" the figure
        if not p.complete:
            return "lower_bound"
        if p.upper_only:
            return "upper_bound"  # "under $500" says nothing of how much under
        if p.rep_low / _T <= y <= p.rep_high * _T:
            return at_basis
        return "extreme_prices" if y <= p.high * _T else "fails"
    strict = bound is CostBound.UNDER
    if not (p.low < y if strict else p.low <= y):
        return "fails"
    if not p.complete:
        return "lower_bound"
    # a published upper bound equal to the figure ("less than $500" for "under $500") holds
    if p.rep_high < y or (p.rep_high == y and (p.upper_only or not strict)):
        return at_basis
    return "upper_bound" if p.upper_only else "extreme_prices"


def representative(p: ScopePrice, claim_date: date | None) -> str:
    """The representative price in words: the claimant's basis or the owned cost where they
    price a line, else the median near card."""
    if not p.lines:
        return "nothing priced"
    if p.published_only:
        return PUBLISHED
    bases = sorted({x.basis for x in p.lines if x.basis})
    market = {(x.line.resource, len(x.near), x.far) for x in p.lines if not x.basis and x.near}
    near = f"near {claim_date}" if claim_date else "near the work"
    if len(market) == 1:
        resource, n, far = next(iter(market))
        where = "(every card: none near the work)" if far else near
        words = [f"the median of {n} {resource} cards {where}"]
    else:
        words = [f"the median cards {near}"] if market else []
    return "; ".join([*bases, *words])


def basis_check(
    kind: BasisKind,
    a: CostAssertion,
    p: ScopePrice,
    facts: SubjectCosts,
    claim_date: date | None,
) -> BasisCheck:
    """One scope on one basis, for the verdict's record."""
    low, high = _per_gpu_hour(kind, p, facts)
    cards = {c.id for x in p.lines for c in x.near}
    sources = sorted(cards)
    if kind is BasisKind.OWNED:
        owned = {x.line.resource for x in p.lines if x.owned}
        sources = sorted(
            {s for r in owned if r in facts.owned_rates for s in facts.owned_rates[r].sources}
            | cards
        ) + ([_STATED] if owned else [])
    elif kind is BasisKind.CLAIMANT:
        sources = [f"the claim: {b.quote or b.resource}" for b in a.rates] + sources
    return BasisCheck(
        basis=kind.value,
        status=bound_status(a.bound, a.usd, p),
        cost_usd_low=p.low if p.quantified else None,
        cost_usd_high=p.high if p.quantified else None,
        representative_usd_low=p.rep_low if p.quantified else None,
        representative_usd_high=p.rep_high if p.quantified else None,
        usd_per_gpu_hour_low=low,
        usd_per_gpu_hour_high=high,
        priced_by=representative(p, claim_date),
        gaps=list(p.gaps),
        sources=sources,
    )


def _per_gpu_hour(
    kind: BasisKind, p: ScopePrice, facts: SubjectCosts
) -> tuple[Decimal | None, Decimal | None]:
    """The basis's price per GPU-hour, for scopes paying for GPU-hours of one kind alone."""
    if not p.gpu_only:
        return None, None
    resource = p.lines[0].line.resource
    if kind is BasisKind.OWNED:
        rate = facts.owned_rates.get(resource)
        return (rate.usd_low, rate.usd_high) if rate else (None, None)
    if kind is BasisKind.CLAIMANT and (stated := [x.rep_price for x in p.lines if x.basis]):
        given = [r for r in stated if r is not None]
        return (min(given), max(given)) if given else (None, None)
    prices = [c.usd_per_unit for x in p.lines for c in x.near]
    return (min(prices), max(prices)) if prices else (None, None)


BASIS_NAMES = {"rental": "rental", "owned": "owned", "claimant": "claimant's"}
"""Each basis as the reason and the evidence name it ("the claimant's basis")."""


def basis_words(main: ScopeCheck, reason: str) -> str:
    """The reason, with where the claimant's rate stands against the markets where it is below
    every near rental card: an owner's price, or cheaper than owning the hardware."""
    if main.basis != BasisKind.CLAIMANT.value:
        return reason
    said = [n for n in main.notes if n.endswith((OWNER_PRICE, CHEAPER_THAN_OWNING))]
    return "; ".join([reason, *said])


def on_basis(b: BasisCheck) -> str:
    return f"the {BASIS_NAMES[b.basis]} basis ({_basis_figure(b)} at {b.priced_by})"


def _basis_figure(b: BasisCheck) -> str:
    """A basis's representative figure, with its range where that is wider."""
    rep_low, rep_high = b.representative_usd_low, b.representative_usd_high
    if rep_low is None or rep_high is None:
        return "—"
    text = usd_range(rep_low, rep_high)
    low, high = b.cost_usd_low, b.cost_usd_high
    if low is not None and high is not None and (low, high) != (rep_low, rep_high):
        text += f", range {usd_range(low, high)}"
    return text


def every_basis(c: ScopeCheck) -> str:
    """One evidence line: the scope the words mean on every basis, and which one is judged."""
    parts = []
    for b in c.bases:
        text = f"{BASIS_NAMES[b.basis]} {_basis_figure(b)} ({b.status.replace('_', ' ')}"
        if b.usd_per_gpu_hour_low is not None and b.usd_per_gpu_hour_high is not None:
            text += f"; {usd_range(b.usd_per_gpu_hour_low, b.usd_per_gpu_hour_high)}/GPU-hour"
        parts.append(text + ")")
    return (
        f"{c.label} on every basis, judged on the {BASIS_NAMES[c.basis]} one the words mean: "
        + "; ".join(parts)
    )
