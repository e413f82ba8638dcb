"""Multi-node: launcher environments, per-node ledgers merged idempotently, concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.schema import Provenance, Run, Subject, Unit
from ledger.store import Ledger
from probes.run.cluster import from_environ
from receipts.cli import app

WRITERS, ROWS, BATCH = 16, 5_000, 250


def test_torchrun_environment() -> None:
    ctx = from_environ({"LOCAL_RANK": "0", "RANK": "8", "GROUP_RANK": "1", "WORLD_SIZE": "16",
                        "LOCAL_WORLD_SIZE": "8", "TORCHELASTIC_RUN_ID": "abc"})  # fmt: skip
    assert (ctx.node_rank, ctx.rank, ctx.world_size, ctx.job_id) == (1, 8, 16, "abc")
    assert ctx.meters_node and ctx.launcher == "torchrun"
    assert not from_environ({"LOCAL_RANK": "3", "GROUP_RANK": "1"}).meters_node


def test_torchruns_default_rdzv_id_names_no_job() -> None:
    # torchrun without --rdzv-id sets TORCHELASTIC_RUN_ID=none: every plain torchrun on a host
    # would share job "none" and be taken for one job metered twice.
    plain = {"LOCAL_RANK": "0", "GROUP_RANK": "0", "TORCHELASTIC_RUN_ID": "none"}
    assert from_environ(plain).job_id is None
    assert from_environ({**plain, "TORCHELASTIC_RUN_ID": "none-of-that"}).job_id == "none-of-that"
    assert from_environ({**plain, "SLURM_JOB_ID": "4242"}).job_id == "4242"


def test_slurm_environment_and_its_job_id_wins() -> None:
    env = {"SLURM_JOB_ID": "4242", "SLURM_NODEID": "1", "SLURM_PROCID": "9", "SLURM_LOCALID": "1",
           "SLURM_NTASKS": "16"}  # fmt: skip
    ctx = from_environ(env)
    assert (ctx.node_rank, ctx.job_id, ctx.launcher, ctx.meters_node) == (1, "4242", "slurm", False)
    both = from_environ({**env, "LOCAL_RANK": "0", "GROUP_RANK": "1", "TORCHELASTIC_RUN_ID": "x"})
    assert both.job_id == "4242" and both.meters_node


def test_no_launcher_meters_the_node() -> None:
    ctx = from_environ({})
    assert ctx.meters_node and ctx.node_rank is None and ctx.job_id is None


def _node_ledger(path: Path, node: int) -> None:
    with Ledger(f"sqlite:///{path}") as ledger:
        ledger.record([
            Subject(id="demo", name="Demo"),
            Run(id=f"demo/sft/node{node}", subject="demo", stage="sft", category="fine_tuning",
                name="sft", status="succeeded", node_rank=node, job_id="777", host=f"n{node}"),
        ])  # fmt: skip
        ledger.append_usages(run=f"demo/sft/node{node}", resource="gpu/H100", unit=Unit.GPU_HOUR,
                             provenance=Provenance.MEASURED, quantities=[1.0] * 8)  # fmt: skip


def test_merge_per_node_files_twice_changes_nothing(tmp_path: Path, runner: CliRunner) -> None:
    nodes = [tmp_path / f"node{i}.db" for i in range(2)]
    for i, path in enumerate(nodes):
        _node_ledger(path, i)
    into = tmp_path / "all.db"
    first = runner.invoke(app, ["ledger", "merge", *map(str, nodes), "--into", str(into)])
    assert first.exit_code == 0, first.output
    assert "10 copied" in first.stdout and "9 copied, 1 already present" in first.stdout
    second = runner.invoke(app, ["ledger", "merge", *map(str, nodes), "--into", str(into)])
    assert "0 copied, 10 already present" in second.stdout
    with Ledger(f"sqlite:///{into}") as merged:
        assert merged.verify().ok and len(merged.subjects()) == 1
        assert sum(t.quantity for t in merged.usage_totals(["demo"])) == 16.0
        assert {r.job_id for r in merged.runs("demo")} == {"777"}
    for path in nodes:  # the sources are untouched and still verify
        with Ledger(f"sqlite:///{path}") as source:
            assert source.verify().ok and source.head()[0] == 10
    listing = runner.invoke(app, ["runs", "--ledger", f"sqlite:///{into}"])
    assert "job 777" in listing.stdout and "│ 2 " in listing.stdout  # one logical run, 2 nodes


def test_a_broken_source_is_not_merged(tmp_path: Path, runner: CliRunner) -> None:
    source = tmp_path / "node.db"
    _node_ledger(source, 0)
    with sqlite3.connect(source) as conn:
        conn.execute("UPDATE entries SET quantity = 9 WHERE seq = 3")
    result = runner.invoke(app, ["ledger", "merge", str(source), "--into", str(tmp_path / "x.db")])
    assert result.exit_code == 2 and "fails verification at entry 3" in result.stderr


def _writer(url: str, index: int) -> None:
    with Ledger(url) as ledger:
        ledger.record([
            Subject(id="demo", name="Demo"),
            Run(id=f"demo/w{index}", subject="demo", stage="sft", category="fine_tuning",
                name=f"writer {index}", status="running"),
        ])  # fmt: skip
        for start in range(0, ROWS, BATCH):
            ledger.append_usages(run=f"demo/w{index}", resource="gpu/H100", unit=Unit.GPU_HOUR,
                                 provenance=Provenance.MEASURED,
                                 quantities=[float(start + i) for i in range(BATCH)])  # fmt: skip


@pytest.mark.slow
def test_sixteen_concurrent_writers(ledger_url: str) -> None:
    with Ledger(ledger_url):
        pass  # migrate once, as a deployment would before starting jobs
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(ledger_url, i)) for i in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [w.exitcode for w in workers] == [0] * WRITERS
    with Ledger(ledger_url) as ledger:
        totals = ledger.usage_totals(["demo"])
        assert sum(t.rows for t in totals) == WRITERS * ROWS == 80_000
        assert all(t.quantity == sum(range(ROWS)) for t in totals)
        assert len(ledger.subjects()) == 1 and len(ledger.runs("demo")) == WRITERS
        check = ledger.verify()
        assert check.ok and check.entries == 80_000 + WRITERS + 1
