"""Cost assertions: a dollar bound against the subject's cost scopes, priced for the claim.

:mod:`claims.cost_facts` reads the ledger once per subject; :func:`check_cost` is pure. The rules,
with their reasons, are in docs/claims.md ("Cost assertions"):

* each scope is priced with the cards dated near the work and, where the claim states one, the
  claimant's price basis (:mod:`claims.pricing`); what nobody quantified or priced is a named gap,
  never $0;
* the bound *holds* under a scope where it holds at the representative price (the claimant's
  basis, else the median near card); it holds only at *extreme prices* where it needs the cheap
  end of the near cards; a scope with gaps gives only a *lower bound*, and money published as
  "under $Y" only an *upper bound*: either can refute "under $Z", never support it; a scope where
  nothing has a cost is *unquantified*;
* the words are read against the scope they state, else the cost of producing the model: the
  narrowest own scope counting data and fine-tuning (and the subject's own pretraining, for a
  model trained from scratch). Where that reading leaves out an inherited base costing at least
  :data:`INHERITANCE_FACTOR` times the figure, the verdict is at best ``misleading``;
* a figure that fits only a narrower or a wider scope, or is another subject's (``figure_of``, or
  published about a subject of the claim's cases), is ``misleading``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from decimal import Decimal
from typing import Literal, NamedTuple

from claims.cost_bases import (
    BASIS_NAMES,
    PUBLISHED,
    basis_check,
    basis_words,
    bound_status,
    every_basis,
    on_basis,
    representative,
    scope_prices,
    usd_range,
)
from claims.cost_facts import LedgerCosts, SubjectCosts
from claims.cost_text import (
    price_needed,
    scope_evidence,
    scope_figure,
    scope_gaps,
    scope_span,
    scope_spans,
)
from claims.decide import most_serious
from claims.errors import ClaimInputError, UnknownNameError, unknown
from claims.files import LoadedClaim
from claims.pricing import ScopePrice
from claims.registry import name_key
from claims.report import AssertionVerdict, DecidedBy, ScopeCheck, Verdict
from claims.schema import CostAssertion, CostBound
from ledger.costs import INFORMATIONAL_UNITS, dec
from ledger.errors import NotFoundError
from ledger.money import usd
from ledger.prices import PriceBook
from ledger.report import CostLine, Unpriced
from ledger.schema import ABOUT_TOLERANCE, Category, HeadlineFigure, Scope, Unit

INHERITANCE_FACTOR = 10
"""Words about producing a model that leave out an inherited base costing at least this many
times the figure are at best misleading."""
_T = 1 + ABOUT_TOLERANCE
_HOLDING = ("holds", "extreme_prices")
Reading = Literal["stated", "implied", "narrower", "wider", "other", "other_subject"]


class _Decision(NamedTuple):
    """What decided a cost verdict (:attr:`AssertionVerdict.decided_by` and its scope)."""

    verdict: Verdict
    reason: str
    by: DecidedBy
    scope: ScopeCheck | None
    """The deciding check (``None``: another subject's figure, that subject has no scopes)."""
    subject: str
    """The deciding scope's subject (the figure's, where ``scope`` is ``None``)."""


_HINT = (
    "cost assertions need the subject's runs in the ledger: load its case "
    "(receipts load FILE) or name it under `case:`"
)


def cost_verdict(
    loaded: LoadedClaim,
    i: int,
    a: CostAssertion,
    costs: LedgerCosts | None,
    related: Collection[str] = (),
) -> AssertionVerdict:
    """A claim file's cost assertion against the ledger: the subject's scopes, the subject whose
    figure the words credit (``figure_of``), and the figures published about ``related`` subjects
    (those of the cases the claim names) that are about the claim's size.

    Raises:
        InputError: the subject or ``figure_of`` has no ledger entries, ``figure_of`` is the
            subject itself, the stated scope is unknown, or a basis names a resource the subject
            does not use, a vendor with no card for it, or one resource twice (file, line,
            column and field named).
    """
    claim = loaded.claim
    if costs is None:
        raise ClaimInputError(f"{loaded.where('subject')}field subject: {_HINT}")
    try:
        facts = costs.subject(claim.subject)
    except NotFoundError as exc:
        raise ClaimInputError(f"{loaded.where('subject')}field subject: {exc}; {_HINT}") from None
    used = {(x.resource, x.unit) for x in facts.lines} | {(g.resource, g.unit) for g in facts.gaps}
    check_basis(loaded, i, a, used, facts.book)
    elsewhere = []
    if a.figure_of is not None:
        where = f"{loaded.where('assertions', i, 'figure_of')}field assertions[{i}].figure_of"
        if a.figure_of == claim.subject:
            raise ClaimInputError(f"{where}: names the claim's own subject")
        try:
            elsewhere.append(costs.subject(a.figure_of))
        except NotFoundError as exc:
            raise ClaimInputError(f"{where}: {exc}") from None
    lineage = {line.subject for line in facts.lines} | {claim.subject}
    for figure in costs.figures():
        known = lineage | {e.subject for e in elsewhere}
        if figure.subject in related and figure.subject not in known and _near(figure.usd, a.usd):
            elsewhere.append(costs.subject(figure.subject))
    try:
        return check_cost(a, facts, claim.source.date, elsewhere)
    except UnknownNameError as exc:
        where = loaded.where("assertions", i, "scope")
        raise ClaimInputError(f"{where}field assertions[{i}].scope: {exc}") from None


def check_basis(
    loaded: LoadedClaim,
    i: int,
    a: CostAssertion,
    used: Collection[tuple[str, Unit]],
    book: PriceBook,
) -> None:
    """A basis prices a resource the subject (or what it inherits) uses (``used``: resource and
    unit), once, with a vendor that has a card for it in ``book``.

    Raises:
        ClaimInputError: with the file, line, column and field.
    """
    seen: set[tuple[str, Unit]] = set()
    for j, b in enumerate(a.rates):
        where = f"{loaded.where('assertions', i, 'basis', j)}field assertions[{i}].basis[{j}]"
        key = (b.resource, b.unit)
        if key in seen:
            raise ClaimInputError(f"{where}: {b.resource} per {b.unit.value} is priced twice")
        seen.add(key)
        if key not in used:
            names = ", ".join(sorted({r for r, _ in used})) or "nothing"
            raise ClaimInputError(
                f"{where}.resource: the subject uses no {b.resource} per {b.unit.value} "
                f"(it uses {names})"
            )
        if b.vendor is not None:
            found = book.range(b.resource, b.unit)
            vendors = sorted({c.vendor for c in found.cards}) if found else []
            if name_key(b.vendor) not in {name_key(v) for v in vendors}:
                raise ClaimInputError(
                    f"{where}.vendor: no {b.vendor!r} card for {b.resource} "
                    f"(vendors: {', '.join(vendors) or 'none'})"
                )


def reading_scope(facts: SubjectCosts, stated: str | None) -> Scope:
    """The scope the words are checked against: the stated one, or producing the model.

    Raises:
        UnknownNameError: the stated scope is not defined for the subject.
    """
    if stated is not None:
        for s in facts.scopes:
            if s.id == stated:
                return s
        raise unknown("scope", stated, [s.id for s in facts.scopes])
    needs = {Category.DATA, Category.FINE_TUNING}
    if any(x.category is Category.PRETRAINING and not x.inherited for x in facts.lines):
        needs.add(Category.PRETRAINING)  # trained from scratch: its own pretraining produced it
    own = [s for s in facts.scopes if not s.include_inherited]
    whole = [s for s in own if s.runs is None and not s.resource_prefixes]
    if covering := [s for s in whole if set(s.categories) >= needs]:
        return min(covering, key=lambda s: len(s.categories))
    # never a scope restricted to some runs or resources, unless there is nothing else
    return max(whole or own or facts.scopes, key=lambda s: len(s.categories))


def recorded_scope(facts: SubjectCosts, a: CostAssertion) -> tuple[Scope, HeadlineFigure] | None:
    """Where the ledger records a published figure of this size for the subject over a scope that
    counts its inherited base (DeepSeek-V3's $5.576M covers V3-Base's pretraining too): that
    scope, which the words then mean, and the figure."""
    wide = {s.id: s for s in facts.scopes if s.include_inherited}
    for f in facts.figures:
        if f.scope in wide and f.usd / _T <= a.usd <= f.usd * _T:
            return wide[f.scope], f
    return None


def _is_narrower(s: Scope, than: Scope) -> bool:
    if s is than or s.include_inherited:
        return False
    cats, base = set(s.categories), set(than.categories)
    restricted = s.runs is not None or bool(s.resource_prefixes)
    return cats < base or (cats == base and restricted)


def _is_wider(s: Scope, than: Scope) -> bool:
    if s is than or s.runs is not None or s.resource_prefixes:
        return False
    cats, base = set(s.categories), set(than.categories)
    more = cats > base or (s.include_inherited and not than.include_inherited)
    return cats >= base and more


def check_cost(
    a: CostAssertion,
    facts: SubjectCosts | None,
    claim_date: date | None = None,
    elsewhere: Sequence[SubjectCosts] = (),
) -> AssertionVerdict:
    """The verdict on a dollar bound. ``elsewhere`` holds the subjects whose figure the words may
    be using (``figure_of``, or a subject of the claim's cases that published a figure of that
    size)."""
    words = f"{a.bound.value.replace('_', ' ')} {usd(a.usd)}"
    if facts is None or not facts.scopes:
        return _verdict(
            a,
            Verdict.UNVERIFIABLE,
            f"{words}: no cost scopes are recorded for the subject",
            [],
            ["the ledger defines no scopes for the subject: add them to its case file"],
        )
    target = reading_scope(facts, a.scope)
    recorded = None if a.scope else recorded_scope(facts, a)
    if recorded is not None:
        target = recorded[0]
    checks = [_check(a, facts, s, _reading(a, s, target), claim_date) for s in facts.scopes]
    main = next(c for c in checks if c.scope == target.id)
    others = [
        _check(a, other, s, "other_subject", claim_date)
        for other in elsewhere
        for s in other.scopes
    ]
    matches = [f for other in elsewhere for f in other.figures if _near(f.usd, a.usd)]
    decision = _decide(a.usd, words, main, checks, others, matches)
    verdict, reason = decision.verdict, basis_words(main, decision.reason)
    evidence = [every_basis(main), *(scope_evidence(c) for c in [*checks, *others])]
    if recorded is not None:
        f = recorded[1]
        evidence.insert(
            0,
            f"the ledger records {usd(f.usd)} ({f.said_by}, {f.citation}) as covering "
            f"{target.label}, which counts the inherited base: the words are read against it",
        )
    if a.scope is None and not target.include_inherited:
        own = facts.scope(target)
        quiet = decision.by == "other_subject"
        raised, reason = _inheritance(a, facts, own, claim_date, verdict, reason, evidence, quiet)
        if raised is not verdict:  # the inherited base made it misleading
            decision = _Decision(raised, reason, "inherited_base", main, main.subject)
    return _verdict(a, decision.verdict, reason, [*checks, *others], evidence, decision)


def _near(figure: Decimal, y: Decimal) -> bool:
    """Whether a published figure is "about" the claim's."""
    return figure / _T <= y <= figure * _T


def _reading(a: CostAssertion, s: Scope, target: Scope) -> Reading:
    if s is target:
        return "stated" if a.scope else "implied"
    if _is_narrower(s, target):
        return "narrower"
    return "wider" if _is_wider(s, target) else "other"


def _check(
    a: CostAssertion, facts: SubjectCosts, s: Scope, reading: Reading, claim_date: date | None
) -> ScopeCheck:
    """The scope on every basis; its figures and status are those of the basis the words mean
    (:attr:`CostAssertion.judged_basis`)."""
    lines, gaps = facts.scope(s)
    priced = scope_prices(a, facts, lines, gaps, claim_date)
    kind = a.judged_basis
    p = priced[kind]
    gpu = _gpu_numbers(a, p)
    return ScopeCheck(
        scope=s.id,
        subject=facts.subject,
        label=s.label,
        reading=reading,
        status=bound_status(a.bound, a.usd, p),
        cost_usd_low=p.low,
        cost_usd_high=p.high,
        representative_usd_low=p.rep_low,
        representative_usd_high=p.rep_high,
        representative=representative(p, claim_date),
        gpu_hours=p.gpu_hours,
        gaps=list(p.gaps),
        notes=list(p.notes),
        basis=kind.value,
        bases=[basis_check(k, a, q, facts, claim_date) for k, q in priced.items()],
        upper_bound_only=bool(p.lines) and all(x.line.upper_bound_only for x in p.lines),
        **gpu,
    )


def _gpu_numbers(a: CostAssertion, p: ScopePrice) -> dict[str, Decimal | int | None]:
    """$/GPU-hour figures and the count of near cards at which the bound holds, for scopes
    priced by GPU-hours of one resource (elsewhere they mean nothing)."""
    none: dict[str, Decimal | int | None] = {
        "implied_usd_per_gpu_hour": None,
        "representative_usd_per_gpu_hour": None,
        "card_usd_per_gpu_hour_low": None,
        "card_usd_per_gpu_hour_high": None,
        "cards_within": None,
        "cards_total": None,
    }
    if not p.gpu_only or not p.gpu_hours:
        return none
    q_high = sum(dec(x.line.quantity_high) for x in p.lines)
    q_mid = dec(p.gpu_hours)
    near = {c.id: c.usd_per_unit for x in p.lines for c in x.near}
    out = dict(none)
    out["implied_usd_per_gpu_hour"] = a.usd / q_mid
    out["representative_usd_per_gpu_hour"] = p.rep_high / q_high if q_high else None
    if near:
        prices = near.values()
        out["card_usd_per_gpu_hour_low"] = min(prices)
        out["card_usd_per_gpu_hour_high"] = max(prices)
        out["cards_total"] = len(near)
        out["cards_within"] = sum(
            1 for price in prices if _within(a, price * q_high, price * q_mid)
        )
    return out


def _within(a: CostAssertion, high: Decimal, mid: Decimal) -> bool:
    if a.bound is CostBound.ABOUT:
        return mid / _T <= a.usd <= mid * _T
    return high < a.usd if a.bound is CostBound.UNDER else high <= a.usd


def _decide(
    y: Decimal,
    words: str,
    main: ScopeCheck,
    checks: list[ScopeCheck],
    others: list[ScopeCheck],
    matches: list[HeadlineFigure],
) -> _Decision:
    """The verdict, its reason and the rule and scope that decided it, from the scopes'
    statuses (the first rule that applies, in the order below)."""
    narrower = [c for c in checks if c.reading == "narrower"]
    wider = [c for c in checks if c.reading == "wider"]
    held = [c for c in narrower if c.status in _HOLDING]
    own = " (the source's own published figures, not independently checked)"
    if main.status == "holds":
        text = f"{words} holds for {scope_span(main)}"
        text += own if main.representative == PUBLISHED else ""
        return _Decision(Verdict.SUPPORTED, text, "main", main, main.subject)
    if main.status == "extreme_prices":
        text = f"{words} holds for {main.label} only at {price_needed(main)}"
        return _Decision(Verdict.MISLEADING, text, "main", main, main.subject)
    # a figure refuted on the basis the words mean, true on another (the owned cost, say)
    if main.status == "fails" and (
        alt := [b for b in main.bases if b.basis != main.basis and b.status == "holds"]
    ):
        text = (
            f"{words} holds only on {'; '.join(on_basis(b) for b in alt)}; not on the "
            f"{BASIS_NAMES[main.basis]} basis the words mean: {scope_span(main)}"
        )
        return _Decision(Verdict.MISLEADING, text, "other_basis", main, main.subject)
    if held:
        how = "; not for" if main.status == "fails" else "; for"
        rest = {
            "fails": f"{scope_span(main)}, which the words imply",
            "lower_bound": f"{main.label}, which the words imply, also counts {scope_gaps(main)}",
            "upper_bound": f"{main.label}, which the words imply, only upper bounds are known",
            "unquantified": f"{main.label}, which the words imply, nothing has a cost",
        }[main.status]
        text = f"{words} holds only for {scope_spans(held)}{how} {rest}"
        return _Decision(Verdict.MISLEADING, text, "narrower", held[0], held[0].subject)
    theirs = [c for c in others if c.status in (*_HOLDING, "lower_bound")]
    whose = [f"{f.subject}'s {usd(f.usd)} ({f.said_by}, {f.citation})" for f in matches] or [
        scope_spans(theirs, subject=True)
    ]
    text = f"{words} is another subject's figure: {'; '.join(whose)}; not {scope_span(main)}"
    borrowed = _borrowed(text, others, theirs, matches)
    # a figure another subject published explains a refuted one before a wider scope that
    # only a lower bound fits
    if main.status == "fails" and matches and borrowed is not None:
        return borrowed
    # a wider or another subject's scope whose known part fits is enough to mislead
    if main.status == "fails" and (
        fits := [c for c in wider if c.status in (*_HOLDING, "lower_bound")]
    ):
        text = (
            f"{words} fits only {scope_spans(fits)}, wider than the words imply; "
            f"not {scope_span(main)}"
        )
        return _Decision(Verdict.MISLEADING, text, "wider", fits[0], fits[0].subject)
    if borrowed is not None:
        return borrowed
    if main.status == "unquantified":
        text = (
            f"{words}: nothing in {main.label} has a cost ({scope_gaps(main)}); missing is not $0"
        )
        return _Decision(Verdict.UNVERIFIABLE, text, "main", main, main.subject)
    if main.status in ("lower_bound", "upper_bound"):
        missing = (
            f"{main.label} also counts {scope_gaps(main)}"
            if main.status == "lower_bound"
            else f"{main.label} is known only as published upper bounds (up to "
            f"{usd(main.cost_usd_high)}), which say nothing of how much less it cost"
        )
        text = (
            f"{words} is consistent with what is known of {scope_span(main)}, but {missing}: that "
            "cannot support it"
        )
        return _Decision(Verdict.INCONCLUSIVE, text, "main", main, main.subject)
    priced = [c for c in (main, *narrower, *wider) if c.status != "unquantified"]
    cheapest = min(priced, key=lambda c: c.cost_usd_low)
    text = f"{words} fails for {scope_span(main)}, and fits no other scope"
    if y < cheapest.cost_usd_low:
        text = (
            f"{words} is below every scope; the cheapest, {scope_span(cheapest)}, costs at least "
            f"{usd(cheapest.cost_usd_low)} at the cheapest near prices"
        )
    return _Decision(Verdict.NOT_SUPPORTED, text, "main", main, main.subject)


def _borrowed(
    text: str,
    others: Sequence[ScopeCheck],
    theirs: Sequence[ScopeCheck],
    matches: Sequence[HeadlineFigure],
) -> _Decision | None:
    """Another subject's figure, where the words use one (a published figure of their size, or
    a scope of theirs it fits): resting on the first scope of theirs it fits; else on the scope
    their published figure is about (else their first scope)."""
    if theirs:
        return _Decision(Verdict.MISLEADING, text, "other_subject", theirs[0], theirs[0].subject)
    if not matches:
        return None
    f = matches[0]
    same = [c for c in others if c.subject == f.subject]
    scope = next((c for c in same if c.scope == f.scope), same[0] if same else None)
    return _Decision(Verdict.MISLEADING, text, "other_subject", scope, f.subject)


def _inheritance(
    a: CostAssertion,
    facts: SubjectCosts,
    own: tuple[list[CostLine], list[Unpriced]],
    claim_date: date | None,
    verdict: Verdict,
    reason: str,
    evidence: list[str],
    quiet: bool = False,
) -> tuple[Verdict, str]:
    """Words about producing the model against what it inherited (the rule's docstring above).
    With ``quiet`` (the figure is another subject's) the base is named in the evidence only.

    Where neither the model's own work nor its base has a price, but both are counted in one
    resource (H800 GPU-hours), the comparison needs no price: at the rate the figure implies for
    the model's own work, the base costs (its quantity / the model's quantity) times the figure.
    That needs the model's own work complete (else the ratio is not a bound).
    """
    lines, gaps = facts.inherited()
    if not lines and not gaps:
        return verdict, reason
    p = scope_prices(a, facts, lines, gaps, claim_date)[a.judged_basis]
    bases = ", ".join(dict.fromkeys(x.subject for x in lines)) or "the base model"
    known = "at least " if p.gaps else ""
    if p.quantified:
        cost = f"{known}{usd_range(p.rep_low, p.rep_high)}"
        evidence.append(f"inherited from {bases} (not in the scope the words imply): {cost}")
        if p.rep_low < INHERITANCE_FACTOR * a.usd or quiet:
            return verdict, reason
        return (
            most_serious([verdict, Verdict.MISLEADING]),
            f"{reason}; the words speak of producing the model, and leave out the inherited "
            f"{bases}: {cost}, {known}{p.rep_low / a.usd:,.0f}x the figure",
        )
    own_lines, own_gaps = own
    kinds = {(x.resource, x.unit) for x in own_lines if x.unit not in INFORMATIONAL_UNITS}
    same = [x for x in lines if (x.resource, x.unit) in kinds]
    q_own = sum(x.quantity_high for x in own_lines if x.unit not in INFORMATIONAL_UNITS)
    if len(kinds) != 1 or not same or not q_own or any(g.quantity is None for g in own_gaps):
        evidence.append(f"inherited from {bases}: no cost ({'; '.join(p.gaps)})")
        return verdict, reason
    ratio = dec(sum(x.quantity_low for x in same) / q_own)
    resource, unit = next(iter(kinds))
    evidence.append(
        f"inherited from {bases}: {known}{ratio:,.1f} times the model's own {resource} "
        f"{unit.value}s, so {known}{ratio:,.1f}x the figure at the rate the figure implies"
    )
    if ratio < INHERITANCE_FACTOR or quiet:
        return verdict, reason
    return (
        most_serious([verdict, Verdict.MISLEADING]),
        f"{reason}; the words speak of producing the model, and leave out the inherited "
        f"{bases}: {known}{ratio:,.0f} times the model's own {resource} hours, so {known}"
        f"{ratio:,.0f}x the figure at whatever price makes the figure right",
    )


def _verdict(
    a: CostAssertion,
    verdict: Verdict,
    reason: str,
    checks: list[ScopeCheck],
    evidence: list[str],
    decision: _Decision | None = None,
) -> AssertionVerdict:
    return AssertionVerdict(
        id=a.id,
        kind="cost",
        text=a.text,
        verdict=verdict,
        reason=reason,
        numbers=[
            f"{c.subject + ': ' if c.reading == 'other_subject' else ''}{c.label}: "
            f"{scope_figure(c)} ({c.status.replace('_', ' ')})"
            for c in checks
        ],
        evidence=evidence,
        scopes=checks,
        decided_by=decision.by if decision else None,
        decided_scope=decision.scope.scope if decision and decision.scope else None,
        decided_subject=decision.subject if decision else None,
    )
