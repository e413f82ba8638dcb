"""Building cost reports and case audits from a ledger and a price book."""

from __future__ import annotations

from decimal import Decimal

from ledger.costs import by_category, group_lines, in_scope, price_lines, scope_costs, unpriced
from ledger.energy import build_bases, subject_scope
from ledger.prices import PriceBook, bundled_cards
from ledger.report import Audit, CostLine, CostReport, Grouping, HeadlineCheck, ScopeCost, Unpriced
from ledger.schema import Case, HeadlineFigure, Unit
from ledger.store import Ledger


def price_book(ledger: Ledger) -> PriceBook:
    """The bundled cards plus those the user added to this ledger (same id: the user's wins)."""
    return PriceBook([*bundled_cards(), *ledger.price_cards()])


def _lines(ledger: Ledger, subject: str, book: PriceBook) -> tuple[list[str], list[CostLine]]:
    lineage = [s.id for s in ledger.lineage(subject)]
    return lineage, price_lines(ledger.usage_totals(lineage), book, subject)


def _unpriced(ledger: Ledger, lineage: list[str], lines: list[CostLine]) -> list[Unpriced]:
    runs = {run.id: run for s in lineage for run in ledger.runs(s)}
    missing = [
        (u, runs[u.run].subject, runs[u.run].category)
        for u in ledger.unquantified(lineage)
        if u.run in runs
    ]
    return unpriced(lines, missing, lineage[0])


def _cards_used(lines: list[CostLine]) -> list[str]:
    return sorted({card for line in lines for card in line.cards})


def build_report(
    ledger: Ledger,
    subject: str,
    by: Grouping = "category",
    book: PriceBook | None = None,
    region: str | None = None,
) -> CostReport:
    """Costs of a subject and its ancestors, grouped by category, stage or run, with its scopes
    (and everything the subject recorded) on the rental and owned bases, energy and emissions
    (``region``: where the compute ran, for electricity prices and grid intensity).

    Raises:
        NotFoundError: the subject is not in the ledger.
    """
    book = book or price_book(ledger)
    lineage, lines = _lines(ledger, subject, book)
    if by == "category":
        groups = by_category(lines)
    else:
        groups = group_lines(lines, lambda line: line.stage if by == "stage" else line.run)
    missing = _unpriced(ledger, lineage, lines)
    scopes = ledger.scopes(subject)
    return CostReport(
        subject=subject,
        lineage=lineage,
        by=by,
        groups=groups,
        scopes=scope_costs(lines, scopes, missing),
        unpriced=missing,
        price_cards=_cards_used(lines),
        bases=build_bases(lines, [*scopes, subject_scope(subject)], book, region),
    )


def build_audit(ledger: Ledger, case: Case, book: PriceBook | None = None) -> Audit:
    """The audit of a recorded case: categories, scopes, published figures and gaps."""
    book = book or price_book(ledger)
    lineage, lines = _lines(ledger, case.subject, book)
    defined = ledger.scopes(case.subject)
    missing = _unpriced(ledger, lineage, lines)
    scopes = scope_costs(lines, defined, missing)
    by_id = {s.scope: s for s in scopes}
    scope_lines = {s.id: [line for line in lines if in_scope(line, s)] for s in defined}
    checks = [
        _headline(figure, by_id[figure.scope], scope_lines.get(figure.scope, []))
        for figure in ledger.headline_figures(case.subject)
        if figure.scope in by_id
    ]
    return Audit(
        case=case.id,
        title=case.title,
        subject=case.subject,
        lineage=lineage,
        categories=by_category(lines),
        scopes=scopes,
        headline_figures=checks,
        unpriced=missing,
        price_cards=_cards_used(lines),
        ledger_head=ledger.head()[1],
        bases=build_bases(lines, defined, book, case.region),
    )


def _headline(figure: HeadlineFigure, scope: ScopeCost, lines: list[CostLine]) -> HeadlineCheck:
    usd = figure.usd
    position = (
        "below" if usd < scope.cost_usd_low else "above" if usd > scope.cost_usd_high else "within"
    )
    gpu = [line for line in lines if line.unit is Unit.GPU_HOUR and line.cost_usd_low is not None]
    implied = None
    if scope.gpu_hours:
        implied = usd / Decimal(repr(scope.gpu_hours))
    low = high = None
    if gpu:
        low = min(
            line.cost_usd_low / Decimal(repr(line.quantity_low))
            for line in gpu
            if line.cost_usd_low is not None and line.quantity_low
        )
        high = max(
            line.cost_usd_high / Decimal(repr(line.quantity_high))
            for line in gpu
            if line.cost_usd_high is not None and line.quantity_high
        )
    return HeadlineCheck(
        id=figure.id,
        usd=usd,
        said_by=figure.said_by,
        quote=figure.quote,
        citation=figure.citation,
        scope=scope.scope,
        scope_cost_usd_low=scope.cost_usd_low,
        scope_cost_usd_high=scope.cost_usd_high,
        position=position,
        implied_usd_per_gpu_hour=implied,
        card_usd_per_gpu_hour_low=low,
        card_usd_per_gpu_hour_high=high,
        scope_upper_bound_only=scope.upper_bound_only,
    )
