"""The verdict engine: every assertion of every claim, against the ledger and the registry.

:func:`check_claims` is the one entry point the commands call. It loads the cases the claims
name into the ledger (idempotently, like ``receipts audit``), reads each subject's cost scopes
once, and returns a :class:`~claims.report.CheckReport`. Everything else here is pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from claims import stats
from claims.compare import Context
from claims.comparison import check_comparison
from claims.cost_facts import LedgerCosts
from claims.costs import check_basis, cost_verdict
from claims.decide import most_serious
from claims.efficiency import check_data_efficiency
from claims.errors import ClaimInputError, unknown
from claims.files import LoadedClaim
from claims.items import ItemIndex, ItemResultsSource
from claims.quality import check_relative_quality
from claims.registry import Registry
from claims.report import AssertionVerdict, CheckReport, ClaimVerdict
from claims.schema import (
    ComparisonAssertion,
    CostAssertion,
    CostBound,
    DataEfficiencyAssertion,
)
from ledger.audit import price_book
from ledger.cases import load_case, record_case
from ledger.money import usd_exact
from ledger.schema import Case
from ledger.store import Ledger

DEFAULT_SEED = 20250131
"""Seed of the paired bootstrap unless one is given (s1's first arXiv day); stored in verdicts."""


def check_claim(
    loaded: LoadedClaim,
    ctx: Context,
    costs: LedgerCosts | None,
    related: Collection[str] = (),
) -> ClaimVerdict:
    """Every assertion of one claim; the claim's verdict is the most serious of them.
    ``related`` are the subjects of the cases the claim names (whose published figures a cost
    figure may be).

    Raises:
        InputError: a cost assertion about a subject with no ledger entries, or an unknown
            stated scope (with the file, line and column).
    """
    claim = loaded.claim
    date = claim.source.date
    model = ctx.registry.find_model(claim.subject, date)
    out = []
    for i, a in enumerate(claim.assertions):
        if isinstance(a, CostAssertion):
            out.append(cost_verdict(loaded, i, a, costs, related))
        elif isinstance(a, ComparisonAssertion):
            assert model is not None  # checked when the file was read
            out.append(check_comparison(ctx, a, model.id, date))
        elif isinstance(a, DataEfficiencyAssertion):
            out.append(check_data_efficiency(ctx, loaded, i, a))
        else:
            assert model is not None  # checked when the file was read
            out.append(check_relative_quality(ctx, a, model.id, date))
    names = _display_names(ctx, model.id if model else None, out, date)
    out = [
        v.model_copy(update={"label": _label(a, names)})
        for a, v in zip(claim.assertions, out, strict=True)
    ]
    return ClaimVerdict(
        id=claim.id,
        title=claim.title,
        subject=model.id if model else claim.subject,
        source=claim.source,
        verdict=most_serious(v.verdict for v in out),
        assertions=out,
        seed=ctx.seed,
        versions=stats.library_versions(),
        names=names,
    )


_BOUND_WORDS = {CostBound.UNDER: "under", CostBound.AT_MOST: "at most", CostBound.ABOUT: "about"}


def _label(assertion: object, names: dict[str, str]) -> str | None:
    """``under $50``, ``about $5,576,000``, ``rivals DeepSeek-R1``, ``beats o1-preview``: what an
    assertion checks, from its fields; ``None`` for kinds without a short reading."""
    if isinstance(assertion, CostAssertion):
        return f"{_BOUND_WORDS[assertion.bound]} {usd_exact(assertion.usd)}"
    if isinstance(assertion, ComparisonAssertion):
        if assertion.comparator:
            who = names.get(assertion.comparator, assertion.comparator)
        else:
            listed = ", ".join(names.get(c, c) for c in assertion.comparators or [])
            who = assertion.comparator_text or listed
        return f"{assertion.relation.value.replace('_', ' ')} {who}"
    return None


def _display_names(
    ctx: Context, subject: str | None, verdicts: Sequence[AssertionVerdict], on: dt.date | None
) -> dict[str, str]:
    """Registry display names of the models and benchmarks the verdicts name."""
    names = {}
    models = {subject} if subject else set()
    benches: set[str] = set()
    for a in verdicts:
        for c in a.comparators:
            models.add(c.comparator)
            benches.update(b.benchmark for b in c.benchmarks)
    for ident in sorted(models):
        found = ctx.registry.find_model(ident, on)
        if found is not None:
            names[ident] = found.name
    for ident in sorted(benches):
        bench = ctx.registry.benchmarks.get(ident)
        if bench is not None:
            names[ident] = bench.name
    return names


def check_claims(
    loaded: Sequence[LoadedClaim],
    registry: Registry,
    ledger: Ledger | None,
    items: ItemResultsSource | None = None,
    seed: int = DEFAULT_SEED,
    load_cases: bool = True,
) -> CheckReport:
    """Check claims; first load the cases they name into the ledger (idempotently), unless
    ``load_cases`` is false (the caller has loaded them).

    Raises:
        InputError: bad input found while checking (see :func:`check_claim`).
        LedgerError: a case cannot be loaded, or the ledger cannot be read.
    """
    cases = {
        name: load_case(_case_path(name, loaded))
        for name in dict.fromkeys(name for c in loaded for name in c.claim.cases)
    }
    if ledger is not None:
        _check_subjects(loaded, ledger, cases.values())
        if load_cases:
            for case in cases.values():
                record_case(ledger, case)
    ctx = Context(registry=registry, items=items or ItemIndex(), seed=seed)
    # where the cases say their compute ran: the owned basis's electricity price
    regions = {s.id: case.region for case in cases.values() for s in case.subjects}
    costs = LedgerCosts(ledger, regions) if ledger is not None else None
    verdicts = []
    for c in loaded:
        related = {s.id for name in c.claim.cases for s in cases[name].subjects}
        verdicts.append(check_claim(c, ctx, costs, related))
    return CheckReport(claims=verdicts)


def _check_subjects(loaded: Sequence[LoadedClaim], ledger: Ledger, cases: Iterable[Case]) -> None:
    """Before anything is written: every ``figure_of`` names a subject, and every stated
    ``scope`` a scope, of the ledger or of the cases to load; a basis about a subject of a case to
    load prices what that case uses."""
    cases = list(cases)
    book = price_book(ledger)
    defined = {s.id: case for case in cases for s in case.subjects}
    known = {s.id for s in ledger.subjects()} | {s.id for case in cases for s in case.subjects}
    scopes = {s.id for s in ledger.scopes()} | {s.id for case in cases for s in case.scopes}
    for c in loaded:
        for i, a in enumerate(c.claim.assertions):
            if isinstance(a, CostAssertion) and a.scope and a.scope not in scopes:
                raise ClaimInputError(
                    f"{c.where('assertions', i, 'scope')}field assertions[{i}].scope: "
                    f"{unknown('scope', a.scope, sorted(scopes))}"
                )
            if isinstance(a, CostAssertion) and a.rates and c.claim.subject in defined:
                case = defined[c.claim.subject]
                check_basis(c, i, a, {(u.resource, u.unit) for u in case.usages}, book)
            if isinstance(a, CostAssertion) and a.figure_of and a.figure_of not in known:
                raise ClaimInputError(
                    f"{c.where('assertions', i, 'figure_of')}field assertions[{i}].figure_of: "
                    f"{unknown('subject', a.figure_of, sorted(known))}; name its case under "
                    "`case:` too"
                )


def _case_path(case: str, loaded: Sequence[LoadedClaim]) -> str | Path:
    """A case file named relative to the claim file that names it, else a bundled name."""
    for c in loaded:
        if case in c.claim.cases:
            beside = Path(c.path).parent / case
            if beside.is_file():
                return beside
    return case
