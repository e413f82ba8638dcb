"""The "price bases, energy and emissions" tables of a report or an audit, for the terminal.

Call :func:`render_bases` with the ``bases`` of a :class:`~ledger.report.CostReport` or an
:class:`~ledger.report.Audit` and a rich console. Nothing is computed here: every figure comes
from :class:`ledger.bases.Bases`. A figure nobody could compute prints as "—", never 0.

Two tables, so that each fits 80 columns without cutting a number: the rental basis beside the
owned one, then energy, its cost and CO2e. Amounts are rounded for reading as in the bottom line
(``$13.80–$85.21``, ``$3.9M–$40M``); ``--json`` carries the exact ones.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ledger.bases import Bases, BasisCost, ScopeBases
from ledger.bottom_line import hardware_sentence, hardware_values
from ledger.money import usd, usd_range

DASH = "—"


def compact(value: float) -> str:
    """``7.29``, ``196``, ``3,022``, ``766k``, ``2.07M``: a quantity in at most five digits."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:,.3g}M"
    if value >= 100_000:
        return f"{value / 1_000:,.0f}k"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}"


def span(low: float | None, high: float | None) -> str:
    """``7.29–14``; one figure where both ends read alike; a dash where it is unknown."""
    if low is None or high is None:
        return DASH
    a, b = compact(low), compact(high)
    return a if a == b else f"{a}–{b}"


def _per_kwh(low: Decimal | None, high: Decimal | None) -> str:
    if low is None or high is None:
        return DASH
    a, b = usd(low, places=4), usd(high, places=4)
    return a if a == b else f"{a}–{b}"


def _unpriced(name: str, cost: BasisCost) -> str | None:
    if not cost.unpriced_gpu_lines:
        return None
    return f"{name}: +{cost.unpriced_gpu_lines} GPU line(s) unpriced"


def _label(scope: ScopeBases, notes: list[str]) -> Text:
    text = Text(scope.label)
    if notes:
        text.append("\n" + " ".join(f"({note})" for note in notes), style="dim")
    return text


def _bases_table(bases: Bases, upper_bound_only: Collection[str]) -> Table:
    table = Table(
        title="Price bases, energy and emissions: the rental basis beside the owned one",
        title_justify="left",
    )
    table.add_column("scope", ratio=1)
    for name in ("GPU-hours", "rental basis", "owned basis"):
        table.add_column(name, justify="right", no_wrap=True)
    for scope in bases.scopes:
        notes = [
            n for n in (_unpriced("rental", scope.rental), _unpriced("owned", scope.owned)) if n
        ]
        table.add_row(
            _label(scope, notes),
            span(scope.gpu_hours_low, scope.gpu_hours_high),
            *(
                usd_range(
                    cost.cost_usd_low,
                    cost.cost_usd_high,
                    upper_bound_only=scope.scope in upper_bound_only,
                    rounded=True,
                )
                for cost in (scope.rental, scope.owned)
            ),
        )
    return table


def _energy_table(bases: Bases) -> Table:
    table = Table(
        title="Energy and emissions (facility = GPUs x server power factor x PUE)",
        title_justify="left",
    )
    table.add_column("scope (how the energy is known)", ratio=1)
    for name in ("GPU kWh", "facility kWh", "energy cost", "kg CO2e"):
        table.add_column(name, justify="right", no_wrap=True)
    for scope in bases.scopes:
        notes = (
            [", ".join(p.value for p in scope.energy_provenance)] if scope.energy_provenance else []
        )
        if scope.unmetered_gpu_lines:
            notes.append(f"+{scope.unmetered_gpu_lines} GPU line(s) without power figure")
        table.add_row(
            _label(scope, notes),
            span(scope.gpu_kwh_low, scope.gpu_kwh_high),
            span(scope.facility_kwh_low, scope.facility_kwh_high),
            usd_range(scope.energy_cost_usd_low, scope.energy_cost_usd_high, rounded=True),
            span(scope.kg_co2e_low, scope.kg_co2e_high),
        )
    return table


def render_bases(console: Console, bases: Bases, upper_bound_only: Collection[str] = ()) -> None:
    """Print each scope on the rental and owned bases, then its energy, energy cost and CO2e,
    what the GPUs cost to buy, and the region, electricity cards, carbon intensity and stated
    inputs the figures use (wrapped to the console's width; the inputs' sources are in the
    JSON and the appendix). ``upper_bound_only``: ids of the scopes whose cost is known only
    as published upper bounds (:attr:`ledger.report.ScopeCost.upper_bound_only`), written
    "up to $500"."""
    console.print(_bases_table(bases, upper_bound_only))
    console.print(_energy_table(bases))
    hardware = hardware_sentence(hardware_values(bases))
    if hardware:
        console.print(Text(hardware))
    low, high = bases.g_co2e_per_kwh_low, bases.g_co2e_per_kwh_high
    intensity = f"{low:,.0f}" if round(low) == round(high) else f"{low:,.0f}–{high:,.0f}"
    console.print(
        Text(
            f"Region: {bases.region_label}; electricity "
            f"{_per_kwh(bases.usd_per_kwh_low, bases.usd_per_kwh_high)} per kWh "
            f"({len(bases.electricity_cards)} card(s)); grid {intensity} g CO2e/kWh "
            f"({bases.carbon_source})."
        )
    )
    console.print(
        Text(
            "Rental: dated rental cards. Owned: purchase price with server share, amortised "
            "over the lifetime and utilisation, networking overhead, plus facility energy at "
            "the region's electricity price (Epoch AI's method); the rest of the scope at its "
            "cards. Facility energy: GPU energy (measured, or TDP x power fraction) x server "
            "power factor x PUE. See docs/methodology.md."
        )
    )
    stated = "; ".join(
        f"{p.name}: {p.low:g}" + ("" if p.low == p.high else f"–{p.high:g}")
        for p in bases.parameters
    )
    console.print(
        Text(
            f"Stated inputs: {stated}. Where each comes from: --json (bases.parameters), the "
            "appendix's price-bases section, docs/methodology.md."
        )
    )
