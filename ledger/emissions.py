"""Grid carbon intensity by region: CodeCarbon's per-country data, copied with its licence to
``ledger/data/energy/grid_carbon_intensity.json`` (docs/methodology.md, "Emissions").

A region is an ISO 3166-1 alpha-3 country code of that table, or ``EU`` (the span of the EU-27
members' intensities); an unstated region takes the world average. An unknown code is refused,
never priced at the world average.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from ledger.errors import InputError

EU27 = (
    "AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN",
    "IRL", "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP",
    "SWE",
)  # fmt: skip
"""EU member states (ISO 3166-1 alpha-3): region ``EU`` spans their grid intensities."""


@functools.cache
def _grid() -> dict[str, object]:
    entry = resources.files("ledger") / "data" / "energy" / "grid_carbon_intensity.json"
    loaded: dict[str, object] = json.loads(entry.read_text(encoding="utf-8"))
    return loaded


@dataclass(frozen=True)
class Intensity:
    """Grid carbon intensity of a region, g CO2e per kWh."""

    low: float
    high: float
    source: str


def known_regions() -> list[str]:
    """The region codes the grid intensity table knows: ISO 3166-1 alpha-3 country codes and
    ``EU``."""
    countries: dict[str, object] = _grid()["countries"]  # type: ignore[assignment]
    return sorted([*countries, "EU"])


def carbon_intensity(region: str | None) -> Intensity:
    """The grid intensity of a country (ISO 3166-1 alpha-3), the span of the EU's member
    states (``EU``), or the world average where the region is unstated.

    Raises:
        InputError: a region the intensity table does not know (an unknown code never falls
            back to the world average).
    """
    grid = _grid()
    countries: dict[str, dict[str, object]] = grid["countries"]  # type: ignore[assignment]
    origin = "CodeCarbon 3.3.2 global_energy_mix.json (MIT; see ledger/data/energy)"
    if region is not None and region != "EU" and region not in countries:
        raise InputError(unknown_region(region))
    if region in countries:
        row = countries[region]
        value = float(row["g_co2e_per_kwh"])  # type: ignore[arg-type]
        return Intensity(value, value, f"{row['name']} {row['year']}, {origin}")
    if region == "EU":
        values = [float(countries[c]["g_co2e_per_kwh"]) for c in EU27 if c in countries]  # type: ignore[arg-type]
        return Intensity(
            min(values), max(values), f"EU-27 member states, lowest to highest, {origin}"
        )
    world = float(grid["world_average_g_co2e_per_kwh"])  # type: ignore[arg-type]
    return Intensity(
        world,
        world,
        f"world average ({grid['world_average_source']}), CodeCarbon's fallback, "
        "carbon_intensity_per_source.json",
    )


def unknown_region(region: str) -> str:
    """Why a region code is refused, naming the table of known ones."""
    return (
        f"unknown region {region!r}: not a country code of the grid intensity table "
        "(ledger/data/energy/grid_carbon_intensity.json, ISO 3166-1 alpha-3) nor EU"
    )
