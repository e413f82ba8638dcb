"""The appendix's contract: one typed result that every renderer (Markdown, LaTeX, HTML, JSON, the
plots) reads. :func:`receipts.appendix.build.build_appendix` does all the arithmetic; renderers
only format.

It composes the results the other packages already define: the cost :class:`~ledger.report.Audit`,
the :class:`~ledger.funnel.FunnelReport`, the eval :class:`~probes.evals.schema.EvalSummary` and
the claims' :class:`~claims.report.ClaimVerdict`, and adds what only an appendix needs: one row a
run, published scores with intervals, the methods and a fingerprint to check it against the ledger.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from claims.report import ClaimVerdict
from ledger.bottom_line import HardwareValue
from ledger.enums import Category, Provenance, RunStatus, Unit
from ledger.funnel import FunnelReport
from ledger.report import Audit, BottomLine, Usd
from ledger.schema import SCHEMA_VERSION, PriceCard, Record
from probes.evals.schema import EvalSummary

APPENDIX_SCHEMA_VERSION = 1
"""Format version of the appendix (``report.json``)."""

GPU_SERIES_KEY = "series"
"""Key of a per-device GPU usage's ``detail`` that holds the sampler's time series, where a meter
stored one: ``{"t_s": [...], "power_w": [...], "sm_util_pct": [...]}``, equal lengths."""


class RunRow(Record):
    """One run with its GPU-hours, energy and cost, as the runs table shows it."""

    id: str
    """Run id."""
    subject: str
    """Subject whose costs the run carries."""
    inherited: bool
    """Whether the subject is an ancestor of the audited one (its pretraining, say)."""
    category: Category
    """Cost category."""
    stage: str
    """Pipeline stage."""
    name: str
    """What the run did."""
    status: RunStatus
    """Life-cycle state (``reported`` for runs known only from a paper)."""
    provenance: list[Provenance]
    """How its quantities are known, most direct first; empty where nothing was quantified."""
    started_at: datetime | None
    """When it started (UTC), where known."""
    wall_time_s: float | None
    """Wall-clock seconds, where known."""
    host: str | None
    """Host it ran on, where measured."""
    citation: str | None
    """Where a reported run is described."""
    note: str | None
    """What a reader must know about it."""
    gpu_hours: float | None
    """Allocated GPU-hours (devices x wall time: what a cloud bills), central value."""
    gpu_hours_low: float | None
    """Low end of the allocated GPU-hours."""
    gpu_hours_high: float | None
    """High end of the allocated GPU-hours."""
    gpu_hours_busy: float | None
    """Utilisation-weighted GPU-hours, where metered; ``None`` otherwise (never 0)."""
    busy_pct: float | None
    """``100 * gpu_hours_busy / gpu_hours`` for metered runs."""
    energy_kwh: float | None
    """GPU energy in kWh, where metered."""
    energy_methods: list[str]
    """How the energy was measured: ``counter`` or ``integrated_power`` (one per method seen)."""
    devices: int | None
    """Devices metered; ``None`` for runs nobody metered."""
    shared: bool
    """Whether a process outside the job used a metered device."""
    cost_usd_low: Usd | None
    """Low end of the run's priced usages; ``None`` where nothing is priced (missing, not 0)."""
    cost_usd_high: Usd | None
    """High end of the run's priced usages."""
    cost_upper_bound_only: bool = False
    """Whether the run's cost is known only as published upper bounds ("under $500"): its low
    end is unknown, not $0 (:attr:`ledger.report.CostGroup.upper_bound_only`)."""
    unpriced_lines: int
    """Usage lines of the run without a price card."""
    unquantified: int
    """Usages of the run known to exist that nobody quantified."""


class CostContrast(Record):
    """The dearest category beside the cheapest: what the cost plot says at a glance."""

    large: Category
    """The category with the largest cost (geometric mean of its range)."""
    large_inherited: bool
    """Whether it is inherited from an ancestor."""
    small: Category
    """The category with the smallest priced cost."""
    ratio: float
    """Ratio of the two ranges' geometric means."""
    ratio_low: float
    """Ratio of the low ends."""
    ratio_high: float
    """Ratio of the high ends."""


class PublishedScore(Record):
    """A published score with the Wilson interval its benchmark's n allows."""

    model: str
    """Model id in the baseline registry."""
    model_name: str
    """Display name."""
    role: Literal["subject", "baseline"]
    """The audited subject, or a model its claims compare it with."""
    benchmark: str
    """Benchmark id."""
    benchmark_name: str
    """Benchmark display name."""
    value_pct: float
    """The published score, percent."""
    n: int | None
    """Benchmark items behind it; ``None`` where the registry does not know."""
    ci_low_pct: float | None
    """Low end of the Wilson 95% interval, percent; ``None`` without n."""
    ci_high_pct: float | None
    """High end of that interval."""
    protocol: str
    """How the score was produced, in words (``greedy (budget forcing)``, ``cons@64``)."""
    origin: str
    """``developer``, ``cited`` or ``independent``."""
    source: str
    """Source tag."""
    location: str
    """Where in the source."""
    setting: str | None
    """A non-default configuration, where the score has one."""


class EstimateNote(Record):
    """An estimated usage: its formula and inputs, so a reader can redo the arithmetic."""

    usage: str
    """Usage id."""
    run: str
    """Run id."""
    resource: str
    """Resource."""
    unit: Unit
    """Unit of the quantities."""
    quantity: float | None
    """Central value."""
    quantity_low: float | None
    """Low end."""
    quantity_high: float | None
    """High end."""
    formula: str
    """The arithmetic."""
    inputs: dict[str, float | int | str]
    """Every input, by name, units in the names."""
    citation: str | None
    """Where the inputs come from."""


class GpuTrace(Record):
    """Power and utilisation samples of one metered device over one run."""

    run: str
    """Run id."""
    device: str
    """Device name and index, e.g. ``NVIDIA H100 80GB HBM3 #0``."""
    t_s: list[float]
    """Seconds since the run started."""
    power_w: list[float | None]
    """Board power, watts (``None`` where a sample had none)."""
    sm_util_pct: list[float | None]
    """Utilisation, percent."""


class EnergyRow(Record):
    """One run's GPU energy, emissions and owned-hardware cost on one GPU model, from the price
    bases (each run once, whichever scopes count it)."""

    run: str
    """Run id."""
    resource: str
    """The GPU resource (``gpu/H100``)."""
    inherited: bool
    """Whether the run belongs to an ancestor of the subject."""
    provenance: Provenance
    """``measured`` (the run's meter read the energy) or ``estimated`` (GPU-hours x power)."""
    gpu_kwh_low: float
    """GPU energy, low, kWh."""
    gpu_kwh_high: float
    """GPU energy, high, kWh."""
    facility_kwh_low: float
    """Facility energy (server power factor and PUE applied), low, kWh."""
    facility_kwh_high: float
    """Facility energy, high, kWh."""
    kg_co2e_low: float
    """Emissions, low, kg CO2e."""
    kg_co2e_high: float
    """Emissions, high, kg CO2e."""
    owned_usd_low: Usd | None
    """Owned-hardware cost of its GPU-hours, low; ``None`` where no purchase price applies."""
    owned_usd_high: Usd | None
    """Owned-hardware cost, high."""


class Methods(Record):
    """How every number was obtained."""

    cost_rule: str
    """How a cost range follows from a quantity range and the price cards."""
    estimates: list[EstimateNote]
    """Every estimated usage, with its formula and inputs."""
    price_cards: list[PriceCard]
    """Every card that priced a line, with its date and source, by resource then price."""
    measurement: list[str]
    """How measured quantities were metered (allocated, busy, energy methods seen)."""
    intervals: str
    """How the accuracy intervals are computed."""


class Fingerprint(Record):
    """What ties the appendix to one state of the ledger and of the software."""

    ledger_seq: int
    """Sequence number of the ledger's last entry when the appendix was made."""
    ledger_head: str
    """SHA-256 of that entry: ``receipts verify --head`` checks it is in the intact chain."""
    package_version: str
    """Version of receipts that made the appendix."""
    git_commit: str | None
    """Commit of the working directory, where it is a git repository."""
    price_cards: list[str]
    """Ids of every card used."""
    price_cards_sha256: str
    """SHA-256 of those cards' JSON, one per line in id order: changes when a card does."""
    generated_at: datetime
    """When the appendix was made (UTC)."""
    verify_command: str
    """The command that checks the appendix against a ledger."""


class Appendix(Record):
    """The audit appendix of one subject: costs, runs, funnel, evals, claims, methods."""

    schema_version: int = APPENDIX_SCHEMA_VERSION
    """Format version of this record."""
    ledger_schema_version: int = SCHEMA_VERSION
    """Format version of the ledger records it embeds."""
    case: str
    """Case id (the subject's id where no bundled case has it)."""
    title: str
    """Title."""
    subject: str
    """Subject audited."""
    subject_name: str
    """Its display name."""
    subject_description: str | None
    """One line on what it is."""
    lineage: list[str]
    """The subject and its ancestors, nearest first."""
    bottom_line: BottomLine | None = None
    """The result in two to four sentences and one verdict line per claim, as ``receipts
    audit`` prints it first (:func:`claims.bottom_line.bottom_line`)."""
    audit: Audit
    """Costs by category and scope, published figures, gaps, cards used; ``audit.bases`` holds
    each scope on the rental and owned price bases with its energy and emissions."""
    hardware: list[HardwareValue] = []
    """What the GPUs cost whoever bought them, per GPU model the owned basis prices
    (:func:`ledger.bottom_line.hardware_values`)."""
    energy: list[EnergyRow] = []
    """Energy, emissions and owned cost per run and GPU model, inherited runs first."""
    contrast: CostContrast | None
    """The dearest category against the cheapest, where two are priced."""
    runs: list[RunRow]
    """Every run of the subject and its ancestors, inherited ones first."""
    funnel: FunnelReport | None
    """The curation funnels with per-step cost; ``None`` where the subject has none."""
    evals: list[EvalSummary]
    """Eval runs in the ledger with per-item results (measured here or imported)."""
    published_scores: list[PublishedScore]
    """Published scores of the subject and of the baselines its claims name."""
    claims: list[ClaimVerdict]
    """Verdicts on the published claims about the subject."""
    gpu_traces: list[GpuTrace]
    """Sampled GPU power and utilisation, where a metered run stored samples."""
    gpu_traces_note: str
    """What the GPU plot shows, or why there is none."""
    methods: Methods
    """Formulas, price-card dates, measurement methods, interval method."""
    gpu_prices: list[PriceCard] = []
    """Every dated GPU-hour card the price book has for the GPU models the subject's own runs
    used (not only those that priced a line), by resource then date: the price strip's dots."""
    fingerprint: Fingerprint
    """Ledger head, package version, cards and commit."""
