"""`receipts run` as a real process: statuses, exit codes, signals, reaping, bad input."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.liveness import Heartbeat, last_beat
from ledger.schema import Category, RunStatus
from ledger.store import Ledger
from probes.gpu.testing import FakeClock, FakeDevice, FakeGpuMeter, fake_device
from probes.run.proctree import descendants, processes
from probes.run.session import metered_run

RECEIPTS = [sys.executable, "-m", "receipts"]
RUN = ["run", "--subject", "demo", "--stage", "sft", "--category", "fine_tuning"]
NO_DEVICES = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
"""The wrappers' environment: NVML, where it initialises, sees no device, so that what these tests
check (declared allocations, statuses) is the same on a GPU host (tests/test_gpu.py meters one)."""


@pytest.fixture
def wrapper() -> list[str]:
    """How ``receipts run`` is invoked: the console script's command, in its own process."""
    return [*RECEIPTS, "run"]


def receipts(url: str, *args: str, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([*RECEIPTS, *args, "--ledger", url] if args[0] != "run" else
                          [*RECEIPTS, *args[:1], "--ledger", url, *args[1:]],
                          capture_output=True, text=True, timeout=60, **kw)  # fmt: skip


def run_with(wrapper: list[str], url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``receipts run --ledger URL ARGS`` through ``wrapper``."""
    return subprocess.run([*wrapper, "--ledger", url, *RUN[1:], *args],
                          capture_output=True, text=True, timeout=60, env=NO_DEVICES)  # fmt: skip


def only_run(url: str):  # type: ignore[no-untyped-def]
    with Ledger(url, reap=False) as ledger:
        (run,) = ledger.runs("demo")
        return run, ledger.verify().ok


def test_a_succeeded_run_of_about_two_seconds(wrapper: list[str], ledger_url: str) -> None:
    done = run_with(wrapper, ledger_url, "--", sys.executable, "-c", "import time; time.sleep(2)")
    assert done.returncode == 0, done.stderr
    run, intact = only_run(ledger_url)
    assert run.status is RunStatus.SUCCEEDED and run.exit_code == 0 and intact
    assert run.wall_time_s is not None and 1.9 < run.wall_time_s < 10
    assert run.command == [sys.executable, "-c", "import time; time.sleep(2)"]
    assert run.note is None and "left_behind" not in (run.detail or {})  # nothing left behind
    assert run.working_dir == os.getcwd() and run.host


def test_exit_code_is_passed_through_and_the_run_failed(
    wrapper: list[str], ledger_url: str
) -> None:
    done = run_with(wrapper, ledger_url, "--", sys.executable, "-c", "raise SystemExit(3)")
    assert done.returncode == 3
    run, _ = only_run(ledger_url)
    assert run.status is RunStatus.FAILED and run.exit_code == 3


def test_missing_command_exits_127_and_is_recorded_failed(
    wrapper: list[str], ledger_url: str
) -> None:
    done = run_with(wrapper, ledger_url, "--", "no-such-command-xyz")
    assert done.returncode == 127
    assert done.stderr.strip() == "receipts: error: command not found: no-such-command-xyz"
    run, _ = only_run(ledger_url)
    assert run.status is RunStatus.FAILED and run.exit_code == 127
    assert run.wall_time_s is not None and run.wall_time_s < 0.1  # not the time to get ready


def _wait_running(url: str, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            time.sleep(0.1)  # the wrapper creates the file
            continue
        with Ledger(url, reap=False) as ledger:
            runs = ledger.runs("demo")
            if runs and runs[0].status is RunStatus.RUNNING:
                return runs[0]
        time.sleep(0.1)
    raise AssertionError("the run never showed up as running")


def _start(
    wrapper: list[str],
    url: str,
    seconds: int = 30,
    options: tuple[str, ...] = (),
    heartbeat: str = "0.2",
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*wrapper, "--ledger", url, "--heartbeat", heartbeat, *RUN[1:], *options, "--",
         sys.executable, "-c", f"import time; time.sleep({seconds})"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=NO_DEVICES,
    )  # fmt: skip


def _wait_heartbeat(url: str, timeout: float = 30.0) -> Heartbeat:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Ledger(url, reap=False) as ledger:
            (run,) = ledger.runs("demo")
            beat = last_beat(ledger, run.id)
        if beat is not None and beat.wall_time_s > 0:
            return beat
        time.sleep(0.1)
    raise AssertionError("no heartbeat after the first")


def _child_of(wrapper: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = descendants(wrapper.pid) - {wrapper.pid}
        if children:
            return min(children)
        time.sleep(0.05)
    raise AssertionError("no child process")


def _gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether ``pid`` ended (exited, or a zombie waiting for its parent) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


LEFT_BEHIND = {
    "background": ("sleep 60 & echo $!", "SIGTERM"),
    "ignores-sigterm": ("(trap '' TERM; exec sleep 60) & echo $!", "SIGKILL"),
    "left-the-group": ("setsid sleep 60 & echo $!", "SIGTERM"),
}
"""Each case: a way to leave a process running, the signal that ends it."""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_processes_left_behind_are_ended_and_recorded(wrapper: list[str], ledger_url: str) -> None:
    script = "; ".join(command for command, _ in LEFT_BEHIND.values()) + "; exit 0"
    done = run_with(wrapper, ledger_url, "--grace", "0.5", "--", "sh", "-c", script)
    pids = dict(zip(LEFT_BEHIND, (int(pid) for pid in done.stdout.split()), strict=True))
    try:
        assert done.returncode == 0, done.stderr
        running = [case for case, pid in pids.items() if not _gone(pid, timeout=0)]
        assert not running, f"still running after the wrapper ended: {running}"
    finally:
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    run, intact = only_run(ledger_url)
    assert run.status is RunStatus.SUCCEEDED and run.exit_code == 0 and intact
    assert run.note is not None and run.note.startswith("left 3 processes behind: ")
    assert run.note.endswith("; sent SIGTERM then SIGKILL")
    entries = {entry["pid"]: entry for entry in (run.detail or {})["left_behind"]}
    for case, pid in pids.items():
        assert f"(pid {pid})" in run.note, case
        assert entries[pid]["command"] in ("sleep", "sh", "setsid"), case
        # a process that takes SIGTERM may, on a loaded machine, still be starting when the 0.5 s
        # grace ends and get SIGKILL too; one that ignores SIGTERM must always need SIGKILL
        expected = LEFT_BEHIND[case][1]
        allowed = {expected} if expected == "SIGKILL" else {"SIGTERM", "SIGKILL"}
        assert entries[pid]["signal"] in allowed, case
        assert "survived" not in entries[pid], case
    assert run.wall_time_s is not None and run.wall_time_s < 10


def test_the_process_table_reads_the_same_from_ps() -> None:
    """The table where /proc is missing (macOS, the BSDs) comes from ``ps``."""
    if shutil.which("ps") is None:
        pytest.skip("no ps")
    me = processes("/no/proc/here")[os.getpid()]
    assert me.ppid == os.getppid() and me.pgrp == os.getpgrp() and me.state in "RS"


def test_kill_9_of_the_child_records_killed(wrapper: list[str], ledger_url: str) -> None:
    process = _start(wrapper, ledger_url)
    _wait_running(ledger_url)
    os.kill(_child_of(process), signal.SIGKILL)
    assert process.wait(timeout=30) == 128 + 9
    run, intact = only_run(ledger_url)
    assert run.status is RunStatus.KILLED and run.exit_code == 137 and intact
    assert "SIGKILL" in (run.note or "")


def test_sigterm_to_the_wrapper_is_forwarded_to_the_child(
    wrapper: list[str], ledger_url: str
) -> None:
    process = _start(wrapper, ledger_url)
    _wait_running(ledger_url)
    child = _child_of(process)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + 15
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()
    run, _ = only_run(ledger_url)
    assert run.status is RunStatus.KILLED and "SIGTERM" in (run.note or "")


@pytest.mark.parametrize("declared", [False, True], ids=["unmetered", "declared-gpus"])
def test_kill_9_of_the_wrapper_then_reap_records_interrupted(
    wrapper: list[str], ledger_url: str, declared: bool
) -> None:
    options = ("--gpus", "2", "--gpu-model", "H100") if declared else ()
    process = _start(wrapper, ledger_url, options=options)
    _wait_running(ledger_url)
    child = _child_of(process)
    beat = _wait_heartbeat(ledger_url)  # a heartbeat after the first, so there is usage to keep
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    try:  # the job dies with its wrapper (Linux: PR_SET_PDEATHSIG)
        if sys.platform.startswith("linux"):
            assert _gone(child), "the job outlived its wrapper killed with -9"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)  # elsewhere, so the test leaves nothing behind
    with Ledger(ledger_url, reap=False) as ledger:
        (run,) = ledger.runs("demo")
        assert run.status is RunStatus.RUNNING  # nobody closed it yet
        beat = last_beat(ledger, run.id) or beat
    done = receipts(ledger_url, "runs", "--reap", "--json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert len(listing["reaped"]) == 1
    (run_json,) = listing["runs"]
    assert run_json["status"] == "interrupted" and run_json["wall_time_s"] > 0
    assert only_run(ledger_url)[1]
    with Ledger(ledger_url, reap=False) as ledger:
        usages = ledger.usages("demo")
    if not declared:
        assert usages == []
        return
    (usage,) = usages  # the declared allocation up to the last heartbeat
    assert usage.provenance.value == "declared" and usage.resource == "gpu/H100"
    assert usage.quantity == pytest.approx(2 * beat.wall_time_s / 3600, abs=2 * 0.05 / 3600)
    assert usage.note is not None and usage.note.endswith("(up to the last heartbeat)")


def test_a_wrapper_killed_in_its_first_second_leaves_a_run_to_reap(
    wrapper: list[str], ledger_url: str
) -> None:
    """The ``running`` entry is never in the ledger without the heartbeat that lets it be reaped:
    killed as soon as its run shows, long before a second heartbeat, the wrapper still leaves a
    run that ``runs --reap`` closes."""
    process = _start(wrapper, ledger_url, seconds=2, heartbeat="600")  # the job ends by itself
    _wait_running(ledger_url)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    done = receipts(ledger_url, "runs", "--reap", "--json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert len(listing["reaped"]) == 1
    (run_json,) = listing["runs"]
    assert run_json["status"] == "interrupted"


def test_an_unwritable_ledger_fails_before_the_child_starts(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    marker = tmp_path / "ran"
    done = receipts(f"sqlite:///{blocker}/ledger.db", *RUN, "--", "touch", str(marker))
    assert done.returncode == 2 and not marker.exists()
    assert len(done.stderr.strip().splitlines()) == 1 and "receipts: error:" in done.stderr


def test_declared_gpus_are_declared_never_measured(wrapper: list[str], ledger_url: str) -> None:
    done = run_with(wrapper, ledger_url, "--gpus", "8", "--gpu-model", "H100", "--", "true")
    assert done.returncode == 0, done.stderr
    with Ledger(ledger_url, reap=False) as ledger:
        (usage,) = ledger.usages("demo")
    assert usage.provenance.value == "declared" and usage.resource == "gpu/H100"
    assert usage.detail == {"gpus": 8, "wall_s": pytest.approx(usage.quantity * 3600 / 8)}
    report = receipts(ledger_url, "report", "--subject", "demo", "--by", "run")
    assert report.returncode == 0, report.stderr
    assert "D declared by the user" in report.stdout


def test_gpus_without_model_is_bad_input(sqlite_url: str) -> None:
    done = receipts(sqlite_url, *RUN, "--gpus", "8", "--", "true")
    assert done.returncode == 2 and "--gpu-model" in done.stderr


def test_metered_run_context_manager_with_the_fake_meter(sqlite_url: str) -> None:
    clock = FakeClock()
    meter = FakeGpuMeter([FakeDevice(fake_device(0)), FakeDevice(fake_device(1))], clock)
    with Ledger(sqlite_url) as ledger:
        with metered_run(ledger, subject="demo", stage="sft", category=Category.FINE_TUNING,
                         meter=meter, clock=clock, background=False) as run:  # fmt: skip
            clock.advance(1800)
            run.sampler.step()
        with pytest.raises(ZeroDivisionError), metered_run(
            ledger, subject="demo", stage="eval", category="evaluation", meter=NullMeterLike(),
            clock=clock, background=False,
        ):  # fmt: skip
            1 / 0  # noqa: B018
        runs = {r.stage: r for r in ledger.runs("demo")}
        assert runs["sft"].status is RunStatus.SUCCEEDED
        assert runs["eval"].status is RunStatus.FAILED and "ZeroDivisionError" in runs["eval"].note
        totals = {(t.resource, t.unit.value): t.quantity for t in ledger.usage_totals(["demo"])}
    assert totals[("gpu/H100", "gpu_hour")] == pytest.approx(1.0)  # 2 devices x 0.5 h
    assert totals[("energy/gpu", "kwh")] == pytest.approx(2 * 300 * 1800 / 3.6e6)
    assert meter.closed


class NullMeterLike(FakeGpuMeter):
    def __init__(self) -> None:
        super().__init__([], FakeClock())


def _running(ledger: Ledger, run_id: str) -> None:
    from ledger.schema import Run, Subject

    ledger.record(
        [
            Subject(id="demo", name="demo"),
            Run(id=run_id, subject="demo", stage="sft", category=Category.FINE_TUNING,
                name="sft", status=RunStatus.RUNNING, host="node-0"),
        ]
    )  # fmt: skip


def test_a_run_links_only_to_a_wrapper_metering_its_own_node(sqlite_url: str) -> None:
    """Under ``receipts run -- srun ...`` the wrapper's environment reaches every node; a run on
    another node (or another node rank of one launcher) must meter its own GPUs."""
    from probes.run.cluster import ClusterContext
    from probes.run.parent import parent_environment, wrapping_run

    with Ledger(sqlite_url, reap=False) as ledger:
        _running(ledger, "demo/sft/w")
        outer = ClusterContext("node-0", node_rank=0, local_rank=0, job_id="7", launcher="slurm")
        env = parent_environment("demo/sft/w", ledger.ledger_id, outer)
        assert env["RECEIPTS_PARENT_HOST"] == "node-0"
        assert (env["RECEIPTS_PARENT_NODE_RANK"], env["RECEIPTS_PARENT_LAUNCHER"]) == ("0", "slurm")

        def link(host: str, rank: int | None, launcher: str | None) -> str | None:
            here = ClusterContext(host, node_rank=rank, local_rank=0, job_id="7",
                                  launcher=launcher)  # type: ignore[arg-type]  # fmt: skip
            return wrapping_run(ledger, env, here)

        assert link("node-0", 0, "slurm") == "demo/sft/w"
        assert link("node-1", 1, "slurm") is None  # another node: the wrapper does not meter it
        assert link("node-0", 1, "slurm") is None  # same name, another node of the job
        assert link("node-0", 3, "torchrun") == "demo/sft/w"  # group ranks need not be node ids
        assert link("node-0", None, None) == "demo/sft/w"
        no_host = {k: v for k, v in env.items() if k != "RECEIPTS_PARENT_HOST"}
        assert wrapping_run(ledger, no_host, ClusterContext("node-0")) is None
        other = {**env, "RECEIPTS_PARENT_LEDGER": "another-ledger"}
        assert wrapping_run(ledger, other, ClusterContext("node-0")) is None


def test_receipts_run_inside_receipts_run_is_linked_and_meters_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The outer wrapper meters the node's GPUs; the inner one (a real ``receipts run`` process
    on the same host and ledger) records its run linked to it, and the report counts them once."""
    from ledger.audit import build_report
    from ledger.schema import Unit
    from ledger.summary import complete_report
    from probes.gpu.meter import SystemClock
    from probes.run.session import RunSpec
    from probes.run.wrap import run_command

    env_file = tmp_path / "inner-env.json"
    dump = f"import json, os; json.dump(dict(os.environ), open({str(env_file)!r}, 'w'))"
    inner = [*RECEIPTS, "run", "--ledger", sqlite_url, *RUN[1:4], "eval", "--category",
             "evaluation", "--", sys.executable, "-c", dump]  # fmt: skip
    meter = FakeGpuMeter([FakeDevice(fake_device(0))], SystemClock())
    spec = RunSpec(subject="demo", stage="sft", category=Category.FINE_TUNING)
    started: list[str] = []
    with Ledger(sqlite_url) as ledger:
        code = run_command(ledger, spec, inner, meter=meter, sample_interval_s=0.05,
                           on_start=lambda run: started.append(run.run_id))  # fmt: skip
    assert code == 0
    with Ledger(sqlite_url, reap=False) as ledger:
        runs = {r.stage: r for r in ledger.runs("demo")}
        usages = ledger.usages("demo")
        report = complete_report(ledger, build_report(ledger, "demo"))
    (outer_id,) = started
    assert runs["sft"].id == outer_id and runs["eval"].status is RunStatus.SUCCEEDED
    assert (runs["eval"].detail or {}).get("parent_run") == outer_id
    gpu = [u for u in usages if u.unit is Unit.GPU_HOUR]
    assert gpu and {u.run for u in gpu} == {outer_id}  # the node's GPU time once: the outer's
    (quiet,) = report.quiet_runs
    assert quiet.run == runs["eval"].id and quiet.parent_run == outer_id
    # The inner run names itself to its command, on this host.
    seen = json.loads(env_file.read_text())
    assert seen["RECEIPTS_PARENT_RUN"] == runs["eval"].id
    assert seen["RECEIPTS_PARENT_HOST"] == runs["eval"].host
