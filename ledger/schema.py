"""The ledger's data contract: subjects, runs, usages, price cards, scopes and cost results.

Every record is a frozen pydantic model with ``extra="forbid"``. Units live in field names or in
the explicit ``unit`` of a usage; money is :class:`~decimal.Decimal`; timestamps are UTC-aware.
Something nobody measured is ``None``, never ``0``.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from ledger.bounds import check_not_future, check_quantity, check_seconds
from ledger.canonical import is_valid_id
from ledger.enums import Category, Provenance, RunStatus, Term, Tier, Unit

SCHEMA_VERSION = 1
"""Version of the stored formats (case files, price-card files, JSON reports)."""

ABOUT_TOLERANCE = Decimal("0.2")
""""About $Y" spans Y / 1.2 to Y x 1.2: in a claim ("about $20") and in a reported figure."""

_Day = date
"""``date``, under a name that a field called ``date`` does not hide."""


def _check_id(value: str) -> str:
    if not is_valid_id(value):
        raise ValueError(
            f"{value!r} is not a valid id (letters, digits and . _ : / @ + - only, "
            "starting with a letter or digit)"
        )
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone (UTC)")
    return value.astimezone(UTC)


def _finite_non_negative(value: float | None) -> float | None:
    if value is None:
        return None
    if math.isnan(value) or math.isinf(value):
        raise ValueError("must be a finite number, not NaN or infinity")
    if value < 0:
        raise ValueError("must not be negative")
    return value


MAX_USD = Decimal("1e13")
"""No amount of money in receipts is above $10 trillion: a larger one is a typo or an attack."""


def _money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite amount")
    if value < 0:
        raise ValueError("must not be negative")
    if value > MAX_USD:
        raise ValueError("must be at most $10 trillion (1e13)")
    return value


def _seconds(value: float | None) -> float | None:
    check_seconds(value)
    return value


Id = Annotated[str, AfterValidator(_check_id)]
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
Quantity = Annotated[float, AfterValidator(_finite_non_negative)]
Seconds = Annotated[float, AfterValidator(_finite_non_negative), AfterValidator(_seconds)]
"""A duration in seconds: finite, non-negative, at most ``ledger.bounds.MAX_SECONDS``."""
Money = Annotated[Decimal, AfterValidator(_money)]


def _usd_json(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


Usd = Annotated[Decimal, PlainSerializer(_usd_json, return_type=float, when_used="json")]
"""A computed dollar amount: ``Decimal`` in Python, a number rounded to 1/10,000 of a dollar in
JSON (reports and audits)."""


class Record(BaseModel):
    """Base of every ledger record: strict, immutable, documented."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Source(Record):
    """A citable source, referenced by a short tag from reported figures."""

    tag: Id
    """Short tag used in citations, e.g. ``S1P``."""
    title: str
    """What the source is."""
    url: str | None = None
    """Where to read it."""
    repo: str | None = None
    """``owner/name`` of a repository, where the source is one."""
    commit: str | None = None
    """Commit of that repository the figures were read at."""


class Subject(Record):
    """A model being accounted for, with its lineage."""

    id: Id
    """Stable identifier, e.g. ``s1-32B``."""
    name: str
    """Display name."""
    base: Id | None = None
    """Id of the subject this one was trained from; its costs are *inherited*, never merged."""
    description: str | None = None
    """One line on what the subject is."""
    citation: str | None = None
    """Where the subject and its lineage are documented."""


GPU_UNMETERED = "gpu_unmetered"
"""Key of ``Run.detail`` where a wrapper says why it recorded no GPU time."""
PARENT_RUN = "parent_run"
"""Key of ``Run.detail`` naming the metered run (``receipts run``) a run ran inside, on the same
host: that run's GPU time covers both, so the inner one meters none of its own."""


class Run(Record):
    """One execution of one stage: a curation step, an SFT run, an eval run, a labelling session."""

    id: Id
    """Stable identifier, unique in the ledger."""
    subject: Id
    """The subject whose costs this run carries."""
    stage: str
    """Pipeline stage, e.g. ``sft``, ``trace-generation``, ``difficulty-filter``."""
    category: Category
    """Cost category of everything the run consumed."""
    name: str
    """Human-readable name."""
    status: RunStatus
    """Life-cycle state."""
    started_at: UtcDatetime | None = None
    """When the run started (UTC); ``None`` where unknown."""
    ended_at: UtcDatetime | None = None
    """When the run ended (UTC); ``None`` while running or where unknown."""
    wall_time_s: Seconds | None = None
    """Wall-clock duration in seconds from a monotonic clock, or as reported."""
    host: str | None = None
    """Host name the run executed on."""
    node_rank: int | None = None
    """Node rank in a multi-node job."""
    job_id: str | None = None
    """Scheduler job id (Slurm, torchrun) folding the nodes of one job into one logical run."""
    command: list[str] | None = None
    """The command line, where the run was wrapped."""
    working_dir: str | None = None
    """Working directory of the wrapped command."""
    git_commit: str | None = None
    """Commit of the working directory, where it was a git repository."""
    exit_code: int | None = None
    """Exit status of the wrapped command."""
    citation: str | None = None
    """For reported runs: where the run is described."""
    note: str | None = None
    """Anything a reader must know about the run."""
    detail: dict[str, Any] | None = None
    """Stage-specific metadata: model and backend of an eval, generation settings, importer."""

    @model_validator(mode="after")
    def _check_times(self) -> Run:
        check_not_future(self.started_at, "started_at")
        check_not_future(self.ended_at, "ended_at")
        if self.started_at and self.ended_at and self.ended_at < self.started_at:
            raise ValueError(
                f"ended_at {self.ended_at.isoformat()} is before started_at "
                f"{self.started_at.isoformat()}"
            )
        return self


class Estimate(Record):
    """How an estimated quantity was obtained, so that anyone can recompute it."""

    formula: str
    """The arithmetic, in words and symbols, e.g. ``6 * params * tokens / (peak_flops * mfu)``."""
    inputs: dict[str, float | int | str]
    """Every input of the formula, by name, with units in the names."""
    estimator: str | None = None
    """Name of the library function that produced it, where one did."""


class Usage(Record):
    """A quantity of one resource consumed by one run."""

    id: Id
    """Stable identifier, unique in the ledger."""
    run: Id
    """The run that consumed it."""
    resource: str
    """What was consumed: ``gpu/H100``, ``api/claude-3-5-sonnet-20241022``, ``labour/annotator``."""
    unit: Unit
    """The unit of ``quantity``; price cards match on resource and unit."""
    quantity: Quantity | None
    """Central value; ``None`` where the usage is known to exist but nobody quantified it."""
    quantity_low: Quantity | None = None
    """Low end of the range (estimates); defaults to ``quantity``."""
    quantity_high: Quantity | None = None
    """High end of the range (estimates); defaults to ``quantity``."""
    provenance: Provenance
    """Measured, reported or estimated."""
    citation: str | None = None
    """For reported usages: source tag and location, e.g. ``S1P §4.1``. Required for reported."""
    estimate: Estimate | None = None
    """For estimated usages: the formula and its inputs. Required for estimated."""
    note: str | None = None
    """Anything a reader must know about the figure."""
    detail: dict[str, Any] | None = None
    """Measurement metadata (device name and UUID, energy method, shared flag, sample count)."""

    @model_validator(mode="after")
    def _check_provenance(self) -> Usage:
        if self.provenance is Provenance.REPORTED and not self.citation:
            raise ValueError("a reported usage needs a citation")
        if self.provenance is Provenance.ESTIMATED:
            if self.estimate is None:
                raise ValueError("an estimated usage needs an estimate (formula and inputs)")
            if self.quantity is not None and (
                self.quantity_low is None or self.quantity_high is None
            ):
                raise ValueError("an estimated usage needs quantity_low and quantity_high")
        for name in ("quantity", "quantity_low", "quantity_high"):
            check_quantity(self.unit, getattr(self, name), name)
        low, high = self.low, self.high
        if self.quantity is None:
            if self.quantity_low is not None or self.quantity_high is not None:
                raise ValueError("an unquantified usage cannot have a range")
        elif low is not None and high is not None and not low <= self.quantity <= high:
            raise ValueError("quantity must lie within quantity_low..quantity_high")
        return self

    @property
    def low(self) -> float | None:
        """Low end of the range, ``quantity`` where no range is given."""
        return self.quantity if self.quantity_low is None else self.quantity_low

    @property
    def high(self) -> float | None:
        """High end of the range, ``quantity`` where no range is given."""
        return self.quantity if self.quantity_high is None else self.quantity_high


class PriceCard(Record):
    """A dated, sourced price for one unit of one resource."""

    id: Id
    """Stable identifier, e.g. ``h100-lambda-labs-2024-09-01-h100-sxm-x8-on-demand``."""
    resource: str
    """The resource priced, matched exactly against usages."""
    unit: Unit
    """The unit priced."""
    price_usd: Money
    """Price in US dollars for ``per`` units."""
    per: Annotated[int, Field(gt=0)] = 1
    """Number of units the price is for (1,000,000 for token prices)."""
    currency: str = "USD"
    """Currency of ``price_usd``; only USD is accepted."""
    date: date
    """The day the price was in effect or published."""
    vendor: str
    """Who charges it."""
    sku: str | None = None
    """The product or instance type."""
    term: Term
    """Commitment behind the price."""
    tier: Tier = Tier.PAID
    """Whether the price was charged, free, or a paid equivalent of a free offer."""
    source: str
    """Where the number comes from."""
    url: str | None = None
    """A link to the source."""
    note: str | None = None
    """Caveats."""

    @field_validator("currency")
    @classmethod
    def _check_currency(cls, value: str) -> str:
        if value != "USD":
            raise ValueError(f"unknown currency {value!r}: only USD is supported")
        return value

    @field_validator("date")
    @classmethod
    def _check_date(cls, value: _Day) -> _Day:
        check_not_future(value, "date")
        return value

    @property
    def usd_per_unit(self) -> Decimal:
        """Price of one unit in US dollars."""
        return self.price_usd / self.per


class Scope(Record):
    """A named set of categories (and optionally runs and resources) a claim may count."""

    id: Id
    """Stable identifier, e.g. ``final-sft-rented``."""
    subject: Id
    """The subject the scope is defined for."""
    label: str
    """What a reader calls it, e.g. "final fine-tuning run, rented compute"."""
    categories: list[Category]
    """Categories counted."""
    runs: list[Id] | None = None
    """Only these runs, where given; every run in the categories otherwise."""
    resource_prefixes: list[str] | None = None
    """Only resources starting with one of these (``gpu/`` for compute), where given."""
    include_inherited: bool = False
    """Whether the ancestors' costs (the base model's pretraining) count."""


class FunnelStep(Record):
    """One step of a curation funnel: how many records went in and came out."""

    id: Id
    """Stable identifier."""
    subject: Id
    """Subject whose data the funnel built."""
    funnel: str
    """Funnel name; a subject may have several (the paper's and the notebook's counts)."""
    order: int
    """Position in the funnel, from 1."""
    name: str
    """What the step does."""
    records_in: Annotated[int, Field(ge=0)] | None
    """Records entering the step; ``None`` where not stated."""
    records_out: Annotated[int, Field(ge=0)]
    """Records leaving the step."""
    runs: list[Id] = []
    """The runs that executed the step; their usages are the step's cost."""
    provenance: Provenance
    """Measured (executed here) or reported (a paper or notebook says so)."""
    citation: str | None = None
    """Where reported counts come from."""
    wall_time_s: Seconds | None = None
    """Wall time of the step, where measured."""
    note: str | None = None
    """What a reader must know about the step."""

    @model_validator(mode="after")
    def _check_counts(self) -> FunnelStep:
        if self.provenance is Provenance.REPORTED and not self.citation:
            raise ValueError("a reported funnel step needs a citation")
        return self


class EvalItem(Record):
    """The result of one benchmark item in one eval run."""

    id: Id
    """Stable identifier, ``<run>/<item id>`` by convention."""
    run: Id
    """The eval run."""
    benchmark: str
    """Benchmark name, e.g. ``aime24``, ``math500``."""
    item_id: str
    """The item's id in the benchmark (AIME ``60``; MATH500 ``test/precalculus/807.json``)."""
    correct: bool | None
    """Whether the answer was judged right; ``None`` where it could not be judged."""
    metric: str = "exact_match"
    """Which metric ``correct`` refers to."""
    extracted_answer: str | None = None
    """The answer extracted from the output; ``None`` when none could be parsed (then wrong)."""
    gold_answer: str | None = None
    """The reference answer."""
    prompt_tokens: Annotated[int, Field(ge=0)] | None = None
    """Tokens of the prompt as the model saw it."""
    thinking_tokens: Annotated[int, Field(ge=0)] | None = None
    """Generated tokens in the thinking phase (including inserted Waits)."""
    answer_tokens: Annotated[int, Field(ge=0)] | None = None
    """Generated tokens in the answer phase."""
    num_waits: Annotated[int, Field(ge=0)] | None = None
    """Times the end of thinking was suppressed and "Wait" appended."""
    forced_end: bool | None = None
    """Whether the thinking budget ran out and thinking was ended by force."""
    latency_s: Seconds | None = None
    """Seconds from request to final token."""
    trace: str | None = None
    """The full text the answer was conditioned on, where kept."""
    sample: Annotated[int, Field(ge=0)] = 0
    """Sample index for repeated sampling of the same item (pass@k)."""


class Case(Record):
    """A loadable bundle: sources, subjects, runs, usages and scopes of one audit."""

    schema_version: int
    """Format version of the case file."""
    id: Id
    """Case name, e.g. ``s1``."""
    title: str
    """What the case is about."""
    subject: Id
    """The subject audited by default."""
    sources: list[Source] = []
    """Sources cited by tag in the case's figures."""
    subjects: list[Subject]
    """The subject and its ancestors."""
    runs: list[Run]
    """Every run, reported or estimated."""
    usages: list[Usage]
    """Every usage of every run."""
    scopes: list[Scope] = []
    """Named cost scopes for claims."""
    headline_figures: list[HeadlineFigure] = []
    """Dollar figures quoted in the press about the subject."""
    funnel_steps: list[FunnelStep] = []
    """Curation funnels of the subject's data."""
    region: Annotated[str, Field(pattern=r"^([A-Z]{3}|EU)$")] | None = None
    """Where the compute ran, for electricity prices and grid carbon intensity: an ISO 3166-1
    alpha-3 country code (``USA``, ``CHN``) or ``EU``; ``None`` where nobody stated it."""


class HeadlineFigure(Record):
    """A dollar amount someone published about the subject's cost."""

    id: Id
    """Stable identifier, e.g. ``usd-50-techcrunch``."""
    subject: Id
    """The subject the figure is about."""
    usd: Money
    """The amount."""
    said_by: str
    """Who said it."""
    quote: str
    """The words, in their own language."""
    citation: str
    """Source tag and where."""
    scope: Id
    """The scope the figure is compared with (usually the final fine-tuning run)."""


Case.model_rebuild()


class Entry(Record):
    """One row of the append-only ledger, as stored (see ``ledger/migrations.py``)."""

    seq: int
    """Position in the hash chain, from 1."""
    kind: str
    """``subject``, ``run``, ``usage``, ``scope``, ``source``, ``price_card``, ``headline``,
    ``funnel_step`` or ``eval_item``."""
    record_id: str | None
    """Id of the record (a subject's, a run's...); ``None`` for bulk usage samples."""
    subject: str | None
    """Subject the entry belongs to, where it belongs to one."""
    supersedes: int | None
    """Sequence number of the entry this one corrects, where it corrects one."""
    origin: str | None
    """``<ledger id>:<seq>`` of the ledger that first recorded a merged entry."""
    recorded_at: UtcDatetime
    """When the entry was appended (UTC)."""
    prev_hash: str
    """SHA-256 of the previous entry (64 zeros for the first)."""
    hash: str
    """SHA-256 over ``prev_hash`` and the entry's hashed columns."""
    body: str | None
    """The record as JSON (usages keep only their extras here; their numbers are columns)."""
    format: int | None
    """Entry format version the entry was written in (``ledger/formats.py``), hashed with it;
    ``None`` on entries written before formats existed, which read as format 1."""


def utcnow() -> datetime:
    """The current time, UTC-aware."""
    return datetime.now(UTC)
