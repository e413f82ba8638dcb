"""One job metered twice, whichever comes second: a wrapper's per-node ledger merged into a ledger
holding a Prometheus import of the same job and node, and a wrapper starting on a node that an
import (or another wrapper) already meters. The rule is :mod:`ledger.metered`; the wrappers are
real processes, the per-node ledgers real SQLite files, the imports go through the importer with
the fake Prometheus source of tests/test_prometheus_method.py."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.liveness import last_beat
from ledger.metered import (
    GPU_DEVICES,
    MeteredTwice,
    measuring_runs,
    metered_twice,
    node_name,
    overlaps,
)
from ledger.schema import GPU_UNMETERED, Category, Provenance, Run, RunStatus, Subject, Unit
from ledger.store import Ledger
from probes.gpu.meter import SystemClock
from probes.gpu.testing import FakeDevice, FakeGpuMeter, fake_device
from probes.prometheus import Selection
from probes.prometheus.importer import import_prometheus
from probes.prometheus.meter import UNSAMPLED_NOTE
from probes.run.cluster import ClusterContext
from probes.run.session import MeteredRun, RunSpec
from probes.run.wrap import NO_METER, AlreadyMetered, refuse_metered_twice, run_command
from receipts.cli import app
from tests.cli_helpers import assert_bad_input
from tests.test_prometheus_method import _Source

JOB = "7"
"""The job of the fake source's GPU (``hpc_job="7"`` on ``Hostname="gpu-01"``)."""
SPEC = RunSpec(subject="toy", stage="sft", category=Category.FINE_TUNING)


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _wrapped(
    url: str,
    host: str,
    *,
    devices: int = 1,
    first: int = 0,
    argv: list[str] | None = None,
    **kw: object,
) -> int:
    """``receipts run`` of job 7 on ``host`` (a real child process), metering ``devices`` fake
    GPUs from index ``first``, into the ledger at ``url``."""
    gpus = [FakeDevice(fake_device(i)) for i in range(first, first + devices)]
    meter = FakeGpuMeter(gpus, SystemClock())
    with Ledger(url, reap=False) as ledger:
        return run_command(
            ledger,
            SPEC,
            argv or [sys.executable, "-c", "pass"],
            meter=meter,
            sample_interval_s=0.05,
            cluster=ClusterContext(host, job_id=JOB),
            **kw,  # type: ignore[arg-type]
        )


def _only_run(url: str) -> Run:
    with Ledger(url, reap=False) as ledger:
        (run,) = ledger.runs("toy")
        return run


def _imported(url: str, start: datetime, end: datetime, scrapes: int = 9) -> str:
    """Job 7 imported from (fake) Prometheus over ``[start, end]``: one run, on gpu-01, of its
    GPU 0 (the device the wrappers' fake meter calls GPU 0), scraped ``scrapes`` times every
    10 s from 10 s after the start."""
    source = _Source(first_s=start.timestamp() + 10, uuid=fake_device(0).uuid, scrapes=scrapes)
    with Ledger(url, reap=False) as ledger:
        done = import_prometheus(
            ledger,
            source,  # type: ignore[arg-type]
            Selection(JOB),
            subject="toy",
            stage="sft",
            category=Category.FINE_TUNING,
            start=start,
            end=end,
            create_subject=True,
        )
    (node,) = done.nodes
    return node.run_id


def _head(url: str) -> tuple[int, str]:
    with Ledger(url, reap=False) as ledger:
        return ledger.head()


def _measured_runs(url: str) -> set[str]:
    with Ledger(url, reap=False) as ledger:
        return {
            u.run
            for u in ledger.usages("toy")
            if u.unit is Unit.GPU_HOUR and u.provenance is Provenance.MEASURED
        }


# -- the rule (pure) ----------------------------------------------------------------------------

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def _run(id: str, host: str | None = "gpu-01", job: str | None = JOB, **kw: object) -> Run:
    fields: dict[str, object] = {"started_at": T0, "ended_at": T0 + timedelta(hours=1), **kw}
    return Run(id=id, subject="toy", stage="sft", category=Category.FINE_TUNING, name="sft",
               status=fields.pop("status", RunStatus.SUCCEEDED), host=host, job_id=job,
               **fields)  # type: ignore[arg-type]  # fmt: skip


def test_the_rule_same_job_same_node_overlapping_measured() -> None:
    new = _run("new", "gpu-01.cluster.example.org")
    later = T0 + timedelta(hours=1)
    olds = {
        "measured": _run("measured"),
        "no-gpu-time": _run("no-gpu-time"),
        "linked": _run("linked", detail={"parent_run": "outer"}),
        "other-node": _run("other-node", "gpu-02"),
        "other-job": _run("other-job", job="8"),
        "no-job": _run("no-job", job=None),
        "after": _run("after", started_at=later, ended_at=later + timedelta(hours=1)),
        "running": _run("running", status=RunStatus.RUNNING, ended_at=None),
        "running-unmetered": _run(
            "running-unmetered",
            status=RunStatus.RUNNING,
            ended_at=None,
            detail={GPU_UNMETERED: NO_METER},
        ),
        "new": _run("new"),  # the new run's own earlier state
    }
    ids = ("measured", "linked", "other-node", "other-job", "no-job", "after", "new")
    measured = dict.fromkeys(ids, frozenset[str]())
    found = metered_twice(list(olds.values()), measured, [new])
    assert [c.old.id for c in found] == ["measured", "running"]
    assert all(isinstance(c, MeteredTwice) and c.new is new for c in found)
    assert "still running" in found[1].old_run() and "to now" in found[1].old_run()
    # A linked new run measures nothing of its own: it never clashes either.
    linked = _run("inner", detail={"parent_run": "measured"})
    assert metered_twice(list(olds.values()), measured, [linked]) == []


def test_windows_touching_end_to_start_do_not_overlap() -> None:
    a = _run("a")
    b = _run("b", started_at=a.ended_at, ended_at=None, status=RunStatus.RUNNING)
    assert not overlaps(a, b) and not overlaps(b, a)
    assert overlaps(_run("c", ended_at=None, status=RunStatus.RUNNING), b)
    assert not overlaps(_run("d", started_at=None, ended_at=None), b)
    assert node_name("gpu-01.cluster.example.org") == node_name("gpu-01") == "gpu-01"


# -- merge ----------------------------------------------------------------------------------------


def test_a_wrapper_ledger_merged_onto_an_import_of_its_node_is_refused(
    tmp_path: Path, runner: CliRunner
) -> None:
    """The wrapper on gpu-01 (per-node SQLite file) and a Prometheus import of job 7 over its
    window both measured gpu-01's GPU: merging would count them twice. Refused, all or nothing:
    gpu-02's ledger, listed first, is not merged either."""
    node0, node1 = tmp_path / "node0.db", tmp_path / "node1.db"
    assert _wrapped(_url(node0), "gpu-01.cluster.example.org") == 0
    assert _wrapped(_url(node1), "gpu-02.cluster.example.org") == 0
    wrapper = _only_run(_url(node0))
    assert wrapper.started_at is not None and wrapper.ended_at is not None
    assert _measured_runs(_url(node0)) == {wrapper.id}
    target = tmp_path / "job.db"
    imported = _imported(_url(target), wrapper.started_at - timedelta(minutes=1), wrapper.ended_at)
    head = _head(_url(target))
    result = runner.invoke(app, ["ledger", "merge", str(node1), str(node0), "--into", str(target)])
    assert_bad_input(
        result,
        str(node0),
        f"run {wrapper.id}",
        f"run {imported}",
        "imported from prometheus",
        "gpu-01",
        "twice",
        "nothing merged",
        f"receipts import prometheus --job {JOB} --compare",
    )
    assert _head(_url(target)) == head
    with Ledger(_url(target), reap=False) as ledger:
        assert [r.id for r in ledger.runs("toy")] == [imported]


def test_the_same_merge_over_windows_apart_goes_through(tmp_path: Path, runner: CliRunner) -> None:
    node0 = tmp_path / "node0.db"
    assert _wrapped(_url(node0), "gpu-01") == 0
    wrapper = _only_run(_url(node0))
    assert wrapper.started_at is not None
    target = tmp_path / "job.db"
    before = wrapper.started_at - timedelta(minutes=20)
    imported = _imported(_url(target), before, before + timedelta(minutes=10))
    result = runner.invoke(app, ["ledger", "merge", str(node0), "--into", str(target)])
    assert result.exit_code == 0, result.output
    assert _measured_runs(_url(target)) == {wrapper.id, imported}
    again = runner.invoke(app, ["ledger", "merge", str(node0), "--into", str(target)])
    assert again.exit_code == 0 and "0 copied" in again.stdout  # idempotent, not a clash


def test_a_wrapper_that_measured_no_gpu_merges_beside_the_import(
    tmp_path: Path, runner: CliRunner
) -> None:
    node0 = tmp_path / "node0.db"
    assert _wrapped(_url(node0), "gpu-01", devices=0) == 0
    wrapper = _only_run(_url(node0))
    assert wrapper.started_at is not None and wrapper.ended_at is not None
    assert (wrapper.detail or {}).get(GPU_UNMETERED)
    target = tmp_path / "job.db"
    imported = _imported(_url(target), wrapper.started_at - timedelta(minutes=1), wrapper.ended_at)
    result = runner.invoke(app, ["ledger", "merge", str(node0), "--into", str(target)])
    assert result.exit_code == 0, result.output
    assert _measured_runs(_url(target)) == {imported}  # the GPU time once: Prometheus's


def test_an_import_merged_onto_a_wrapper_is_refused_too(tmp_path: Path, runner: CliRunner) -> None:
    """The other direction of the same rule: the import in the per-node file, the wrapper in
    the target."""
    target = tmp_path / "job.db"
    assert _wrapped(_url(target), "gpu-01") == 0
    wrapper = _only_run(_url(target))
    assert wrapper.started_at is not None and wrapper.ended_at is not None
    side = tmp_path / "prometheus.db"
    imported = _imported(_url(side), wrapper.started_at - timedelta(minutes=1), wrapper.ended_at)
    head = _head(_url(target))
    result = runner.invoke(app, ["ledger", "merge", str(side), "--into", str(target)])
    assert_bad_input(result, f"run {imported}", f"run {wrapper.id}", "metered by a wrapper")
    assert _head(_url(target)) == head


# -- the wrapper's start ----------------------------------------------------------------------


def test_a_wrapper_will_not_start_on_a_node_an_import_meters_past_now(tmp_path: Path) -> None:
    """An import whose ``--end`` lies past now (five minutes from now), its samples covering
    over 90 % of its window, counts gpu-01's GPU time from now on: the wrapper refuses before
    anything is written or its command starts; with ``--no-meter`` the command runs, recorded
    with no GPU time."""
    url = _url(tmp_path / "ledger.db")
    now = datetime.now(UTC)
    imported = _imported(url, now - timedelta(minutes=50), now + timedelta(minutes=5), 300)
    assert _only_run(url).ended_at == now + timedelta(minutes=5)
    head = _head(url)
    marker = tmp_path / "ran"
    argv = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]
    with pytest.raises(AlreadyMetered) as refused:
        _wrapped(url, "gpu-01.cluster.example.org", argv=argv)
    message = str(refused.value)
    for needle in (f"run {imported}", "imported from prometheus", "gpu-01", "nothing started",
                   "--no-meter", f"receipts import prometheus --job {JOB} --compare"):  # fmt: skip
        assert needle in message, message
    assert not marker.exists() and _head(url) == head
    assert _wrapped(url, "gpu-01.cluster.example.org", argv=argv, meter_gpus=False) == 0
    assert marker.exists()
    with Ledger(url, reap=False) as ledger:
        (run,) = [r for r in ledger.runs("toy") if r.id != imported]
    assert run.status is RunStatus.SUCCEEDED and (run.detail or {})[GPU_UNMETERED] == NO_METER
    assert _measured_runs(url) == {imported}


def test_a_wrapper_will_not_start_beside_a_running_wrapper_of_the_job(tmp_path: Path) -> None:
    """Another wrapper of job 7 still running on gpu-01 (not an outer one: its environment did
    not reach this process) meters the node: refused. Linked runs, a running ``--no-meter`` run,
    and wrappers of the job on other nodes block nothing."""
    url = _url(tmp_path / "ledger.db")
    started = datetime.now(UTC) - timedelta(minutes=1)

    def running(id: str, host: str, **detail: object) -> Run:
        return Run(id=id, subject="toy", stage="sft", category=Category.FINE_TUNING, name="sft",
                   status=RunStatus.RUNNING, started_at=started, host=host, job_id=JOB,
                   detail=detail or None)  # fmt: skip

    with Ledger(url, reap=False) as ledger:
        ledger.record(
            [
                Subject(id="toy", name="toy"),
                running("toy/sft/linked", "gpu-01", parent_run="toy/sft/outer"),
                running("toy/sft/quiet", "gpu-01", **{GPU_UNMETERED: NO_METER}),
                running("toy/sft/elsewhere", "gpu-02"),
            ]
        )
    assert _wrapped(url, "gpu-01") == 0  # nothing blocks it
    with Ledger(url, reap=False) as ledger:
        ledger.record([running("toy/sft/sibling", "gpu-01.cluster.example.org")])
        head = ledger.head()
    with pytest.raises(AlreadyMetered, match=r"run toy/sft/sibling \(metered by a wrapper, still"):
        _wrapped(url, "gpu-01")
    assert _head(url) == head


def test_no_meter_from_the_command_line(tmp_path: Path) -> None:
    """``receipts run --no-meter`` (a real process) records the run with the reason, and no GPU
    time; with ``--gpus`` it is bad input."""
    url = _url(tmp_path / "ledger.db")
    base = [sys.executable, "-m", "receipts", "run", "--ledger", url, "--subject", "toy",
            "--stage", "sft", "--category", "fine_tuning", "--no-meter"]  # fmt: skip
    done = subprocess.run([*base, "--", sys.executable, "-c", "pass"], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = _only_run(url)
    assert (run.detail or {})[GPU_UNMETERED] == NO_METER and _measured_runs(url) == set()
    assert "recorded no GPU usage: not metered (--no-meter)" in done.stderr
    both = subprocess.run([*base, "--gpus", "1", "--gpu-model", "H100", "--", "true"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert both.returncode == 2 and both.stderr.count("\n") == 1
    assert "--no-meter and --gpus exclude each other" in both.stderr


# -- devices: steps of one job on disjoint GPUs of a node ---------------------------------------

UUID0, UUID1 = fake_device(0).uuid, fake_device(1).uuid


def test_the_rule_compares_the_devices_each_run_measured() -> None:
    """Two steps of one job on one node at the same time, on disjoint GPUs (``srun --exact
    --gpus=4`` twice), are two measurements of different devices; one device in common, or a
    run whose devices are unknown, is the same GPU time twice."""
    new = _run("new", detail={GPU_DEVICES: [UUID1]})
    olds = [
        _run("disjoint", detail={GPU_DEVICES: [UUID0]}),
        _run("shared", detail={GPU_DEVICES: [UUID0, UUID1]}),
        _run("unknown", detail={GPU_DEVICES: None}),
        _run("from-usages"),  # written before runs named their devices: its usages say
        _run("from-usages-1"),
        _run("no-device-named"),
    ]
    measured = {
        "disjoint": frozenset({UUID0}),
        "shared": frozenset(),
        "unknown": frozenset({UUID0}),
        "from-usages": frozenset({UUID0}),
        "from-usages-1": frozenset({UUID1}),
        "no-device-named": frozenset(),
    }
    found = metered_twice(olds, measured, [new])
    assert [c.old.id for c in found] == ["shared", "unknown", "from-usages-1", "no-device-named"]
    unknown_new = _run("new", detail={GPU_DEVICES: None})
    assert len(metered_twice(olds, measured, [unknown_new])) == len(olds)


def test_a_step_on_other_gpus_of_the_node_merges_beside_the_import(
    tmp_path: Path, runner: CliRunner
) -> None:
    """The import measured gpu-01's GPU 0; the wrapper's step metered GPU 1 only: both stand."""
    node0 = tmp_path / "node0.db"
    assert _wrapped(_url(node0), "gpu-01", first=1) == 0
    wrapper = _only_run(_url(node0))
    assert wrapper.started_at is not None and wrapper.ended_at is not None
    assert (wrapper.detail or {})[GPU_DEVICES] == [UUID1]
    target = tmp_path / "job.db"
    imported = _imported(_url(target), wrapper.started_at - timedelta(minutes=1), wrapper.ended_at)
    result = runner.invoke(app, ["ledger", "merge", str(node0), "--into", str(target)])
    assert result.exit_code == 0, result.output
    assert _measured_runs(_url(target)) == {wrapper.id, imported}


def _snapshot(url: str, into: Path) -> str:
    """A copy of the SQLite ledger at ``url`` as it is now (SQLite's backup API)."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as src, sqlite3.connect(into) as dst:
        src.backup(dst)
    return _url(into)


def test_a_second_step_on_other_gpus_starts_beside_a_running_one(tmp_path: Path) -> None:
    """The ledger as it is while a wrapper of job 7 meters gpu-01's GPU 0 (its ``running`` entry
    names the device): a second step metering GPU 1 starts; one metering GPU 0 is refused."""
    url = _url(tmp_path / "ledger.db")
    copies: list[str] = []
    assert _wrapped(url, "gpu-01", on_start=lambda _run: copies.append(
        _snapshot(url, tmp_path / "while-running.db"))) == 0  # fmt: skip
    (during,) = copies
    (running,) = [r for r in _runs(during) if r.status is RunStatus.RUNNING]
    assert (running.detail or {})[GPU_DEVICES] == [UUID0]
    assert _wrapped(during, "gpu-01", first=1) == 0
    with pytest.raises(AlreadyMetered, match=rf"run {running.id} \(metered by a wrapper, still"):
        _wrapped(during, "gpu-01", first=0, devices=2)


def _runs(url: str) -> list[Run]:
    with Ledger(url, reap=False) as ledger:
        return ledger.runs("toy")


# -- the import's window is what it measured --------------------------------------------------


def test_an_import_ends_where_its_samples_end_not_at_a_generous_end(tmp_path: Path) -> None:
    """Samples over 100 s of a window reaching an hour past now: the run ends where they do, and
    a later step of the job on the node starts (it measures time the import did not)."""
    url = _url(tmp_path / "ledger.db")
    start = datetime.now(UTC) - timedelta(minutes=5)
    imported = _imported(url, start, start + timedelta(hours=1))
    (run,) = _runs(url)
    assert run.id == imported and run.ended_at == start + timedelta(seconds=100)
    assert run.wall_time_s == 100.0
    assert _wrapped(url, "gpu-01") == 0
    assert len(_measured_runs(url)) == 2


def test_one_scrape_records_the_gpu_time_as_not_measured(tmp_path: Path) -> None:
    """A single sample in the window: allocated and busy time recorded as not measured (a
    named gap), never the window's hour."""
    url = _url(tmp_path / "ledger.db")
    _imported(url, T0, T0 + timedelta(hours=1), scrapes=1)
    with Ledger(url, reap=False) as ledger:
        usages = {u.unit: u for u in ledger.usages("toy")}
    assert set(usages) == {Unit.GPU_HOUR, Unit.GPU_HOUR_BUSY}  # energy: nothing to difference
    for usage in usages.values():
        assert usage.quantity is None and usage.note == UNSAMPLED_NOTE
    assert measuring_runs(usages.values()) == {}  # a gap meters nothing: it blocks no wrapper


# -- the check runs in the write transaction ----------------------------------------------------


def test_the_wrappers_start_checks_again_in_its_write_transaction(tmp_path: Path) -> None:
    """A run metering gpu-01's GPU 0 written after the wrapper's first check (another wrapper
    starting at the same moment): the ``running`` entry's transaction sees it and refuses;
    nothing is written, the heartbeat is dropped, the meter closed."""
    url = _url(tmp_path / "ledger.db")
    with Ledger(url, reap=False) as ledger:
        ledger.record([Subject(id="toy", name="toy"), _run(
            "toy/sft/other", started_at=datetime.now(UTC) - timedelta(minutes=1), ended_at=None,
            status=RunStatus.RUNNING, detail={GPU_DEVICES: [UUID0]})])  # fmt: skip
        head = ledger.head()
        meter = FakeGpuMeter([FakeDevice(fake_device(0))], SystemClock())
        spec = dataclasses.replace(SPEC, detail={GPU_DEVICES: [UUID0]})
        run = MeteredRun(ledger, spec, meter=meter, cluster=ClusterContext("gpu-01", job_id=JOB),
                         check=refuse_metered_twice)  # fmt: skip
        with pytest.raises(AlreadyMetered, match="run toy/sft/other"):
            run.start()
        assert ledger.head() == head and last_beat(ledger, run.run_id) is None
    assert meter.closed
