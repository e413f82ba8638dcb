"""Price bases, energy and emissions (issue 17): the owned-hardware basis beside the rental one,
measured and estimated energy, its cost and CO2e, for the s1 audit and a metered run."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ledger.audit import build_report
from ledger.emissions import carbon_intensity, known_regions
from ledger.energy import ENERGY_RESOURCE, assumptions, build_bases, purchase_range
from ledger.errors import InputError
from ledger.estimators import HOURS_PER_YEAR, gpu_energy_kwh, owned_gpu_cost_usd
from ledger.prices import PriceBook, bundled_cards
from ledger.render_bases import render_bases
from ledger.report import CostLine
from ledger.schema import Category, Provenance, Run, RunStatus, Scope, Subject, Unit, Usage
from ledger.store import Ledger
from probes.gpu.testing import FakeClock, FakeDevice, FakeGpuMeter, fake_device
from probes.run.session import metered_run
from receipts.cli import app


@pytest.fixture
def s1(runner: CliRunner, ledger_url: str) -> dict:
    result = runner.invoke(app, ["audit", "s1", "--json", "--ledger", ledger_url])
    assert result.exit_code == 0, result.output
    audit: dict = json.loads(result.stdout)
    return audit


def test_s1_scopes_carry_rental_and_owned_bases_kwh_and_co2e_with_sources(s1: dict) -> None:
    bases = s1["bases"]
    assert bases["region"] == "USA" and bases["electricity_cards"]
    assert "CodeCarbon" in bases["carbon_source"] and "United States" in bases["carbon_source"]
    names = {p["name"] for p in bases["parameters"]}
    assert names == {
        "gpu_power_fraction",
        "pue",
        "lifetime_years",
        "utilisation",
        "interconnect_cost_fraction",
    }
    assert all(p["source"] for p in bases["parameters"])
    scopes = {s["scope"]: s for s in bases["scopes"]}
    assert list(scopes) == [s["scope"] for s in s1["scopes"]]
    final = scopes["s1/final-sft-rented"]
    # the rental basis is the audit's own figure for the scope
    audit_final = next(s for s in s1["scopes"] if s["scope"] == "s1/final-sft-rented")
    assert final["rental"]["cost_usd_low"] == audit_final["cost_usd_low"]
    assert final["rental"]["cost_usd_high"] == audit_final["cost_usd_high"]
    assert final["rental"]["sources"] and final["owned"]["sources"]
    assert any(s.startswith("buy-h100-") for s in final["owned"]["sources"])
    assert any(s.startswith("electricity-usa-") for s in final["owned"]["sources"])
    assert final["owned"]["unpriced_gpu_lines"] == 0
    # 16 H100 for 26 minutes, estimated from the board's 700 W at 75-100% of TDP
    assert final["energy_provenance"] == ["estimated"]
    assert final["gpu_kwh_low"] == pytest.approx(6.9333 * 0.7 * 0.75, rel=1e-3)
    assert final["gpu_kwh_high"] == pytest.approx(6.9333 * 0.7, rel=1e-3)
    assert final["facility_kwh_low"] == pytest.approx(final["gpu_kwh_low"] * 1.8214 * 1.1)
    assert final["facility_kwh_high"] == pytest.approx(final["gpu_kwh_high"] * 1.8214 * 1.58)
    assert final["kg_co2e_low"] == pytest.approx(final["facility_kwh_low"] * 0.369473)
    assert 0 < final["kg_co2e_low"] < final["kg_co2e_high"] < 10
    (line,) = final["energy_lines"]
    assert line["estimate"]["estimator"] == "gpu_energy_kwh"
    (owned,) = final["owned_lines"]
    assert owned["estimate"]["estimator"] == "owned_gpu_cost_usd"
    assert owned["estimate"]["inputs"]["lifetime_years_high"] == 5.0
    # owning the GPUs is cheaper per hour than the dearest rental, and the low ends differ too
    assert final["owned"]["cost_usd_high"] < final["rental"]["cost_usd_high"]
    assert final["owned"]["cost_usd_low"] != final["rental"]["cost_usd_low"]
    # scopes grow, and energy with them
    wide = scopes["s1/all-inherited"]
    assert wide["kg_co2e_low"] > 1000 * final["kg_co2e_high"]


def test_a_scope_without_gpu_usage_has_no_energy_not_zero(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        ledger.record(
            [
                Subject(id="demo", name="demo"),
                Run(
                    id="demo/data",
                    subject="demo",
                    stage="data",
                    category=Category.DATA,
                    name="labels",
                    status=RunStatus.SUCCEEDED,
                ),
                Usage(
                    id="demo/data/out",
                    run="demo/data",
                    resource="api/gpt-4o-mini",
                    unit=Unit.OUTPUT_TOKEN,
                    quantity=1000.0,
                    provenance=Provenance.MEASURED,
                ),
            ]
        )
        report = build_report(ledger, "demo")
    assert report.bases is not None
    (whole,) = report.bases.scopes
    assert whole.scope == "subject:demo"
    assert whole.gpu_kwh_low is None and whole.kg_co2e_high is None
    assert whole.energy_cost_usd_low is None and whole.energy_provenance == []
    assert whole.owned.gpu_cost_usd_low is None
    # the API tokens cost the same on both bases: nobody owns an API
    assert whole.owned.cost_usd_low == whole.rental.cost_usd_low is not None


def test_a_metered_run_gets_energy_cost_and_co2e_from_its_measured_joules(
    sqlite_url: str,
) -> None:
    clock = FakeClock()
    meter = FakeGpuMeter([FakeDevice(fake_device(0)), FakeDevice(fake_device(1))], clock)
    with Ledger(sqlite_url) as ledger:
        with metered_run(
            ledger,
            subject="demo",
            stage="sft",
            category=Category.FINE_TUNING,
            meter=meter,
            clock=clock,
            background=False,
        ) as run:
            clock.advance(1800)
            run.sampler.step()
        report = build_report(ledger, "demo", region="FRA")
    assert report.bases is not None
    (whole,) = report.bases.scopes
    measured_kwh = 2 * 300 * 1800 / 3.6e6  # two fake devices at 300 W for half an hour
    assert whole.energy_provenance == ["measured"]
    assert whole.gpu_kwh_low == pytest.approx(measured_kwh)
    assert whole.gpu_kwh_high == pytest.approx(measured_kwh)
    assert whole.facility_kwh_low == pytest.approx(measured_kwh * 1.8214 * 1.1)
    france = carbon_intensity("FRA")
    assert whole.kg_co2e_low == pytest.approx(whole.facility_kwh_low * france.low / 1000)
    assert report.bases.region_label.startswith("FRA: no electricity card")
    assert whole.energy_cost_usd_low is not None and whole.energy_cost_usd_low > 0
    (owned,) = whole.owned_lines
    assert owned.estimate.inputs["facility_kwh_low"] == pytest.approx(whole.facility_kwh_low)
    payload = json.loads(report.model_dump_json())
    assert payload["bases"]["scopes"][0]["energy_lines"][0]["provenance"] == "measured"


def test_owned_cost_formula_matches_epoch_ai_arithmetic() -> None:
    usage = owned_gpu_cost_usd(
        id="x/owned",
        run="x",
        resource="gpu/H100",
        gpu_hours=(100.0, 100.0),
        purchase_usd_per_gpu=(30000.0, 40000.0),
        lifetime_years=(3.0, 5.0),
        utilisation=(0.5, 1.0),
        interconnect_cost_fraction=0.19,
        facility_kwh=(100.0, 200.0),
        usd_per_kwh=(0.08, 0.1),
    )
    low = 100 * 30000 / (5 * HOURS_PER_YEAR * 1.0) / 0.81 + 100 * 0.08
    high = 100 * 40000 / (3 * HOURS_PER_YEAR * 0.5) / 0.81 + 200 * 0.1
    assert (usage.low, usage.high) == (pytest.approx(low), pytest.approx(high))
    assert usage.estimate is not None and usage.estimate.inputs["utilisation_low"] == 0.5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"gpu_power_fraction": (0.5, 1.2)}, "gpu_power_fraction"),
        ({"gpu_power_fraction": (float("nan"), 1.0)}, "gpu_power_fraction"),
        ({"tdp_w": -700.0}, "tdp_w"),
    ],
)
def test_energy_estimate_refuses_absurd_inputs(kwargs: dict, field: str) -> None:
    args = {"id": "x/e", "run": "x", "gpu_hours": (1.0, 2.0), "tdp_w": 700.0}
    args |= {"gpu_power_fraction": (0.75, 1.0)} | kwargs
    with pytest.raises(InputError, match=field):
        gpu_energy_kwh(**args)


def test_every_device_with_a_rental_card_has_a_power_figure_and_a_purchase_price() -> None:
    book = PriceBook(bundled_cards())
    devices = {d.resource for d in assumptions().devices}
    bought = {c.resource for c in book.cards if c.unit is Unit.DEVICE}
    for model in ("H100", "H800", "H200", "B200"):
        assert f"gpu/{model}" in devices
        assert {f"gpu/{model}", f"server/{model}"} & bought
    for model in ("H100", "H200", "B200"):
        assert book.range(f"gpu/{model}", Unit.GPU_HOUR) is not None


def test_render_bases_prints_a_dash_for_what_nobody_could_compute(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        ledger.record(
            [
                Subject(id="demo", name="demo"),
                Run(
                    id="demo/sft",
                    subject="demo",
                    stage="sft",
                    category=Category.FINE_TUNING,
                    name="sft",
                    status=RunStatus.SUCCEEDED,
                ),
                Usage(
                    id="demo/sft/gpu",
                    run="demo/sft",
                    resource="gpu/H100",
                    unit=Unit.GPU_HOUR,
                    quantity=8.0,
                    provenance=Provenance.DECLARED,
                ),
                Usage(
                    id="demo/sft/tpu",
                    run="demo/sft",
                    resource="gpu/TPU-V9",
                    unit=Unit.GPU_HOUR,
                    quantity=8.0,
                    provenance=Provenance.DECLARED,
                ),
            ]
        )
        report = build_report(ledger, "demo", region="USA")
    assert report.bases is not None
    (whole,) = report.bases.scopes
    assert whole.unmetered_gpu_lines == 1 and whole.owned.unpriced_gpu_lines == 1
    assert whole.rental.unpriced_gpu_lines == 1
    out = io.StringIO()
    render_bases(Console(file=out, width=250), report.bases)
    text = out.getvalue()
    assert "Price bases, energy and emissions" in text
    assert "everything demo recorded" in text and "(estimated)" in text
    assert "+1 GPU line(s) unpriced" in text and "+1 GPU line(s) without power figure" in text
    assert "pue: 1.1–1.58" in text
    assert whole.owned.cost_usd_low is not None and whole.owned.cost_usd_low > Decimal(0)


def _line(run: str, resource: str, unit: Unit, quantity: float) -> CostLine:
    """A cost line of the subject ``demo``'s fine-tuning, unpriced (bases price GPU lines
    themselves; energy lines are informational)."""
    return CostLine(
        subject="demo",
        inherited=False,
        category=Category.FINE_TUNING,
        stage="sft",
        run=run,
        resource=resource,
        unit=unit,
        provenance=Provenance.MEASURED,
        quantity=quantity,
        quantity_low=quantity,
        quantity_high=quantity,
        cost_usd_low=None,
        cost_usd_high=None,
        low_card=None,
        high_card=None,
        cards=[],
    )


def _scope(sid: str, prefixes: list[str] | None) -> Scope:
    return Scope(
        id=sid,
        subject="demo",
        label=sid,
        categories=[Category.FINE_TUNING],
        resource_prefixes=prefixes,
    )


def test_metered_energy_counts_only_in_scopes_that_admit_gpu_energy() -> None:
    """A scope of API tokens alone counts no kWh, even where a run of its categories was metered;
    one restricted to ``gpu/`` counts the energy of its GPU time, and so does one naming
    ``energy/``."""
    lines = [
        _line("demo/sft", "gpu/H100", Unit.GPU_HOUR, 8.0),
        _line("demo/sft", ENERGY_RESOURCE, Unit.KWH, 4.0),
        _line("demo/probe", ENERGY_RESOURCE, Unit.KWH, 1.0),  # metered, no GPU-hours recorded
        _line("demo/api", "api/gpt-4o-mini", Unit.OUTPUT_TOKEN, 1000.0),
    ]
    scopes = [
        _scope("api", ["api/"]),
        _scope("gpu", ["gpu/"]),
        _scope("energy", ["energy/"]),
        _scope("all", None),
    ]
    bases = {s.scope: s for s in build_bases(lines, scopes, PriceBook(bundled_cards())).scopes}
    assert bases["api"].gpu_kwh_low is None and bases["api"].energy_lines == []
    assert bases["gpu"].gpu_kwh_low == pytest.approx(5.0)  # the GPUs' run and the metered probe
    assert bases["energy"].gpu_kwh_low == pytest.approx(5.0)
    assert bases["all"].gpu_kwh_low == pytest.approx(5.0)


def test_a_metered_run_on_two_gpu_models_splits_its_reading_by_gpu_hours() -> None:
    lines = [
        _line("demo/sft", "gpu/H100", Unit.GPU_HOUR, 6.0),
        _line("demo/sft", "gpu/A100", Unit.GPU_HOUR, 2.0),
        _line("demo/sft", ENERGY_RESOURCE, Unit.KWH, 4.0),
    ]
    book = PriceBook(bundled_cards())
    (scope,) = build_bases(lines, [_scope("all", None)], book, "USA").scopes
    by_model = {e.resource: e for e in scope.energy_lines}
    assert by_model["gpu/H100"].gpu_kwh_low == pytest.approx(3.0)
    assert by_model["gpu/A100"].gpu_kwh_low == pytest.approx(1.0)
    assert by_model["gpu/H100"].share_of_run == pytest.approx(0.75)
    assert scope.gpu_kwh_low == pytest.approx(4.0)
    # each model's share at its own server power factor
    a100 = next(d for d in assumptions().devices if d.resource == "gpu/A100")
    assert by_model["gpu/A100"].facility_kwh_low == pytest.approx(
        1.0 * a100.server_power_factor * 1.1
    )
    # and each model's owned cost carries its own share of the energy
    owned = {o.resource: o for o in scope.owned_lines}
    assert owned["gpu/A100"].estimate.inputs["facility_kwh_low"] == pytest.approx(
        by_model["gpu/A100"].facility_kwh_low
    )
    assert owned["gpu/A100"].estimate.inputs["facility_kwh_low"] > 0


def test_the_networking_share_is_a_range() -> None:
    usage = owned_gpu_cost_usd(
        id="x/owned",
        run="x",
        resource="gpu/H100",
        gpu_hours=(100.0, 100.0),
        purchase_usd_per_gpu=(30000.0, 30000.0),
        lifetime_years=(4.0, 4.0),
        utilisation=(1.0, 1.0),
        interconnect_cost_fraction=(0.1, 0.3),
        facility_kwh=(0.0, 0.0),
        usd_per_kwh=(0.1, 0.1),
    )
    hardware = 100 * 30000 / (4 * HOURS_PER_YEAR)
    assert usage.low == pytest.approx(hardware / 0.9)
    assert usage.high == pytest.approx(hardware / 0.7)
    assert usage.estimate is not None
    assert usage.estimate.inputs["interconnect_cost_fraction_high"] == 0.3
    with pytest.raises(InputError, match="interconnect_cost_fraction"):
        owned_gpu_cost_usd(**{**_OWNED, "interconnect_cost_fraction": (0.1, 1.0)})


_OWNED: dict = {
    "id": "x/owned",
    "run": "x",
    "resource": "gpu/H100",
    "gpu_hours": (1.0, 1.0),
    "purchase_usd_per_gpu": (30000.0, 30000.0),
    "lifetime_years": (4.0, 4.0),
    "utilisation": (1.0, 1.0),
    "facility_kwh": (0.0, 0.0),
    "usd_per_kwh": (0.1, 0.1),
}


def test_an_unknown_region_code_is_refused_not_the_world_average() -> None:
    assert "XYZ" not in known_regions() and "FRA" in known_regions() and "EU" in known_regions()
    with pytest.raises(InputError, match=r"unknown region 'XYZ'.*grid_carbon_intensity\.json"):
        carbon_intensity("XYZ")
    assert "world average" in carbon_intensity(None).source


def test_owned_bases_price_only_the_sxm_part_of_a_model() -> None:
    """Boards of another variant (the H100 NVL, the PCIe boards) have their own resource and do
    not price gpu/H100's owned basis; the card whose cited page is an A100 product is gone; an
    HGX baseboard is boards, not a server."""
    cards = {c.id: c for c in bundled_cards()}
    assert "buy-h100-server-2025-03-03-web-archive-org-2" not in cards
    assert cards["buy-h100-nvl-chip-2025-03-03-web-archive-org"].resource == "gpu/H100-NVL"
    assert cards["buy-h200-baseboard-2024-03-27-web-archive-org"].resource == "gpu/H200"
    h100 = next(d for d in assumptions().devices if d.resource == "gpu/H100")
    purchase = purchase_range(PriceBook(bundled_cards()), h100)
    assert purchase is not None
    assert "buy-h100-nvl-chip-2025-03-03-web-archive-org" not in purchase.cards
    assert not any("pcie" in c for c in purchase.cards)
    assert (
        purchase.high
        < float(cards["buy-h100-nvl-chip-2025-03-03-web-archive-org"].usd_per_unit) * 1.64
    )
