"""Dollar amounts as text (ledger.money), and a cost published only as an upper bound ("under
$500") wherever a report shows it: never "$0.00" for its unknown low end."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.cases import bundled_case_names, load_case
from ledger.money import usd, usd_exact, usd_range, usd_rounded
from receipts.cli import app

D = Decimal


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (D("13.8"), "$13.80"),
        (D("0.004"), "<$0.01"),
        (D(0), "$0.00"),
        (D("3922.4"), "$3,922"),
        (D("5576000"), "$5.58M"),
        (27.66, "$27.66"),  # floats read as their shortest repr
    ],
)
def test_table_precision(value: Decimal | float | None, text: str) -> None:
    assert usd(value) == text


@pytest.mark.parametrize(
    ("value", "scale", "text"),
    [
        (D(6), None, "$6"),
        (D("13.8"), None, "$13.80"),
        (D(3675), None, "$3,675"),
        (D(21000), None, "$21k"),
        (D(1300), D(21000), "$1.3k"),
        (D("3.9e6"), None, "$3.9M"),
        (D("0.001"), None, "<$0.01"),
        (D("9990"), D(21000), "$10k"),  # rounds to ten units: no decimal, not "$10.0k"
        (D("9.96e6"), None, "$10M"),
        (D("999950"), D("2e6"), "$1.0M"),
    ],
)
def test_reading_precision(value: Decimal, scale: Decimal | None, text: str) -> None:
    assert usd_rounded(value, scale) == text


def test_a_range_is_one_amount_where_its_ends_agree_and_a_dash_where_one_is_missing() -> None:
    assert usd_range(D(140220), D(140220)) == "$140,220"
    assert usd_range(D("20.73"), D("85.21")) == "$20.73–$85.21"
    assert usd_range(D(378), D(3675), rounded=True) == "$378–$3,675"
    assert usd_range(None, D(5)) == "—"


@pytest.mark.parametrize(
    ("low", "high", "text"),
    [
        # s1's evaluation: $34.52 beside $10,365 read "$0.0k–$10k"
        (D("34.52"), D(10365), "$34.52–$10k"),
        (D(30000), D("1.4e6"), "$30k–$1.4M"),  # was "$0.0M–$1.4M"
        (D(230000), D("1.4e6"), "$230k–$1.4M"),  # was "$0.2M–$1.4M": one figure lost
        (D(949), D(21000), "$949–$21k"),  # was "$0.9k–$21k"
        (D("0.5"), D(20000), "$0.50–$20k"),
        (D("0.004"), D(20000), "<$0.01–$20k"),
        (D(0), D(10000), "$0–$10k"),  # a true zero reads as zero, not "$0.0k"
        (D(960), D(21000), "$1.0k–$21k"),  # rounds to one unit: the range's scale
        (D(1300), D(21000), "$1.3k–$21k"),
        (D("1.2e6"), D("4e7"), "$1.2M–$40M"),
    ],
)
def test_a_low_end_below_one_unit_of_the_high_ends_scale_reads_at_its_own(
    low: Decimal, high: Decimal, text: str
) -> None:
    assert usd_range(low, high, rounded=True) == text


def test_an_upper_bound_is_up_to_its_top_only_when_the_data_says_so() -> None:
    assert usd_range(D(0), D(500), upper_bound_only=True) == "up to $500.00"
    assert usd_range(D(0), D(500), upper_bound_only=True, rounded=True) == "up to $500"
    # a low end of zero alone is not a bound: the caller says which it is
    assert usd_range(D(0), D(500)) == "$0.00–$500.00"


def test_a_price_reads_exactly_as_stated() -> None:
    assert usd_exact(D("0.075")) == "$0.075"
    assert usd_exact(D("2.9900")) == "$2.99"
    assert usd_exact(D(1200)) == "$1,200"


def _receipts(*args: str, tmp_path: Path) -> str:
    env = {**os.environ, "COLUMNS": "100", "RECEIPTS_LEDGER": f"sqlite:///{tmp_path / 'l.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "receipts", *args, "--ledger", f"sqlite:///{tmp_path / 'l.db'}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _rows_naming(text: str, words: str) -> list[str]:
    return [line for line in text.splitlines() if words in line]


def test_the_terminal_audit_shows_the_alpaca_data_bound_as_up_to(tmp_path: Path) -> None:
    """`receipts audit alpaca`, piped at 100 columns: the "under $500" of API calls is "up to
    $500" in the category table, the scopes, the price bases and the published figures."""
    out = _receipts("audit", "alpaca", tmp_path=tmp_path)
    data = _rows_naming(out, "│ data ")
    assert data and "up to $500.00" in data[0] and "$0.00" not in data[0]
    scope = _rows_naming(out, "generating the 52K demonstrations with the OpenAI API")
    assert scope and all("$0.00" not in row for row in scope)
    assert "up to $500.00" in scope[0] and "up to $500" in scope[1]  # scopes, price bases
    figure = _rows_naming(out, "Alpaca authors (blog)   ")
    assert figure and "up to $500.00" in figure[0] and "$0.00" not in figure[0]


def test_the_appendix_shows_the_alpaca_data_bound_as_up_to(tmp_path: Path) -> None:
    _receipts("load", "alpaca", tmp_path=tmp_path)
    _receipts(
        "appendix", "--subject", "alpaca-7b", "--out", str(tmp_path / "a.md"), tmp_path=tmp_path
    )
    text = (tmp_path / "a.md").read_text(encoding="utf-8")
    rows = [
        r
        for r in text.splitlines()
        if r.startswith("|") and ("data-generation" in r or r.startswith("| data |"))
    ]
    assert len(rows) >= 4
    for row in rows:
        assert "$0.00" not in row, row
        assert "up to $500" in row, row


ZERO_LOOKING = re.compile(r"\$0(?:\.\d+)?[kM]\b|\$0\.0(?!\d)")
"""An amount that reads as zero, or as a fraction of its unit: ``$0.0k``, ``$0k``, ``$0.2M``,
``$0.0``. Prices per kWh (``$0.0771``) do not match."""


def test_no_bundled_case_or_subject_prints_an_amount_that_reads_as_zero(
    runner: CliRunner, tmp_path: Path
) -> None:
    """`COLUMNS=80 receipts audit <case>` for every bundled case, then `receipts report
    --subject <subject>` for every subject they hold: no "$0.0k" for $34.52, no "$0.2M"."""
    url = f"sqlite:///{tmp_path / 'l.db'}"
    subjects: set[str] = set()
    outputs: dict[str, str] = {}
    for name in bundled_case_names():
        result = runner.invoke(app, ["audit", name, "--ledger", url], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        outputs[f"audit {name}"] = result.stdout
        subjects |= {s.id for s in load_case(name).subjects}
    assert {"s1-32B", "DeepSeek-V3-Base", "Qwen2.5-32B-Instruct"} <= subjects
    for subject in sorted(subjects):
        result = runner.invoke(
            app, ["report", "--subject", subject, "--ledger", url], env={"COLUMNS": "80"}
        )
        assert result.exit_code == 0, result.output
        outputs[f"report {subject}"] = result.stdout
    assert "$34.52–$10k" in outputs["report s1-32B"]
    found = [
        f"{command}: {line.strip()}"
        for command, text in outputs.items()
        for line in text.splitlines()
        if ZERO_LOOKING.search(line)
    ]
    assert not found, "\n".join(found)


def test_claims_and_ledger_write_dollars_only_through_ledger_money() -> None:
    """One implementation of money as text: no module of ledger/ or claims/ but ledger/money.py
    formats a dollar amount by hand (``f"${x:.2f}"``), which drifts from the rules above (a
    dash for missing, ``<$0.01``, one amount for equal ends)."""
    import claims
    import ledger

    money = Path(ledger.__file__).parent / "money.py"
    found = [
        f"{path}:{number}: {line.strip()}"
        for package in (claims, ledger)
        for path in sorted(Path(package.__file__).parent.rglob("*.py"))
        if path != money
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "${" in line
    ]
    assert not found, "\n".join(found)
