"""Price bases, energy and emissions: the typed result beside a cost report or an audit.

A GPU-hour can be priced two ways: *rental* (the dated cards of ``ledger/data/prices``, what a
cloud bills) and *owned* (the hardware's purchase price amortised over a lifetime, with server
and networking overhead, plus the electricity it draws: Epoch AI's method for training costs).
The same energy gives the emissions: kWh times the grid's carbon intensity where the compute ran.
:func:`ledger.energy.build_bases` computes these records; the formulas and where every input
comes from are in docs/methodology.md ("Price bases, energy and emissions").

Energy is ``None`` where a scope has no GPU usage, never ``0``; every range names its sources.
"""

from __future__ import annotations

from typing import Literal

from ledger.schema import Estimate, Provenance, Record, Usd

BasisName = Literal["rental", "owned"]


class Parameter(Record):
    """One stated input of the owned basis or the energy estimate, with its range and source."""

    name: str
    """Input name, units in the name (``pue``, ``lifetime_years``)."""
    low: float
    """Low end."""
    high: float
    """High end."""
    source: str
    """Where the range comes from."""


class BasisCost(Record):
    """One scope priced on one basis."""

    basis: BasisName
    """``rental``: dated rental and list cards; ``owned``: amortised hardware plus energy for
    GPU-hours, the same cards as rental for everything else (API tokens, labour)."""
    cost_usd_low: Usd | None
    """Low total, ``None`` where nothing in the scope could be priced on this basis."""
    cost_usd_high: Usd | None
    """High total."""
    gpu_cost_usd_low: Usd | None
    """The GPU-hours' part of the low total, ``None`` where the scope has none or they could
    not be priced on this basis."""
    gpu_cost_usd_high: Usd | None
    """The GPU-hours' part of the high total."""
    unpriced_gpu_lines: int
    """GPU lines this basis could not price (no card, no purchase price or no power figure):
    missing from the totals, not zero."""
    sources: list[str]
    """Card ids and parameter sources the figures use."""


class EnergyLine(Record):
    """The energy of one run's GPU usage on one device model in a scope."""

    run: str
    """Run id."""
    resource: str
    """The GPU resource (``gpu/H100``)."""
    provenance: Provenance
    """``measured`` where the run's meter read the energy counter (or integrated power),
    ``estimated`` where only GPU-hours are known (power range of the device)."""
    gpu_kwh_low: float
    """Energy drawn by the GPUs, low end, kWh."""
    gpu_kwh_high: float
    """High end, kWh."""
    facility_kwh_low: float
    """GPU energy times the server power factor (CPUs, memory, network) times PUE, low, kWh."""
    facility_kwh_high: float
    """High end, kWh."""
    kg_co2e_low: float
    """Facility energy times the low grid carbon intensity, kg CO2e."""
    kg_co2e_high: float
    """High end, kg CO2e."""
    estimate: Estimate | None = None
    """For estimated GPU energy: the formula and its inputs."""
    share_of_run: float | None = None
    """For a metered run that used more than one GPU model: this model's share of the run's
    reading (its GPU-hours over the run's); ``None`` where the reading is the model's alone."""


class OwnedLine(Record):
    """The owned-hardware cost of one run's GPU-hours on one device model."""

    run: str
    """Run id."""
    resource: str
    """The GPU resource."""
    cost_usd_low: Usd
    """Low end: cheapest purchase price, longest lifetime, highest utilisation, lowest energy."""
    cost_usd_high: Usd
    """High end: dearest purchase price, shortest lifetime, lowest utilisation, highest energy."""
    estimate: Estimate
    """The formula and every input (``ledger.estimators.owned_gpu_cost_usd``)."""
    cost_usd: Usd | None = None
    """Central: the formula at the midpoint of every input range (the representative owned
    cost a claim's figure is judged against)."""


class ScopeBases(Record):
    """One scope on every basis, with its energy and emissions."""

    scope: str
    """Scope id (or ``subject:<id>`` for everything a report's subject recorded)."""
    label: str
    """What the scope counts."""
    gpu_hours_low: float | None
    """Low GPU-hours in the scope, ``None`` where it has none."""
    gpu_hours_high: float | None
    """High GPU-hours."""
    rental: BasisCost
    """Rental and list cards (the figures of the cost report)."""
    owned: BasisCost
    """Amortised hardware plus energy for the GPU-hours; cards for the rest."""
    energy_provenance: list[Provenance]
    """How the energy is known: measured, estimated, or both (per run)."""
    gpu_kwh_low: float | None
    """GPU energy, low, kWh; ``None`` where the scope has no GPU usage."""
    gpu_kwh_high: float | None
    """GPU energy, high, kWh."""
    facility_kwh_low: float | None
    """Facility energy (server power factor and PUE applied), low, kWh."""
    facility_kwh_high: float | None
    """Facility energy, high, kWh."""
    energy_cost_usd_low: Usd | None
    """Facility energy times the cheapest electricity card of the region."""
    energy_cost_usd_high: Usd | None
    """Facility energy times the dearest electricity card of the region."""
    kg_co2e_low: float | None
    """Emissions, low, kg CO2e."""
    kg_co2e_high: float | None
    """Emissions, high, kg CO2e."""
    unmetered_gpu_lines: int = 0
    """GPU lines with neither a meter reading nor a known power figure for their device: their
    energy is missing from the totals, not zero."""
    energy_lines: list[EnergyLine]
    """Energy per run and device model."""
    owned_lines: list[OwnedLine]
    """Owned cost per run and device model."""


class Bases(Record):
    """Price bases, energy and emissions of every scope of a report or an audit."""

    region: str | None
    """Where the compute ran (ISO 3166-1 alpha-3 or ``EU``), ``None`` where nobody stated it."""
    region_label: str
    """The region in words, or how an unstated one is handled."""
    electricity_cards: list[str]
    """Ids of the electricity price cards applied."""
    usd_per_kwh_low: Usd | None
    """Cheapest electricity card applied, ``None`` where none applies."""
    usd_per_kwh_high: Usd | None
    """Dearest electricity card applied."""
    g_co2e_per_kwh_low: float
    """Grid carbon intensity, low, g CO2e per kWh."""
    g_co2e_per_kwh_high: float
    """Grid carbon intensity, high."""
    carbon_source: str
    """Where the intensity comes from (CodeCarbon's data file, its year and source)."""
    parameters: list[Parameter]
    """Every stated input (PUE, lifetime, utilisation, overheads) with its source."""
    scopes: list[ScopeBases]
    """Each scope on every basis."""
