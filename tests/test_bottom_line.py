"""Issue 16 item 1: ``audit`` opens with the bottom line, which fits 80 columns piped.

The real ``receipts`` command in a subprocess (stdout a pipe, as with ``| head``), on a fresh
SQLite ledger.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.cases import bundled_case_names

ZERO_DOLLARS = re.compile(r"\$0(\.0+)?(?![\d.,])")


def receipts(tmp_path: Path, *args: str, columns: int | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["RECEIPTS_LEDGER"] = f"sqlite:///{tmp_path / 'ledger.db'}"
    if columns is not None:
        env["COLUMNS"] = str(columns)
    done = subprocess.run(
        [sys.executable, "-m", "receipts", *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout


def test_the_first_screen_of_audit_s1_at_80_columns_states_the_result(tmp_path: Path) -> None:
    out = receipts(tmp_path, "audit", "s1", columns=80)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80  # COLUMNS honoured though piped
    first = "\n".join(lines[:25])
    assert "$50" in first and "26-minute run" in first and "6.93 GPU-hours" in first
    assert "$13.80–$85.21" in first
    assert "$378–$3,675" in first  # the recipe's range
    assert "$3.9M–$40M" in first  # with the inherited base model
    assert "s1/techcrunch: not supported — under $50 misleading" in first
    # The deciding numbers are whole, never cut by column truncation.
    assert "…" not in first
    assert "$40.39M" in out and "$20,928" in out and "2.46M" in out


def test_columns_200_piped_gives_wide_tables(tmp_path: Path) -> None:
    out = receipts(tmp_path, "audit", "s1", columns=200)
    widths = [len(line) for line in out.splitlines()]
    assert max(widths) <= 200 and max(widths) > 160  # neither 80 nor the old fixed 160


@pytest.mark.parametrize("case", sorted(bundled_case_names()))
def test_every_bundled_case_has_a_bottom_line_without_zero_dollars(
    tmp_path: Path, case: str
) -> None:
    data = json.loads(receipts(tmp_path, "audit", case, "--json"))
    line = data["bottom_line"]
    assert line["sentences"]
    for sentence in line["sentences"]:
        assert not ZERO_DOLLARS.search(sentence), sentence  # unpriced is never $0
    assert [v["claim"] for v in line["verdicts"]] == [c["id"] for c in data["claims"]]
    for verdict, claim in zip(line["verdicts"], data["claims"], strict=True):
        assert verdict["verdict"] == claim["verdict"]
        assert claim["verdict"].replace("_", " ") in verdict["text"]
    if data["headline_figures"]:
        assert line["sentences"][0].startswith("The published figure")


MI300X_CASE = Path(__file__).parent / "data" / "cases" / "toy-mi300x.yaml"


def test_a_scope_nothing_prices_says_so_instead_of_a_dollar_figure(tmp_path: Path) -> None:
    case = MI300X_CASE
    data = json.loads(receipts(tmp_path, "audit", str(case), "--json"))
    text = " ".join(data["bottom_line"]["sentences"])
    assert "41,000 GPU-hours that no price card prices" in text
    out = receipts(tmp_path, "audit", str(case), columns=80)
    assert not ZERO_DOLLARS.search(out), out


def test_verdict_lines_read_what_each_assertion_checks_not_its_id(tmp_path: Path) -> None:
    """A reader cannot decode ``about-6``: each assertion reads as its figure or its comparator."""
    out = receipts(tmp_path, "audit", "s1", columns=200)
    bottom = out.split("Subject s1-32B")[0]
    assert "s1/kellogg: not supported (about $6)" in bottom
    assert "s1/vrstate: not supported — under $50 misleading, comparable to DeepSeek-R1" in bottom
    assert "about-6" not in bottom and "under-50" not in bottom
