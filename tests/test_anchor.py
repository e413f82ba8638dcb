"""The ledger's anchor (signed checkpoints of the head in a witness file outside the database),
read-only opening for the commands that only read, and a damaged head table: issue 14, items 7-9.

Without the anchor, whoever can write the database can recompute the public, unkeyed chain after
an edit, cut the tail and roll the head back, or put an older copy in place, and the chain still
verifies. These tests do each of those and expect ``verify`` to fail while the witness exists.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ledger import anchor
from ledger.chain import COLUMNS, FLOAT_IDX, GENESIS, as_float, digest
from ledger.errors import StoreError
from ledger.schema import Run, Subject, Usage
from ledger.store import Ledger
from receipts.cli import app


def _fill(ledger: Ledger, demo_run: tuple[Subject, Run], writes: int = 3) -> None:
    subject, run = demo_run
    ledger.record([subject, run])
    for i in range(writes):
        ledger.record(
            [
                Usage(
                    id=f"u{i}",
                    run=run.id,
                    resource="gpu/H100",
                    unit="gpu_hour",
                    quantity=1.0 + i,
                    provenance="reported",
                    citation="test",
                )
            ]
        )


def _recompute_chain(ledger: Ledger) -> None:
    """What anyone with write access to the database can do: rehash every entry, move the head."""
    columns = ", ".join(("seq", *COLUMNS))
    with ledger.connect() as conn, conn.begin():
        rows = conn.execute(text(f"SELECT {columns} FROM entries ORDER BY seq")).all()
        prev = GENESIS
        for row in rows:
            values = tuple(as_float(v) if i in FLOAT_IDX else v for i, v in enumerate(row[1:]))
            fresh = digest(prev, values)
            conn.execute(
                text("UPDATE entries SET prev_hash = :p, hash = :h WHERE seq = :s"),
                {"p": prev, "h": fresh, "s": row[0]},
            )
            prev = fresh
        conn.execute(
            text("UPDATE ledger_head SET seq = :s, hash = :h WHERE id = 1"),
            {"s": rows[-1][0] if rows else 0, "h": prev},
        )


def test_one_signed_checkpoint_per_write_transaction(
    ledger: Ledger, demo_run: tuple[Subject, Run]
) -> None:
    _fill(ledger, demo_run, writes=3)
    ledger.record([demo_run[0]])  # unchanged: the head does not move, no checkpoint
    witness = anchor.witness_path(ledger.url)
    assert witness is not None
    lines = [json.loads(line) for line in witness.read_text().splitlines()]
    assert [c["seq"] for c in lines] == [2, 3, 4, 5]
    assert lines[-1]["head"] == ledger.head()[1] and lines[-1]["ledger_id"] == ledger.ledger_id
    assert set(lines[-1]) == {*anchor.FIELDS, "sig"}
    check = ledger.verify()
    assert check.ok and check.anchor == str(witness) and check.anchor_seq == 5


def test_a_chain_recomputed_after_an_edit_fails(
    ledger: Ledger, demo_run: tuple[Subject, Run]
) -> None:
    _fill(ledger, demo_run)
    with ledger.connect() as conn, conn.begin():
        conn.execute(
            text("UPDATE entries SET body = REPLACE(body, 'Demo model', 'Other') WHERE seq = 1")
        )
    _recompute_chain(ledger)
    check = ledger.verify()
    assert not check.ok and check.first_bad_seq == 5
    assert "chain was rewritten" in (check.reason or "")


def test_a_cut_tail_with_the_head_rolled_back_fails(
    ledger: Ledger, demo_run: tuple[Subject, Run]
) -> None:
    _fill(ledger, demo_run)
    with ledger.connect() as conn, conn.begin():
        conn.execute(text("DELETE FROM entries WHERE seq > 3"))
        conn.execute(text("DELETE FROM usage_rollup"))
    _recompute_chain(ledger)
    with ledger.connect() as conn, conn.begin():  # the totals cache put back in step too
        conn.execute(
            text(
                "INSERT INTO usage_rollup SELECT subject, category, stage, run_id, resource, "
                "unit, provenance, SUM(quantity), SUM(quantity), SUM(quantity), COUNT(*) "
                "FROM entries WHERE kind = 'usage' "
                "GROUP BY subject, category, stage, run_id, resource, unit, provenance"
            )
        )
    check = ledger.verify()
    assert not check.ok and check.first_bad_seq == 4
    assert "ends at entry 3 but its anchor saw entry 5" in (check.reason or "")


def test_an_older_copy_put_in_place_fails(
    tmp_path: Path, sqlite_url: str, demo_run: tuple[Subject, Run], runner: CliRunner
) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(sqlite_url) as ledger:
        ledger.record(list(demo_run))
    shutil.copy(path, tmp_path / "old.db")
    with Ledger(sqlite_url) as ledger:
        _fill(ledger, demo_run)
    shutil.copy(tmp_path / "old.db", path)
    done = runner.invoke(app, ["verify", "--ledger", sqlite_url])
    assert done.exit_code == 1
    assert "ends at entry 2 but its anchor saw entry 5" in done.stdout
    assert len(done.stdout.strip().splitlines()) == 1


def test_another_ledger_in_its_place_fails(
    tmp_path: Path, sqlite_url: str, demo_run: tuple[Subject, Run]
) -> None:
    with Ledger(sqlite_url) as ledger:
        _fill(ledger, demo_run)
    (tmp_path / "ledger.db").unlink()
    with Ledger(sqlite_url) as ledger:  # the same entries, recorded afresh: another ledger id
        _fill(ledger, demo_run)
        check = ledger.verify()
    assert not check.ok and "the ledger was replaced" in (check.reason or "")


def test_a_forged_checkpoint_fails(ledger: Ledger, demo_run: tuple[Subject, Run]) -> None:
    _fill(ledger, demo_run)
    witness = anchor.witness_path(ledger.url)
    assert witness is not None
    last = json.loads(witness.read_text().splitlines()[-1])
    with witness.open("a") as out:  # a checkpoint claiming less, to cover a rollback
        out.write(json.dumps(last | {"seq": 99, "head": "0" * 64}) + "\n")
    check = ledger.verify()
    assert not check.ok and "not signed by the anchor key" in (check.reason or "")


def test_a_copy_is_checked_elsewhere_with_anchor(
    tmp_path: Path, sqlite_url: str, demo_run: tuple[Subject, Run], runner: CliRunner
) -> None:
    with Ledger(sqlite_url) as ledger:
        _fill(ledger, demo_run)
        witness = anchor.witness_path(ledger.url)
    assert witness is not None
    copy = tmp_path / "archive" / "copy.db"
    copy.parent.mkdir()
    shutil.copy(tmp_path / "ledger.db", copy)
    url = f"sqlite:///{copy}"
    alone = runner.invoke(app, ["verify", "--ledger", url])
    assert alone.exit_code == 0 and "not anchored" in alone.stdout
    held = runner.invoke(app, ["verify", "--ledger", url, "--anchor", str(witness), "--json"])
    assert held.exit_code == 0, held.output
    assert json.loads(held.stdout)["anchor_seq"] == 5


def test_verify_without_the_key_cannot_vouch(
    ledger: Ledger, demo_run: tuple[Subject, Run], anchor_dirs: tuple[Path, Path]
) -> None:
    _fill(ledger, demo_run)
    shutil.rmtree(anchor_dirs[0])
    check = ledger.verify()
    assert not check.ok and "no anchor key" in (check.reason or "")


# -- item 8: read-only media ---------------------------------------------------------------------


def _read_only_uri(path: Path) -> str:
    """A SQLite URI that SQLite itself opens read-only: a write through it fails even as root
    (chmod does not stop root, so CI proves the commands write nothing this way)."""
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def test_verify_report_and_runs_open_read_only(
    tmp_path: Path, sqlite_url: str, demo_run: tuple[Subject, Run], runner: CliRunner
) -> None:
    with Ledger(sqlite_url) as ledger:
        _fill(ledger, demo_run)
    url = _read_only_uri(tmp_path / "ledger.db")
    verified = runner.invoke(app, ["verify", "--ledger", url])
    assert verified.exit_code == 0, verified.output
    assert "ok: 5 entries intact" in verified.stdout
    report = runner.invoke(app, ["report", "--subject", "demo", "--ledger", url, "--json"])
    assert report.exit_code == 0, report.output
    runs = runner.invoke(app, ["runs", "--ledger", url, "--json"])
    assert runs.exit_code == 0, runs.output
    assert [r["id"] for r in json.loads(runs.stdout)["runs"]] == ["demo/sft"]
    assert not (Path.cwd() / "file:").exists()


def test_a_read_only_ledger_refuses_writes(sqlite_url: str, demo_run: tuple[Subject, Run]) -> None:
    with Ledger(sqlite_url) as ledger:
        ledger.record(list(demo_run))
    with Ledger(sqlite_url, read_only=True) as ledger:
        assert ledger.verify().ok
        with pytest.raises(StoreError, match="read-only"):
            ledger.record([demo_run[0].model_copy(update={"name": "changed"})])
        with ledger.connect() as conn, pytest.raises(Exception, match="readonly"):
            conn.exec_driver_sql("CREATE TABLE scratch (a INTEGER)")


def test_a_missing_file_is_not_created_by_a_read_only_command(
    tmp_path: Path, runner: CliRunner
) -> None:
    done = runner.invoke(app, ["verify", "--ledger", f"sqlite:///{tmp_path / 'none.db'}"])
    assert done.exit_code == 2 and "no such file" in done.stderr
    assert not (tmp_path / "none.db").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="chmod does not stop root: the URI test covers it")
def test_a_chmod_read_only_file_and_directory(
    tmp_path: Path, demo_run: tuple[Subject, Run], runner: CliRunner
) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    url = f"sqlite:///{folder / 'ledger.db'}"
    with Ledger(url) as ledger:
        _fill(ledger, demo_run)
    (folder / "ledger.db").chmod(stat.S_IRUSR)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        for args in (["verify"], ["report", "--subject", "demo"], ["runs"]):
            done = runner.invoke(app, [*args, "--ledger", url])
            assert done.exit_code == 0, (args, done.output)
    finally:
        folder.chmod(stat.S_IRWXU)


# -- item 9: a dropped or damaged head table -----------------------------------------------------


@pytest.mark.parametrize(
    "damage", ["DROP TABLE ledger_head", "DELETE FROM ledger_head", "UPDATE ledger_head SET id = 2"]
)
def test_a_dropped_or_damaged_head_is_reported_as_tampering(
    sqlite_url: str, demo_run: tuple[Subject, Run], runner: CliRunner, damage: str
) -> None:
    with Ledger(sqlite_url) as ledger:
        _fill(ledger, demo_run)
        with ledger.connect() as conn, conn.begin():
            conn.execute(text(damage))
    done = runner.invoke(app, ["verify", "--ledger", sqlite_url])
    assert done.exit_code == 1, done.output
    assert done.stdout.startswith("BROKEN at ledger: the head table is missing or damaged")
    assert len(done.stdout.strip().splitlines()) == 1 and "Traceback" not in done.output
