"""The claims contract: claim files, the baseline registry and per-item results (the inputs).

Every record is a frozen pydantic model with ``extra="forbid"`` (:class:`ledger.schema.Record`).
Scores are percentages of a benchmark's items (``value_pct``), differences are percentage points
(``*_points``), money is :class:`~decimal.Decimal` US dollars. The verdicts the engine returns are
in :mod:`claims.report`.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from ledger.enums import Unit
from ledger.schema import Id, Money, Record, Source

CLAIMS_SCHEMA_VERSION = 1
"""Version of the claim, registry and item-results file formats."""

Pct = Annotated[float, Field(ge=0, le=100)]


class Relation(StrEnum):
    """How the words relate the subject to a comparator."""

    BEATS = "beats"
    """Better than the comparator (by ``margin_points`` where stated)."""
    MATCHES = "matches"
    """As good as the comparator: no shortfall beyond the margin."""
    RIVALS = "rivals"
    """Same reading as ``matches``."""
    COMPARABLE_TO = "comparable_to"
    """Same reading as ``matches``."""
    ON_PAR_WITH = "on_par_with"
    """Same reading as ``matches``."""
    LEVEL_WITH = "level_with"
    """Same reading as ``matches``."""

    @property
    def is_parity(self) -> bool:
        """Whether the relation claims parity (everything but ``beats``)."""
        return self is not Relation.BEATS


class CostBound(StrEnum):
    """How a dollar figure bounds the cost."""

    UNDER = "under"
    """Strictly less than the figure ("under $50", "less than $50")."""
    AT_MOST = "at_most"
    """Less than or equal to the figure ("at most $50", "$50 or less")."""
    ABOUT = "about"
    """Roughly the figure ("about $20", "around $6", "$6")."""


class Area(StrEnum):
    """What a benchmark measures; a comparison may name areas instead of benchmarks."""

    REASONING = "reasoning"
    """Every area: the benchmarks the subject's own report gives."""
    MATH = "math"
    """Mathematics (AIME, MATH500)."""
    SCIENCE = "science"
    """Science questions (GPQA)."""
    CODING = "coding"
    """Programming (LiveCodeBench, Codeforces)."""


class ProtocolKind(StrEnum):
    """How a score was obtained from the model's answers."""

    GREEDY = "greedy"
    """One answer per item at temperature 0."""
    SINGLE_SAMPLE = "single_sample"
    """One sampled answer per item (temperature above 0 or unknown)."""
    PASS_AT_1 = "pass_at_1"
    """Accuracy of single answers averaged over k samples per item."""
    CONS_AT_K = "cons_at_k"
    """Majority vote over k samples per item: more than one attempt counts."""
    UNKNOWN = "unknown"
    """The source does not say."""


class Origin(StrEnum):
    """Who produced a published score."""

    DEVELOPER = "developer"
    """The model's makers, in their own report."""
    CITED = "cited"
    """A table that copies the developer's figure and says so."""
    INDEPENDENT = "independent"
    """Anyone else's measurement, or a table that does not say whose it is."""


# ---- claim files -------------------------------------------------------------------------------


class ClaimSource(Record):
    """Where a claim was published, with the words in their own language."""

    outlet: str
    """Publication, blog or paper."""
    url: str | None = None
    """Where to read it; ``None`` where the original was not recorded."""
    date: dt.date | None = None
    """Publication date."""
    author: str | None = None
    """Who wrote or said it."""
    quote: str
    """The exact words, in their own language."""
    language: str
    """Language of ``quote`` as a BCP 47 tag (``en``, ``zh``)."""
    location: str | None = None
    """Where in the source (headline, lede, section)."""
    note: str | None = None
    """Anything a reader must know about the quote."""


class Gain(Record):
    """A size of win the words state ("by up to 27%")."""

    value: float
    """The stated size."""
    unit: Literal["points", "percent"]
    """Percentage points, or percent of the comparator's score (relative)."""
    up_to: bool = False
    """Whether the words say "up to": the largest gain over the benchmarks."""


class PriceBasis(Record):
    """A price a claimant states for one resource: a rate, or a vendor's dated cards."""

    resource: str
    """The resource priced, as the ledger names it (``gpu/H800``)."""
    unit: Unit = Unit.GPU_HOUR
    """The unit priced."""
    usd_per_unit: Money | None = None
    """The stated rate in US dollars per unit ("$2 per GPU hour")."""
    vendor: str | None = None
    """A vendor whose dated cards give the rate ("according to Lambda Cloud pricing"): its card
    dated nearest the work."""
    quote: str | None = None
    """The claimant's words stating the basis."""

    @model_validator(mode="after")
    def _one_rate(self) -> PriceBasis:
        if (self.usd_per_unit is None) == (self.vendor is None):
            raise ValueError("give usd_per_unit or vendor, exactly one")
        if self.usd_per_unit is not None and self.usd_per_unit <= 0:
            raise ValueError("usd_per_unit must be above 0: a price basis is a price")
        if self.unit is Unit.USD:
            raise ValueError("a basis prices a resource unit, not dollars")
        return self


class BasisKind(StrEnum):
    """The price basis a cost assertion's words mean (docs/claims.md, "Price bases")."""

    RENTAL = "rental"
    """What renting the compute costs: the dated rental cards near the work. What a headline
    "trained for $X" means where the words name no other basis."""
    OWNED = "owned"
    """What the compute costs on hardware one owns: the purchase price amortised over the
    hardware's lifetime, with server and networking overhead, plus electricity (Epoch AI's
    method, :func:`ledger.energy.owned_rate`)."""
    CLAIMANT = "claimant"
    """The claimant's stated rate: given as a list of rates under ``basis:``."""


class CostAssertion(Record):
    """ "Trained for under $50": a dollar bound on the subject's cost."""

    kind: Literal["cost"]
    """Assertion kind."""
    id: Id
    """Identifier, unique in the claim."""
    text: str
    """The words that make the assertion."""
    bound: CostBound
    """Under, at most or about."""
    usd: Money
    """The dollar figure."""
    scope: Id | None = None
    """The ledger scope the words themselves state ("the final run cost $Y"), where they state
    one: the figure is judged on it. Otherwise the engine reads the words as the cost of producing
    the model, and inherited costs count against them (see docs/claims.md)."""
    basis: Annotated[
        Annotated[BasisKind, Tag("named")] | Annotated[list[PriceBasis], Tag("rates")],
        Discriminator(lambda v: "rates" if isinstance(v, list) else "named"),
    ] = []
    """The price basis the words mean. Either a list of the rates the claimant states
    ("assuming $2 per H800-hour", "at Lambda's prices": the claimant's basis, the representative
    price of those resources), or the name of a market basis the words imply: ``rental``
    ("would cost $X to rent") or ``owned`` ("cost the lab $X in hardware and power"). Where it is
    absent the words mean rental. The verdict shows the figure on every basis and judges this
    one."""
    figure_of: Id | None = None
    """The ledger subject whose figure the words credit to this one (one model's training cost
    reported as its successor's), where the claim says so."""

    @field_validator("basis", mode="before")
    @classmethod
    def _known_basis(cls, value: object) -> object:
        if isinstance(value, list):
            return value
        if value == BasisKind.CLAIMANT:
            raise ValueError(
                "the claimant's basis is their stated rate: list it "
                "([{resource: gpu/H800, usd_per_unit: 2}]) instead of naming it"
            )
        if value not in {BasisKind.RENTAL, BasisKind.OWNED}:
            raise ValueError(
                f"unknown basis {value!r}: name rental or owned, or list the claimant's rates"
            )
        return value

    @property
    def rates(self) -> list[PriceBasis]:
        """The rates the claimant states (empty where the basis is named, or absent)."""
        return self.basis if isinstance(self.basis, list) else []

    @property
    def judged_basis(self) -> BasisKind:
        """The basis the words mean: the one named, else the claimant's where a rate is stated,
        else rental."""
        if isinstance(self.basis, BasisKind):
            return self.basis
        return BasisKind.CLAIMANT if self.basis else BasisKind.RENTAL


class ComparisonAssertion(Record):
    """ "Rivals o1", "beats o1-preview on AIME24", "the best open model": the subject against a
    named comparator, a named set of them, or an unnamed one ("previous SOTA")."""

    kind: Literal["comparison"]
    """Assertion kind."""
    id: Id
    """Identifier, unique in the claim."""
    text: str
    """The words that make the assertion."""
    relation: Relation
    """Beats, or one of the parity relations."""
    comparator: str | None = None
    """The comparator as the words name it ("DeepSeek R1"); resolved through registry aliases, a
    family name with the claim's source date (docs/claims.md). Give this, ``comparators`` or
    only ``comparator_text``."""
    comparators: Annotated[list[str], Field(min_length=1)] | None = None
    """A named set ("the best open models": a, b and c): the relation must hold against each;
    the verdict is the most serious of theirs."""
    comparator_text: str | None = None
    """The comparator in the words' own terms ("previous SOTA"). Alone, without ``comparator``
    or ``comparators``, it states an unnamed comparator: the verdict is ``unverifiable``."""
    table: Id | None = None
    """Pin a published table: both sides' scores come from it."""
    protocol: Protocol | None = None
    """Pin a protocol: only scores produced under it count (``kind`` must agree; samples,
    temperature and top_p where stated here)."""
    benchmarks: list[str] | None = None
    """Benchmarks the words name; ``None`` to use ``areas`` (give one or the other)."""
    areas: list[Area] | None = None
    """Areas the words name ("math and coding"); ``reasoning`` (the default) means every
    benchmark the subject's own report gives."""
    margin_points: Annotated[float, Field(ge=0)] | None = None
    """A margin the words state, in percentage points."""
    claimed_gain: Gain | None = None
    """A size of win the words state."""


class DataEfficiencyAssertion(Record):
    """ "1K examples match the full 59K": two training sets of one recipe; or "matches X with 1%
    of the data": the subject's training set against another model (``large_model``) trained by
    another recipe."""

    kind: Literal["data_efficiency"]
    """Assertion kind."""
    id: Id
    """Identifier, unique in the claim."""
    text: str
    """The words that make the assertion."""
    relation: Relation = Relation.MATCHES
    """How the small set's model relates to the large set's."""
    small_dataset: str
    """Training set of the claimed-efficient model, e.g. ``s1K``."""
    small_examples: Annotated[int, Field(gt=0)] | None = None
    """Its size as the words state it."""
    large_dataset: str | None = None
    """Training set of the same recipe it is compared with, e.g. ``59K-full``; or give
    ``large_model``."""
    large_model: str | None = None
    """The model it is compared with, across recipes ("matches X"); its training-set size is
    the registry's ``trained_on.examples`` of that model."""
    large_examples: Annotated[int, Field(gt=0)] | None = None
    """Its size as the words state it."""
    data_fraction_pct: Annotated[float, Field(gt=0, le=100)] | None = None
    """The share of the large side's data the words state ("with 1% of the data": 1), percent;
    checked against the registry's sizes (within 20%)."""
    recipe: str | None = None
    """Training recipe both sets were used with; default: the subject's."""
    benchmarks: list[str] | None = None
    """Benchmarks; ``None``: every benchmark both models were scored on in one table."""
    margin_points: Annotated[float, Field(ge=0)] | None = None
    """A margin the words state, in percentage points."""


class JudgeKind(StrEnum):
    """Who judged a relative-quality claim."""

    MODEL = "model"
    """Another model's preference ("as judged by GPT-4")."""
    PEOPLE = "people"
    """People's preference (raters, a public arena)."""
    UNSTATED = "unstated"
    """The words do not say."""


class RelativeQualityAssertion(Record):
    """ "90% of ChatGPT quality": the subject's quality as a share of a comparator's."""

    kind: Literal["relative_quality"]
    """Assertion kind."""
    id: Id
    """Identifier, unique in the claim."""
    text: str
    """The words that make the assertion."""
    comparator: str
    """The comparator as the words name it; resolved like a comparison's."""
    fraction_pct: Annotated[float, Field(gt=0)]
    """The stated share, percent ("90% of ChatGPT quality": 90)."""
    judge: JudgeKind
    """Who judged the quality: another model, people, or unstated."""
    judge_name: str | None = None
    """The judge as the words name it ("GPT-4")."""
    benchmarks: list[str] | None = None
    """Scored benchmarks to check the share on (subject >= fraction x comparator); ``None``:
    the words rest on the judge's preference alone, so the verdict is ``unverifiable``."""


Assertion = Annotated[
    CostAssertion | ComparisonAssertion | DataEfficiencyAssertion | RelativeQualityAssertion,
    Field(discriminator="kind"),
]


class ClaimFile(Record):
    """A published claim: its source, its subject and what it asserts."""

    schema_version: int
    """Format version."""
    id: Id
    """Claim identifier, e.g. ``s1/techcrunch``."""
    title: str
    """One line on what the claim is."""
    subject: str
    """The model the claim is about: a ledger subject id and/or a registry model name."""
    case: str | list[str] | None = None
    """A ledger case (bundled name or file), or several (the case of a subject named in
    ``figure_of`` too), loaded idempotently before checking, as ``receipts audit`` does; ``None``
    where the subject is already in the ledger or has no costs."""

    @property
    def cases(self) -> list[str]:
        """The cases to load, in order."""
        if self.case is None:
            return []
        return [self.case] if isinstance(self.case, str) else list(self.case)

    source: ClaimSource
    """Where it was said."""
    assertions: list[Assertion] = Field(min_length=1)
    """What it asserts."""


# ---- baseline registry -------------------------------------------------------------------------


class Benchmark(Record):
    """A benchmark, with the number of items that bounds every interval on it."""

    id: Id
    """Identifier, e.g. ``aime24``."""
    name: str
    """Display name."""
    n: Annotated[int, Field(gt=0)] | None
    """Number of items; ``None`` where unknown (no interval can be computed)."""
    areas: list[Area]
    """What it measures."""
    aliases: list[str] = []
    """Other spellings ("AIME 2024")."""
    citation: str | None = None
    """Where its size is stated."""
    note: str | None = None
    """Caveats."""


class TrainingSet(Record):
    """What a model was fine-tuned on, for data-efficiency claims."""

    dataset: str
    """Training set name, e.g. ``s1K``, ``59K-full``."""
    examples: Annotated[int, Field(gt=0)] | None = None
    """Number of training examples."""
    recipe: str
    """The training recipe; data-efficiency claims compare sets within one recipe."""
    gpu_hours: Annotated[float, Field(ge=0)] | None = None
    """Training GPU-hours as reported."""
    citation: str | None = None
    """Source tag and location of these figures."""


class ModelEntry(Record):
    """One exact model. Different sizes, versions or distillations are different entries."""

    id: Id
    """Identifier, e.g. ``deepseek-r1`` (the full model), ``deepseek-r1-distill-qwen-32b``."""
    name: str
    """Display name."""
    developer: str | None = None
    """Who made it."""
    aliases: list[str] = []
    """Headline wordings that mean exactly this model ("DeepSeek R1", "R1")."""
    family: str | None = None
    """Models of one family (``o1``: o1, o1-preview, o1-mini) are checked as alternative readings
    when the subject's own table lists them."""
    released: dt.date | None = None
    """Public release date. Several models may share an alias (a bare family name, "QwQ") only
    where each has one: a claim's source date then picks the model current on that date."""
    trained_on: TrainingSet | None = None
    """Training set and recipe, where known."""
    note: str | None = None
    """Caveats."""


class Protocol(Record):
    """How a score was produced."""

    kind: ProtocolKind
    """Greedy, single sample, pass@1 over k samples, cons@k, or unknown."""
    samples_k: Annotated[int, Field(gt=0)] | None = None
    """Samples per item, where fixed and stated."""
    samples_k_max: Annotated[int, Field(gt=0)] | None = None
    """Most samples per item, where the source gives only a range or a bound."""
    temperature: Annotated[float, Field(ge=0)] | None = None
    """Sampling temperature."""
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    """Nucleus sampling threshold."""
    note: str | None = None
    """Test-time settings, e.g. budget forcing."""

    @property
    def words(self) -> str:
        """``greedy (budget forcing)``, ``pass@1 over up to 64 samples, T=0.6``, ``cons@64``."""
        if self.kind is ProtocolKind.PASS_AT_1:
            if self.samples_k:
                text = f"pass@1 over {self.samples_k} samples"
            elif self.samples_k_max:
                text = f"pass@1 over up to {self.samples_k_max} samples"
            else:
                text = "pass@1 (samples not stated)"
        elif self.kind is ProtocolKind.CONS_AT_K:
            text = f"cons@{self.samples_k or self.samples_k_max or 'k'}"
        else:
            text = {
                ProtocolKind.GREEDY: "greedy",
                ProtocolKind.SINGLE_SAMPLE: "one sample",
                ProtocolKind.UNKNOWN: "protocol not stated",
            }[self.kind]
        if self.temperature is not None and self.kind is not ProtocolKind.GREEDY:
            text += f", T={self.temperature:g}"
        if self.kind is ProtocolKind.GREEDY and self.note and "budget forcing" in self.note:
            text += " (budget forcing)"
        return text


class ScoreRow(Record):
    """One model's scores in one published table."""

    model: str
    """Model id or alias."""
    scores: dict[str, Pct]
    """Score in percent, by benchmark id."""
    origin: Origin
    """Who produced these figures."""
    cited_from: str | None = None
    """For ``cited`` rows: the source tag of the original report."""
    protocol: Protocol | None = None
    """Overrides the table's protocol (a copied row keeps its original protocol)."""
    setting: str | None = None
    """A non-default configuration ("no budget forcing"); such scores are never picked as the
    model's headline score."""
    note: str | None = None
    """Caveats."""


class PublishedDifference(Record):
    """Intervals of a difference that a source computed itself (paired, from its own items)."""

    model: str
    """The row's model."""
    versus: str
    """The model it is compared with; intervals are of ``model - versus``."""
    intervals_points: dict[str, tuple[float, float]]
    """Interval of the difference in points, by benchmark id."""


class ScoreTable(Record):
    """A published table of scores: one source, one location, one default protocol."""

    id: Id
    """Identifier, e.g. ``S1P-table1``."""
    source: Id
    """Source tag."""
    location: str
    """Where in the source."""
    protocol: Protocol
    """Protocol of the table's own measurements."""
    rows: list[ScoreRow]
    """Scores."""
    differences: list[PublishedDifference] = []
    """Intervals of differences the source computed."""
    difference_method: str | None = None
    """How those intervals were computed."""
    difference_confidence: Annotated[float, Field(gt=0, lt=1)] = 0.95
    """Their confidence level."""
    note: str | None = None
    """Caveats that apply to every row."""


class ReportedWin(Record):
    """A comparator a source itself reports the subject beating."""

    subject: str
    """Winning model."""
    comparator: str
    """Beaten model."""
    benchmarks: list[str]
    """Where."""
    source: Id
    """Source tag."""
    location: str
    """Where the source says so."""


class BenchmarkOverride(Record):
    """A correction of an already defined benchmark's metadata (a missing n), with its source."""

    id: str
    """The benchmark to correct: id or alias."""
    n: Annotated[int, Field(gt=0)] | None = None
    """Corrected number of items; ``None`` leaves it."""
    name: str | None = None
    """Corrected display name; ``None`` leaves it."""
    areas: list[Area] | None = None
    """Corrected areas; ``None`` leaves them."""
    note: str | None = None
    """Corrected caveats; ``None`` leaves them."""
    reason: str
    """Why the bundled metadata is wrong or incomplete."""
    source: str
    """Where the corrected figures are stated (a citation: tag and location, or a URL)."""


class RegistryFile(Record):
    """A baseline registry file: the bundled one, or a user's extension."""

    schema_version: int
    """Format version."""
    sources: list[Source] = []
    """Sources cited by tag."""
    benchmarks: list[Benchmark] = []
    """Benchmarks."""
    models: list[ModelEntry] = []
    """Models."""
    tables: list[ScoreTable] = []
    """Published score tables."""
    reported_wins: list[ReportedWin] = []
    """Comparators sources report beating."""
    benchmark_overrides: list[BenchmarkOverride] = []
    """Corrections of benchmarks defined before (in an earlier file or above), applied before
    this file's tables; a plain redefinition under ``benchmarks`` is refused."""
    task_names: dict[str, str] = {}
    """Eval-harness task names (lm-eval's ``aime24_nofigures``) mapped to the benchmark (id or
    alias) their per-item results score, so imported runs pair in ``receipts check``; a later
    file may map a name again, and its mapping wins."""


class Score(Record):
    """One published score, flattened from its table (what ``receipts baselines list`` shows)."""

    model: Id
    """Model id."""
    benchmark: Id
    """Benchmark id."""
    value_pct: Pct
    """Score in percent."""
    n: int | None
    """Items it was measured on."""
    protocol: Protocol
    """How it was produced."""
    origin: Origin
    """Who produced it."""
    source: Id
    """Source tag of the table."""
    location: str
    """Where in that source."""
    table: Id
    """Table id."""
    cited_from: str | None = None
    """Original source of a copied figure."""
    setting: str | None = None
    """Non-default configuration."""
    note: str | None = None
    """Caveats of the row and table."""


# ---- per-item results --------------------------------------------------------------------------


class ItemResults(Record):
    """Per-item correctness of one model on one benchmark (an eval run or an lm-eval import)."""

    model: str
    """Model id or alias."""
    benchmark: str
    """Benchmark id."""
    protocol: Protocol
    """How the answers were produced."""
    source: str
    """Where the results come from (eval run id, file)."""
    correct: dict[str, bool] = Field(min_length=1)
    """Whether each item, by the benchmark's own item id, was answered correctly."""


class ItemResultsFile(Record):
    """A file of per-item results."""

    schema_version: int
    """Format version."""
    results: list[ItemResults] = Field(min_length=1)
    """One entry per model and benchmark."""


# ComparisonAssertion pins a Protocol, defined further down with the registry's records.
ComparisonAssertion.model_rebuild(force=True)
