"""Benchmark: what ``receipts run`` adds to the wall time of a CPU-bound job, and how long
``receipts --help`` takes to start.

The job is a pure-Python integer loop run as ``python -c``, calibrated once at the start (a trial
of about 1 s) to take ``--seconds`` (default 10 s). Each round runs three variants, one after the
other, in an order that rotates from round to round:

``bare``
    ``python -c JOB``.
``fake``
    A small ``python -c`` driver (:data:`FAKE_DRIVER`) that does what the ``receipts`` console
    script does for ``receipts run`` (it even imports ``re`` first, as pip's script does), with a
    ``FakeGpuMeter`` of 8 fake H100s on the real ``SystemClock`` sampled at 10 Hz in place of NVML:
    the fast path of :mod:`probes.launch` (the ``running`` entry written with the standard library,
    the meter and the child started, heartbeats and the final usages written the same way),
    falling back to
    ``probes.wrap.run_command`` where the fast path declines (the untimed warm-up, which creates
    the ledger and the subject). The timed wall includes interpreter start, imports, recording the
    run, sampling, heartbeats and finalisation.
``null``
    The real CLI: ``receipts run --ledger sqlite:///FILE ... -- python -c JOB``. The CLI meters
    with NVML where it initialises and with the null meter otherwise (no GPU, so no sampling); on
    a ledger that has the subject (after the warm-up) it takes the fast path.

Every variant is timed from the parent with ``time.perf_counter`` around ``subprocess.run``. The
job also prints its own loop time, so the wall time of each run splits into the loop and the rest
(start-up and finalisation). The overhead of a variant in a round is its wall time over the bare
run's wall time of the same round, in percent; the median over the rounds is compared with the
target (<= 0.5 %), except that a variant whose non-loop time alone adds more than the target is a
miss whatever the (load-sensitive) wall times say, and that one whose non-loop time is within the
target but whose paired wall times spread too widely to tell is ``unsettled``
(:func:`overhead_verdict`). ``receipts --help`` is timed the same way (median of ``--help-runs``,
target <= 0.3 s).

Each variant writes to its own SQLite ledger, created by an untimed warm-up run (which also warms
the file cache and, with the bytecode cache on, compiles receipts' modules once, as installing the
package would), and the script checks afterwards that every run was recorded as succeeded and
that the fake meter's devices were sampled at about 10 Hz.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
"""The repository root: every variant runs with it as the working directory."""

TARGET_OVERHEAD_PCT = 0.5
"""Target median overhead of ``receipts run`` over the bare job."""
TARGET_HELP_S = 0.3
"""Target start-up time of ``receipts --help``."""

NOISY_SPREAD = 10.0
"""Paired overheads spreading over more than this many times the target are flagged as noisy."""

VARIANTS = ("bare", "fake", "null")

NO_BYTECODE = "PYTHONDONTWRITEBYTECODE"
"""Set, every start compiles receipts' modules from source (about 15 ms here): an installed package
has its bytecode compiled, and an editable checkout writes it on the first import, unless this is
set. The runs leave it out of their environment unless ``--no-bytecode-cache`` is given."""


def run_env(bytecode_cache: bool) -> dict[str, str]:
    """The environment of every timed process: this one's, without :data:`NO_BYTECODE` where
    ``bytecode_cache``."""
    env = dict(os.environ)
    if bytecode_cache:
        env.pop(NO_BYTECODE, None)
    return env


FAKE_DEVICES = 8
FAKE_SAMPLE_INTERVAL_S = 0.1
HEARTBEAT_S = 10.0
"""The CLI's default heartbeat interval, used by both wrapped variants."""
SUBJECT = "bench"
TIMED, WARMUP = "timed", "warmup"
"""Stages the wrapped runs are recorded under."""
LOOP_MARK = "LOOP_S="

JOB_TEMPLATE = """\
import time
t0 = time.perf_counter()
x = 0
for i in range({n}):
    x = (x * 31 + i) % 1000003
print("{mark}%.6f" % (time.perf_counter() - t0), x)
"""


def job_source(iterations: int) -> str:
    """The CPU-bound job: ``iterations`` steps of integer arithmetic; prints its loop time."""
    return JOB_TEMPLATE.format(n=iterations, mark=LOOP_MARK)


def loop_seconds(stdout: str) -> float | None:
    """The loop time the job printed, where it printed one."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(LOOP_MARK):
            return float(line[len(LOOP_MARK) :].split()[0])
    return None


# --- the driver for the fake-meter variant (runs in its own process) ---------------------------

FAKE_DRIVER = """\
import re  # what the pip-generated `receipts` script imports first
import os, sys
from ledger.enums import Category
from probes.launch import RunArgs, launch
from probes.meter import SystemClock
from probes.testing import FakeDevice, FakeGpuMeter, fake_device

url, stage, command = sys.argv[1], sys.argv[2], sys.argv[4:]
meter = FakeGpuMeter([FakeDevice(fake_device(i)) for i in range({devices})], SystemClock())
args = RunArgs(command=command, subject="{subject}", stage=stage, category=Category.EVALUATION,
               sample_interval={interval}, heartbeat={heartbeat}, ledger=url)
code = launch(args, meter_factory=lambda: meter)
if code is None:  # a new ledger or subject: the full path, as the typer command takes it
    from probes.session import RunSpec
    from probes.wrap import run_command
    from ledger.store import Ledger
    spec = RunSpec(subject=args.subject, stage=stage, category=args.category, command=command,
                   working_dir=os.getcwd())
    with Ledger(url) as store:
        code = run_command(store, spec, command, meter=meter, sample_interval_s={interval},
                           heartbeat_s={heartbeat})
sys.stdout.flush()
os._exit(code)  # as the console script does after the fast path
"""
"""The fake-meter variant: ``receipts run``'s fast path (:func:`probes.launch.launch`) with a
``FakeGpuMeter`` of 8 fake H100s on the real clock sampled at 10 Hz, falling back to the full path
where the fast path declines, as the console script does."""


def fake_driver() -> str:
    """:data:`FAKE_DRIVER` with this benchmark's settings."""
    return FAKE_DRIVER.format(
        devices=FAKE_DEVICES,
        subject=SUBJECT,
        interval=FAKE_SAMPLE_INTERVAL_S,
        heartbeat=HEARTBEAT_S,
    )


# --- the parent ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """One timed run of one variant."""

    variant: str
    wall_s: float
    """Parent's view: perf_counter around subprocess.run."""
    loop_s: float | None
    """The job's own loop time, as it printed it."""
    returncode: int

    @property
    def rest_s(self) -> float | None:
        """Wall time outside the loop: start-up, ledger, finalisation."""
        return None if self.loop_s is None else self.wall_s - self.loop_s


@dataclass
class Round:
    """One round: each variant once."""

    index: int
    load_1m: float
    order: list[str]
    timings: dict[str, Timing] = field(default_factory=dict)

    def overhead_pct(self, variant: str) -> float | None:
        """Wall time of ``variant`` over the bare run of this round, in percent."""
        bare, other = self.timings.get("bare"), self.timings.get(variant)
        if bare is None or other is None or bare.returncode or other.returncode:
            return None
        return 100.0 * (other.wall_s - bare.wall_s) / bare.wall_s

    def loop_pct(self, variant: str) -> float | None:
        """How much longer the job's own loop took under ``variant`` than bare, in percent: where
        the wrapper slowed the job while it ran (its sampler and heartbeat threads), it shows
        here, under the load's noise."""
        bare, other = self.timings.get("bare"), self.timings.get(variant)
        if bare is None or other is None or not bare.loop_s or other.loop_s is None:
            return None
        return 100.0 * (other.loop_s - bare.loop_s) / bare.loop_s

    def fixed_pct(self, variant: str) -> float | None:
        """The non-loop time ``variant`` adds over the bare run, in percent of the bare wall time.

        Leaves out the loop, whose speed moves with the machine's load (and so also any slowdown
        of the job by the wrapper's threads): a steadier estimate of the start-up and
        finalisation cost than :meth:`overhead_pct`.
        """
        bare, other = self.timings.get("bare"), self.timings.get(variant)
        if bare is None or other is None or bare.returncode or other.returncode:
            return None
        if bare.rest_s is None or other.rest_s is None:
            return None
        return 100.0 * (other.rest_s - bare.rest_s) / bare.wall_s


@dataclass(frozen=True)
class Setup:
    """What every run needs: the interpreter, the CLI, this script, the ledgers."""

    python: str
    receipts: str
    workdir: Path
    env: dict[str, str]
    """The environment of every timed process (:func:`run_env`)."""

    def ledger_url(self, variant: str) -> str:
        """The SQLite ledger of one variant."""
        return f"sqlite:///{self.workdir / f'{variant}.db'}"

    def command(self, variant: str, job: str, stage: str) -> list[str]:
        """The command line of ``variant`` running ``job``, recorded (if at all) under ``stage``."""
        child = [self.python, "-c", job]
        if variant == "bare":
            return child
        if variant == "fake":
            return [self.python, "-c", fake_driver(), self.ledger_url("fake"), stage, "--", *child]
        if variant == "null":
            return [
                self.receipts,
                "run",
                "--ledger",
                self.ledger_url("null"),
                "--subject",
                SUBJECT,
                "--stage",
                stage,
                "--category",
                "evaluation",
                "--",
                *child,
            ]
        raise ValueError(variant)


def timed(setup: Setup, variant: str, job: str, stage: str = TIMED) -> Timing:
    """Run one variant once and time it from here."""
    command = setup.command(variant, job, stage)
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, env=setup.env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode:
        print(
            f"  {variant}: exit {done.returncode}: {done.stderr.strip()[-500:]}",
            file=sys.stderr,
        )
    return Timing(variant, wall, loop_seconds(done.stdout), done.returncode)


def calibrate(python: str, seconds: float) -> tuple[int, float]:
    """Iterations of the job that take about ``seconds``, from a trial of about 1 s."""
    n = 200_000
    trial = 0.0
    for _ in range(4):
        done = subprocess.run(
            [python, "-c", job_source(n)], capture_output=True, text=True, check=True
        )
        trial = loop_seconds(done.stdout) or 0.0
        if trial >= 0.8:
            break
        n = int(n * min(1.0 / max(trial, 1e-3), 50.0))
    return max(1, round(n * seconds / trial)), trial


def time_help(receipts: str, runs: int, env: dict[str, str]) -> list[float]:
    """Wall times of ``receipts --help`` (after one untimed run)."""
    out: list[float] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(
            [receipts, "--help"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if i:
            out.append(time.perf_counter() - start)
    return out


def check_ledgers(setup: Setup, rounds: int, seconds: float) -> list[str]:
    """Problems with what the wrapped runs recorded (empty when all is as expected)."""
    sys.path.insert(0, str(ROOT))
    from ledger.store import Ledger

    problems: list[str] = []
    for variant in ("fake", "null"):
        with Ledger(setup.ledger_url(variant), reap=False) as store:
            every = store.runs(SUBJECT)
            usages = store.usages(SUBJECT)
        found = [r for r in every if r.stage == TIMED]
        bad = [r.id for r in every if r.status.value != "succeeded"]
        if len(found) != rounds or len(every) != rounds + 1 or bad:
            problems.append(
                f"{variant}: {len(found)} timed runs (want {rounds}), {len(every)} in all "
                f"(want {rounds + 1}), not succeeded: {bad}"
            )
        gpu = [u for u in usages if u.unit.value == "gpu_hour"]
        if variant == "null" and gpu:
            problems.append(f"null: {len(gpu)} GPU usages recorded (NVML present?)")
        if variant == "fake":
            timed_runs = {r.id for r in found}
            samples = [int((u.detail or {})["samples"]) for u in gpu if u.run in timed_runs]
            wall = {r.id: r.wall_time_s or 0.0 for r in found}
            rates = [
                int((u.detail or {})["samples"]) / wall[u.run]
                for u in gpu
                if u.run in timed_runs and wall.get(u.run)
            ]
            if len(samples) != FAKE_DEVICES * rounds:
                problems.append(f"fake: {len(samples)} device usages, want {FAKE_DEVICES * rounds}")
            elif min(samples) < 0.8 * seconds / FAKE_SAMPLE_INTERVAL_S:
                problems.append(f"fake: as few as {min(samples)} samples per device")
            else:
                print(
                    f"fake meter: {len(timed_runs)} timed runs x {FAKE_DEVICES} devices, "
                    f"{min(samples)} to {max(samples)} samples per device "
                    f"(median {statistics.median(rates):.2f} per second of the run's wall time)"
                )
    return problems


def machine_info() -> dict[str, Any]:
    """CPU count, platform, Python version and the load average now."""
    return {
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _stats(values: list[float]) -> tuple[float | None, float | None, float | None]:
    if not values:
        return None, None, None
    return statistics.median(values), min(values), max(values)


def overhead_verdict(median_pct: float | None, fixed_pct: float | None, noisy: bool) -> str:
    """``met``, ``missed``, ``unsettled`` or ``no result`` for the overhead target.

    The non-loop part alone (start-up and finalisation) is a floor under the true overhead that the
    load hardly moves; where it is over the target, the target is missed whatever the noisy wall
    times say (under load a wrapped run can come out faster than its bare pair). Where it is within
    the target but the paired wall times spread over more than :data:`NOISY_SPREAD` times the
    target, they can neither confirm nor refute the rest (the wrapper slowing the job while it
    runs): ``unsettled``, not ``met``.
    """
    if median_pct is None:
        return "no result"
    if fixed_pct is not None and fixed_pct > TARGET_OVERHEAD_PCT:
        return "missed"
    if noisy:  # a median inside the target is as much the noise's as one outside it
        return "unsettled"
    return "met" if median_pct <= TARGET_OVERHEAD_PCT else "missed"


def summarise(rounds: list[Round], help_s: list[float]) -> dict[str, Any]:
    """Medians, minima and maxima per variant; the targets' verdicts."""
    variants: dict[str, Any] = {}
    for variant in VARIANTS:
        ok = [
            r.timings[variant]
            for r in rounds
            if variant in r.timings and not r.timings[variant].returncode
        ]
        rest = [t.rest_s for t in ok if t.rest_s is not None]
        entry: dict[str, Any] = {
            "runs": len(ok),
            "wall_s_median": _stats([t.wall_s for t in ok])[0],
            "loop_s_median": _stats([t.loop_s for t in ok if t.loop_s is not None])[0],
            "rest_s_median": _stats(rest)[0],
        }
        if variant != "bare":
            pct = [p for r in rounds if (p := r.overhead_pct(variant)) is not None]
            median, low, high = _stats(pct)
            fixed = _stats([p for r in rounds if (p := r.fixed_pct(variant)) is not None])[0]
            noisy = (
                low is not None
                and high is not None
                and high - low > NOISY_SPREAD * TARGET_OVERHEAD_PCT
            )
            entry |= {
                "overhead_pct_median": median,
                "overhead_pct_min": low,
                "overhead_pct_max": high,
                "fixed_pct_median": fixed,
                "loop_pct_median": _stats(
                    [p for r in rounds if (p := r.loop_pct(variant)) is not None]
                )[0],
                "noisy": noisy,
                "target_met": overhead_verdict(median, fixed, noisy) == "met",
                "verdict": overhead_verdict(median, fixed, noisy),
            }
        variants[variant] = entry
    help_median, help_min, help_max = _stats(help_s)
    return {
        "variants": variants,
        "help_s_median": help_median,
        "help_s_min": help_min,
        "help_s_max": help_max,
        "help_target_met": help_median is not None and help_median <= TARGET_HELP_S,
    }


def print_report(rounds: list[Round], summary: dict[str, Any]) -> None:
    """The per-round table, the summary and the verdicts."""
    print()
    print("round | load 1m | order          | bare s  | fake s  | null s  | fake %  | null %")
    for r in rounds:
        walls = [_fmt(r.timings[v].wall_s if v in r.timings else None, "7.3f") for v in VARIANTS]
        print(
            f"{r.index:5d} | {r.load_1m:7.2f} | {','.join(r.order):14s} | "
            + " | ".join(walls)
            + "".join(f" | {_fmt(r.overhead_pct(v), '+7.2f')}" for v in ("fake", "null"))
        )
    print()
    print(
        "variant | runs | median wall s | median loop s | median non-loop s | "
        "overhead % median (min .. max) | non-loop overhead % median | loop % median"
    )
    for variant, e in summary["variants"].items():
        overhead, fixed, loop = "-", "-", "-"
        if variant != "bare":
            loop = _fmt(e["loop_pct_median"], "+.2f")
            overhead = (
                f"{_fmt(e['overhead_pct_median'], '+.2f')} "
                f"({_fmt(e['overhead_pct_min'], '+.2f')} .. {_fmt(e['overhead_pct_max'], '+.2f')})"
            )
            fixed = _fmt(e["fixed_pct_median"], "+.2f")
        print(
            f"{variant:7s} | {e['runs']:4d} | {_fmt(e['wall_s_median'], '13.3f')} | "
            f"{_fmt(e['loop_s_median'], '13.3f')} | {_fmt(e['rest_s_median'], '17.3f')} | "
            f"{overhead} | {fixed} | {loop}"
        )
    print()
    print(
        f"receipts --help: median {_fmt(summary['help_s_median'], '.3f')} s "
        f"(min {_fmt(summary['help_s_min'], '.3f')}, max {_fmt(summary['help_s_max'], '.3f')})"
    )
    for variant in ("fake", "null"):
        e = summary["variants"][variant]
        print(
            f"target overhead <= {TARGET_OVERHEAD_PCT} % ({variant}): {e['verdict'].upper()} "
            f"(median {_fmt(e['overhead_pct_median'], '+.2f')} %; "
            f"non-loop part alone {_fmt(e['fixed_pct_median'], '+.2f')} %; "
            f"the job's loop {_fmt(e['loop_pct_median'], '+.2f')} % against bare)"
        )
        if e["noisy"]:
            print(
                f"  note: the paired overheads of {variant} spread over "
                f"{e['overhead_pct_max'] - e['overhead_pct_min']:.1f} points, more than "
                f"{NOISY_SPREAD:g} x the target: the machine was too busy for the wall times "
                "alone to settle it"
            )
    verdict = "met" if summary["help_target_met"] else "MISSED"
    print(
        f"target receipts --help <= {TARGET_HELP_S} s: {verdict} "
        f"(median {_fmt(summary['help_s_median'], '.3f')} s)"
    )


def find_receipts(given: str | None) -> str:
    """The ``receipts`` executable: given, beside this interpreter, or on PATH."""
    if given:
        return given
    beside = Path(sys.executable).parent / "receipts"
    if beside.exists():
        return str(beside)
    found = shutil.which("receipts")
    if found is None:
        raise SystemExit("receipts: not found; install the package or pass --receipts")
    return found


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of bare/fake/null (5)")
    parser.add_argument("--seconds", type=float, default=10.0, help="job length in s (10)")
    parser.add_argument("--help-runs", type=int, default=10, help="timed `receipts --help` (10)")
    parser.add_argument("--receipts", help="the receipts executable (default: beside python)")
    parser.add_argument("--out", type=Path, help="keep the ledgers in this directory")
    parser.add_argument("--json", action="store_true", help="also print one JSON result line")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help=f"keep {NO_BYTECODE} in the runs' environment where it is set (default: drop it)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0 or args.help_runs < 1:
        parser.error("--rounds, --seconds and --help-runs must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    args = parse_args(argv)

    machine = machine_info()
    print(
        f"machine: {machine['cpu_count']} CPUs ({machine['machine']}), {machine['platform']}, "
        f"Python {machine['python']}; load average {machine['load_average']} at start"
    )
    receipts = find_receipts(args.receipts)
    iterations, trial = calibrate(sys.executable, args.seconds)
    print(
        f"job: {iterations:,} loop iterations (~{args.seconds:g} s; "
        f"calibration trial {trial:.2f} s)"
    )
    print(
        f"variants: bare; fake = probes.launch + FakeGpuMeter({FAKE_DEVICES} x H100, SystemClock) "
        f"at {1 / FAKE_SAMPLE_INTERVAL_S:g} Hz; null = {receipts} run "
        "(NVML if it initialises, else the null meter)"
    )
    job = job_source(iterations)
    workdir = args.out or Path(tempfile.mkdtemp(prefix="probe-overhead-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = run_env(not args.no_bytecode_cache)
    bytecode = NO_BYTECODE not in env
    print(
        f"bytecode cache: {'on' if bytecode else 'off'} ({NO_BYTECODE} "
        f"{'unset' if bytecode else 'set'} in the runs' environment"
        f"{'; it is set in this one' if bytecode and NO_BYTECODE in os.environ else ''})"
    )
    setup = Setup(python=sys.executable, receipts=receipts, workdir=workdir, env=env)
    failed = False
    try:
        warm = job_source(1000)
        for variant in VARIANTS:  # untimed: creates the ledgers, warms the file cache
            failed |= bool(timed(setup, variant, warm, WARMUP).returncode)
        rounds: list[Round] = []
        for index in range(1, args.rounds + 1):
            shift = (index - 1) % len(VARIANTS)
            order = list(VARIANTS[shift:] + VARIANTS[:shift])
            current = Round(index, round(os.getloadavg()[0], 2), order)
            for variant in order:
                current.timings[variant] = timing = timed(setup, variant, job)
                failed |= bool(timing.returncode)
            rounds.append(current)
            walls = ", ".join(f"{v} {current.timings[v].wall_s:.3f} s" for v in order)
            print(f"round {index}/{args.rounds} (load {current.load_1m}): {walls}", flush=True)
        help_s = time_help(receipts, args.help_runs, env)
        try:
            problems = check_ledgers(setup, args.rounds, args.seconds)
        except Exception as exc:  # report, still print the timings
            problems = [f"could not read the ledgers: {type(exc).__name__}: {exc}"]
    finally:
        if args.out is None:
            shutil.rmtree(workdir, ignore_errors=True)
    summary = summarise(rounds, help_s)
    print_report(rounds, summary)
    end_load = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at end: {end_load}")
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if args.json:
        print(
            json.dumps(
                {
                    "machine": machine,
                    "load_average_end": end_load,
                    "iterations": iterations,
                    "seconds": args.seconds,
                    "bytecode_cache": bytecode,
                    "summary": summary,
                    "rounds": [
                        {
                            "round": r.index,
                            "load_1m": r.load_1m,
                            "order": r.order,
                            "timings": {
                                v: {"wall_s": t.wall_s, "loop_s": t.loop_s, "rc": t.returncode}
                                for v, t in r.timings.items()
                            },
                        }
                        for r in rounds
                    ],
                    "help_s": help_s,
                    "problems": problems,
                }
            )
        )
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
