"""`receipts report` shows the price bases, energy and emissions of a metered run (issue 17 item
5): the JSON carries them, the terminal prints them after the scopes, within 80 columns.

The run is metered by the fake meter (two devices at 300 W for half an hour), as a user's
`receipts run` would record it, on a real SQLite ledger.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ledger.schema import Category
from ledger.store import Ledger
from probes.gpu.testing import FakeClock, FakeDevice, FakeGpuMeter, fake_device
from probes.run.session import metered_run
from receipts.cli import app

MEASURED_KWH = 2 * 300 * 1800 / 3.6e6  # 0.3 kWh drawn by the GPUs


@pytest.fixture
def metered(sqlite_url: str) -> str:
    clock = FakeClock()
    meter = FakeGpuMeter([FakeDevice(fake_device(0)), FakeDevice(fake_device(1))], clock)
    with (
        Ledger(sqlite_url) as ledger,
        metered_run(
            ledger,
            subject="demo",
            stage="sft",
            category=Category.FINE_TUNING,
            meter=meter,
            clock=clock,
            background=False,
        ) as run,
    ):
        clock.advance(1800)
        run.sampler.step()
    return sqlite_url


def test_report_json_carries_the_measured_energy_and_both_bases(
    runner: CliRunner, metered: str
) -> None:
    done = runner.invoke(app, ["report", "--subject", "demo", "--json", "--ledger", metered])
    assert done.exit_code == 0, done.output
    bases = json.loads(done.stdout)["bases"]
    (whole,) = bases["scopes"]
    assert whole["scope"] == "subject:demo"
    assert whole["energy_provenance"] == ["measured"]
    assert whole["gpu_kwh_low"] == pytest.approx(MEASURED_KWH)
    assert whole["kg_co2e_low"] > 0 and whole["owned"]["cost_usd_low"] is not None


def test_the_terminal_report_prints_the_bases_after_the_scopes(
    runner: CliRunner, metered: str
) -> None:
    done = runner.invoke(
        app, ["report", "--subject", "demo", "--ledger", metered], env={"COLUMNS": "80"}
    )
    assert done.exit_code == 0, done.output
    out = done.stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "Price bases, energy and emissions" in out
    assert "Energy and emissions" in out
    start = out.index("Energy and emissions (facility")
    table = out[start : out.index("└", start)]
    assert "everything demo recorded" in table and "(measured)" in table
    assert "0.3 " in table  # the GPUs' measured 0.3 kWh, not an estimate
    assert "kg CO2e" in table
    assert "pue: 1.1–1.58" in out.replace("\n", " ")
