"""Verdicts: the typed result that ``receipts check`` renders as tables or JSON.

Each record stores what is needed to recompute it: the scores and their sources, the n of each
side, the method, the interval, the p-value, the seed and the library versions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from claims.schema import ClaimSource
from ledger.report import Usd
from ledger.schema import Record


class Verdict(StrEnum):
    """What holds of an assertion, or of a claim (its most serious assertion verdict)."""

    SUPPORTED = "supported"
    """The evidence supports the words as a reader takes them."""
    MISLEADING = "misleading"
    """True only under another reading than the words': another comparator than the one named,
    a subset of the benchmarks, a narrower cost scope, a price at the cheap end of the market, a
    wider scope or another subject's figure, or a protocol that favours the subject; or a figure
    about producing a model that leaves out the base it inherits."""
    NOT_SUPPORTED = "not_supported"
    """The evidence contradicts the words, or shows nothing of what they claim."""
    INCONCLUSIVE = "inconclusive"
    """There is evidence, but too little to decide (e.g. 30 AIME questions)."""
    UNVERIFIABLE = "unverifiable"
    """No evidence at all."""


SEVERITY: tuple[Verdict, ...] = (
    Verdict.NOT_SUPPORTED,
    Verdict.MISLEADING,
    Verdict.UNVERIFIABLE,
    Verdict.INCONCLUSIVE,
    Verdict.SUPPORTED,
)
"""Most serious first: a claim's verdict is the first of these that any assertion has."""


class IntervalMethod(StrEnum):
    """How a difference and its interval were obtained."""

    NEWCOMBE = "newcombe"
    """Unpaired: Newcombe's hybrid score interval from two Wilson intervals (aggregates only)."""
    PAIRED = "paired"
    """Paired per-item results: seeded percentile bootstrap interval and exact McNemar p-value."""
    PUBLISHED = "published"
    """An interval the source computed itself from its own items (cited, not recomputed)."""
    MOVER = "mover"
    """Unpaired, for a share of the comparator's score (subject - f x comparator): the MOVER
    interval from two Wilson intervals (Zou and Donner 2008); Newcombe's when f is 1."""


class DifferenceTest(Record):
    """Subject minus comparator on one benchmark, with a 95% interval."""

    benchmark: str
    """Benchmark id."""
    subject: str
    """Model on the left of the difference."""
    comparator: str
    """Model on the right."""
    subject_pct: float
    """Subject's score in percent."""
    comparator_pct: float
    """Comparator's score in percent."""
    n_subject: int
    """Items behind the subject's score."""
    n_comparator: int
    """Items behind the comparator's score."""
    method: IntervalMethod
    """How the interval was obtained."""
    estimate_points: float
    """Difference in percentage points."""
    ci_low_points: float
    """Lower end of the interval, points."""
    ci_high_points: float
    """Upper end of the interval, points."""
    confidence: float
    """Confidence level of the interval."""
    p_value: float | None = None
    """Exact McNemar p-value (paired tests only)."""
    items_paired: int | None = None
    """Items both sides answered (paired tests only)."""
    subject_only_correct: int | None = None
    """Items only the subject got right (McNemar's b)."""
    comparator_only_correct: int | None = None
    """Items only the comparator got right (McNemar's c)."""
    seed: int | None = None
    """Seed of the bootstrap generator (paired tests only)."""
    resamples: int | None = None
    """Bootstrap resamples (paired tests only)."""
    citation: str
    """Where each side's score (or the published interval) comes from."""


class AlternativeValue(Record):
    """Another published value for one side, and what the test gives with it."""

    model: str
    """Model whose value differs."""
    value_pct: float
    """The other value."""
    protocol: str
    """Its protocol, in words."""
    citation: str
    """Its source and location."""
    estimate_points: float
    """Difference with it."""
    ci_low_points: float
    """Interval with it, lower end."""
    ci_high_points: float
    """Interval with it, upper end."""
    verdict: Verdict
    """The benchmark verdict with it."""


class BenchmarkCheck(Record):
    """One comparator on one benchmark."""

    benchmark: str
    """Benchmark id."""
    comparator: str
    """Comparator model id."""
    verdict: Verdict
    """Verdict on this benchmark."""
    reason: str
    """One line."""
    test: DifferenceTest | None
    """The deciding test; ``None`` where a score is missing or no interval can be computed."""
    point_pct: tuple[float, float] | None = None
    """(subject, comparator) scores where both are published but the benchmark's size is not,
    so there is no interval."""
    cross_check: DifferenceTest | None = None
    """A second test shown beside it (Newcombe beside a published paired interval)."""
    subject_protocol: str | None = None
    """Subject's protocol, in words."""
    comparator_protocol: str | None = None
    """Comparator's protocol, in words."""
    protocol_mismatch: bool = False
    """Whether the two protocols differ."""
    favours: Literal["subject", "comparator"] | None = None
    """Which side a mismatch favours (more attempts per item), where one does."""
    alternatives: list[AlternativeValue] = []
    """Other published values of either side."""
    notes: list[str] = []
    """Caveats the registry records on the two scores used."""
    like_for_like: bool = False
    """Whether one table scored both sides under one protocol (its own measurements, none
    copied); otherwise each side's headline score was used, flagged where the tables differ."""
    subject_table: str | None = None
    """Table of the subject's published score (``None`` for paired per-item results)."""
    comparator_table: str | None = None
    """Table of the comparator's published score."""


class ComparatorCheck(Record):
    """The relation against one comparator, over the benchmarks in question."""

    comparator: str
    """Model id."""
    role: Literal["named", "beaten_by_source", "listed_family"]
    """The one the words name, one the source reports beating, or a sibling in the subject's
    table (a generous reading of the name)."""
    verdict: Verdict
    """Verdict against this comparator."""
    reason: str
    """One line."""
    benchmarks: list[BenchmarkCheck]
    """Per benchmark."""
    missing_areas: list[str] = []
    """Areas the words name with no benchmark in the subject's report."""


ScopeStatus = Literal[
    "holds", "extreme_prices", "lower_bound", "upper_bound", "unquantified", "fails"
]


class BasisCheck(Record):
    """A cost bound against one scope on one price basis (docs/claims.md, "Price bases")."""

    basis: Literal["rental", "owned", "claimant"]
    """``rental``: the near rental cards; ``owned``: amortised purchase plus energy for the
    GPU-hours (the rest at the near cards); ``claimant``: the rates the claimant states."""
    status: ScopeStatus
    """The bound on this basis, as :attr:`ScopeCheck.status`."""
    cost_usd_low: Usd | None
    """Low end of the scope on this basis (``None`` where nothing in it is priced so)."""
    cost_usd_high: Usd | None
    """High end."""
    representative_usd_low: Usd | None
    """At the basis's representative price, low quantities."""
    representative_usd_high: Usd | None
    """At the representative price, high quantities."""
    usd_per_gpu_hour_low: Usd | None
    """The basis's low price per GPU-hour, where the scope pays for GPU-hours of one kind."""
    usd_per_gpu_hour_high: Usd | None
    """The basis's high price per GPU-hour (same scopes)."""
    priced_by: str
    """What prices it, in words."""
    gaps: list[str] = []
    """What this basis cannot price: never counted as $0."""
    sources: list[str] = []
    """Card ids and stated inputs the figures use."""


class ScopeCheck(Record):
    """A cost bound against one ledger scope, priced for the claim (docs/claims.md)."""

    scope: str
    """Scope id."""
    subject: str
    """The subject the scope is defined for (another subject's where the figure is theirs)."""
    label: str
    """What it counts."""
    reading: Literal["stated", "implied", "narrower", "wider", "other", "other_subject"]
    """The scope the words state, the one they imply (producing the model), narrower or wider
    than that, another scope of the subject (neither), or a scope of the subject whose figure the
    words use."""
    status: ScopeStatus
    """``holds`` at the representative price; holds only at ``extreme_prices`` (the cheap end,
    or for "about" the dear end, of the cards near the work, or at a claimant's basis below every
    near card); consistent, but only a ``lower_bound`` (gaps) or an ``upper_bound`` (money
    published as "under $Y") is known; nothing has a cost (``unquantified``); or ``fails`` at
    every price."""
    cost_usd_low: Usd
    """Market low: the cheapest near card (or basis) at the low quantities; gaps not included."""
    cost_usd_high: Usd
    """Market high: the dearest near card (or basis) at the high quantities."""
    representative_usd_low: Usd
    """At the representative price (basis, else median near card), low quantities."""
    representative_usd_high: Usd
    """At the representative price, high quantities."""
    representative: str
    """What the representative price is, in words."""
    gpu_hours: float | None
    """Central GPU-hours of what is priced."""
    implied_usd_per_gpu_hour: Usd | None
    """The figure divided by the scope's GPU-hours (scopes priced by GPU-hours of one kind)."""
    representative_usd_per_gpu_hour: Usd | None
    """The representative price per GPU-hour (same scopes)."""
    card_usd_per_gpu_hour_low: Usd | None
    """Cheapest near GPU-hour card (same scopes)."""
    card_usd_per_gpu_hour_high: Usd | None
    """Dearest near GPU-hour card (same scopes)."""
    cards_within: int | None
    """Near cards at which the bound holds (same scopes)."""
    cards_total: int | None
    """Near cards (same scopes)."""
    gaps: list[str] = []
    """What the scope counts that nobody quantified or priced: never counted as $0."""
    notes: list[str] = []
    """Cards far from the work, a basis that could not be applied."""
    basis: Literal["rental", "owned", "claimant"] = "rental"
    """The price basis the words mean, which this check's figures and status use."""
    bases: list[BasisCheck] = []
    """The scope on every basis the ledger and the claim give (the judged one included)."""
    upper_bound_only: bool = False
    """Whether everything priced in the scope is money published only as an upper bound
    ("under $500"): ``cost_usd_low`` of 0 is an unknown low end, not $0 (readers write
    "up to")."""


DecidedBy = Literal["main", "other_basis", "inherited_base", "narrower", "other_subject", "wider"]
"""Which rule of a cost verdict decided it (:attr:`AssertionVerdict.decided_by`)."""


class AssertionVerdict(Record):
    """The verdict on one assertion, with the evidence that decided it."""

    id: str
    """Assertion id."""
    kind: Literal["cost", "comparison", "data_efficiency", "relative_quality"]
    """Assertion kind."""
    text: str
    """The words."""
    verdict: Verdict
    """What holds."""
    reason: str
    """One line, with the deciding numbers."""
    numbers: list[str]
    """Short lines of the key figures, for tables."""
    evidence: list[str]
    """Every evidence line that decided it."""
    comparators: list[ComparatorCheck] = []
    """Comparison and data-efficiency checks."""
    scopes: list[ScopeCheck] = []
    """Cost checks."""
    label: str | None = None
    """A short reading of what it checks, from its structured fields (``under $50``,
    ``rivals DeepSeek-R1``), for one-line summaries; ``None`` where none is built."""
    relation: str | None = None
    """For comparison and data-efficiency checks: ``beats`` or the parity relation the words
    state (``matches``, ``rivals``...), which with ``margin_points`` sets the band each
    difference was judged against (docs/claims.md); ``None`` for other kinds."""
    margin_points: float | None = None
    """The margin the words state, in percentage points; ``None`` where they state none (then
    parity uses the default band of :data:`claims.decide.DEFAULT_PARITY_MARGIN_POINTS`)."""
    decided_by: DecidedBy | None = None
    """For cost checks, the rule that decided the verdict (docs/claims.md, "Cost assertions"):
    ``main``, the status of the scope the words state or imply (supported, at extreme prices,
    unverifiable, inconclusive, not supported); ``other_basis``, it fails there on the basis
    the words mean and holds on another; ``narrower``, a narrower scope holds; ``wider``, only
    a wider scope fits; ``other_subject``, the figure is another subject's; ``inherited_base``,
    the words leave out an inherited base, which made the verdict misleading. ``None`` for
    other kinds and where the subject has no cost scopes."""
    decided_scope: str | None = None
    """For cost checks: the id of the scope the verdict rests on (:attr:`ScopeCheck.scope`, of
    the check whose ``subject`` is :attr:`decided_subject`): the stated or implied scope for
    ``main``, ``other_basis`` and ``inherited_base``, else the narrower, wider or other
    subject's scope that decided (the first listed where several do). ``None`` where there is
    none (another subject's published figure, where that subject defines no scopes)."""
    decided_subject: str | None = None
    """For cost checks: the subject of :attr:`decided_scope` (another subject's for
    ``other_subject``: the one whose figure the words use)."""


class ClaimVerdict(Record):
    """A claim's verdict: the most serious of its assertions' (see ``SEVERITY``)."""

    id: str
    """Claim id."""
    title: str
    """Claim title."""
    subject: str
    """Subject."""
    source: ClaimSource
    """Where it was said."""
    verdict: Verdict
    """Most serious assertion verdict."""
    assertions: list[AssertionVerdict]
    """Per assertion."""
    seed: int
    """Seed of every bootstrap in this claim."""
    versions: dict[str, str]
    """Versions of receipts and of the statistics libraries."""
    names: dict[str, str] = {}
    """Display names, by registry id, of the subject, comparators and benchmarks the verdict
    names (``aime24`` -> ``AIME24``), for readers' renderings such as the verdict card."""


CHECK_REPORT_VERSION = 2
"""Version of what ``receipts check --json`` prints. 2: a cost check's scopes carry ``status``,
the representative price and the gaps (``holds`` is gone); comparisons say which tables paired.
Added fields keep version 2 (a cost verdict's ``decided_by``, ``decided_scope`` and
``decided_subject``): a version-2 file without them reads with their defaults, ``None``."""


class CheckReport(Record):
    """What ``receipts check --json`` prints."""

    schema_version: int = CHECK_REPORT_VERSION
    """Format version (:data:`CHECK_REPORT_VERSION`)."""
    claims: list[ClaimVerdict]
    """One entry per claim file."""


class BaselineRow(Record):
    """One published score as ``receipts baselines list`` shows it, with its rivals."""

    model: str
    """Model id."""
    benchmark: str
    """Benchmark id."""
    value_pct: float
    """Score in percent."""
    n: int | None
    """Benchmark items."""
    protocol: str
    """Protocol, in words."""
    origin: str
    """developer, cited or independent."""
    source: str
    """Source tag."""
    location: str
    """Where in the source."""
    setting: str | None
    """Non-default configuration."""
    cited_from: str | None
    """Original source of a copied figure."""
    note: str | None
    """Caveats."""
    preferred: bool
    """Whether verdicts use this value for the model's headline score."""
    other_values_pct: list[float]
    """Different values published for the same model, benchmark and configuration."""
