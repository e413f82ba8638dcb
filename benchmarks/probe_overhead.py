"""Benchmark: how soon ``receipts run`` starts its child, and how much CPU the wrapper uses while
the child runs.

Two wrapped variants, each writing to its own SQLite ledger (created, with the subject, by an
untimed warm-up run):

``cli``
    The real console script: ``receipts run --ledger sqlite:///FILE ... -- python -c CHILD``. It
    meters with NVML where it initialises and with the null meter otherwise.
``fake``
    ``python -c DRIVER ...``: the same typer command, with a ``FakeGpuMeter`` of 8 fake H100s on
    the real clock in place of NVML (:data:`DRIVER`), sampled at the command's default interval
    (``--sample-interval``, 1 s) and heartbeating at its default (``--heartbeat``, 10 s): what
    the wrapper does on an 8-GPU node.

The child (:data:`CHILD`) prints the wall-clock time as its first statement, then sleeps.

Start-up: the child's first statement minus the moment the parent started the command, per run
(``--start-runs`` short runs of each variant, and of the child alone, ``bare``, for its own
interpreter's start). Target: the child starts within :data:`TARGET_START_S` of the command.

CPU while the job runs: ``--cpu-runs`` runs of each wrapped variant with a child that sleeps
``--seconds`` (default 25 s). The parent reads the wrapper process's user and system time (all
its threads, the child excluded) from ``/proc/PID/stat`` two seconds after the child started and
one second before it ends; their difference over the wall time between is the share of one core.
Target: under :data:`TARGET_CPU_PCT` % for ``fake``. The wrapper's CPU time from start to exit
(from ``wait4``, less the child's own, which it prints) is reported beside it.

Afterwards the script checks the ledgers: every run succeeded, and each fake run recorded 8
devices with about one sample per second.

Run ``.venv/bin/python benchmarks/probe_overhead.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
"""The repository root: every run has it as its working directory."""

TARGET_START_S = 1.0
"""The child starts within this many seconds of the command."""
TARGET_CPU_PCT = 1.0
"""The wrapper uses under this share of one core while 8 fake GPUs are sampled."""

FAKE_DEVICES = 8
SUBJECT = "bench"
WARMUP, START, CPU = "warmup", "start", "cpu"
"""Stages the wrapped runs are recorded under."""
WINDOW_SKIP_S = (2.0, 1.0)
"""The CPU window leaves out this much after the child starts and before it ends."""
START_MARK, CPU_MARK = "START=", "CHILD_CPU="

CHILD = f"""\
import resource, sys, time
print("{START_MARK}%.6f" % time.time(), flush=True)
time.sleep(float(sys.argv[1]))
usage = resource.getrusage(resource.RUSAGE_SELF)
print("{CPU_MARK}%.6f" % (usage.ru_utime + usage.ru_stime), flush=True)
"""
"""The job: prints when it started, sleeps ``argv[1]`` seconds, prints its own CPU time."""

DRIVER = f"""\
import sys
import probes.run.wrap
from probes.gpu.meter import SystemClock
from probes.gpu.testing import FakeDevice, FakeGpuMeter, fake_device

probes.run.wrap.open_meter = lambda: FakeGpuMeter(
    [FakeDevice(fake_device(i)) for i in range({FAKE_DEVICES})], SystemClock()
)
from receipts.cli import app

app(args=sys.argv[1:], prog_name="receipts")
"""
"""The fake variant: ``receipts``'s typer app with 8 fake H100s in place of NVML."""


@dataclass(frozen=True)
class Setup:
    """What every run needs: the interpreter, the console script, the ledgers' folder."""

    python: str
    receipts: str
    workdir: Path

    def ledger_url(self, variant: str) -> str:
        """The SQLite ledger of one variant."""
        return f"sqlite:///{self.workdir / f'{variant}.db'}"

    def command(self, variant: str, stage: str, seconds: float) -> list[str]:
        """The command line of ``variant`` whose child sleeps ``seconds``."""
        child = [self.python, "-c", CHILD, str(seconds)]
        if variant == "bare":
            return child
        head = {"cli": [self.receipts], "fake": [self.python, "-c", DRIVER]}[variant]
        options = ["--ledger", self.ledger_url(variant), "--subject", SUBJECT]
        return [*head, "run", *options, "--stage", stage, "--category", "evaluation", "--", *child]


@dataclass(frozen=True)
class Result:
    """One run of one variant."""

    variant: str
    returncode: int
    start_s: float | None
    """The child's first statement after the command started."""
    window_cpu_pct: float | None = None
    """The wrapper's CPU time over the wall time of the window, in percent of one core."""
    wrapper_cpu_s: float | None = None
    """The wrapper's CPU time from start to exit, its child's left out (the long runs only)."""


def _proc_cpu_s(pid: int) -> float:
    """User plus system time of process ``pid``, all its threads (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _marked(line: str, mark: str) -> float | None:
    return float(line[len(mark) :]) if line.startswith(mark) else None


def run_once(setup: Setup, variant: str, stage: str, seconds: float, window: bool) -> Result:
    """Run ``variant`` once; with ``window``, read the wrapper's CPU while the child sleeps."""
    command = setup.command(variant, stage, seconds)
    started = time.time()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    start_s = window_pct = child_cpu = None
    for line in proc.stdout:
        if (mark := _marked(line, START_MARK)) is not None:
            start_s = mark - started
            if window:
                time.sleep(WINDOW_SKIP_S[0])
                cpu0, t0 = _proc_cpu_s(proc.pid), time.monotonic()
                time.sleep(max(0.0, mark + seconds - WINDOW_SKIP_S[1] - time.time()))
                cpu1, t1 = _proc_cpu_s(proc.pid), time.monotonic()
                window_pct = 100.0 * (cpu1 - cpu0) / (t1 - t0)
        child_cpu = _marked(line, CPU_MARK) or child_cpu
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    total = usage.ru_utime + usage.ru_stime
    wrapper_cpu = total - child_cpu if window and child_cpu is not None else None
    if proc.returncode:
        print(f"  {variant}: exit {proc.returncode}", file=sys.stderr)
    return Result(variant, proc.returncode, start_s, window_pct, wrapper_cpu)


def time_help(receipts: str, runs: int) -> list[float]:
    """Wall times of ``receipts --help`` (after one untimed run)."""
    out: list[float] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        subprocess.run([receipts, "--help"], cwd=ROOT, capture_output=True, check=False)
        if i:
            out.append(time.perf_counter() - start)
    return out


def check_ledgers(setup: Setup, expected: dict[str, int], seconds: float) -> list[str]:
    """Problems with what the wrapped runs recorded (empty when all is as expected)."""
    sys.path.insert(0, str(ROOT))
    from ledger.store import Ledger

    problems: list[str] = []
    for variant, count in expected.items():
        with Ledger(setup.ledger_url(variant), reap=False) as store:
            runs = store.runs(SUBJECT)
            usages = store.usages(SUBJECT)
        bad = [r.id for r in runs if r.status.value != "succeeded"]
        if len(runs) != count or bad:
            problems.append(f"{variant}: {len(runs)} runs (want {count}), not succeeded: {bad}")
        if variant != "fake":
            continue
        cpu_runs = {r.id for r in runs if r.stage == CPU}
        samples = [
            int((u.detail or {})["samples"])
            for u in usages
            if u.unit.value == "gpu_hour" and u.run in cpu_runs
        ]
        if len(samples) != FAKE_DEVICES * len(cpu_runs):
            problems.append(f"fake: {len(samples)} device usages, want {FAKE_DEVICES} a run")
        elif samples and min(samples) < 0.8 * seconds:
            problems.append(f"fake: as few as {min(samples)} samples per device")
    return problems


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def summarise(results: list[Result], help_s: list[float]) -> dict[str, Any]:
    """Per variant: start-up and CPU figures (median, min, max); the targets' verdicts."""
    out: dict[str, Any] = {}
    for variant in ("bare", "cli", "fake"):
        mine = [r for r in results if r.variant == variant and not r.returncode]
        start = [r.start_s for r in mine if r.start_s is not None]
        window = [r.window_cpu_pct for r in mine if r.window_cpu_pct is not None]
        total = [r.wrapper_cpu_s for r in mine if r.wrapper_cpu_s is not None]
        out[variant] = {
            "start_s": [round(s, 4) for s in start],
            "start_s_median": _median(start),
            "start_s_max": max(start, default=None),
            "window_cpu_pct": [round(p, 3) for p in window],
            "window_cpu_pct_max": max(window, default=None),
            "wrapper_cpu_s": [round(c, 3) for c in total],
        }
    worst_start = max((out[v]["start_s_max"] or 99.0) for v in ("cli", "fake"))
    fake_cpu = out["fake"]["window_cpu_pct_max"]
    out["help_s_median"] = _median(help_s)
    out["start_target_met"] = worst_start <= TARGET_START_S
    out["cpu_target_met"] = fake_cpu is not None and fake_cpu < TARGET_CPU_PCT
    return out


def print_report(summary: dict[str, Any]) -> None:
    """One line per variant and the verdicts."""
    print()
    print("variant | child starts after, s: median (max) | CPU in the window, % of a core | "
          "wrapper CPU start to exit, s")  # fmt: skip
    for variant in ("bare", "cli", "fake"):
        e = summary[variant]
        window = ", ".join(f"{p:.2f}" for p in e["window_cpu_pct"]) or "-"
        total = ", ".join(f"{c:.3f}" for c in e["wrapper_cpu_s"]) or "-"
        print(
            f"{variant:7s} | {_fmt(e['start_s_median'], '.3f')} ({_fmt(e['start_s_max'], '.3f')})"
            f" | {window} | {total}"
        )
    print(f"receipts --help: median {_fmt(summary['help_s_median'], '.3f')} s")
    met = {True: "met", False: "MISSED"}
    print(f"target: child starts within {TARGET_START_S} s: {met[summary['start_target_met']]}")
    print(
        f"target: under {TARGET_CPU_PCT} % of a core with {FAKE_DEVICES} fake GPUs: "
        f"{met[summary['cpu_target_met']]}"
    )


def find_receipts(given: str | None) -> str:
    """The ``receipts`` executable: given, beside this interpreter, or on PATH."""
    if given:
        return given
    beside = Path(sys.executable).parent / "receipts"
    found = str(beside) if beside.exists() else shutil.which("receipts")
    if found is None:
        raise SystemExit("receipts: not found; install the package or pass --receipts")
    return found


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start-runs", type=int, default=5, help="short runs a variant (5)")
    parser.add_argument("--cpu-runs", type=int, default=2, help="long runs a variant (2)")
    parser.add_argument("--seconds", type=float, default=25.0, help="long job's length (25)")
    parser.add_argument("--help-runs", type=int, default=5, help="timed `receipts --help` (5)")
    parser.add_argument("--receipts", help="the receipts executable (default: beside python)")
    parser.add_argument("--out", type=Path, help="keep the ledgers in this directory")
    parser.add_argument("--json", action="store_true", help="also print one JSON result line")
    args = parser.parse_args(argv)
    if min(args.start_runs, args.cpu_runs, args.help_runs) < 1 or args.seconds < 5:
        parser.error("the counts must be positive and --seconds at least 5")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    args = parse_args(argv)
    machine = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(f"machine: {machine}")
    workdir = args.out or Path(tempfile.mkdtemp(prefix="probe-overhead-"))
    workdir.mkdir(parents=True, exist_ok=True)
    setup = Setup(sys.executable, find_receipts(args.receipts), workdir)
    results: list[Result] = []
    try:
        for variant in ("cli", "fake"):  # untimed: creates the ledger and the subject
            results.append(run_once(setup, variant, WARMUP, 0.0, window=False))
        results.clear()
        for index in range(args.start_runs):
            for variant in ("bare", "cli", "fake"):
                results.append(run_once(setup, variant, START, 0.0, window=False))
            print(f"start-up round {index + 1}/{args.start_runs}", flush=True)
        for index in range(args.cpu_runs):
            for variant in ("cli", "fake"):
                results.append(run_once(setup, variant, CPU, args.seconds, window=True))
            print(f"CPU round {index + 1}/{args.cpu_runs}", flush=True)
        help_s = time_help(setup.receipts, args.help_runs)
        expected = {"cli": 1 + args.start_runs + args.cpu_runs}
        expected["fake"] = expected["cli"]
        try:
            problems = check_ledgers(setup, expected, args.seconds)
        except Exception as exc:  # report, still print the figures
            problems = [f"could not read the ledgers: {type(exc).__name__}: {exc}"]
    finally:
        if args.out is None:
            shutil.rmtree(workdir, ignore_errors=True)
    summary = summarise(results, help_s)
    print_report(summary)
    end_load = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at end: {end_load}")
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if args.json:
        print(json.dumps({"machine": machine, "load_average_end": end_load, "summary": summary}))
    failed = any(r.returncode for r in results)
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
