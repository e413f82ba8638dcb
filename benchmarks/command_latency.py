"""Whole-process latency of the commands a journalist and an author run first.

    .venv/bin/python benchmarks/command_latency.py             # median of 7 runs per command
    .venv/bin/python benchmarks/command_latency.py --runs 3 --json
    .venv/bin/python benchmarks/command_latency.py --checkout /tmp/base   # another checkout's code

Each command runs as its own process (``python -m receipts ...``), as a user starts it, on one
SQLite ledger in a temporary directory that a warm-up run has loaded the case into, so every counted
run finds the case recorded (``audit`` loads it idempotently). ``--checkout DIR`` puts DIR first on
``PYTHONPATH``, so the same interpreter and libraries run another checkout's code (the code before a
change, for a before/after table). Wall seconds, min / median / max, are printed per command.

Targets (issue 16): ``check s1`` and ``audit s1`` at most 1.5 s each, ``audit s1 --out DIR`` (its
formats: Markdown, LaTeX, HTML, JSON) at most 5 s, on the 2-core machine the project is built on.
The PDF (WeasyPrint, the ``pdf`` extra) is timed too, beside them, without a target.
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
from pathlib import Path

COMMANDS: dict[str, list[str]] = {
    "check s1": ["check", "s1"],
    "audit s1": ["audit", "s1"],
    "audit s1 --out DIR (md, tex, html, json)": ["audit", "s1", "--out", "{out}"],
    "audit s1 --out DIR --format md,tex,html,json,pdf": [
        *("audit", "s1", "--out", "{out}"),
        *("--format", "md,tex,html,json,pdf"),
    ],
}


class Failed(Exception):
    """The command exited non-zero (an older checkout without the option, say)."""


def run_once(args: list[str], env: dict[str, str], out: Path) -> float:
    """Wall seconds of one ``python -m receipts ARGS`` process, into an empty ``out``."""
    argv = [sys.executable, "-m", "receipts", *(a.format(out=out) for a in args)]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()  # older checkouts wrote only into an existing directory
    start = time.perf_counter()
    done = subprocess.run(
        argv, env=env, cwd=out.parent, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise Failed(f"exited {done.returncode}: {done.stderr.strip().splitlines()[-1]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="counted runs per command")
    parser.add_argument("--checkout", type=Path, help="run this checkout's code instead")
    parser.add_argument("--json", action="store_true", help="also print one JSON result line")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        # As a user runs it: bytecode cached after the first run (some shells here set
        # PYTHONDONTWRITEBYTECODE, which recompiles every module each time), and a working
        # directory outside the checkout, so that ``-m`` finds the code PYTHONPATH names.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["RECEIPTS_LEDGER"] = f"sqlite:///{tmp}/ledger.db"
        if opts.checkout:
            env["PYTHONPATH"] = str(opts.checkout.resolve())
        out = Path(tmp, "out")
        run_once(["audit", "s1"], env, out)  # warm-up: the case enters the ledger
        results = {}
        for name, args in COMMANDS.items():
            try:
                run_once(args, env, out)  # warm-up of this command (file caches)
            except Failed as exc:
                print(f"{name:48} not run: {exc}")
                continue
            times = [run_once(args, env, out) for _ in range(opts.runs)]
            results[name] = {
                "min": min(times),
                "median": statistics.median(times),
                "max": max(times),
                "runs": times,
            }
            print(
                f"{name:48} median {results[name]['median']:.2f} s "
                f"(min {min(times):.2f}, max {max(times):.2f}, {opts.runs} runs)"
            )
    machine = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": os.getloadavg()[0],
        "checkout": str(opts.checkout or Path(__file__).resolve().parents[1]),
    }
    print(f"machine: {machine}")
    if opts.json:
        print(json.dumps({"machine": machine, "results": results}))


if __name__ == "__main__":
    main()
