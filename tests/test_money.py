"""Dollar amounts as text (ledger.money), and a cost published only as an upper bound ("under
$500") wherever a report shows it: never "$0.00" for its unknown low end."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.money import usd, usd_exact, usd_range, usd_rounded

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
    ],
)
def test_reading_precision(value: Decimal, scale: Decimal | None, text: str) -> None:
    assert usd_rounded(value, scale) == text


def test_a_range_is_one_amount_where_its_ends_agree_and_a_dash_where_one_is_missing() -> None:
    assert usd_range(D(140220), D(140220)) == "$140,220"
    assert usd_range(D("20.73"), D("85.21")) == "$20.73–$85.21"
    assert usd_range(D(378), D(3675), rounded=True) == "$378–$3,675"
    assert usd_range(None, D(5)) == "—"


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
