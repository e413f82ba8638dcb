"""What cost verdicts read from the ledger: one subject's lineage, scopes, dated runs and prices
(:class:`SubjectCosts`), read once per subject by :class:`LedgerCosts`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ledger.audit import build_report, price_book
from ledger.costs import in_scope
from ledger.prices import PriceBook
from ledger.report import CostLine, Unpriced
from ledger.schema import HeadlineFigure, Scope
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

    def scope(self, scope: Scope) -> tuple[list[CostLine], list[Unpriced]]:
        """The lines and gaps a scope counts."""
        return (
            [line for line in self.lines if in_scope(line, scope)],
            [gap for gap in self.gaps if in_scope(gap, scope)],
        )

    def inherited(self) -> tuple[list[CostLine], list[Unpriced]]:
        """The ancestors' lines and gaps."""
        return [x for x in self.lines if x.inherited], [g for g in self.gaps if g.inherited]


def subject_costs(ledger: Ledger, subject: str) -> SubjectCosts:
    """Read one subject's costs (reads the ledger).

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
    return SubjectCosts(
        subject=subject,
        scopes=tuple(ledger.scopes(subject)),
        lines=tuple(line for group in report.groups for line in group.lines),
        gaps=tuple(report.unpriced),
        dates=dates,
        book=book,
        figures=tuple(ledger.headline_figures(subject)),
    )


class LedgerCosts:
    """Subjects' costs and every published figure, read from one ledger once each."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._subjects: dict[str, SubjectCosts] = {}
        self._figures: list[HeadlineFigure] | None = None

    def subject(self, subject: str) -> SubjectCosts:
        """One subject's costs.

        Raises:
            NotFoundError: the subject is not in the ledger.
        """
        if subject not in self._subjects:
            self._subjects[subject] = subject_costs(self.ledger, subject)
        return self._subjects[subject]

    def figures(self) -> list[HeadlineFigure]:
        """Dollar figures published about any subject in the ledger."""
        if self._figures is None:
            self._figures = [
                f for s in self.ledger.subjects() for f in self.ledger.headline_figures(s.id)
            ]
        return self._figures
