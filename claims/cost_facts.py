"""What cost verdicts read from the ledger: one subject's lineage, scopes, dated runs and prices
on the rental and owned bases (:class:`SubjectCosts`), read once per subject by
:class:`LedgerCosts`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ledger.audit import build_report, price_book
from ledger.costs import in_scope
from ledger.energy import OwnedRate, owned_lines, owned_rate
from ledger.prices import PriceBook
from ledger.report import CostLine, Unpriced
from ledger.schema import HeadlineFigure, Scope, Unit
from ledger.store import Ledger


@dataclass(frozen=True)
class SubjectCosts:
    """What cost verdicts read from the ledger for one subject (its lineage, scopes, prices)."""

    subject: str
    scopes: tuple[Scope, ...]
    lines: tuple[CostLine, ...]
    """Cost lines of the subject and its ancestors."""
    gaps: tuple[Unpriced, ...]
    """Usages of the subject and its ancestors that nobody quantified or priced."""
    dates: dict[str, date]
    """The day each dated run's work was done (its end, else its start)."""
    book: PriceBook
    figures: tuple[HeadlineFigure, ...] = ()
    """Dollar figures published about the subject."""
    region: str | None = None
    """Where the compute ran (the case's ``region``), for the owned basis's electricity."""
    owned: dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]] = field(default_factory=dict)
    """The owned basis of each run's GPU-hours per device model, (run, resource) to (low,
    central, high) US dollars, the ancestors' included; absent where no purchase price or power
    figure."""
    owned_rates: dict[str, OwnedRate] = field(default_factory=dict)
    """The owned basis per GPU-hour of each device model the lineage uses, where priceable."""

    def scope(self, scope: Scope) -> tuple[list[CostLine], list[Unpriced]]:
        """The lines and gaps a scope counts."""
        return (
            [line for line in self.lines if in_scope(line, scope)],
            [gap for gap in self.gaps if in_scope(gap, scope)],
        )

    def inherited(self) -> tuple[list[CostLine], list[Unpriced]]:
        """The ancestors' lines and gaps."""
        return [x for x in self.lines if x.inherited], [g for g in self.gaps if g.inherited]


def subject_costs(ledger: Ledger, subject: str, region: str | None = None) -> SubjectCosts:
    """Read one subject's costs (reads the ledger); ``region`` is where its compute ran.

    Raises:
        NotFoundError: the subject is not in the ledger.
    """
    book = price_book(ledger)
    report = build_report(ledger, subject, "category", book)
    dates = {}
    for ancestor in report.lineage:
        for run in ledger.runs(ancestor):
            when = run.ended_at or run.started_at
            if when is not None:
                dates[run.id] = when.date()
    lines = tuple(line for group in report.groups for line in group.lines)
    owned: dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]] = {}
    zero = Decimal(0)
    for o in owned_lines(lines, book, region):
        low, mid, high = owned.get((o.run, o.resource), (zero, zero, zero))
        central = o.cost_usd if o.cost_usd is not None else (o.cost_usd_low + o.cost_usd_high) / 2
        owned[(o.run, o.resource)] = (
            low + o.cost_usd_low,
            mid + central,
            high + o.cost_usd_high,
        )
    gpus = {x.resource for x in lines if x.unit is Unit.GPU_HOUR}
    rates = {r: rate for r in sorted(gpus) if (rate := owned_rate(book, r, region)) is not None}
    return SubjectCosts(
        subject=subject,
        scopes=tuple(ledger.scopes(subject)),
        lines=lines,
        gaps=tuple(report.unpriced),
        dates=dates,
        book=book,
        figures=tuple(ledger.headline_figures(subject)),
        region=region,
        owned=owned,
        owned_rates=rates,
    )


class LedgerCosts:
    """Subjects' costs and every published figure, read from one ledger once each."""

    def __init__(self, ledger: Ledger, regions: Mapping[str, str | None] | None = None) -> None:
        """``regions``: where each subject's compute ran (from its case), where known."""
        self.ledger = ledger
        self.regions = dict(regions or {})
        self._subjects: dict[str, SubjectCosts] = {}
        self._figures: list[HeadlineFigure] | None = None

    def subject(self, subject: str) -> SubjectCosts:
        """One subject's costs.

        Raises:
            NotFoundError: the subject is not in the ledger.
        """
        if subject not in self._subjects:
            region = self.regions.get(subject)
            self._subjects[subject] = subject_costs(self.ledger, subject, region)
        return self._subjects[subject]

    def figures(self) -> list[HeadlineFigure]:
        """Dollar figures published about any subject in the ledger."""
        if self._figures is None:
            self._figures = [
                f for s in self.ledger.subjects() for f in self.ledger.headline_figures(s.id)
            ]
        return self._figures
