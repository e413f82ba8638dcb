"""The CLI on bad input: one line on stderr naming file and field, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import assert_bad_input
from typer.testing import CliRunner

from ledger.store import Ledger
from receipts.cli import app

DATA = Path(__file__).parent / "data"


def invoke(runner: CliRunner, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def head(url: str) -> tuple[int, str]:
    with Ledger(url) as ledger:
        return ledger.head()


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("case_negative.yaml", ["case_negative.yaml", "line 15", "usages[0].quantity", "negative"]),
        ("case_nan.yaml", ["case_nan.yaml", "quantity", "finite"]),
        ("case_bad_unit.yaml", ["case_bad_unit.yaml", "unit", "'gpu_hour'"]),
        ("case_malformed.yaml", ["case_malformed.yaml", "line 6", "malformed YAML"]),
        ("case_unknown_run.yaml", ["case_unknown_run.yaml", "run 'nope'"]),
        ("case_bad_estimator.yaml", ["case_bad_estimator.yaml", "unknown estimator 'magic'"]),
    ],
)
def test_bad_case_files(runner: CliRunner, sqlite_url: str, name: str, needles: list[str]) -> None:
    before = head(sqlite_url)
    assert_bad_input(invoke(runner, "load", str(DATA / name), "--ledger", sqlite_url), *needles)
    assert head(sqlite_url) == before


def test_good_case_file_loads_once(runner: CliRunner, sqlite_url: str) -> None:
    first = invoke(runner, "load", str(DATA / "case_ok.yaml"), "--ledger", sqlite_url)
    assert first.exit_code == 0 and "4 new" in first.stdout
    second = invoke(runner, "load", str(DATA / "case_ok.yaml"), "--ledger", sqlite_url)
    assert "0 new, 0 corrected, 4 unchanged" in second.stdout


def test_report_groups_by_category_stage_and_run(runner: CliRunner, sqlite_url: str) -> None:
    invoke(runner, "load", str(DATA / "case_ok.yaml"), "--ledger", sqlite_url)
    for by, key in [("category", "fine_tuning"), ("stage", "sft"), ("run", "toy/sft")]:
        result = invoke(
            runner, "report", "--subject", "toy", "--by", by, "--json", "--ledger", sqlite_url
        )
        assert result.exit_code == 0, result.output
        (group,) = json.loads(result.stdout)["groups"]
        assert group["key"] == key and group["gpu_hours"] == 2.0
        assert group["cost_usd_low"] == pytest.approx(2 * 1.99)


def test_unknown_subject(runner: CliRunner, sqlite_url: str) -> None:
    result = invoke(runner, "report", "--subject", "nobody", "--ledger", sqlite_url)
    assert_bad_input(result, "unknown subject 'nobody'")


def test_unreachable_database_hides_the_password(runner: CliRunner) -> None:
    url = "postgresql+psycopg://bob:hunter2@127.0.0.1:9/x?connect_timeout=2"
    result = invoke(runner, "audit", "s1", "--ledger", url)
    assert_bad_input(result, "bob:***@127.0.0.1:9")
    assert "hunter2" not in result.output


def test_unwritable_sqlite_location(runner: CliRunner, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke(runner, "audit", "--ledger", f"sqlite:///{blocker}/sub/ledger.db")
    assert_bad_input(result, "ledger")


def test_missing_and_unknown_case(runner: CliRunner, sqlite_url: str) -> None:
    assert_bad_input(invoke(runner, "audit", "s2", "--ledger", sqlite_url), "no case named 's2'")


def test_prices_add_and_list(runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    cards = tmp_path / "cards.csv"
    cards.write_text(
        "id,resource,unit,price_usd,date,vendor,term,source\n"
        "uni-h100,gpu/H100,gpu_hour,0.95,2025-01-15,University cluster,reserved,internal\n"
    )
    added = invoke(runner, "prices", "add", str(cards), "--ledger", sqlite_url)
    assert added.exit_code == 0 and "1 new" in added.stdout
    listed = invoke(
        runner, "prices", "list", "--resource", "gpu/H100", "--unit", "gpu_hour", "--json",
        "--ledger", sqlite_url,
    )  # fmt: skip
    rows = json.loads(listed.stdout)
    assert rows[0]["id"] == "uni-h100" and len(rows) == 20
    assert {r["unit"] for r in rows} == {"gpu_hour"}
    audit = json.loads(invoke(runner, "audit", "--json", "--ledger", sqlite_url).stdout)
    (fine,) = [c for c in audit["categories"] if c["category"] == "fine_tuning"]
    assert fine["cost_usd_low"] == pytest.approx(6.9333 * 0.95, abs=0.01)


def test_bad_price_file_writes_nothing(runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    cards = tmp_path / "cards.json"
    cards.write_text('{"schema_version": 1, "cards": [{"id": "x"')
    before = head(sqlite_url)
    result = invoke(runner, "prices", "add", str(cards), "--ledger", sqlite_url)
    assert_bad_input(result, "cards.json", "line 1", "malformed JSON")
    assert head(sqlite_url) == before


def test_environment_variable_selects_the_ledger(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "env.db"
    monkeypatch.setenv("RECEIPTS_LEDGER", f"sqlite:///{path}")
    assert invoke(runner, "audit").exit_code == 0
    assert path.exists()
