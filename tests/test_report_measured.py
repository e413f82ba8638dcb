"""Issue 16 item 2: ``receipts report`` of a lab's own runs shows what was measured.

The ledger is built through the real commands: a token count of a shipped dataset, a Trainer
state import, a Label Studio import, an API-log import and a CPU-only ``receipts run -- true``
(NVML absent, or every GPU hidden).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from receipts.cli import app

DATA = Path(__file__).parent / "data"
BENCH = Path(__file__).parents[1] / "probes" / "data" / "bench" / "aime24.jsonl"
SUBJECT = "lab-7b"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The ledger's URL, and what the CPU-only run said on stderr."""
    url = f"sqlite:///{tmp_path_factory.mktemp('lab') / 'ledger.db'}"
    runner = CliRunner()
    hidden = {"CUDA_VISIBLE_DEVICES": "", "COLUMNS": "80"}

    def ok(*args: str) -> str:
        done = runner.invoke(app, [*args, "--ledger", url], env=hidden)
        assert done.exit_code == 0, done.output
        return done.stderr

    said = ok(
        "run", "--subject", SUBJECT, "--stage", "smoke", "--category", "rnd", "--ledger", url,
        "--", "true",
    )  # fmt: skip
    ok("tokens", "count", str(BENCH), "--field", "problem", "--record", "--subject", SUBJECT,
       "--stage", "curation", "--workers", "1")  # fmt: skip
    ok("import", "trainer-state", str(DATA / "training" / "trainer_state.json"),
       "--subject", SUBJECT)  # fmt: skip
    ok("import", "label-studio", str(DATA / "labelstudio" / "export.json"), "--subject", SUBJECT)
    ok("import", "api-log", str(DATA / "api" / "api.jsonl"), "--subject", SUBJECT)
    return url, said


def report(url: str, *extra: str, columns: int = 80) -> str:
    done = CliRunner().invoke(
        app,
        ["report", "--subject", SUBJECT, "--ledger", url, *extra],
        env={"COLUMNS": str(columns)},
    )
    assert done.exit_code == 0, done.output
    return done.stdout


def test_a_run_that_recorded_nothing_says_so_when_it_ends(lab: tuple[str, str]) -> None:
    _, said = lab
    (line,) = said.strip().splitlines()
    assert line.startswith(f"receipts: run {SUBJECT}/smoke/") and "recorded no GPU usage: " in line
    assert "no GPU meter" in line or "sees no device" in line


def test_the_report_shows_every_measured_quantity_with_headers_and_totals(
    lab: tuple[str, str],
) -> None:
    url, _ = lab
    out = report(url)
    assert max(len(line) for line in out.splitlines()) <= 80
    # The bottom line first: total, measured and reported quantities, gaps, the quiet run.
    head = "\n".join(out.splitlines()[:12])
    assert f"{SUBJECT}'s own work costs $" in head
    assert "3,212 dataset tokens" in head  # tokens count of the shipped AIME24 problems
    assert "48.23M training tokens" in head and "FLOP" in head  # the Trainer's
    assert "1.69 person-hours" in head  # Label Studio lead times
    assert "7 API calls" in head
    assert "1 run recorded nothing" in head
    # The line-by-line table: each figure, its unit, "—" where unpriced.
    table = out[out.index("What was used, line by line") :]
    for needle in ("3,212", "48.23M", "7.00e+18", "FLOP", "person-hours", "API calls"):
        assert needle in table, needle
    unpriced = [line for line in table.splitlines() if "api/deepseek" in line]
    assert len(unpriced) == 3  # calls, input and output tokens: no card
    assert all(line.count("—") == 2 and "$" not in line for line in unpriced)  # never $0.00
    calls = [line for line in table.splitlines() if "API calls" in line]
    assert calls and all(line.count("—") == 2 for line in calls)
    assert "<$0.01" in table  # a priced fraction of a cent is not $0.00 either
    # The category table: display names, a totals row, every column headed.
    assert "fine-tuning" in out and "fine_tuning" not in out
    assert f"total, {SUBJECT}" in out
    header = next(line for line in out.splitlines() if "┃ category" in line)
    assert all(cell.strip() for cell in header.strip("┃").split("┃"))
    assert "Runs that recorded no GPU time" in out and "nothing: " in out


def test_the_json_carries_totals_quiet_runs_and_the_bottom_line(lab: tuple[str, str]) -> None:
    url, _ = lab
    data = json.loads(report(url, "--json"))
    assert data["bottom_line"]["sentences"][0].startswith(f"{SUBJECT}'s own work costs")
    (total,) = data["totals"]
    assert total["inherited"] is False and total["cost_usd_high"] > 0
    (quiet,) = data["quiet_runs"]
    assert quiet["recorded_nothing"] is True and quiet["why"]
