"""Cost reports: the typed result every renderer (terminal, JSON, later Markdown/LaTeX/HTML) reads.

Nothing is computed while rendering: :func:`build_report` and :func:`build_audit` do the arithmetic
(through :mod:`ledger.costs`) and return frozen records. In JSON, dollar amounts are numbers
rounded to 1/10,000 of a dollar and GPU-hours numbers; ``None`` stays ``null``.
"""

from __future__ import annotations

from typing import Literal

from ledger.bases import Bases
from ledger.schema import SCHEMA_VERSION, Category, Provenance, Record, Unit, Usd

Grouping = Literal["category", "stage", "run"]


class CostLine(Record):
    """One priced (or unpriced) usage total of one run, resource and unit."""

    subject: str
    """Subject that consumed it."""
    inherited: bool
    """Whether it belongs to an ancestor of the audited subject."""
    category: Category
    """Cost category."""
    stage: str
    """Pipeline stage of the run."""
    run: str
    """Run id."""
    resource: str
    """Resource consumed."""
    unit: Unit
    """Unit of the quantities."""
    provenance: Provenance
    """How the quantity is known."""
    quantity: float
    """Central quantity."""
    quantity_low: float
    """Low end."""
    quantity_high: float
    """High end."""
    cost_usd_low: Usd | None
    """Low quantity times the cheapest card, ``None`` where no card applies."""
    cost_usd_high: Usd | None
    """High quantity times the dearest card, ``None`` where no card applies."""
    low_card: str | None
    """Id of the cheapest card."""
    high_card: str | None
    """Id of the dearest card."""
    cards: list[str]
    """Ids of every applicable card, cheapest first."""
    upper_bound_only: bool = False
    """Whether the amount is money published only as an upper bound ("under $500"): its
    ``cost_usd_low`` of 0 is an unknown low end, not a cost of $0 (renderers write "up to")."""


class CostGroup(Record):
    """Lines summed under one key (a category, a stage or a run)."""

    key: str
    """The category, stage or run id."""
    category: Category | None
    """The category, where the group is one."""
    inherited: bool
    """Whether every line is inherited from an ancestor."""
    cost_usd_low: Usd
    """Sum of the priced lines' low ends."""
    cost_usd_high: Usd
    """Sum of the priced lines' high ends."""
    gpu_hours: float | None
    """Central GPU-hours, ``None`` where the group has no GPU usage."""
    gpu_hours_low: float | None
    """Low GPU-hours."""
    gpu_hours_high: float | None
    """High GPU-hours."""
    provenance: list[Provenance]
    """Provenances of the lines, most direct first."""
    unpriced_lines: int
    """Lines that have no card (their cost is missing, not zero)."""
    lines: list[CostLine]
    """The lines summed."""
    upper_bound_only: bool = False
    """Whether every priced line is money published only as an upper bound ("under $500"), so
    that the low end is unknown, not $0 (renderers write "up to")."""


class ScopeCost(Record):
    """Total of one named scope."""

    scope: str
    """Scope id."""
    label: str
    """What the scope counts, in words."""
    categories: list[Category]
    """Categories counted."""
    include_inherited: bool
    """Whether ancestors' costs are counted."""
    cost_usd_low: Usd
    """Low total."""
    cost_usd_high: Usd
    """High total."""
    gpu_hours: float | None
    """Central GPU-hours in the scope."""
    gpu_hours_low: float | None
    """Low GPU-hours."""
    gpu_hours_high: float | None
    """High GPU-hours."""
    unpriced_lines: int
    """Lines in the scope without a card."""
    unquantified: int = 0
    """Usages in the scope that nobody quantified: missing from the totals, not zero."""
    upper_bound_only: bool = False
    """Whether every priced line is money published only as an upper bound ("under $500"), so
    that the low end is unknown, not $0 (renderers write "up to")."""


class Unpriced(Record):
    """A usage that carries no cost: no card applies, or nobody quantified it."""

    subject: str
    """Subject."""
    inherited: bool
    """Whether it belongs to an ancestor."""
    category: Category
    """Category."""
    run: str
    """Run id."""
    resource: str
    """Resource."""
    unit: Unit
    """Unit."""
    quantity: float | None
    """Quantity, ``None`` where never quantified."""
    reason: str
    """Why it has no cost."""
    citation: str | None = None
    """Where it is mentioned."""


class VerdictLine(Record):
    """One claim's verdict in one line, for the bottom line."""

    claim: str
    """Claim id."""
    verdict: str
    """The claim's verdict (``supported``, ``misleading``, ...: see ``claims.report.Verdict``)."""
    text: str
    """The line: the claim, its verdict and each assertion's."""


class BottomLine(Record):
    """What a report says first: two or three plain sentences with the deciding numbers, then
    one line per claim. Built by :func:`ledger.bottom_line.audit_bottom_line` (a case's audit),
    :func:`ledger.bottom_line.report_bottom_line` (a subject's own runs) and, with verdicts,
    :func:`claims.bottom_line.bottom_line`; every report format renders it first."""

    sentences: list[str]
    """The result in words: which figure covers which scope, the wider scopes, what is missing."""
    verdicts: list[VerdictLine] = []
    """One line per claim checked, in the order the claims were checked."""


class ReportTotal(Record):
    """A totals row of a cost report."""

    label: str
    """What it sums: the subject's own lines, or everything with the inherited ones."""
    inherited: bool
    """Whether ancestors' lines are included."""
    cost_usd_low: Usd
    """Sum of the priced lines' low ends."""
    cost_usd_high: Usd
    """Sum of the priced lines' high ends."""
    gpu_hours: float | None
    """Central GPU-hours, ``None`` where no line is in GPU-hours."""
    gpu_hours_low: float | None
    """Low GPU-hours."""
    gpu_hours_high: float | None
    """High GPU-hours."""
    unpriced_lines: int
    """Lines without a card: missing from the sums, not zero."""


class QuietRun(Record):
    """A finished run of the subject that recorded no GPU usage, or nothing at all."""

    run: str
    """Run id."""
    stage: str
    """Its stage."""
    status: str
    """Its status."""
    recorded_nothing: bool
    """Whether it recorded no usage of any kind (else: other usages, but no GPU time)."""
    why: str | None
    """Why no GPU usage was recorded, where the wrapper knew (NVML unavailable, no GPU visible)."""
    parent_run: str | None = None
    """The wrapped run it belongs to, whose GPU time covers it (a Trainer callback inside
    ``receipts run``)."""


class CostReport(Record):
    """Costs of one subject and its ancestors, grouped one way."""

    schema_version: int = SCHEMA_VERSION
    """Format version of this report."""
    subject: str
    """Subject audited."""
    lineage: list[str]
    """The subject and its ancestors, nearest first."""
    by: Grouping
    """How ``groups`` are keyed."""
    groups: list[CostGroup]
    """Cost per category, stage or run."""
    scopes: list[ScopeCost]
    """Totals of the subject's named scopes."""
    unpriced: list[Unpriced]
    """What carries no cost, and why."""
    price_cards: list[str]
    """Ids of every card used."""
    totals: list[ReportTotal] = []
    """The totals rows: own lines, then with the inherited ones where there are any."""
    quiet_runs: list[QuietRun] = []
    """Finished runs of the subject that recorded no GPU time, or nothing."""
    bottom_line: BottomLine | None = None
    """The result in words (:class:`BottomLine`)."""
    bases: Bases | None = None
    """Rental and owned price bases, energy and emissions (:mod:`ledger.bases`)."""


class HeadlineCheck(Record):
    """Where a published dollar figure falls on a scope's cost range."""

    id: str
    """Figure id."""
    usd: Usd
    """The published amount."""
    said_by: str
    """Who said it."""
    quote: str
    """Their words."""
    citation: str
    """Where."""
    scope: str
    """Scope it is compared with."""
    scope_cost_usd_low: Usd
    """The scope's low total."""
    scope_cost_usd_high: Usd
    """The scope's high total."""
    position: Literal["below", "within", "above"]
    """Where the figure falls on the scope's range."""
    implied_usd_per_gpu_hour: Usd | None
    """The figure divided by the scope's central GPU-hours."""
    card_usd_per_gpu_hour_low: Usd | None
    """Cheapest GPU-hour card applied in the scope."""
    card_usd_per_gpu_hour_high: Usd | None
    """Dearest GPU-hour card applied in the scope."""
    scope_upper_bound_only: bool = False
    """Whether the scope's cost is known only as published upper bounds
    (:attr:`ScopeCost.upper_bound_only`): its low end is unknown, not $0."""


class Audit(Record):
    """The cost audit of one case: categories, scopes, published figures and gaps."""

    schema_version: int = SCHEMA_VERSION
    """Format version."""
    case: str
    """Case id."""
    title: str
    """Case title."""
    subject: str
    """Subject audited."""
    lineage: list[str]
    """The subject and its ancestors."""
    categories: list[CostGroup]
    """Cost per category (pretraining inherited)."""
    scopes: list[ScopeCost]
    """Named scopes with their totals."""
    headline_figures: list[HeadlineCheck]
    """Published dollar figures against the scope they describe."""
    unpriced: list[Unpriced]
    """What carries no cost, and why."""
    price_cards: list[str]
    """Ids of every card used."""
    ledger_head: str
    """Hash of the ledger's last entry when the audit was made."""
    bases: Bases | None = None
    """Each scope on the rental and owned price bases, with energy and emissions
    (:mod:`ledger.bases`)."""
