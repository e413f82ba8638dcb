"""Energy, emissions and the owned-hardware basis of every scope: the arithmetic behind
:class:`ledger.bases.Bases`.

Inputs come from bundled, sourced files: device power and overheads and the stated ranges
(``ledger/data/energy/assumptions.yaml``), grid carbon intensity per country
(:mod:`ledger.emissions`), and price cards: electricity per kWh by region
(``electricity/<region>``) and purchase prices per device (``gpu/<model>`` and ``server/<model>``
in unit ``device``). The formulas (``ledger.estimators.gpu_energy_kwh`` and
``owned_gpu_cost_usd``) are stated in docs/methodology.md.

Per run and GPU model: the GPU energy is the run's measured ``energy/gpu`` kWh where its meter read
them, else ``gpu_hours * tdp_w * gpu_power_fraction / 1000`` (estimated). Facility energy is that
times the server power factor and PUE; CO2e is facility energy times the grid intensity; energy
cost is facility energy times the region's electricity cards.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import TYPE_CHECKING

from pydantic import Field

from ledger.bases import Bases, BasisCost, EnergyLine, OwnedLine, Parameter, ScopeBases
from ledger.costs import dec, in_scope
from ledger.emissions import Intensity, carbon_intensity
from ledger.estimators import gpu_energy_kwh, owned_gpu_cost_usd
from ledger.files import load_structured, validate
from ledger.schema import (
    Category,
    Estimate,
    PriceCard,
    Provenance,
    Record,
    Scope,
    Unit,
    Usage,
)

if TYPE_CHECKING:
    from ledger.prices import PriceBook
    from ledger.report import CostLine

ENERGY_RESOURCE = "energy/gpu"
"""The resource of metered GPU energy (``probes/gpu/usage.py``)."""
ZERO = Decimal(0)


class Device(Record):
    """Power and overheads of one GPU model, with their source."""

    resource: str
    """The GPU resource (``gpu/H100``)."""
    tdp_w: float = Field(gt=0)
    """Board thermal design power, W."""
    server_power_factor: float = Field(ge=1)
    """Server power per GPU over GPU power (CPUs, memory, fans, network)."""
    server_cost_overhead: float = Field(ge=1)
    """Server price per GPU over a board's price (applied to single-board purchase prices)."""
    source: str
    """Where the figures come from."""


class Assumptions(Record):
    """``ledger/data/energy/assumptions.yaml``."""

    schema_version: int
    """Format version."""
    devices: list[Device]
    """Power and overheads per GPU model."""
    parameters: list[Parameter]
    """Stated ranges: gpu_power_fraction, pue, lifetime_years, utilisation,
    interconnect_cost_fraction."""


DEFAULT_SERVER_POWER_FACTOR = 1.8
"""Epoch AI's server power factor for GPUs it has no figure for."""
_DEFAULT = DEFAULT_SERVER_POWER_FACTOR
DEFAULT_SERVER_COST_OVERHEAD = 1.64
"""Epoch AI's average server cost overhead."""


@functools.cache
def assumptions() -> Assumptions:
    """The bundled device figures and stated ranges, read once."""
    entry = resources.files("ledger") / "data" / "energy" / "assumptions.yaml"
    with resources.as_file(entry) as path:
        data, locate = load_structured(path)
        return validate(Assumptions, data, path, locate)


def electricity_cards(book: PriceBook, region: str | None) -> tuple[list[PriceCard], str]:
    """The region's electricity cards, or every electricity card where it has none (with the
    region in words)."""
    every = [c for c in book.cards if c.resource.startswith("electricity/") and c.unit is Unit.KWH]
    own = [c for c in every if c.resource == f"electricity/{region}"]
    if own:
        return own, region or ""
    if region:
        return every, f"{region}: no electricity card of its own, every region's cards apply"
    return (
        every,
        "region not stated: every region's electricity cards, world-average grid intensity",
    )


@dataclass(frozen=True)
class _Purchase:
    low: float
    high: float
    cards: list[str]


def purchase_range(book: PriceBook, device: Device) -> _Purchase | None:
    """Purchase price per GPU with its server share: ``server/<model>`` cards as they are,
    ``gpu/<model>`` board cards times the server cost overhead; ``None`` where neither exists."""
    model = device.resource.removeprefix("gpu/")
    prices: list[tuple[float, str]] = []
    for card in book.cards:
        if card.unit is not Unit.DEVICE:
            continue
        if card.resource == f"server/{model}":
            prices.append((float(card.usd_per_unit), card.id))
        elif card.resource == device.resource:
            prices.append((float(card.usd_per_unit) * device.server_cost_overhead, card.id))
    if not prices:
        return None
    return _Purchase(min(p for p, _ in prices), max(p for p, _ in prices), [i for _, i in prices])


def _param(name: str, given: dict[str, Parameter]) -> tuple[float, float]:
    p = given[name]
    return p.low, p.high


@dataclass(frozen=True)
class _Context:
    book: PriceBook
    devices: dict[str, Device]
    params: dict[str, Parameter]
    intensity: Intensity
    kwh_cards: list[PriceCard]


def build_bases(
    lines: Sequence[CostLine],
    scopes: Iterable[Scope],
    book: PriceBook,
    region: str | None = None,
    utilisation: tuple[float, float] | None = None,
) -> Bases:
    """Every scope on the rental and owned bases, with its energy and emissions.

    ``lines`` are the priced cost lines of a subject and its ancestors (``ledger.costs``);
    ``utilisation`` replaces the stated share of lifetime hours the hardware works.
    """
    ctx, label = _context(book, region, utilisation)
    prices = [c.usd_per_unit for c in ctx.kwh_cards]
    return Bases(
        region=region,
        region_label=label,
        electricity_cards=[c.id for c in ctx.kwh_cards],
        usd_per_kwh_low=min(prices) if prices else None,
        usd_per_kwh_high=max(prices) if prices else None,
        g_co2e_per_kwh_low=ctx.intensity.low,
        g_co2e_per_kwh_high=ctx.intensity.high,
        carbon_source=ctx.intensity.source,
        parameters=list(ctx.params.values()),
        scopes=[_scope(lines, scope, ctx) for scope in scopes],
    )


def _context(
    book: PriceBook, region: str | None, utilisation: tuple[float, float] | None
) -> tuple[_Context, str]:
    """The stated inputs, the region's electricity cards and grid intensity (and the region in
    words)."""
    stated = assumptions()
    params = {p.name: p for p in stated.parameters}
    if utilisation is not None:
        params["utilisation"] = Parameter(
            name="utilisation",
            low=utilisation[0],
            high=utilisation[1],
            source="stated by the caller",
        )
    cards, label = electricity_cards(book, region)
    ctx = _Context(
        book=book,
        devices={d.resource: d for d in stated.devices},
        params=params,
        intensity=carbon_intensity(region),
        kwh_cards=cards,
    )
    return ctx, label


@dataclass(frozen=True)
class OwnedRate:
    """What one GPU-hour costs on hardware one owns: amortised purchase plus the estimated
    energy of an hour (``ledger.estimators.owned_gpu_cost_usd`` for one GPU-hour)."""

    resource: str
    """The GPU resource (``gpu/H800``)."""
    usd_low: Decimal
    """Low end, US dollars per GPU-hour (cheapest purchase, longest lifetime, least energy)."""
    usd: Decimal
    """Central: the formula at the midpoint of every input range."""
    usd_high: Decimal
    """High end (dearest purchase, shortest lifetime, most energy)."""
    sources: tuple[str, ...]
    """Purchase and electricity card ids."""


def owned_rate(
    book: PriceBook,
    resource: str,
    region: str | None = None,
    utilisation: tuple[float, float] | None = None,
) -> OwnedRate | None:
    """The owned basis per GPU-hour of one device model, with its energy estimated from the
    device's power range; ``None`` where the device has no power figure or purchase price, or no
    electricity card applies."""
    ctx, _ = _context(book, region, utilisation)
    device = _device(resource, ctx)
    if device is None:
        return None
    energy = gpu_energy_kwh(
        id="owned-rate/energy",
        run="owned-rate",
        gpu_hours=(1.0, 1.0),
        tdp_w=device.tdp_w,
        gpu_power_fraction=_param("gpu_power_fraction", ctx.params),
    )
    assert energy.low is not None and energy.high is not None
    kwh = _facility_kwh(energy.low, energy.high, device.server_power_factor, ctx)
    priced = _owned_usage(ctx, device, "owned-rate", "owned-rate", (1.0, 1.0), kwh)
    if priced is None:
        return None
    usage, cards = priced
    assert usage.low is not None and usage.high is not None and usage.quantity is not None
    return OwnedRate(
        resource=resource,
        usd_low=dec(usage.low),
        usd=dec(usage.quantity),
        usd_high=dec(usage.high),
        sources=(*cards, *(c.id for c in ctx.kwh_cards)),
    )


def _facility_kwh(
    gpu_kwh_low: float, gpu_kwh_high: float, server_power_factor: float, ctx: _Context
) -> tuple[float, float]:
    """GPU energy at the facility: times the server power factor and the PUE range, kWh."""
    pue = _param("pue", ctx.params)
    return (
        gpu_kwh_low * server_power_factor * pue[0],
        gpu_kwh_high * server_power_factor * pue[1],
    )


def _owned_usage(
    ctx: _Context,
    device: Device,
    id: str,
    run: str,
    gpu_hours: tuple[float, float],
    kwh: tuple[float, float],
) -> tuple[Usage, list[str]] | None:
    """The owned cost of GPU-hours on one device (``ledger.estimators.owned_gpu_cost_usd``) with
    the purchase cards used; ``None`` where the device has no purchase price or no electricity
    card applies."""
    purchase = purchase_range(ctx.book, device)
    prices = [float(c.usd_per_unit) for c in ctx.kwh_cards]
    if purchase is None or not prices:
        return None
    usage = owned_gpu_cost_usd(
        id=id,
        run=run,
        resource=device.resource,
        gpu_hours=gpu_hours,
        purchase_usd_per_gpu=(purchase.low, purchase.high),
        lifetime_years=_param("lifetime_years", ctx.params),
        utilisation=_param("utilisation", ctx.params),
        interconnect_cost_fraction=_param("interconnect_cost_fraction", ctx.params),
        facility_kwh=kwh,
        usd_per_kwh=(min(prices), max(prices)),
        purchase_cards=", ".join(purchase.cards),
    )
    return usage, purchase.cards


def owned_lines(
    lines: Sequence[CostLine], book: PriceBook, region: str | None = None
) -> list[OwnedLine]:
    """The owned cost of every GPU line of ``lines``, the ancestors' included (one per run and
    device model; lines with no purchase price or power figure are left out)."""
    everything = Scope(
        id="lineage",
        subject="lineage",
        label="everything, inherited included",
        categories=list(Category),
        include_inherited=True,
    )
    return build_bases(lines, [everything], book, region).scopes[0].owned_lines


def subject_scope(subject: str) -> Scope:
    """Everything a subject itself recorded (its ancestors' costs left out), for reports."""
    return Scope(
        id=f"subject:{subject}",
        subject=subject,
        label=f"everything {subject} recorded",
        categories=list(Category),
    )


def is_gpu_line(line: CostLine) -> bool:
    """Whether a cost line counts GPU-hours of an accelerator (``gpu/<model>`` in
    ``gpu_hour``): the lines the owned basis and the energy estimate price."""
    return line.unit is Unit.GPU_HOUR and line.resource.startswith("gpu/")


def _admits_energy(scope: Scope) -> bool:
    """Whether a scope's resource prefixes admit metered GPU energy (``energy/gpu``) or GPU
    time: a scope of API tokens alone (``["api/"]``) counts no kWh."""
    prefixes = scope.resource_prefixes
    return prefixes is None or any(
        ENERGY_RESOURCE.startswith(p) or "gpu/".startswith(p) for p in prefixes
    )


def _scope(lines: Sequence[CostLine], scope: Scope, ctx: _Context) -> ScopeBases:
    members = [line for line in lines if in_scope(line, scope)]
    gpu = [line for line in members if is_gpu_line(line)]
    runs = {line.run for line in gpu}
    # metered energy belongs to the scope where the run's GPU time does (a scope restricted to
    # ``gpu/`` resources still counts the energy of its GPUs); a run metered without GPU-hours
    # counts where the scope admits GPU energy at all
    unrestricted = scope.model_copy(update={"resource_prefixes": None})
    admits = _admits_energy(scope)
    measured: dict[str, list[CostLine]] = {}
    for line in lines:
        is_energy = line.resource == ENERGY_RESOURCE and line.unit is Unit.KWH
        if is_energy and (line.run in runs or (admits and in_scope(line, unrestricted))):
            measured.setdefault(line.run, []).append(line)
    energy, per_line, unmetered = _energy(gpu, measured, ctx)
    owned, owned_missing, owned_sources = _owned(gpu, per_line, ctx)
    rental = _rental(members, gpu)
    non_gpu_low = sum((m.cost_usd_low or ZERO for m in members if not is_gpu_line(m)), ZERO)
    non_gpu_high = sum((m.cost_usd_high or ZERO for m in members if not is_gpu_line(m)), ZERO)
    o_low = sum((o.cost_usd_low for o in owned), ZERO) if owned else None
    o_high = sum((o.cost_usd_high for o in owned), ZERO) if owned else None
    any_non_gpu = any(m.cost_usd_low is not None for m in members if not is_gpu_line(m))
    non_gpu_cards = {c for m in members if not is_gpu_line(m) for c in _cards(m)}
    owned_basis = BasisCost(
        basis="owned",
        cost_usd_low=(o_low or ZERO) + non_gpu_low if owned or any_non_gpu else None,
        cost_usd_high=(o_high or ZERO) + non_gpu_high if owned or any_non_gpu else None,
        gpu_cost_usd_low=o_low,
        gpu_cost_usd_high=o_high,
        unpriced_gpu_lines=owned_missing,
        sources=sorted(owned_sources | non_gpu_cards),
    )
    facility_low = sum(e.facility_kwh_low for e in energy) if energy else None
    facility_high = sum(e.facility_kwh_high for e in energy) if energy else None
    prices = [c.usd_per_unit for c in ctx.kwh_cards]
    cost_low = cost_high = None
    if facility_low is not None and facility_high is not None and prices:
        cost_low = dec(facility_low) * min(prices)
        cost_high = dec(facility_high) * max(prices)
    return ScopeBases(
        scope=scope.id,
        label=scope.label,
        gpu_hours_low=sum(g.quantity_low for g in gpu) if gpu else None,
        gpu_hours_high=sum(g.quantity_high for g in gpu) if gpu else None,
        rental=rental,
        owned=owned_basis,
        energy_provenance=sorted({e.provenance for e in energy}, key=list(Provenance).index),
        gpu_kwh_low=sum(e.gpu_kwh_low for e in energy) if energy else None,
        gpu_kwh_high=sum(e.gpu_kwh_high for e in energy) if energy else None,
        facility_kwh_low=facility_low,
        facility_kwh_high=facility_high,
        energy_cost_usd_low=cost_low,
        energy_cost_usd_high=cost_high,
        kg_co2e_low=sum(e.kg_co2e_low for e in energy) if energy else None,
        kg_co2e_high=sum(e.kg_co2e_high for e in energy) if energy else None,
        unmetered_gpu_lines=unmetered,
        energy_lines=energy,
        owned_lines=owned,
    )


def _cards(line: CostLine) -> set[str]:
    return {c for c in (line.low_card, line.high_card) if c}


def _rental(members: Sequence[CostLine], gpu: Sequence[CostLine]) -> BasisCost:
    priced = [m for m in members if m.cost_usd_low is not None and m.cost_usd_high is not None]
    gpu_priced = [g for g in gpu if g.cost_usd_low is not None and g.cost_usd_high is not None]
    return BasisCost(
        basis="rental",
        cost_usd_low=sum((m.cost_usd_low or ZERO for m in priced), ZERO) if priced else None,
        cost_usd_high=sum((m.cost_usd_high or ZERO for m in priced), ZERO) if priced else None,
        gpu_cost_usd_low=sum((g.cost_usd_low or ZERO for g in gpu_priced), ZERO)
        if gpu_priced
        else None,
        gpu_cost_usd_high=sum((g.cost_usd_high or ZERO for g in gpu_priced), ZERO)
        if gpu_priced
        else None,
        unpriced_gpu_lines=len(gpu) - len(gpu_priced),
        sources=sorted({c for m in priced for c in _cards(m)}),
    )


def _device(resource: str, ctx: _Context) -> Device | None:
    return ctx.devices.get(resource)


def _energy(
    gpu: Sequence[CostLine], measured: dict[str, list[CostLine]], ctx: _Context
) -> tuple[list[EnergyLine], dict[int, EnergyLine], int]:
    """Energy per run and GPU model: metered where the run has a reading (split between the
    run's GPU models by their GPU-hours), else estimated from the device's power range; each GPU
    line's energy by its index in ``gpu``; the count of GPU lines with neither."""
    fraction = _param("gpu_power_fraction", ctx.params)
    per_line: dict[int, EnergyLine] = {}
    unmetered = 0
    run_hours: dict[str, float] = {}
    run_lines: dict[str, int] = {}
    for line in gpu:
        run_hours[line.run] = run_hours.get(line.run, 0.0) + line.quantity
        run_lines[line.run] = run_lines.get(line.run, 0) + 1
    for i, line in enumerate(gpu):
        device = _device(line.resource, ctx)
        factor = device.server_power_factor if device else DEFAULT_SERVER_POWER_FACTOR
        if line.run in measured:
            readings = measured[line.run]
            low = sum(r.quantity_low for r in readings)
            high = sum(r.quantity_high for r in readings)
            share = None
            if run_lines[line.run] > 1:  # one meter reading, several GPU lines: by GPU-hours
                total = run_hours[line.run]
                share = line.quantity / total if total else 1 / run_lines[line.run]
                low, high = low * share, high * share
            per_line[i] = _energy_line(
                line, Provenance.MEASURED, low, high, factor, ctx, share=share
            )
            continue
        if device is None:
            unmetered += 1
            continue
        usage = gpu_energy_kwh(
            id=f"{line.run}/energy-estimate",
            run=line.run,
            gpu_hours=(line.quantity_low, line.quantity_high),
            tdp_w=device.tdp_w,
            gpu_power_fraction=fraction,
            note=device.source,
        )
        assert usage.low is not None and usage.high is not None
        per_line[i] = _energy_line(
            line, Provenance.ESTIMATED, usage.low, usage.high, factor, ctx, usage.estimate
        )
    out = [per_line[i] for i in sorted(per_line, key=lambda i: (gpu[i].run, gpu[i].resource))]
    for run, readings in sorted(measured.items()):  # metered energy of runs without GPU-hours
        if run not in run_hours:
            low = sum(r.quantity_low for r in readings)
            high = sum(r.quantity_high for r in readings)
            out.append(
                _energy_line(
                    readings[0], Provenance.MEASURED, low, high, DEFAULT_SERVER_POWER_FACTOR, ctx
                )
            )
    return out, per_line, unmetered


def _energy_line(
    line: CostLine,
    provenance: Provenance,
    low: float,
    high: float,
    factor: float,
    ctx: _Context,
    estimate: Estimate | None = None,
    share: float | None = None,
) -> EnergyLine:
    f_low, f_high = _facility_kwh(low, high, factor, ctx)
    return EnergyLine(
        run=line.run,
        resource=line.resource,
        provenance=provenance,
        gpu_kwh_low=low,
        gpu_kwh_high=high,
        facility_kwh_low=f_low,
        facility_kwh_high=f_high,
        kg_co2e_low=f_low * ctx.intensity.low / 1000,
        kg_co2e_high=f_high * ctx.intensity.high / 1000,
        estimate=estimate,
        share_of_run=share,
    )


def _owned(
    gpu: Sequence[CostLine], energy: dict[int, EnergyLine], ctx: _Context
) -> tuple[list[OwnedLine], int, set[str]]:
    """Owned cost per GPU line (``energy``: each line's energy by its index in ``gpu``); the
    count of lines without a purchase price, power figure or electricity card; the sources
    used."""
    out: list[OwnedLine] = []
    missing = 0
    sources: set[str] = set()
    for i in sorted(range(len(gpu)), key=lambda i: (gpu[i].run, gpu[i].resource)):
        line = gpu[i]
        device = _device(line.resource, ctx)
        e = energy.get(i)
        priced = None
        if device is not None and e is not None:
            priced = _owned_usage(
                ctx,
                device,
                f"{line.run}/owned",
                line.run,
                (line.quantity_low, line.quantity_high),
                (e.facility_kwh_low, e.facility_kwh_high),
            )
        if priced is None:
            missing += 1
            continue
        usage, cards = priced
        assert usage.estimate is not None and usage.low is not None and usage.high is not None
        sources |= set(cards) | {c.id for c in ctx.kwh_cards}
        out.append(
            OwnedLine(
                run=line.run,
                resource=line.resource,
                cost_usd_low=dec(usage.low),
                cost_usd_high=dec(usage.high),
                estimate=usage.estimate,
                cost_usd=dec(usage.quantity) if usage.quantity is not None else None,
            )
        )
    if out:
        sources |= {f"{p.name}: {p.source}" for p in ctx.params.values()}
    return out, missing, sources
