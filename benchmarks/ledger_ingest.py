"""Benchmark: bulk usage ingest through the ledger API against raw ``sqlite3.executemany``.

Per repeat, in a fresh SQLite file:

1. record one subject and one run;
2. time ``Ledger.append_usages`` of N varying GPU-hour quantities (validation, hash chain,
   insert and commit included) -> ledger rows/s;
3. time ``build_report(ledger, subject, "category")`` -> report seconds;
4. time ``Ledger.verify()`` (full chain recomputation; reported, no target);
5. read the exact usage rows the ledger wrote back out of ``entries`` into memory, create a fresh
   SQLite file with the same ``entries`` DDL and indexes (copied from ``sqlite_master``) and the
   same pragmas, and time one transaction of ``executemany`` of those rows -> raw rows/s, the
   floor for any SQLite writer of these rows from Python;
6. time recomputing the chain digests of those rows in pure Python with no database (a
   diagnostic: with step 5 it shows what the ledger's time is made of).

The median of each figure over the repeats is reported, with the targets: >= 500,000 rows/s
through the ledger and a category report in <= 1 s.

Run ``.venv/bin/python benchmarks/ledger_ingest.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Run from a checkout without installing: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.audit import build_report
from ledger.schema import Category, Provenance, Run, RunStatus, Subject, Unit
from ledger.store import Ledger

TARGET_ROWS_PER_S = 500_000
"""Target ingest rate through the ledger API."""
TARGET_REPORT_S = 1.0
"""Target time of one category report."""

SUBJECT = "bench-subject"
RUN = "bench-run"
RESOURCE = "gpu/H100"


@dataclass(frozen=True)
class Repeat:
    """Measurements of one repeat."""

    rows: int
    """Usage rows appended."""
    ledger_s: float
    """Seconds of ``append_usages`` (validation, hashing, insert, commit)."""
    raw_s: float
    """Seconds of one ``executemany`` transaction of the same rows (insert, commit)."""
    hash_s: float
    """Seconds to recompute the rows' chain digests in pure Python, no database."""
    report_s: float
    """Seconds of ``build_report(..., "category")``."""
    verify_s: float
    """Seconds of ``Ledger.verify()``."""

    @property
    def ledger_rate(self) -> float:
        """Rows per second through the ledger API."""
        return self.rows / self.ledger_s

    @property
    def raw_rate(self) -> float:
        """Rows per second through raw ``executemany``."""
        return self.rows / self.raw_s

    @property
    def hash_rate(self) -> float:
        """Rows per second of chain hashing alone."""
        return self.rows / self.hash_s


def make_quantities(n: int, seed: int = 20261125) -> list[float]:
    """``n`` varying, non-negative GPU-hour samples (about 1 to 60 GPU-seconds each)."""
    rng = random.Random(seed)
    return [rng.uniform(1.0, 60.0) / 3600.0 for _ in range(n)]


def open_ledger(path: Path) -> Ledger:
    """A fresh ledger at ``path`` holding the benchmark's subject and run."""
    ledger = Ledger(f"sqlite:///{path}")
    ledger.record(
        [
            Subject(id=SUBJECT, name="Benchmark subject"),
            Run(
                id=RUN,
                subject=SUBJECT,
                stage="sft",
                category=Category.FINE_TUNING,
                name="Benchmark run",
                status=RunStatus.SUCCEEDED,
            ),
        ]
    )
    return ledger


def read_usage_rows(path: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and every usage row of the ledger file at ``path``, in chain order."""
    conn = sqlite3.connect(path)
    try:
        cursor = conn.execute("SELECT * FROM entries WHERE kind = 'usage' ORDER BY seq")
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        conn.close()
    return columns, rows


def entries_ddl(path: Path) -> list[str]:
    """The ``CREATE TABLE`` and ``CREATE INDEX`` statements of ``entries`` in the file ``path``."""
    conn = sqlite3.connect(path)
    try:
        found = conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'entries' AND sql IS NOT NULL "
            "ORDER BY type = 'index', name"
        ).fetchall()
    finally:
        conn.close()
    return [sql for (sql,) in found]


def time_raw_executemany(
    path: Path, ddl: list[str], columns: list[str], rows: list[tuple[Any, ...]]
) -> float:
    """Seconds of one ``BEGIN; executemany; COMMIT`` of ``rows`` into a fresh file at ``path``."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        for statement in ddl:
            conn.execute(statement)
        sql = f"INSERT INTO entries ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        (count,) = conn.execute("SELECT COUNT(*) FROM entries").fetchone()
    finally:
        conn.close()
    if count != len(rows):
        raise RuntimeError(f"raw executemany wrote {count} rows, expected {len(rows)}")
    return elapsed


def _render(values: tuple[Any, ...]) -> str:
    """Column values as the ledger renders them for hashing (see ``ledger.canonical.render``)."""
    return "\x1f".join(
        "\x00" if v is None else repr(v) if isinstance(v, float) else str(v) for v in values
    )


def time_chain_hashing(columns: list[str], rows: list[tuple[Any, ...]]) -> float:
    """Seconds to recompute the chain digests of ``rows`` in pure Python, checked against them.

    Mirrors the ledger's bulk path: the fields shared by every row are rendered once, and each
    row's digest covers the previous hash and its quantity.
    """
    quantity = columns.index("quantity")
    first_hashed, recorded_at = columns.index("kind"), columns.index("recorded_at")
    first = rows[0]
    middle = _render(first[first_hashed:quantity])
    # The entry format, the last hashed value, is the table's last column (a later migration).
    suffix = _render((*first[quantity + 1 : recorded_at + 1], first[columns.index("format")]))
    quantities = [row[quantity] for row in rows]
    prev = first[columns.index("prev_hash")]
    sha256 = hashlib.sha256
    start = time.perf_counter()
    digests = []
    for q in quantities:
        prev = sha256(f"{prev}\x1f{middle}\x1f{q!r}\x1f{suffix}".encode()).hexdigest()
        digests.append(prev)
    elapsed = time.perf_counter() - start
    stored = columns.index("hash")
    if any(d != row[stored] for d, row in zip(digests, rows, strict=True)):
        raise RuntimeError("recomputed chain digests differ from the ledger's")
    return elapsed


def run_once(workdir: Path, index: int, quantities: list[float], keep: bool) -> Repeat:
    """One repeat in fresh files under ``workdir``, removed afterwards unless ``keep``."""
    ledger_path = workdir / f"ledger-{index}.db"
    raw_path = workdir / f"raw-{index}.db"
    with open_ledger(ledger_path) as ledger:
        start = time.perf_counter()
        appended = ledger.append_usages(
            run=RUN,
            resource=RESOURCE,
            unit=Unit.GPU_HOUR,
            provenance=Provenance.MEASURED,
            quantities=quantities,
        )
        ledger_s = time.perf_counter() - start
        if appended != len(quantities):
            raise RuntimeError(f"append_usages appended {appended}, expected {len(quantities)}")

        start = time.perf_counter()
        report = build_report(ledger, SUBJECT, "category")
        report_s = time.perf_counter() - start
        gpu_hours = sum(group.gpu_hours or 0.0 for group in report.groups)
        if abs(gpu_hours - sum(quantities)) > 1e-6 * max(1.0, gpu_hours):
            raise RuntimeError(f"report shows {gpu_hours} GPU-hours, expected {sum(quantities)}")

        start = time.perf_counter()
        verified = ledger.verify()
        verify_s = time.perf_counter() - start
        if not verified.ok or verified.entries != len(quantities) + 2:
            raise RuntimeError(f"verify failed: {verified}")

    columns, rows = read_usage_rows(ledger_path)
    if len(rows) != len(quantities):
        raise RuntimeError(f"read back {len(rows)} usage rows, expected {len(quantities)}")
    raw_s = time_raw_executemany(raw_path, entries_ddl(ledger_path), columns, rows)
    hash_s = time_chain_hashing(columns, rows)
    del rows
    if not keep:
        for path in workdir.glob(f"*-{index}.db*"):
            path.unlink()
    return Repeat(len(quantities), ledger_s, raw_s, hash_s, report_s, verify_s)


def machine_info() -> dict[str, Any]:
    """CPU count, platform, Python and SQLite versions, and the load average at the start."""
    return {
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def _median(repeats: list[Repeat], attribute: str) -> float:
    return statistics.median(getattr(r, attribute) for r in repeats)


def summarise(repeats: list[Repeat]) -> dict[str, Any]:
    """Median figures over the repeats, with the targets and whether each is met."""
    ledger_rate = _median(repeats, "ledger_rate")
    raw_rate = _median(repeats, "raw_rate")
    report_s = _median(repeats, "report_s")
    return {
        "rows": repeats[0].rows,
        "repeats": len(repeats),
        "ledger_rows_per_s": ledger_rate,
        "raw_executemany_rows_per_s": raw_rate,
        "ratio_ledger_over_raw": ledger_rate / raw_rate,
        "hash_only_rows_per_s": _median(repeats, "hash_rate"),
        "ledger_append_s": _median(repeats, "ledger_s"),
        "raw_executemany_s": _median(repeats, "raw_s"),
        "hash_only_s": _median(repeats, "hash_s"),
        "report_s": report_s,
        "verify_s": _median(repeats, "verify_s"),
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "target_rows_per_s_met": ledger_rate >= TARGET_ROWS_PER_S,
        "target_report_s": TARGET_REPORT_S,
        "target_report_s_met": report_s <= TARGET_REPORT_S,
        "per_repeat": [asdict(r) for r in repeats],
    }


def print_table(summary: dict[str, Any], machine: dict[str, Any]) -> None:
    """The machine and the median figures as a plain-text table."""
    print(
        f"machine: {machine['cpu_count']} CPUs ({machine['machine']}), {machine['platform']}, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}, "
        f"load average {machine['load_average_1m']} at start"
    )
    print(f"median of {summary['repeats']} repeats, {summary['rows']:,} usage rows each")
    yes_no = {True: "yes", False: "NO"}
    lines = [
        ("rows", f"{summary['rows']:,}", ""),
        (
            "ledger append_usages rows/s",
            f"{summary['ledger_rows_per_s']:,.0f}",
            f">= {TARGET_ROWS_PER_S:,}: {yes_no[summary['target_rows_per_s_met']]}",
        ),
        ("raw executemany rows/s", f"{summary['raw_executemany_rows_per_s']:,.0f}", "floor"),
        ("ratio ledger / raw", f"{summary['ratio_ledger_over_raw']:.2f}", ""),
        ("chain hashing only rows/s", f"{summary['hash_only_rows_per_s']:,.0f}", "no database"),
        (
            "category report s",
            f"{summary['report_s']:.3f}",
            f"<= {TARGET_REPORT_S:g} s: {yes_no[summary['target_report_s_met']]}",
        ),
        ("verify s", f"{summary['verify_s']:.2f}", "no target"),
    ]
    width = max(len(name) for name, _, _ in lines)
    value_width = max(len(value) for _, value, _ in lines)
    for name, value, note in lines:
        print(f"  {name:<{width}}  {value:>{value_width}}  {note}".rstrip())
    print("per repeat (ledger rows/s, raw rows/s, hash rows/s, report s, verify s):")
    for i, r in enumerate(summary["per_repeat"], 1):
        rows = r["rows"]
        print(
            f"  #{i}: {rows / r['ledger_s']:,.0f}  {rows / r['raw_s']:,.0f}  "
            f"{rows / r['hash_s']:,.0f}  {r['report_s']:.3f}  {r['verify_s']:.2f}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="usage rows per repeat")
    parser.add_argument("--repeat", type=int, default=3, help="repeats (the median is reported)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for the SQLite files (default: a temporary one, removed afterwards)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON result line as well")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table (and JSON line with ``--json``)."""
    args = parse_args(argv)
    machine = machine_info()
    quantities = make_quantities(args.rows)
    temporary = args.out is None
    workdir = Path(tempfile.mkdtemp(prefix="receipts-bench-")) if temporary else args.out
    workdir.mkdir(parents=True, exist_ok=True)
    repeats = []
    try:
        for index in range(1, args.repeat + 1):
            repeat = run_once(workdir, index, quantities, keep=not temporary)
            repeats.append(repeat)
            print(
                f"repeat {index}/{args.repeat}: ledger {repeat.ledger_rate:,.0f} rows/s, "
                f"raw {repeat.raw_rate:,.0f} rows/s, report {repeat.report_s:.3f} s, "
                f"verify {repeat.verify_s:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    summary = summarise(repeats)
    print_table(summary, machine)
    if args.json:
        print(json.dumps({"benchmark": "ledger_ingest", "machine": machine, **summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
