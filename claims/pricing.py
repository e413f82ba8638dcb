"""Pricing a cost scope for a claim: dated cards near the work, the claimant's basis, the gaps.

A ledger report prices every usage at every card for its resource. A verdict needs more than
that range (docs/claims.md, "Cost assertions"):

* **cards dated near the work.** Each usage is priced with the cards dated within
  :data:`NEAR_DAYS` of its run (else of the claim); where no card is that near, every card is used
  and the scope says so;
* **a representative price**: the claimant's stated basis for the resource where the claim gives
  one, else the median of those near cards. The representative cost is a range only through the
  quantity's own low and high ends;
* **the market range**: cheapest near card at the low quantity to dearest at the high one;
* **gaps**: what the scope counts but nobody quantified or priced, by name. A gap is never $0:
  a scope with gaps has a known *lower bound*, and nothing more;
* **the owned basis** (:func:`price_owned`): the scope's GPU-hours at the owned cost of the
  hardware (:func:`ledger.energy.owned_lines`), everything else at the near cards. A claimant's
  rate below every near rental card is an *owner's price* where it is not below the owned cost
  per GPU-hour at its central estimate, and *cheaper than owning the hardware* where it is.

Everything here is pure; :mod:`claims.costs` reads the ledger and decides.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from claims.registry import name_key
from claims.schema import PriceBasis
from ledger.costs import INFORMATIONAL_UNITS, dec
from ledger.energy import OwnedRate, is_gpu_line
from ledger.money import usd, usd_exact, usd_range
from ledger.prices import PriceBook
from ledger.report import CostLine, Unpriced
from ledger.schema import PriceCard, Term, Unit

NEAR_DAYS = 365
"""Cards dated within this many days of the work price it; older or newer ones only where none is
that near (flagged)."""
ZERO = Decimal(0)
OWNER_PRICE = "an owner's price, not a rental one"
"""How the words call a claimant's rate below every near rental card but not below the owned
cost at its central estimate (docs/claims.md)."""
CHEAPER_THAN_OWNING = "cheaper than owning the hardware"
"""How the words call a claimant's rate below the owned cost."""


@dataclass(frozen=True)
class LinePrice:
    """One cost line priced for a claim."""

    line: CostLine
    low: Decimal
    """Cheapest price applied (near card or basis) times the low quantity."""
    rep_low: Decimal
    """Representative price times the low quantity."""
    rep_high: Decimal
    """Representative price times the high quantity."""
    high: Decimal
    """Dearest price applied times the high quantity."""
    rep_price: Decimal | None
    """The representative unit price (``None`` for money reported as money)."""
    near: tuple[PriceCard, ...] = ()
    """The market cards used (near the work where any are)."""
    basis: str | None = None
    """The claimant's basis, in words, where it priced this line."""
    far: str | None = None
    """Why the market cards are not near the work, where they are not."""
    upper_only: bool = False
    """Whether only an upper bound is known (money published as "under $Y"): its low end is
    unknown, not $0, so it can support "under $Z" (Z at or above Y) and nothing else."""
    basis_cheap: bool = False
    """Whether the claimant's basis is below every rental card near the work and below the
    owned cost per GPU-hour at its central estimate (or below the rental cards where no owned
    cost is known)."""
    owned: bool = False
    """Whether the line is priced at the owned basis (amortised hardware plus energy)."""


@dataclass(frozen=True)
class ScopePrice:
    """A scope's cost for one claim: market range, representative range, gaps."""

    lines: tuple[LinePrice, ...]
    gaps: tuple[str, ...]
    """What the scope counts but nobody quantified or priced."""
    low: Decimal = ZERO
    rep_low: Decimal = ZERO
    rep_high: Decimal = ZERO
    high: Decimal = ZERO
    notes: tuple[str, ...] = field(default=())
    """Far cards, bases that could not be applied."""

    @property
    def upper_only(self) -> bool:
        """Whether part of the scope is known only by an upper bound ("under $500")."""
        return any(p.upper_only for p in self.lines)

    @property
    def basis_cheap(self) -> bool:
        """Whether the claimant's basis prices part of the scope below every card near the work
        and below what owning the hardware costs: the figure then holds only at a price nobody
        near the work charged and no owner pays."""
        return any(p.basis_cheap for p in self.lines)

    @property
    def published_only(self) -> bool:
        """Whether every priced line is money published as money (the source's own figures)."""
        return bool(self.lines) and all(p.line.unit is Unit.USD for p in self.lines)

    @property
    def quantified(self) -> bool:
        """Whether anything in the scope has a cost."""
        return bool(self.lines)

    @property
    def complete(self) -> bool:
        """Whether everything in the scope has a cost (no gaps)."""
        return bool(self.lines) and not self.gaps

    @property
    def gpu_hours(self) -> float | None:
        """Central GPU-hours of the priced lines, where there are any."""
        gpu = [p.line.quantity for p in self.lines if p.line.unit is Unit.GPU_HOUR]
        return sum(gpu) if gpu else None

    @property
    def gpu_only(self) -> bool:
        """Whether GPU-hours of one resource are all the scope pays for (a $/GPU-hour means
        something only then)."""
        kinds = {(p.line.resource, p.line.unit) for p in self.lines}
        return len(kinds) == 1 and next(iter(kinds))[1] is Unit.GPU_HOUR


def _basis_for(
    bases: Sequence[PriceBasis],
    line: CostLine,
    book: PriceBook,
    when: date | None,
    claimed: date | None,
) -> tuple[Decimal | None, str | None, str | None]:
    """(unit price, words, note) of the claimant's basis for the line, where one applies.

    A vendor basis takes that vendor's card dated nearest the work among those the claimant could
    have seen (dated on or before the claim, where any is)."""
    for b in bases:
        if b.resource != line.resource or b.unit is not line.unit:
            continue
        if b.usd_per_unit is not None:
            return (
                b.usd_per_unit,
                f"the claimant's {usd_exact(b.usd_per_unit)}/{_unit(b.unit)}",
                None,
            )
        found = book.range(line.resource, line.unit)
        mine = [
            c
            for c in (found.cards if found else ())
            if name_key(c.vendor) == name_key(b.vendor or "")
        ]
        if not mine:
            return (
                None,
                None,
                f"no {b.vendor} card for {line.resource}: the stated basis cannot be priced",
            )
        seen = [c for c in mine if claimed is not None and c.date <= claimed]
        mine = seen or mine
        nearest = min(abs((c.date - when).days) for c in mine) if when else 0
        closest = [c for c in mine if when is None or abs((c.date - when).days) == nearest]
        price = Decimal(statistics.median(c.usd_per_unit for c in closest))
        day = closest[0].date
        stated = f"{usd(price, places=2)}/{_unit(b.unit)}"
        return price, f"the claimant's {mine[0].vendor} price ({stated}, {day})", None
    return None, None, None


def _unit(unit: Unit) -> str:
    return {Unit.GPU_HOUR: "GPU-hour", Unit.PERSON_HOUR: "person-hour"}.get(unit, unit.value)


def price_line(
    line: CostLine,
    book: PriceBook,
    when: date | None,
    bases: Sequence[PriceBasis] = (),
    claimed: date | None = None,
    owned: OwnedRate | None = None,
) -> tuple[LinePrice | None, str | None]:
    """The line priced near ``when`` (and at the claimant's basis, as of ``claimed``, the claim's
    date), or a note on why it cannot be. ``owned`` is the owned cost per GPU-hour of the line's
    device, which a claimant's rate below every near rental card is compared with.

    Returns ``(None, gap)`` for a line no card or basis prices.
    """
    q_low, q_high = dec(line.quantity_low), dec(line.quantity_high)
    if line.unit is Unit.USD:  # money as money; "under $500" is known only by its top
        upper = line.upper_bound_only
        return LinePrice(line, q_low, q_low, q_high, q_high, None, upper_only=upper), None
    found = book.range(line.resource, line.unit)
    # a rental figure is read against on-demand prices where there are any: commitments of one
    # or three years are cheaper per hour, and not what renting for one run costs
    cards = tuple(c for c in found.cards if c.term is Term.ON_DEMAND) if found else ()
    cards = cards or (found.cards if found else ())
    near = tuple(c for c in cards if when is not None and abs((c.date - when).days) <= NEAR_DAYS)
    far = None
    if cards and not near:
        far = (
            f"{line.resource} (no card within {NEAR_DAYS} days of {when})"
            if when
            else (f"{line.resource} (undated work)")
        )
        near = cards
    basis_price, basis_words, note = _basis_for(bases, line, book, when, claimed)
    if not near and basis_price is None:
        return None, note or f"{line.resource}: no price card for {line.unit.value}"
    prices = sorted(c.usd_per_unit for c in near)
    cheap = False
    if basis_price is not None:
        rep = basis_price
        cheapest = min([basis_price, *prices])
        dearest = max([basis_price, *prices])
        cheap, words = _against_markets(basis_price, basis_words or "", line, near, owned)
        note = note or words
    else:
        rep = Decimal(statistics.median(prices))
        cheapest, dearest = prices[0], prices[-1]
    return (
        LinePrice(
            line,
            low=q_low * cheapest,
            rep_low=q_low * rep,
            rep_high=q_high * rep,
            high=q_high * dearest,
            rep_price=rep,
            near=near,
            basis=basis_words,
            far=far,
            basis_cheap=cheap,
        ),
        note,
    )


def _against_markets(
    rate: Decimal,
    words: str,
    line: CostLine,
    near: Sequence[PriceCard],
    owned: OwnedRate | None,
) -> tuple[bool, str | None]:
    """Whether a claimant's rate is too cheap to represent the cost (below every near rental
    card, and below the owned cost per GPU-hour at its central estimate where one is known),
    with words saying where it stands where it is below the rental cards (docs/claims.md,
    "Price bases"). A rate within the owned range but below its central figure is an owner's
    cost only at the cheapest purchase and the longest lifetime: a bound that holds only there
    is not support, as at the cheap end of the rental cards."""
    below_cards = bool(near) and rate < min(c.usd_per_unit for c in near)
    if near and not below_cards:
        return False, None  # a rental card near the work at or below it: a price charged
    cards = _cards_words(near)
    if owned is None:
        if not below_cards:
            return False, None
        return True, (
            f"{words} is below every near rental card ({cards}); no owned cost of "
            f"{line.resource} to compare (no purchase price or power figure)"
        )
    cost = (
        f"the owned cost of {line.resource}, {usd(owned.usd, places=2)}/GPU-hour central "
        f"({_rate(owned)})"
    )
    if rate >= owned.usd:
        if not below_cards:
            return False, None
        return False, (
            f"{words} is below every near rental card ({cards}) but not below {cost}: {OWNER_PRICE}"
        )
    where = f"below every near rental card ({cards}) and " if below_cards else ""
    end = (
        "within the owned range only at its cheap end (cheapest purchase, longest lifetime): "
        if rate >= owned.usd_low
        else ""
    )
    return True, f"{words} is {where}below {cost}: {end}{CHEAPER_THAN_OWNING}"


def _rate(owned: OwnedRate) -> str:
    return usd_range(owned.usd_low, owned.usd_high)


def _cards_words(cards: Sequence[PriceCard], most: int = 4) -> str:
    """Cards by vendor, price and date; a count and range where there are many."""
    if len(cards) > most:
        prices = [c.usd_per_unit for c in cards]
        return f"{len(cards)} cards, {usd_range(min(prices), max(prices))}"
    ordered = sorted(cards, key=lambda c: (c.date, c.vendor))
    return ", ".join(f"{c.vendor} {usd(c.usd_per_unit)} ({c.date})" for c in ordered)


def price_scope(
    lines: Sequence[CostLine],
    gaps: Sequence[Unpriced],
    book: PriceBook,
    dates: dict[str, date],
    claim_date: date | None,
    bases: Sequence[PriceBasis] = (),
    owned_rates: Mapping[str, OwnedRate] | None = None,
    owned: Mapping[tuple[str, str], tuple[Decimal, Decimal, Decimal]] | None = None,
) -> ScopePrice:
    """Every line of a scope priced for a claim; unquantified usages and unpriceable lines are
    gaps. ``dates`` maps run ids to the day their work was done, where known; ``owned_rates``
    are the owned costs per GPU-hour a claimant's rate is compared with. Where ``owned`` is
    given (run and resource to the owned cost of its GPU-hours), the scope is priced on the owned
    basis (:func:`price_owned`)."""
    rates = owned_rates or {}
    priced: list[LinePrice] = []
    missing = [_gap_words(g) for g in gaps if g.quantity is None]
    notes: list[str] = []
    shares = _owned_shares(lines, owned) if owned is not None else {}
    for i, line in enumerate(lines):
        when = dates.get(line.run, claim_date)
        if owned is not None and is_gpu_line(line):
            result, note = _owned_line(line, shares.get(i), rates.get(line.resource))
        else:
            result, note = price_line(line, book, when, bases, claim_date, rates.get(line.resource))
        if result is None:
            if line.unit not in INFORMATIONAL_UNITS:  # tokens, kWh: reported beside costs
                missing.append(f"{line.run} ({note})")
            continue
        priced.append(result)
        if note and note not in notes:
            notes.append(note)
    far = sorted({p.far for p in priced if p.far})
    if far:
        notes.append(f"every card used for {', '.join(far)}")
    return ScopePrice(
        lines=tuple(priced),
        gaps=tuple(dict.fromkeys(missing)),
        low=sum((p.low for p in priced), ZERO),
        rep_low=sum((p.rep_low for p in priced), ZERO),
        rep_high=sum((p.rep_high for p in priced), ZERO),
        high=sum((p.high for p in priced), ZERO),
        notes=tuple(notes),
    )


def price_owned(
    lines: Sequence[CostLine],
    gaps: Sequence[Unpriced],
    book: PriceBook,
    dates: dict[str, date],
    claim_date: date | None,
    owned: Mapping[tuple[str, str], tuple[Decimal, Decimal, Decimal]],
    owned_rates: Mapping[str, OwnedRate],
) -> ScopePrice:
    """A scope on the owned basis: each run's GPU-hours at the owned cost of its hardware, with
    the central estimate (every input at the midpoint of its range) as the representative price
    and the cheapest purchase and longest lifetime to the dearest purchase and shortest lifetime
    as the range; everything else at the near cards as on the rental basis. GPU-hours on a
    device with no purchase price or power figure are a gap."""
    return price_scope(lines, gaps, book, dates, claim_date, (), owned_rates, owned)


def _owned_shares(
    lines: Sequence[CostLine],
    owned: Mapping[tuple[str, str], tuple[Decimal, Decimal, Decimal]],
) -> dict[int, tuple[Decimal, Decimal, Decimal]]:
    """Each GPU line's share of its run's owned cost on its device model (by quantity)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, line in enumerate(lines):
        if is_gpu_line(line) and (line.run, line.resource) in owned:
            groups.setdefault((line.run, line.resource), []).append(i)
    out: dict[int, tuple[Decimal, Decimal, Decimal]] = {}
    for key, members in groups.items():
        low, mid, high = owned[key]
        even = Decimal(1) / len(members)
        q_low = sum(dec(lines[i].quantity_low) for i in members)
        q_mid = sum(dec(lines[i].quantity) for i in members)
        q_high = sum(dec(lines[i].quantity_high) for i in members)
        for i in members:
            line = lines[i]
            out[i] = (
                low * (dec(line.quantity_low) / q_low if q_low else even),
                mid * (dec(line.quantity) / q_mid if q_mid else even),
                high * (dec(line.quantity_high) / q_high if q_high else even),
            )
    return out


def _owned_line(
    line: CostLine, cost: tuple[Decimal, Decimal, Decimal] | None, rate: OwnedRate | None
) -> tuple[LinePrice | None, str | None]:
    if cost is None:
        return None, (
            f"{line.resource}: no purchase price or power figure, the owned basis cannot price it"
        )
    low, central, high = cost
    words = f"the owned cost of {line.resource}" + (
        f" ({usd(rate.usd, places=2)}/GPU-hour central, {_rate(rate)})" if rate else ""
    )
    q = dec(line.quantity)
    per_hour = central / q if q else None
    return (
        LinePrice(
            line,
            low=low,
            rep_low=per_hour * dec(line.quantity_low) if per_hour is not None else central,
            rep_high=per_hour * dec(line.quantity_high) if per_hour is not None else central,
            high=high,
            rep_price=per_hour,
            basis=words,
            owned=True,
        ),
        None,
    )


def _gap_words(gap: Unpriced) -> str:
    what = f"{gap.run}: {gap.resource} ({gap.unit.value})"
    return what + (" inherited" if gap.inherited else "") + ", not quantified"
