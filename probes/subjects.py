"""The subject an import writes to, and what its runs cost: shared by ``receipts import api-log``,
``label-studio``, ``sacct`` and the labelling timer. The subject check, the subject records to
write before the runs, and the cost of the runs written, as the ledger's own report computes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from ledger.errors import InputError, NotFoundError
from ledger.report import Usd
from ledger.schema import Id, Subject

if TYPE_CHECKING:
    from ledger.store import Ledger


def check_subject(subject: str) -> None:
    """Raise :class:`InputError` where ``subject`` is not a valid ledger id."""
    try:
        TypeAdapter(Id).validate_python(subject)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InputError(f"--subject: {message}") from None


def subject_records(ledger: Ledger, subject: str, create: bool) -> list[Subject]:
    """The subject records an import writes before its runs.

    Returns:
        ``[]`` where the subject exists; a bare one (id and name) where it does not and
        ``create`` (``--create-subject``) is on.

    Raises:
        NotFoundError: the subject does not exist and ``create`` is off.
    """
    try:
        ledger.subject(subject)
    except NotFoundError as exc:
        if not create:
            raise NotFoundError(
                f"{exc}: load a case that defines it, or pass --create-subject"
            ) from None
        return [Subject(id=subject, name=subject)]
    return []


class RunCost(BaseModel):
    """What the ledger's report makes of one run: its cost range and what it cannot price."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    run: str
    """Run id."""
    cost_usd_low: Usd
    """Sum of the run's priced lines at the cheapest cards."""
    cost_usd_high: Usd
    """Sum at the dearest cards."""
    unpriced: int
    """Usages of the run without a card or without a quantity: missing from the sums, not 0."""
    cards: list[str]
    """Ids of the cards applied."""


def costs_of_runs(ledger: Ledger, subject: str, runs: Iterable[str]) -> dict[str, RunCost]:
    """The cost of each run as ``receipts report --by run`` shows it: the ledger's own price
    book and arithmetic (:func:`ledger.audit.build_report`), never a second copy of it.

    A run the report has no line for (nothing priced or quantified yet) costs 0 with no cards.
    """
    from ledger.audit import build_report

    report = build_report(ledger, subject, "run")
    groups = {g.key: g for g in report.groups}
    out = {}
    for run in runs:
        group = groups.get(run)
        out[run] = RunCost(
            run=run,
            cost_usd_low=group.cost_usd_low if group else Decimal(0),
            cost_usd_high=group.cost_usd_high if group else Decimal(0),
            unpriced=sum(1 for u in report.unpriced if u.run == run),
            cards=sorted({c for line in group.lines for c in line.cards}) if group else [],
        )
    return out
