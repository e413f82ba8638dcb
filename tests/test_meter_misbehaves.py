"""A meter that gives readings that are not finite (NaN, infinity): the run still completes with
the child's exit code, and the bad figure is recorded as not measured (``None``), on SQLite and
PostgreSQL."""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable

import pytest

from ledger.schema import Category, RunStatus, Unit
from ledger.store import Ledger
from probes.gpu.testing import FakeClock, FakeDevice, FakeGpuMeter, fake_device
from probes.run.session import RunSpec
from probes.run.wrap import run_command

NAN, INF = float("nan"), float("inf")


def then_infinite() -> Callable[[float], float]:
    """An energy counter that reads 0 at the window's start and infinity after."""
    calls = itertools.count()
    return lambda t: 0 if next(calls) == 0 else INF


BAD = {
    "power-nan-no-counter": (dict(power_w=lambda t: NAN, energy_counter=False), Unit.KWH),
    "power-inf-no-counter": (dict(power_w=lambda t: INF, energy_counter=False), Unit.KWH),
    "power-nan-with-counter": (dict(power_w=lambda t: NAN), None),
    "energy-counter-inf": (dict(energy_mj_at=then_infinite()), Unit.KWH),
    "utilisation-nan": (dict(sm_util_pct=lambda t: NAN), Unit.GPU_HOUR_BUSY),
}
"""Each case: the fake device's misbehaviour, and the usage it leaves not measured (``None``)."""


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_meter_giving_non_finite_readings_still_completes_the_run(
    ledger_url: str, case: str
) -> None:
    behaviour, unmeasured = BAD[case]
    clock = FakeClock()
    meter = FakeGpuMeter([FakeDevice(fake_device(0), **behaviour), FakeDevice(fake_device(1))],
                         clock)  # fmt: skip
    command = [sys.executable, "-c", "raise SystemExit(5)"]
    spec = RunSpec(subject="demo", stage="sft", category=Category.FINE_TUNING, command=command)
    with Ledger(ledger_url) as ledger:
        code = run_command(ledger, spec, command, meter=meter, clock=clock,
                           sample_interval_s=0.05, heartbeat_s=0.1)  # fmt: skip
    assert code == 5 and meter.closed
    with Ledger(ledger_url, reap=False) as ledger:
        (run,) = ledger.runs("demo")
        usages = {u.id.removeprefix(run.id): u for u in ledger.usages("demo")}
        assert ledger.verify().ok and not ledger.running_runs()
    assert run.status is RunStatus.FAILED and run.exit_code == 5
    good = [u for key, u in usages.items() if key.startswith("/gpu1/")]
    assert len(good) == 3 and all(u.quantity is not None for u in good)
    for key, usage in usages.items():
        assert usage.quantity is None or math.isfinite(usage.quantity), key
        for values in ((usage.detail or {}).get("series") or {}).values():
            assert all(v is None or math.isfinite(v) for v in values), key
    bad = {u.unit: u for key, u in usages.items() if key.startswith("/gpu0/")}
    assert bad[Unit.GPU_HOUR].quantity is not None  # the allocation is the wall time: measured
    if unmeasured is None:
        assert all(u.quantity is not None for u in bad.values())
        return
    assert bad[unmeasured].quantity is None
    assert "not finite" in (bad[unmeasured].note or "")
