"""The arithmetic of ``receipts import prometheus`` (no server): counter differences with resets,
the window's edges, utilisation integrals, selectors, and the missing extra."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from probes.prometheus import (
    Matcher,
    PrometheusError,
    Selection,
    counter_energy,
    held_integral,
    meter_job,
    parse_matcher,
    shown_url,
    trapezoid,
    within,
)
from probes.prometheus.meter import METRICS
from probes.prometheus.method import coverage, scrape_interval
from probes.prometheus.query import Series
from receipts.cli import app
from tests.cli_helpers import assert_bad_input


def test_counter_differences_in_millijoules() -> None:
    got = counter_energy([(10.0, 1_000_000.0), (11.0, 1_700_000.0), (12.0, 2_400_000.0)])
    assert got is not None
    assert (got.energy_j, got.resets, got.first_s, got.last_s) == (1400.0, 0, 10.0, 12.0)


def test_a_reset_counts_the_new_value_not_a_negative_step() -> None:
    # 700 J, then the driver reloads: the counter restarts at 0 and reads 250 J, then +500 J.
    samples = [(0.0, 9e9), (1.0, 9e9 + 700_000), (2.0, 250_000.0), (3.0, 750_000.0)]
    got = counter_energy(samples)
    assert got is not None
    assert (got.energy_j, got.resets) == (700 + 250 + 500, 1)


def test_fewer_than_two_samples_measure_nothing() -> None:
    assert counter_energy([]) is None
    assert counter_energy([(1.0, 5.0)]) is None  # not 0: no interval was covered
    assert trapezoid([(1.0, 5.0)]) is None


def test_utilisation_is_held_to_the_window_edges() -> None:
    # 100 s window; samples at 10 s (50 %) and 90 s (100 %)
    got = held_integral([(1010.0, 50.0), (1090.0, 100.0)], 1000.0, 100.0)
    assert got == 10 * 50 + 80 * 75 + 10 * 100
    assert held_integral([], 0.0, 10.0) is None
    constant = [(1000.0 + t + 0.123, 80.0) for t in range(7)]
    assert held_integral(constant, 1000.0, 7.5) == pytest.approx(80.0 * 7.5, rel=1e-15)


def test_a_generous_window_holds_values_one_scrape_interval_only() -> None:
    # Scrapes every 10 s from 1010 to 1090 at 50 %, in a window of an hour from 1000.
    samples = [(1010.0 + 10 * i, 50.0) for i in range(9)]
    interval = scrape_interval([t for t, _ in samples])
    assert interval == 10.0
    assert held_integral(samples, 1000.0, 3600.0, interval) == 50 * (10 + 80 + 10)
    assert held_integral(samples, 1000.0, 3600.0) == 50 * 3600  # unbounded: the old inflation
    wide = coverage([[t for t, _ in samples]], 1000.0, 3600.0)
    assert (wide.span_s, wide.covered_s, wide.sampled_window) == (80.0, 100.0, False)
    tight = coverage([[t for t, _ in samples]], 1000.0, 105.0)
    assert (tight.covered_s, tight.sampled_window) == (100.0, True)  # 95 % of the window


def test_one_sample_covers_no_time_and_the_gpu_time_is_not_measured() -> None:
    """One scrape in the window says nothing of any stretch of time: not the whole window (as
    an unknown interval once made it), but not measured."""
    lone = coverage([[1010.0], [1010.0], [1010.0]], 1000.0, 3600.0)
    assert (lone.interval_s, lone.covered_s, lone.sampled_window) == (None, None, False)
    (gpu,) = meter_job(_Source(scrapes=1), Selection("7"), 1000.0, 4600.0)  # type: ignore[arg-type]
    assert gpu.unsampled
    assert (gpu.usage.allocated_gpu_s, gpu.usage.busy_gpu_s, gpu.usage.energy_j) == (None,) * 3
    assert gpu.coverage_detail()["allocated_from"] is None


def test_the_scrape_interval_is_each_series_own() -> None:
    """Energy, power and utilisation stored 2 ms apart (two exporters, a recording rule): the
    union of their timestamps has gaps of 2 ms, the series' own are 10 s."""
    (gpu,) = meter_job(_Source(offset_s=0.002), Selection("7"), 1000.0, 4600.0)  # type: ignore[arg-type]
    assert gpu.coverage is not None and gpu.coverage.interval_s == pytest.approx(10.0)
    assert gpu.usage.allocated_gpu_s == pytest.approx(100.004)  # 80 s sampled, 10 s each side
    assert gpu.usage.busy_gpu_s == pytest.approx(50.0, abs=0.01)
    split = coverage([[1010.0, 1020.0], [1030.0, 1060.0]], 1000.0, 3600.0)
    assert (split.interval_s, split.covered_from_s, split.covered_to_s) == (30.0, 0.0, 90.0)


class _Source:
    """Prometheus's answer for one GPU of job 7 on gpu-01 scraped every 10 s, nine times from
    ``first_s`` (1010 to 1090 by default): a fake server."""

    url = "http://127.0.0.1:9"

    def __init__(
        self, first_s: float = 1010.0, uuid: str = "GPU-0", scrapes: int = 9, offset_s: float = 0.0
    ) -> None:
        self.first_s, self.uuid, self.scrapes, self.offset_s = first_s, uuid, scrapes, offset_s

    def samples(self, metric: str, matchers: object, start_s: float, end_s: float) -> list[Series]:
        labels = {"gpu": "0", "UUID": self.uuid, "modelName": "NVIDIA H100 80GB HBM3",
                  "Hostname": "gpu-01", "hpc_job": "7"}  # fmt: skip
        value = {"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": lambda i: 7e6 * i,
                 "DCGM_FI_DEV_POWER_USAGE": lambda i: 700.0,
                 "DCGM_FI_DEV_GPU_UTIL": lambda i: 50.0}[metric]  # fmt: skip
        # Each metric at its own offset (``offset_s`` apart), as two exporters or a recording
        # rule would store them.
        first = self.first_s + self.offset_s * METRICS.index(metric)
        return [Series(metric, labels, [(first + 10 * i, value(i)) for i in range(self.scrapes)])]


def test_a_generous_end_buys_no_gpu_hours() -> None:
    (gpu,) = meter_job(_Source(), Selection("7"), 1000.0, 4600.0)  # type: ignore[arg-type]
    assert gpu.usage.allocated_gpu_s == 100.0  # the scraped span and an interval each side
    assert gpu.usage.busy_gpu_s == 0.5 * 100.0
    assert gpu.usage.energy_j == 700 * 80
    assert gpu.coverage_detail() == {
        "window_s": 3600.0, "sample_span_s": 80.0, "scrape_interval_s": 10.0,
        "covered_s": 100.0, "allocated_from": "samples",
    }  # fmt: skip
    (whole,) = meter_job(_Source(), Selection("7"), 1005.0, 1100.0)  # type: ignore[arg-type]
    assert whole.usage.allocated_gpu_s == 95.0  # scraped over the window: all of it
    assert whole.coverage_detail()["allocated_from"] == "window"


def test_the_window_is_closed_and_one_sample_per_timestamp() -> None:
    samples = [(9.999, 1.0), (10.0, 2.0), (15.0, 3.0), (15.0, 3.0), (20.0, 4.0), (20.001, 5.0)]
    assert within(samples, 10.0, 20.0) == [(10.0, 2.0), (15.0, 3.0), (20.0, 4.0)]
    with pytest.raises(ValueError, match="two different values"):
        within([(15.0, 3.0), (15.0, 4.0)], 0.0, 20.0)


@pytest.mark.parametrize(
    ("text", "promql"),
    [
        ("namespace=ml", 'namespace="ml"'),
        ('pod=~"train-.*"', 'pod=~"train-.*"'),
        ("Hostname != gpu-01", 'Hostname!="gpu-01"'),
        ('job!~x"y', 'job!~"x\\"y"'),
    ],
)
def test_matchers(text: str, promql: str) -> None:
    assert parse_matcher(text).promql() == promql


def test_bad_matcher_and_secret_urls() -> None:
    with pytest.raises(PrometheusError, match="--match 'ns'"):
        parse_matcher("ns")
    assert Matcher("a", "=", "b").promql() == 'a="b"'
    assert shown_url("https://u:pw@prom.example.org:9090/x?token=1") == (
        "https://prom.example.org:9090/x"
    )


BASE = ["import", "prometheus", "--job", "1", "--subject", "toy", "--stage", "sft",
        "--category", "fine_tuning", "--create-subject"]  # fmt: skip


def test_missing_extra_is_one_line(
    runner: CliRunner, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_api_client", None)  # import fails
    argv = [*BASE, "--url", "http://127.0.0.1:9", "--ledger", sqlite_url]
    result = runner.invoke(app, [*argv, "--start", "0", "--end", "60"])
    assert_bad_input(result, "needs prometheus-api-client", "receipts[prometheus]")


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--url", "ftp://x"], ["--url 'ftp://x'", "not an http(s) URL"]),
        (["--start", "2025-01-01T00:00:00"], ["--start", "no zone"]),
        (["--start", "yesterday", "--end", "0"], ["--start 'yesterday'", "not a time"]),
        (["--start", "100"], ["--start and --end go together"]),
        (["--start", "100", "--end", "50"], ["--end", "is not after --start"]),
        ([], ["--job 1: no sacct record", "give --start and --end"]),
    ],
)
def test_bad_options_are_one_line(
    runner: CliRunner, sqlite_url: str, extra: list[str], needles: list[str]
) -> None:
    url = [] if "--url" in extra else ["--url", "http://127.0.0.1:9"]
    result = runner.invoke(app, [*BASE, *url, "--ledger", sqlite_url, *extra])
    assert_bad_input(result, *needles)


def _runs(kind: str, host: str, hours: float, kwh: float) -> list[object]:
    from ledger.schema import Category, Provenance, Run, RunStatus, Unit, Usage

    run = Run(
        id=f"{kind}/7/{host}",
        subject="toy",
        stage="sft",
        category=Category.FINE_TUNING,
        name=kind,
        status=RunStatus.SUCCEEDED,
        host=host,
        job_id="7",
        detail={"importer": "prometheus"} if kind == "prometheus" else None,
    )
    usages = [
        Usage(id=f"{run.id}/{unit.value}", run=run.id, resource=resource, unit=unit,
              quantity=quantity, provenance=Provenance.MEASURED)
        for resource, unit, quantity in (("gpu/H100", Unit.GPU_HOUR, hours),
                                         ("energy/gpu", Unit.KWH, kwh))
    ]  # fmt: skip
    return [run, *usages]


def test_reconcile_sets_the_wrapper_and_prometheus_side_by_side(sqlite_url: str) -> None:
    from ledger.schema import Subject
    from ledger.store import Ledger
    from probes import slurm

    with Ledger(sqlite_url) as ledger:
        ledger.record(
            [
                Subject(id="toy", name="toy"),
                *_runs("wrapper", "gpu-01", 8.0, 4.0),
                *_runs("prometheus", "gpu-01", 8.2, 4.2),
            ]  # type: ignore[list-item]
        )
        got = slurm.reconcile(ledger, "7")
    assert got.probe_runs == ["wrapper/7/gpu-01"]  # the Prometheus run is not a wrapper run
    assert (got.probe_gpu_hours, got.probe_energy_kwh) == (8.0, 4.0)  # never 16.2 GPU-hours
    assert (got.prometheus_gpu_hours, got.prometheus_energy_kwh) == (8.2, 4.2)
    assert got.prometheus_runs == ["prometheus/7/gpu-01"]
    text = " ".join(got.explanation)
    assert "The wrapper measured 8.00 allocated GPU-hours, Prometheus 8.20" in text
    assert "never added" in text
    assert "Energy: the wrapper's NVML counter 4.000 kWh, DCGM's counter 4.200 kWh (+5.0%)" in text
    assert "Probe side missing" not in text
