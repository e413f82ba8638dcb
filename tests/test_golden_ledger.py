"""Golden ledgers written by earlier releases (tests/golden/ledger-*.db, made by
tests/golden/make_ledger.py) still open, read, report and verify: a change that cannot read an
old ledger fails here. Each test works on a copy; the files themselves are never written."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.audit import build_report
from ledger.formats import ENTRY_FORMAT
from ledger.schema import RunStatus
from ledger.store import Ledger
from receipts.cli import app

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("ledger-*.db"))


def test_this_release_has_a_golden_ledger() -> None:
    names = {path.name for path in FILES}
    assert {"ledger-unversioned.db", f"ledger-format-{ENTRY_FORMAT}.db"} <= names


@pytest.fixture(params=FILES, ids=[path.stem for path in FILES])
def golden_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    copy = tmp_path / request.param.name
    shutil.copyfile(request.param, copy)
    return f"sqlite:///{copy}"


def test_reads_every_kind_of_record(golden_url: str) -> None:
    with Ledger(golden_url, reap=False) as ledger:
        assert ledger.verify().ok and ledger.head()[0] == 26
        assert [s.id for s in ledger.lineage("golden-model")] == ["golden-model", "golden-base"]
        assert [s.tag for s in ledger.sources()] == ["golden-paper"]
        runs = {run.id: run for run in ledger.runs()}
        assert runs["golden-sft"].note == "corrected: 16 GPUs"  # the correction is current
        assert runs["golden-sft"].command == ["torchrun", "train.py"]
        assert runs["golden-sft-2"].status is RunStatus.RUNNING
        usages = {u.id: u for u in ledger.usages()}
        assert usages["golden-pretrain/gpu"].estimate is not None
        assert usages["golden-eval/gpu"].quantity is None
        assert sorted(u.quantity or 0 for u in usages.values() if u.id.startswith("seq-")) == [
            100.0,
            250.0,
            650.0,
        ]
        assert [c.id for c in ledger.price_cards()] == [
            "golden-accel-on-demand",
            "golden-llm-input",
        ]
        assert [f.usd for f in ledger.headline_figures("golden-model")] == [Decimal("20")]
        assert [s.records_out for s in ledger.funnel_steps("golden-model")] == [100]
        items = ledger.eval_items("golden-eval")
        assert [(i.item_id, i.correct) for i in items] == [("1", True), ("2", False)]


def test_reports_the_same_costs(golden_url: str) -> None:
    with Ledger(golden_url, reap=False) as ledger:
        report = build_report(ledger, "golden-model")
    costs = {g.key: (g.cost_usd_low, g.cost_usd_high, g.gpu_hours) for g in report.groups}
    assert costs == {
        "pretraining": (Decimal("2000"), Decimal("3000"), 1000.0),
        "data": (Decimal("6"), Decimal("6"), None),
        "fine_tuning": (Decimal("16.25"), Decimal("16.25"), 6.5),
        "evaluation": (Decimal("0"), Decimal("0"), None),
    }
    scopes = {s.scope: (s.cost_usd_low, s.cost_usd_high, s.unquantified) for s in report.scopes}
    assert scopes == {
        "golden-final-sft": (Decimal("16.25"), Decimal("16.25"), 0),
        "golden-everything": (Decimal("2022.25"), Decimal("3022.25"), 1),
    }
    assert [(u.run, u.reason) for u in report.unpriced] == [("golden-eval", "not quantified")]
    assert report.price_cards == ["golden-accel-on-demand", "golden-llm-input"]


def test_opening_reaps_the_dead_heartbeat_and_the_chain_still_verifies(golden_url: str) -> None:
    with Ledger(golden_url) as ledger:  # the heartbeat is a dead wrapper's, on another host
        closed = {run.id: run for run in ledger.runs()}["golden-sft-2"]
        assert closed.status is RunStatus.INTERRUPTED and closed.wall_time_s == 600.0
        (kept,) = [u for u in ledger.usages() if u.run == "golden-sft-2"]
        assert kept.quantity == 0.25
        rnd = {g.key: g for g in build_report(ledger, "golden-model").groups}["rnd"]
        assert rnd.cost_usd_low == Decimal("0.625")
        check = ledger.verify()
        assert check.ok and check.entries == 28


def test_the_commands_report_and_verify_it(golden_url: str) -> None:
    runner = CliRunner()
    report = runner.invoke(app, ["report", "--subject", "golden-model", "--json",
                                 "--ledger", golden_url])  # fmt: skip
    assert report.exit_code == 0, report.output
    groups = {g["key"]: g for g in json.loads(report.stdout)["groups"]}
    assert Decimal(groups["fine_tuning"]["cost_usd_low"]) == Decimal("16.25")
    verify = runner.invoke(app, ["verify", "--ledger", golden_url])
    assert verify.exit_code == 0, verify.output


def test_the_files_are_what_their_names_say() -> None:
    """Entries of the unversioned file have no format; those of a format-N file have N."""
    for path in FILES:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(entries)")}
            formats = (
                {row[0] for row in conn.execute("SELECT DISTINCT format FROM entries")}
                if "format" in columns
                else {None}
            )
        expected = None if path.stem == "ledger-unversioned" else int(path.stem.split("-")[-1])
        assert formats == {expected}, path.name
