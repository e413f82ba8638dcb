"""`receipts audit s1`: the case the product ships with, end to end through the real CLI."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.cases import load_case
from ledger.names import category_name
from receipts.cli import app

CATEGORIES = ["pretraining", "data", "fine_tuning", "rnd", "evaluation"]


def audit_json(runner: CliRunner, url: str) -> dict:
    result = runner.invoke(app, ["audit", "s1", "--json", "--ledger", url])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def audit(runner: CliRunner, ledger_url: str) -> dict:
    return audit_json(runner, ledger_url)


def test_five_categories_with_fine_tuning_at_6_93_gpu_hours(audit: dict) -> None:
    cats = {c["category"]: c for c in audit["categories"]}
    assert list(cats) == CATEGORIES
    ft = cats["fine_tuning"]
    assert ft["gpu_hours"] == pytest.approx(6.93, abs=0.005)
    assert ft["cost_usd_low"] <= 20 and ft["cost_usd_high"] >= 50
    assert ft["provenance"] == ["reported"]
    assert cats["pretraining"]["cost_usd_low"] > 1_000_000 and cats["pretraining"]["inherited"]
    assert cats["rnd"]["gpu_hours"] >= 394  # the reported 59K-full retrain alone
    assert set(audit) >= {"schema_version", "subject", "categories", "scopes", "unpriced"}
    assert audit["subject"] == "s1-32B" and audit["schema_version"] == 1


def test_scopes_grow_from_the_final_run_to_the_inherited_base(audit: dict) -> None:
    scopes = {s["scope"]: s for s in audit["scopes"]}
    final, authors = scopes["s1/final-sft-rented"], scopes["s1/authors-all"]
    everything = scopes["s1/all-inherited"]
    assert final["categories"] == ["fine_tuning"]
    assert final["cost_usd_high"] < authors["cost_usd_low"]  # the run is a sliver of the work
    assert authors["cost_usd_high"] < everything["cost_usd_low"]
    assert everything["include_inherited"] and "pretraining" in everything["categories"]


def test_press_figures_and_the_rates_they_imply(audit: dict) -> None:
    figures = {int(f["usd"]): f for f in audit["headline_figures"]}
    assert figures[6]["position"] == "below"  # $0.87/H100-h: cheaper than any card
    assert figures[20]["position"] == "within" and figures[50]["position"] == "within"
    implied = {k: round(v["implied_usd_per_gpu_hour"], 2) for k, v in figures.items()}
    assert implied == {6: 0.87, 20: 2.88, 50: 7.21}
    assert figures[50]["card_usd_per_gpu_hour_low"] == 1.99


def test_unquantified_items_are_listed_not_zeroed(audit: dict) -> None:
    missing = {u["run"]: u for u in audit["unpriced"]}
    assert missing["s1/human-inspection"]["quantity"] is None
    assert "S1P" in missing["s1/human-inspection"]["citation"]
    assert "qwen2.5-32b/post-training" in missing


def test_loading_twice_adds_nothing_and_the_chain_verifies(
    runner: CliRunner, ledger_url: str
) -> None:
    first = audit_json(runner, ledger_url)
    second = audit_json(runner, ledger_url)
    assert first["ledger_head"] == second["ledger_head"]
    check = runner.invoke(app, ["verify", "--ledger", ledger_url, "--json"])
    assert check.exit_code == 0
    verdict = json.loads(check.stdout)
    assert verdict["ok"] and verdict["head_hash"] == first["ledger_head"]
    assert verdict["entries"] == len(_records())


def _records() -> list:
    from ledger.cases import case_records

    return case_records(load_case("s1"))


def test_an_edited_row_in_a_copy_fails_verify(runner: CliRunner, tmp_path: Path) -> None:
    original = tmp_path / "ledger.db"
    audit_json(runner, f"sqlite:///{original}")
    copy = tmp_path / "copy.db"
    shutil.copy(original, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE entries SET quantity = 1.0 WHERE record_id = 's1/sft-final/gpu'")
    broken = runner.invoke(app, ["verify", "--ledger", f"sqlite:///{copy}"])
    assert broken.exit_code == 1
    assert "usage s1/sft-final/gpu" in broken.stdout and "edited" in broken.stdout
    intact = runner.invoke(app, ["verify", "--ledger", f"sqlite:///{original}"])
    assert intact.exit_code == 0


def test_every_reported_figure_cites_a_declared_source() -> None:
    case = load_case("s1")
    tags = {s.tag for s in case.sources}
    for usage in case.usages:
        if usage.citation:
            assert any(tag in usage.citation for tag in tags) or usage.estimate, usage.id
    for figure in case.headline_figures:
        assert figure.citation.split(",")[0] in tags


def test_the_rich_report_names_categories_scopes_and_press_figures(
    runner: CliRunner, sqlite_url: str
) -> None:
    result = runner.invoke(app, ["audit", "s1", "--ledger", sqlite_url])
    assert result.exit_code == 0
    text = result.stdout
    for needle in [
        *(category_name(c) for c in CATEGORIES),  # display names, as in the appendix
        "inherited",
        "final fine-tuning run, rented compute",
        "everything including the inherited base model",
        "$6.00",
        "$50.00",
        "below it",
        "$0.87",
        "not quantified",
    ]:
        assert needle in text, needle


def test_verify_head_checks_a_published_fingerprint(runner: CliRunner, sqlite_url: str) -> None:
    head = audit_json(runner, sqlite_url)["ledger_head"]
    ok = runner.invoke(app, ["verify", "--head", head, "--ledger", sqlite_url, "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["expected_head_seq"] == len(_records())
    runner.invoke(app, ["prices", "add", str(Path(__file__).parent / "data" / "cards_ok.csv"),
                        "--ledger", sqlite_url])  # fmt: skip
    later = runner.invoke(app, ["verify", "--head", head, "--ledger", sqlite_url])
    assert later.exit_code == 0 and "is entry" in later.stdout  # appended since: still contained
    wrong = runner.invoke(app, ["verify", "--head", "ab" * 32, "--ledger", sqlite_url])
    assert wrong.exit_code == 1 and "no entry of this ledger has the hash" in wrong.stdout
