"""The verdict card's sentences for a cost verdict: the scope the verdict rests on, what it cost
on the price basis that decided, and the price per GPU-hour the figure needs.

:func:`resting_scope` reads the rule and the scope that decided the verdict from the verdict
itself (:attr:`~claims.report.AssertionVerdict.decided_by`, ``decided_scope`` and
``decided_subject``, recorded by :func:`claims.costs.check_cost`), so that the paragraph rates
the scope the verdict rests on, never merely the first one listed and never a guess at it.
"""

from __future__ import annotations

from dataclasses import dataclass

from claims.cost_bases import BASIS_NAMES, PUBLISHED
from claims.pricing import CHEAPER_THAN_OWNING, OWNER_PRICE
from claims.report import AssertionVerdict, BasisCheck, DecidedBy, ScopeCheck
from ledger.money import usd, usd_range

_HOLDING = ("holds", "extreme_prices")
_FITS = (*_HOLDING, "lower_bound")
_DETERMINERS = ("the ", "a ", "an ", "all ", "everything", "its ", "their ", "his ", "her ")
_BARE = frozenset({"all", "both", "each", "either", "any", "some", "none", "this", "that"})
"""Words that make no noun phrase alone: a scope labelled with one is named, not determined."""


@dataclass(frozen=True)
class Resting:
    """The scope a cost verdict rests on, and the rule that decided it."""

    scope: ScopeCheck | None
    """The scope the paragraph rates (``None`` only for another subject's published figure,
    where that subject defines no scopes)."""
    main: ScopeCheck | None
    """The scope the words state or imply (``None`` where the verdict lists none)."""
    why: DecidedBy
    """The rule that decided (:data:`claims.report.DecidedBy`)."""
    subject: str
    """Whose scope it is (another subject's, for ``other_subject``)."""
    basis: BasisCheck | None = None
    """For ``other_basis``: the first basis on which the figure holds."""


def the(label: str) -> str:
    """``the final fine-tuning run``; a label that starts with its own determiner, or with a
    verb (``generating the 52K demonstrations``), is left as it is; a label that is a bare
    determiner, with no noun to go with it, is quoted as a name (``the scope “all”``, never
    ``the all``)."""
    if label.strip().lower() in _BARE:
        return f"the scope “{label.strip()}”"
    first = label.split(" ", 1)[0]
    if label.lower().startswith(_DETERMINERS) or (first.endswith("ing") and "-" not in first):
        return label
    return f"the {label}"


def resting_scope(a: AssertionVerdict) -> Resting | None:
    """The scope and rule the cost verdict records as deciding it; ``None`` where it records
    none (no scopes, or a verdict written before the fields existed)."""
    if a.decided_by is None or a.decided_subject is None:
        return None
    main = next((s for s in a.scopes if s.reading in ("stated", "implied")), None)
    scope = next(
        (s for s in a.scopes if (s.subject, s.scope) == (a.decided_subject, a.decided_scope)),
        None,
    )
    if scope is None and a.decided_by != "other_subject":
        return None
    basis = None
    if a.decided_by == "other_basis" and scope is not None:
        alt = (b for b in scope.bases if b.basis != scope.basis and b.status == "holds")
        basis = next(alt, None)
    return Resting(scope, main, a.decided_by, a.decided_subject, basis)


def scope_cost(s: ScopeCheck) -> str:
    """What a scope cost, in words: "up to $500 by the source's own published figures",
    "$20.73–$85.21 across the prices of the time", "$5.58M at the claimant's $2/GPU-hour"."""
    if s.status == "unquantified":
        return "has no cost anyone quantified"
    least = "at least " if s.gaps else ""
    if s.representative == PUBLISHED:
        amount = usd_range(
            s.representative_usd_low,
            s.representative_usd_high,
            upper_bound_only=s.upper_bound_only,
        )
        return f"cost {least}{amount} by the source's own published figures"
    if s.basis == "rental":
        amount = usd_range(s.cost_usd_low, s.cost_usd_high, upper_bound_only=s.upper_bound_only)
        return f"cost {least}{amount} across the prices of the time"
    amount = usd_range(s.representative_usd_low, s.representative_usd_high)
    return f"cost {least}{amount} at {s.representative}{_claimant_words(s)}"


def _claimant_words(s: ScopeCheck) -> str:
    """Where a claimant's rate stands against the markets, in words, where it is below every
    rental card: an owner's price, or cheaper than owning the hardware."""
    if s.basis != "claimant":
        return ""
    low = s.card_usd_per_gpu_hour_low
    cards = f" ({usd(low)} at the cheapest)" if low is not None else ""
    if any(n.endswith(CHEAPER_THAN_OWNING) for n in s.notes):
        return f", below the rental cards{cards} and below what owning the GPUs costs"
    if any(n.endswith(OWNER_PRICE) for n in s.notes):
        return f", an owner's price below the rental cards{cards}"
    return ""


def _on_basis(b: BasisCheck) -> str:
    low, high = b.representative_usd_low, b.representative_usd_high
    return f"{usd_range(low, high)} on the {BASIS_NAMES[b.basis]} basis ({b.priced_by})"


def cards_held(within: int, total: int) -> str:
    """``the figure holds at none of the 2 price cards of the time``, ``… at only 3 of the 7``,
    ``… at all 7``; ``does not hold at the one price card`` where there is one."""
    if total == 1:
        verb = "holds" if within else "does not hold"
        return f"the figure {verb} at the one price card of the time"
    if within == 0:
        count = f"none of the {total}"
    elif within == total:
        count = f"all {total}"
    else:
        count = f"only {within} of the {total}"
    return f"the figure holds at {count} price cards of the time"


def rate_sentence(s: ScopeCheck) -> str | None:
    """The price per GPU-hour the figure needs against the rental cards of the time, where the
    scope pays for GPU-hours of one kind."""
    rate, low = s.implied_usd_per_gpu_hour, s.card_usd_per_gpu_hour_low
    within, total = s.cards_within, s.cards_total
    if rate is None or low is None or not total or within is None:
        return None
    if s.basis != "rental" and s.status in _HOLDING:
        return (
            f"It needs {usd(rate)} per GPU-hour: rented at the prices of the time "
            f"({usd(low)} and up), {cards_held(within, total)}."
        )
    if rate < low and not within:
        every = f"every one of the {total} price cards" if total > 1 else "the one price card"
        return (
            f"It needs {usd(rate)} per GPU-hour, cheaper than {every} of the time "
            f"({'the cheapest: ' if total > 1 else ''}{usd(low)})."
        )
    typical = s.representative_usd_per_gpu_hour
    if typical is not None and within < total:
        return (
            f"It needs {usd(rate)} per GPU-hour; the typical price was {usd(typical)}, and "
            f"{cards_held(within, total)}."
        )
    return None


def _inherited(reason: str) -> str | None:
    """The inherited base the words leave out, as the verdict's reason says it."""
    marker = "leave out the inherited "
    if marker not in reason:
        return None
    return reason.split(marker, 1)[1]


def cost_sentences(a: AssertionVerdict) -> list[str]:
    """Plain sentences for a cost verdict: the scope it rests on and what it cost on the basis
    that decided, the price per GPU-hour the figure needs, and what nobody priced."""
    rest = resting_scope(a)
    if rest is None:
        return [a.reason[0].upper() + a.reason[1:] + "."]
    s, main = rest.scope, rest.main
    out = [_resting_sentence(rest)]
    if rest.why == "inherited_base" and (base := _inherited(a.reason)):
        out.append(f"The words speak of producing the model, and leave out the inherited {base}.")
    rated = {"other_basis": main, "other_subject": None, "wider": None}.get(rest.why, s)
    if rated is not None and (rate := rate_sentence(rated)):
        out.append(rate)
    gaps = sorted({g for x in a.scopes if x.reading in ("implied", "stated") for g in x.gaps})
    if gaps:
        out.append(
            f"{len(gaps)} cost{'s' if len(gaps) > 1 else ''} nobody priced "
            f"({gaps[0]}{', …' if len(gaps) > 1 else ''}) would only add to the total."
        )
    return out


def _resting_sentence(rest: Resting) -> str:
    """The scope the verdict rests on and what it cost, set against the scope the words mean
    where another decided."""
    s, main = rest.scope, rest.main
    stated = main is not None and main.reading == "stated"
    described = "What the words state" if stated else "What the words describe"
    if rest.why == "other_subject" and (s is None or s.status not in _FITS):
        own = f", not {main.subject}'s" if main is not None else ""
        text = f"The figure is {rest.subject}'s{own}"
        if main is not None:
            text += f": {described.lower()}, {the(main.label)}, {scope_cost(main)}"
        return text + "."
    assert s is not None  # only another subject's figure may rest on no scope
    if rest.why in ("main", "inherited_base"):
        return f"{described}, {the(s.label)}, {scope_cost(s)}."
    if rest.why == "other_basis":
        assert rest.basis is not None  # the rule needs a basis on which it holds
        return (
            f"{described}, {the(s.label)}, {scope_cost(s)}; the figure holds only at "
            f"{_on_basis(rest.basis)}, not on the {BASIS_NAMES[s.basis]} basis the words mean."
        )
    whose = f"{s.subject}'s " if rest.why == "other_subject" else ""
    kind = {"narrower": "narrower than", "wider": "wider than", "other_subject": "not"}[rest.why]
    text = f"The figure fits {whose}{the(s.label)}, which {scope_cost(s)}"
    if main is not None:
        text += (
            f"; that is {kind} what the words describe, {the(main.label)}, which {scope_cost(main)}"
        )
    return text + "."
