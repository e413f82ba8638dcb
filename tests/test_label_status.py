"""``receipts label status``: the open labelling timers with their elapsed time, and the latest
closed ones with their person-hours, on a real ledger file."""

from __future__ import annotations

import json
from datetime import timedelta

from cli_helpers import app_with_imports, assert_bad_input
from typer.testing import CliRunner

from ledger.schema import utcnow
from ledger.store import Ledger
from probes.labelling.cli import register
from probes.labelling.timer import start_timer, stop_timer, timer_status

APP = app_with_imports(register)


def test_no_timer_is_exit_0_and_says_so(runner: CliRunner, sqlite_url: str) -> None:
    done = runner.invoke(APP, ["label", "status", "--ledger", sqlite_url])
    assert done.exit_code == 0, done.output
    assert "no open timer" in done.stdout and "no closed timer yet" in done.stdout
    data = json.loads(runner.invoke(APP, ["label", "status", "--ledger", sqlite_url,
                                          "--json"]).stdout)  # fmt: skip
    assert data["open"] == [] and data["recent"] == []


def test_open_and_closed_timers_are_listed_with_elapsed_time_and_person_hours(
    runner: CliRunner, sqlite_url: str
) -> None:
    now = utcnow()
    with Ledger(sqlite_url) as ledger:
        start_timer(ledger, subject="s1-32B", task="review", annotator="ana",
                    now=now - timedelta(hours=5))  # fmt: skip
        stop_timer(ledger, annotator="ana", now=now - timedelta(hours=3, minutes=30))
        start_timer(ledger, subject="s1-32B", task="grading", annotator="bob",
                    now=now - timedelta(hours=2))  # fmt: skip
        start_timer(ledger, subject="other", task="triage", annotator="cy",
                    now=now - timedelta(minutes=20))  # fmt: skip
    done = runner.invoke(APP, ["label", "status", "--ledger", sqlite_url])
    assert done.exit_code == 0, done.output
    out = done.stdout
    assert "Open labelling timers (2)" in out and "no open timer" not in out
    assert out.index("grading") < out.index("triage")  # oldest first
    assert "bob" in out and "2 h 00 min" in out
    assert "Recently closed timers" in out and "1.500" in out  # 1.5 person-hours

    data = json.loads(runner.invoke(APP, ["label", "status", "--ledger", sqlite_url,
                                          "--json"]).stdout)  # fmt: skip
    assert [t["annotator"] for t in data["open"]] == ["bob", "cy"]
    assert all(t["person_hours"] is None and t["stopped_at"] is None for t in data["open"])
    assert 2 * 3600 <= data["open"][0]["elapsed_s"] < 3 * 3600
    (closed,) = data["recent"]
    assert (closed["task"], closed["person_hours"], closed["elapsed_s"]) == ("review", 1.5, 5400)

    mine = json.loads(runner.invoke(APP, ["label", "status", "--subject", "other", "--ledger",
                                          sqlite_url, "--json"]).stdout)  # fmt: skip
    assert [t["annotator"] for t in mine["open"]] == ["cy"] and mine["recent"] == []


def test_recent_limits_the_closed_timers_latest_first(sqlite_url: str) -> None:
    now = utcnow() - timedelta(days=1)
    with Ledger(sqlite_url) as ledger:
        for hour in range(3):
            start = now + timedelta(hours=hour)
            start_timer(ledger, subject="s1-32B", task=f"t{hour}", annotator="ana", now=start)
            stop_timer(ledger, now=start + timedelta(minutes=30))
        status = timer_status(ledger, recent=2, now=now + timedelta(hours=4))
    assert [s.task for s in status.recent] == ["t2", "t1"]
    assert status.open == []


def test_a_negative_recent_is_one_line(runner: CliRunner, sqlite_url: str) -> None:
    done = runner.invoke(APP, ["label", "status", "--recent", "-1", "--ledger", sqlite_url])
    assert_bad_input(done, "--recent")
