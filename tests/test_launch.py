"""The fast path of `receipts run` (probes.launch, ledger.lite): it reads a command line as typer
does, writes what the store writes (runs, heartbeats with their usage, usages and their rollup),
and declines (writing nothing) wherever it does not apply. Real SQLite files, real child
processes."""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer.main
from cli_helpers import FAST_DRIVER

from ledger.canonical import is_valid_id
from ledger.lite import (
    MIGRATIONS,
    RUN_FIELDS,
    USAGE_EXTRAS,
    USAGE_FIELDS,
    LiteLedger,
    RunKey,
    run_body,
    sqlite_path,
    usage_columns,
)
from ledger.migrations import MIGRATIONS as STORE_MIGRATIONS
from ledger.schema import Category, Provenance, Run, RunStatus, Subject, Unit, Usage
from ledger.store import Ledger
from probes.cluster import hostname, nvidia_driver_visible, read_head
from probes.gpu_usage import declared_usage_fields, device_usage_fields
from probes.launch import OPTIONS, RunArgs, launch, parse
from probes.meter import Sampler
from probes.testing import FakeClock, FakeDevice, FakeGpuMeter, fake_device
from receipts.cli import app

BASE = ["--subject", "demo", "--stage", "sft", "--category", "fine_tuning"]


def _typer_params(args: list[str]) -> dict[str, object]:
    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    return dict(command.make_context("run", list(args)).params)


# -- the command line --------------------------------------------------------------------------


def test_the_parser_knows_exactly_the_typer_options() -> None:
    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    typer_options = {
        name: param.name
        for param in command.params
        for name in param.opts
        if name.startswith("--") and name != "--help"
    }
    assert typer_options == OPTIONS


@pytest.mark.parametrize(
    "args",
    [
        [*BASE, "--", "python", "-c", "pass"],
        [*BASE, "python", "-c", "pass"],
        ["--subject=demo", "--stage=sft", "--category=evaluation", "--", "true", "--flag"],
        [*BASE, "--name", "My run", "--gpus", "8", "--gpu-model", "H100", "--", "true"],
        [*BASE, "--sample-interval", "0.1", "--heartbeat", "2", "--ledger", "sqlite:///x.db", "x"],
        [*BASE, "--sample-interval=10", "--", "--", "-x"],
        ["--category", "data", "--stage", "a/b", "--subject", "s1-32B", "--", "é", "日本"],
    ],
)
def test_what_the_parser_accepts_it_reads_as_typer_does(args: list[str]) -> None:
    parsed = parse(args)
    assert parsed is not None
    params = _typer_params(args)
    assert parsed.as_dict() == {
        "command": list(params["command"]),  # type: ignore[call-overload]
        "subject": params["subject"],
        "stage": params["stage"],
        "category": params["category"],
        "name": params["name"],
        "gpus": params["gpus"],
        "gpu_model": params["gpu_model"],
        "sample_interval": params["sample_interval"],
        "heartbeat": params["heartbeat"],
        "ledger": params["ledger"],
    }


VALUES = {
    "--subject": ["demo", "s1-32B", "", "é"],
    "--stage": ["sft", "a/b", ""],
    "--category": ["data", "evaluation", "Data", "x"],
    "--name": ["n", "", "-x", "a=b", "é 日本"],
    "--gpus": ["8", "0", "", "²", "01"],
    "--gpu-model": ["H100", ""],
    "--sample-interval": ["0.5", "1", "1e3", "0.001", "00.10", ".5", "5."],
    "--heartbeat": ["2", "0.1", "nan"],
    "--ledger": ["sqlite:///x.db", ""],
}
REQUIRED = ("--subject", "--stage", "--category")
COMMANDS = [["--", "true"], ["true", "--name", "x"], ["--", "--", "-x"], ["python", "-c", "1"]]


def _random_command_line(rng: random.Random) -> list[str]:
    pairs = []
    for option, values in VALUES.items():
        if rng.random() < (0.9 if option in REQUIRED else 0.3):
            value = rng.choice(values)
            pairs.append([f"{option}={value}"] if rng.random() < 0.3 else [option, value])
    rng.shuffle(pairs)
    args = [token for pair in pairs for token in pair]
    if rng.random() < 0.2:  # noise: an option typer must handle
        args.insert(rng.randint(0, len(args)), rng.choice(["-x", "--help", "--subject", "--"]))
    return args + rng.choice(COMMANDS)


def test_random_command_lines_the_parser_accepts_read_as_typer_reads_them() -> None:
    rng = random.Random(20261125)
    accepted = 0
    for _ in range(2000):
        args = _random_command_line(rng)
        parsed = parse(args)
        if parsed is None:
            continue
        accepted += 1
        params = _typer_params(args)
        assert parsed.command == list(params["command"]), args  # type: ignore[call-overload]
        for field in ("subject", "stage", "category", "name", "gpus", "gpu_model",
                      "sample_interval", "heartbeat", "ledger"):  # fmt: skip
            assert getattr(parsed, field) == params[field], (args, field)
    assert accepted > 100  # the generator does reach the accepting paths


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        [*BASE, "--help", "--", "true"],
        [*BASE],  # no command
        [*BASE, "--"],
        ["--subject", "demo", "--stage", "sft", "--", "true"],  # no category
        [*BASE, "--subject", "again", "--", "true"],  # repeated
        ["--subject", "demo", "--stage", "sft", "--category", "Fine_Tuning", "--", "true"],
        [*BASE, "--gpus", "8", "--", "true"],  # without --gpu-model
        [*BASE, "--gpus", "0", "--gpu-model", "H100", "--", "true"],
        [*BASE, "--gpus", "²", "--gpu-model", "H100", "--", "true"],
        [*BASE, "--gpus=", "--gpu-model=H100", "--", "true"],
        [*BASE, "--sample-interval", "1e-3", "--", "true"],
        [*BASE, "--sample-interval", "0.001", "--", "true"],
        [*BASE, "--heartbeat", "nan", "--", "true"],
        [*BASE, "--name", "-x", "--", "true"],  # a value that looks like an option
        [*BASE, "--unknown", "1", "--", "true"],
        [*BASE, "-x", "--", "true"],
        [*BASE, "--name"],  # a value missing
    ],
)
def test_anything_unusual_is_left_to_typer(args: list[str]) -> None:
    assert parse(args) is None


# -- what the fast path writes -----------------------------------------------------------------


def test_the_lite_digest_is_the_chain_digest() -> None:
    from ledger import chain, lite

    values = ("run", "demo/sft/x", "demo", None, 1.5, "é 日本", 0.1 + 0.2, None, 3)
    assert lite.digest("ab" * 32, values) == chain.digest("ab" * 32, values)
    assert lite.digest(chain.GENESIS, ()) == chain.digest(chain.GENESIS, ())


def test_the_lite_writer_knows_the_store_schema() -> None:
    assert list(MIGRATIONS) == [m.__name__ for m in STORE_MIGRATIONS]
    assert tuple(Run.model_fields) == RUN_FIELDS


@pytest.mark.parametrize(
    "fields",
    [
        {"started_at": datetime(2026, 11, 25, 6, 20, 58, 123456, tzinfo=UTC)},
        {
            "started_at": datetime(2026, 11, 25, 6, 20, 58, tzinfo=UTC),
            "node_rank": 3,
            "job_id": "4242",
            "git_commit": "c7c44b2" * 5 + "c7c44",
        },
        {
            "status": "succeeded",
            "wall_time_s": 10.016,
            "exit_code": 0,
            "ended_at": datetime(2026, 11, 25, 6, 21, 8, 139456, tzinfo=UTC),
        },
        {
            "command": ["python", "-c", 'print("é \\u001f 日本 \\\\ \\n")', "\x7f\t"],
            "working_dir": "/tmp/dir with spaces/ü",
            "host": "node-01.cluster",
        },
    ],
)
def test_the_run_body_is_what_pydantic_writes(fields: dict[str, object]) -> None:
    base = {"id": "demo/sft/0123456789ab", "subject": "demo", "stage": "sft",
            "category": "fine_tuning", "name": "sft", "status": "running"}  # fmt: skip
    body = run_body({**base, **fields})
    assert body == Run.model_validate({**base, **fields}).model_dump_json()
    assert Run.model_validate_json(body) == Run.model_validate({**base, **fields})


def test_sqlite_urls_the_fast_path_takes() -> None:
    assert sqlite_path("sqlite:///rel/ledger.db") == "rel/ledger.db"
    assert sqlite_path("sqlite:////abs/ledger.db") == "/abs/ledger.db"
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite:///x.db?mode=ro", "sqlite:///a%20b", "sqlite:///~/x.db",
                "sqlite+pysqlite:///x.db", "postgresql+psycopg://u@h/db"):  # fmt: skip
        assert sqlite_path(url) is None


@pytest.fixture
def seeded(sqlite_url: str) -> str:
    """A ledger that has the subject ``demo``: where the fast path applies."""
    with Ledger(sqlite_url) as ledger:
        ledger.record([Subject(id="demo", name="demo")])
    return sqlite_url


def _entries(url: str) -> int:
    with Ledger(url, reap=False) as ledger:
        return ledger.head()[0]


def _args(url: str, *command: str, **options: object) -> RunArgs:
    return RunArgs(command=list(command), subject="demo", stage="sft",
                   category=Category.FINE_TUNING, ledger=url, **options)  # type: ignore[arg-type]  # fmt: skip


def test_a_fast_run_is_recorded_like_a_full_one(seeded: str) -> None:
    code = launch(_args(seeded, sys.executable, "-c", "import time; time.sleep(0.3)"))
    assert code == 0
    with Ledger(seeded, reap=False) as ledger:
        (run,) = ledger.runs("demo")
        check = ledger.verify()
        history = ledger._select("run", "AND record_id = :r", {"r": run.id})
    assert check.ok and check.entries == 3  # subject, running run, final run
    assert history == [run]  # the running entry is superseded
    assert run.status is RunStatus.SUCCEEDED and run.exit_code == 0
    assert run.wall_time_s is not None and 0.3 <= run.wall_time_s < 10
    assert run.command == [sys.executable, "-c", "import time; time.sleep(0.3)"]
    assert run.working_dir == os.getcwd() and run.host and run.name == "sft"
    assert run.git_commit == subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True,
                                            text=True).stdout.strip() or None  # fmt: skip
    with sqlite3.connect(sqlite_path(seeded) or "") as conn:
        assert conn.execute("SELECT count(*) FROM heartbeats").fetchone() == (0,)
        (running,) = conn.execute("SELECT body FROM entries WHERE seq = 2").fetchone()
    first = Run.model_validate_json(running)
    assert first.status is RunStatus.RUNNING and first.id == run.id
    assert first.started_at == run.started_at


def test_the_fast_path_meters_through_the_sampler_it_started(seeded: str) -> None:
    clock = FakeClock()
    devices = [FakeDevice(fake_device(i), energy_counter=True) for i in range(2)]
    meter = FakeGpuMeter(devices, clock)
    code = launch(
        _args(seeded, sys.executable, "-c", "import time; time.sleep(0.5)", sample_interval=0.05),
        meter_factory=lambda: meter,
    )
    assert code == 0 and meter.closed
    with Ledger(seeded, reap=False) as ledger:
        (run,) = ledger.runs("demo")
        usages = ledger.usages("demo")
    assert run.wall_time_s is not None
    allocated = [u for u in usages if u.unit is Unit.GPU_HOUR]
    assert len(allocated) == 2 and {u.provenance for u in usages} == {Provenance.MEASURED}
    for usage in allocated:
        assert usage.quantity is not None
        assert usage.quantity * 3600 == pytest.approx(run.wall_time_s, abs=0.05)
        assert usage.detail is not None and usage.detail["samples"] >= 3


@pytest.mark.parametrize(
    "case",
    ["missing file", "not a database", "older schema", "new subject", "bad id", "another database"],
)
def test_the_fast_path_declines_and_writes_nothing(case: str, seeded: str, tmp_path: Path) -> None:
    url, subject, stage = seeded, "demo", "sft"
    path = Path(sqlite_path(seeded) or "")
    if case == "missing file":
        url = f"sqlite:///{tmp_path / 'none.db'}"
    elif case == "not a database":
        url = f"sqlite:///{tmp_path / 'junk.db'}"
        (tmp_path / "junk.db").write_bytes(b"not sqlite at all" * 100)
    elif case == "older schema":
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("DELETE FROM receipts_migrations WHERE name = 'm006_record_indexes'")
    elif case == "new subject":
        subject = "someone-else"
    elif case == "bad id":
        stage = "stage with spaces"
    else:
        url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    before = path.read_bytes()
    marker = tmp_path / "ran"
    args = RunArgs(command=["touch", str(marker)], subject=subject, stage=stage,
                   category=Category.DATA, ledger=url)  # fmt: skip
    assert launch(args) is None
    assert not marker.exists()
    assert path.read_bytes() == before
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize("options", [[], ["--gpus", "2", "--gpu-model", "H100"]])
def test_the_entry_point_runs_the_fast_path_without_typer_or_the_store(
    seeded: str, options: list[str]
) -> None:
    command = [sys.executable, "-c", "raise SystemExit(5)"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # declared, even where NVML sees devices
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "receipts", "run", "--ledger",
                           seeded, *BASE, *options, "--", *command], capture_output=True,
                          text=True, timeout=60, env=env)  # fmt: skip
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert done.returncode == 5
    assert "probes.launch" in imported
    assert not imported & {"typer", "click", "sqlalchemy", "pydantic"}
    if not nvidia_driver_visible():  # no pynvml either, nor what it would bring in
        assert not imported & {"dataclasses", "pathlib", "inspect", "hashlib"}
    if not options:  # nothing to meter: not even typing
        assert "typing" not in imported
    if read_head(os.getcwd()) is not None:  # the commit read from the files, the child spawned
        assert "subprocess" not in imported
    assert _entries(seeded) == 3 + bool(options)  # subject, running, final run (, usage)


def test_a_ledger_that_is_not_a_database_is_one_line_and_nothing_runs(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    marker = tmp_path / "ran"
    done = subprocess.run([sys.executable, "-m", "receipts", "run", "--ledger",
                           f"sqlite:///{junk}", *BASE, "--", "touch", str(marker)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and not marker.exists()
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("receipts: error: ledger ")


# -- the pieces it relies on ---------------------------------------------------------------------


def test_lite_open_needs_the_exact_schema(seeded: str) -> None:
    lite = LiteLedger.open(seeded)
    assert lite is not None and lite.has_subject("demo") and not lite.has_subject("other")
    lite.close()


def test_ids_are_checked_by_one_rule() -> None:
    for good in ("a", "s1-32B", "demo/sft/node0-0123456789ab", "x:y@z+w.v_u"):
        assert is_valid_id(good)
    for bad in ("", "-a", "a b", "a\n", "é", "a/b c"):
        assert not is_valid_id(bad)


def test_the_driver_check_looks_for_what_a_driver_leaves(tmp_path: Path) -> None:
    assert not nvidia_driver_visible((str(tmp_path / "nvidiactl"),))
    (tmp_path / "nvidiactl").write_text("")
    assert nvidia_driver_visible((str(tmp_path / "nvidiactl"),))


def test_a_sampler_window_ends_once() -> None:
    clock = FakeClock()
    sampler = Sampler(FakeGpuMeter([FakeDevice(fake_device(0))], clock), clock=clock)
    sampler.start(background=False)
    clock.advance(10)
    first = sampler.stop()
    clock.advance(50)
    assert sampler.stop() == first and first[0].wall_s == 10


def test_a_dead_wrapper_sends_the_next_run_down_the_full_path_which_reaps_it(seeded: str) -> None:
    from ledger.liveness import beat

    with Ledger(seeded) as ledger:
        ledger.record([Run(id="demo/sft/dead", subject="demo", stage="sft",
                           category="fine_tuning", name="sft", status="running")])  # fmt: skip
        beat(ledger, "demo/sft/dead", wall_time_s=5.0, interval_s=10.0, usages=[])
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs
    with sqlite3.connect(sqlite_path(seeded) or "") as conn:
        conn.execute("UPDATE heartbeats SET pid = ?", (gone.pid,))
    before = _entries(seeded)
    assert launch(_args(seeded, "true")) is None and _entries(seeded) == before
    done = subprocess.run([sys.executable, "-m", "receipts", "run", "--ledger", seeded, *BASE,
                           "--", "true"], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Ledger(seeded, reap=False) as ledger:
        statuses = sorted(r.status.value for r in ledger.runs("demo"))
    assert statuses == ["interrupted", "succeeded"]


def test_both_paths_record_an_unmetered_run_alike(seeded: str, tmp_path: Path) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    command = [sys.executable, "-c", "raise SystemExit(4)"]
    for url in (seeded, fresh):  # the fast path on the seeded ledger, the full one on the fresh
        done = subprocess.run([sys.executable, "-m", "receipts", "run", "--ledger", url, *BASE,
                               "--name", "n", "--", *command], capture_output=True, text=True,
                              timeout=60)  # fmt: skip
        assert done.returncode == 4, done.stderr
    runs = []
    for url in (seeded, fresh):
        with Ledger(url, reap=False) as ledger:
            (run,) = ledger.runs("demo")
            assert ledger.verify().ok
            runs.append(run)
    fast, full = runs
    assert fast.started_at and fast.wall_time_s is not None
    assert fast.ended_at == fast.started_at + timedelta(seconds=fast.wall_time_s)
    varying = {"id", "started_at", "ended_at", "wall_time_s"}
    assert fast.model_dump(exclude=varying) == full.model_dump(exclude=varying)
    assert fast.status is RunStatus.FAILED and fast.exit_code == 4 and fast.name == "n"


def test_fast_runs_and_store_writers_at_once_keep_one_chain(seeded: str) -> None:
    """Eight wrappers on the fast path start and finish while another process appends through
    the store: every write takes SQLite's write lock and reads the head inside it, so the chain
    holds."""
    writer = (
        "import sys, time; from ledger.store import Ledger; from ledger.schema import Subject\n"
        "with Ledger(sys.argv[1]) as ledger:\n"
        "    for i in range(300):\n"
        "        ledger.record([Subject(id=f'other-{i}', name='x')])\n"
        "        time.sleep(0.005)\n"
    )
    store = subprocess.Popen([sys.executable, "-c", writer, seeded])
    while _entries(seeded) < 3:  # the store is writing
        time.sleep(0.01)
    wrappers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                FAST_DRIVER,
                "--ledger",
                seeded,
                *BASE,
                "--",
                sys.executable,
                "-c",
                f"import time; time.sleep({i / 10}); raise SystemExit({i})",
            ]
        )
        for i in range(8)
    ]
    assert sorted(w.wait(timeout=120) for w in wrappers) == list(range(8))
    assert store.wait(timeout=120) == 0
    with Ledger(seeded, reap=False) as ledger:
        check = ledger.verify()
        runs = ledger.runs("demo")
        subjects = ledger.subjects()
    assert check.ok and check.entries == 1 + 300 + 2 * 8
    assert sorted(r.exit_code or 0 for r in runs) == list(range(8)) and len(subjects) == 301


def test_a_tiny_wall_time_is_written_another_way_but_reads_the_same() -> None:
    # json writes 5.3e-05 where pydantic writes 0.000053: the hash covers the stored text, and
    # the record read back is the same.
    fields = {"id": "demo/sft/0123456789ab", "subject": "demo", "stage": "sft",
              "category": "fine_tuning", "name": "sft", "status": "failed",
              "wall_time_s": 5.3e-05, "exit_code": 127}  # fmt: skip
    assert Run.model_validate_json(run_body(fields)) == Run.model_validate(fields)


def test_the_lite_run_entry_has_the_store_columns(seeded: str) -> None:
    from ledger.chain import COLUMNS, row_values

    launch(_args(seeded, "true"))
    with contextlib.closing(sqlite3.connect(sqlite_path(seeded) or "")) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM entries WHERE kind = 'run' ORDER BY seq").fetchall()
    for row in rows:
        run = Run.model_validate_json(row["body"])
        expected = dict(zip(COLUMNS, row_values(run, "run", None, row["supersedes"]), strict=True))
        stored = {c: row[c] for c in COLUMNS}
        # The store writes pydantic's body text; the lite path's parses to the same record.
        assert Run.model_validate_json(stored.pop("body")) == run
        expected.pop("body")
        assert stored.pop("recorded_at") and expected.pop("recorded_at")
        assert stored == expected


# -- usages through ledger.lite ------------------------------------------------------------------


def _window_usages(run_id: str) -> list[dict[str, object]]:
    """The usage fields of a scripted window over devices of every kind: with the energy counter,
    without it, lost midway, shared with a foreign process, with readings that are not finite; and
    a declared allocation."""
    clock = FakeClock()
    devices = [
        FakeDevice(fake_device(0)),
        FakeDevice(fake_device(1), energy_counter=False, sm_util_pct=lambda t: 12.5 * (t % 3)),
        FakeDevice(fake_device(2), lost_after_s=1.5),
        FakeDevice(fake_device(3), foreign_pids=lambda t: {4242} if t > 1 else set()),
        FakeDevice(fake_device(4, name="Tesla V100-SXM2-16GB"), power_w=lambda t: float("nan"),
                   energy_mj_at=lambda t: 7 + round(t * 1000), memory_used_bytes=lambda t: None),
    ]  # fmt: skip
    sampler = Sampler(FakeGpuMeter(devices, clock), clock=clock, interval_s=0.5)
    sampler.start(background=False)
    for _ in range(7):
        clock.advance(0.5)
        sampler.step()
    window = sampler.stop()
    fields = device_usage_fields(run_id, window, samples=sampler.samples())
    return [*fields, declared_usage_fields(run_id, 8, "H100", 3.5)]


def test_lite_usage_entries_are_what_the_store_writes() -> None:
    from ledger.chain import COLUMNS, row_values
    from ledger.chain import USAGE_EXTRAS as CHAIN_EXTRAS
    from ledger.schema import Usage

    assert tuple(Usage.model_fields) == USAGE_FIELDS and USAGE_EXTRAS == CHAIN_EXTRAS
    run = Run(id="demo/sft/0123456789ab", subject="demo", stage="sft", category="fine_tuning",
              name="sft", status="running")  # fmt: skip
    key = RunKey(run.id, run.subject, run.stage, run.category.value)
    usages = _window_usages(run.id)
    assert {u["unit"] for u in usages} == {"gpu_hour", "gpu_hour_busy", "kwh"}
    assert any(u["detail"]["partial_reason"] for u in usages)  # type: ignore[index]
    assert any(u["detail"]["shared"] for u in usages)  # type: ignore[index]
    for fields in usages:
        lite = usage_columns(key, fields, "2026-11-25T00:00:00+00:00")
        store = row_values(Usage(**fields), "usage", run, None)
        position = COLUMNS.index("recorded_at")
        assert lite[:position] == store[:position], fields["id"]
        assert lite[position + 1 :] == store[position + 1 :]


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"id": "has space"},
        {"run": "demo/sft/other"},
        {"unit": "parsec"},
        {"quantity": float("nan")},
        {"quantity": -1.0},
        {"quantity": True},
        {"quantity_low": 0.5},
        {"provenance": "reported", "citation": "S1P"},
        {"detail": {"pids": {1, 2}}},
    ],
)
def test_lite_refuses_usages_the_store_would_reject_or_must_check(
    change: dict[str, object],
) -> None:
    key = RunKey("demo/sft/0123456789ab", "demo", "sft", "fine_tuning")
    fields = {**declared_usage_fields(key.run_id, 8, "H100", 3.5), **change}
    with pytest.raises(ValueError):
        usage_columns(key, fields, "")


def test_a_lite_heartbeat_refuses_what_the_store_would_and_writes_nothing(seeded: str) -> None:
    key = RunKey("demo/sft/0123456789ab", "demo", "sft", "fine_tuning")
    fields = {"id": key.run_id, "subject": "demo", "stage": "sft", "category": "fine_tuning",
              "name": "sft", "status": "running"}  # fmt: skip
    good = declared_usage_fields(key.run_id, 8, "H100", 3.5)
    lite = LiteLedger.open(seeded)
    assert lite is not None
    try:
        assert lite.start_run(key, run_body(fields), host="h", pid=1, heartbeat_s=1)
        for bad in ({**good, "quantity": float("nan")}, {**good, "detail": {"pids": {1, 2}}}):
            with pytest.raises(ValueError):
                lite.beat(key, 2.0, [bad], host="h", pid=1, heartbeat_s=1)
    finally:
        lite.close()
    with sqlite3.connect(sqlite_path(seeded) or "") as conn:
        assert conn.execute("SELECT wall_time_s, snapshot FROM heartbeats").fetchall() == [
            (0.0, "[]")
        ]


def test_a_metered_fast_run_writes_what_the_full_path_writes(seeded: str, tmp_path: Path) -> None:
    from probes.session import RunSpec
    from probes.wrap import run_command

    command = [sys.executable, "-c", "import time; time.sleep(0.4)"]

    def meter() -> FakeGpuMeter:  # a frozen clock: the same readings on both paths
        return FakeGpuMeter([FakeDevice(fake_device(i)) for i in range(3)], FakeClock())

    assert launch(_args(seeded, *command, sample_interval=0.05), meter_factory=meter) == 0
    fresh = f"sqlite:///{tmp_path / 'full.db'}"
    spec = RunSpec(subject="demo", stage="sft", category=Category.FINE_TUNING, command=command,
                   working_dir=os.getcwd())  # fmt: skip
    with Ledger(fresh) as store:
        assert run_command(store, spec, command, meter=meter(), sample_interval_s=0.05) == 0
    recorded = []
    for url in (seeded, fresh):
        with Ledger(url, reap=False) as ledger:
            assert ledger.verify().ok  # the chain, and the rollup against the entries
            (run,) = ledger.runs("demo")
            usages = ledger.usages("demo")
            recorded.append((run, usages))
    (fast_run, fast), (full_run, full) = recorded

    def shape(run: Run, usages: list[Usage]) -> list[tuple[object, ...]]:
        return sorted(
            (u.id.removeprefix(run.id), u.resource, u.unit, u.provenance, u.note,
             sorted(u.detail or {}), {k: v for k, v in (u.detail or {}).items()
                                      if k not in {"samples", "series"}})
            for u in usages
        )  # fmt: skip

    assert len(fast) == 9 and shape(fast_run, fast) == shape(full_run, full)
    for run, usages in ((fast_run, fast), (full_run, full)):
        for usage in usages:
            if usage.unit is Unit.GPU_HOUR:
                assert usage.quantity is not None and run.wall_time_s is not None
                assert usage.quantity * 3600 == pytest.approx(run.wall_time_s, abs=0.05)


def test_lite_will_not_write_a_usage_whose_id_is_taken(seeded: str) -> None:
    key = RunKey("demo/sft/0123456789ab", "demo", "sft", "fine_tuning")
    fields = {"id": key.run_id, "subject": "demo", "stage": "sft", "category": "fine_tuning",
              "name": "sft", "status": "running"}  # fmt: skip
    usage = declared_usage_fields(key.run_id, 8, "H100", 3.5)
    lite = LiteLedger.open(seeded)
    assert lite is not None
    try:
        assert lite.start_run(key, run_body(fields), host="h", pid=1, heartbeat_s=1)
        with Ledger(seeded, reap=False) as ledger:
            ledger.record([Usage(**usage)])  # the store wrote it first
            before = ledger.head()
        with pytest.raises(ValueError, match="recorded already"):
            lite.finish_run(key, run_body({**fields, "status": "succeeded"}), [usage])
    finally:
        lite.close()
    with Ledger(seeded, reap=False) as ledger:
        assert ledger.head() == before and ledger.verify().ok


def test_a_meter_without_devices_leaves_the_declared_allocation_on_both_paths(
    seeded: str, tmp_path: Path
) -> None:
    """NVML may initialise and see no device (CUDA_VISIBLE_DEVICES=""): the declared allocation
    is then what the run records, on both paths."""
    from probes.session import RunSpec
    from probes.wrap import run_command

    def empty() -> FakeGpuMeter:
        return FakeGpuMeter([], FakeClock())

    args = _args(seeded, "true", gpus=2, gpu_model="H100")
    assert launch(args, meter_factory=empty) == 0
    fresh = f"sqlite:///{tmp_path / 'full.db'}"
    spec = RunSpec(subject="demo", stage="sft", category=Category.FINE_TUNING, command=["true"],
                   declared_gpus=2, declared_gpu_model="H100")  # fmt: skip
    with Ledger(fresh) as store:
        assert run_command(store, spec, ["true"], meter=empty()) == 0
    for url in (seeded, fresh):
        with Ledger(url, reap=False) as ledger:
            (usage,) = ledger.usages("demo")
            assert ledger.verify().ok
        assert usage.provenance is Provenance.DECLARED and usage.resource == "gpu/H100"


def test_a_lite_heartbeat_carries_the_usage_the_reaper_keeps(seeded: str) -> None:
    key = RunKey("demo/sft/0123456789ab", "demo", "sft", "fine_tuning")
    fields = {"id": key.run_id, "subject": "demo", "stage": "sft", "category": "fine_tuning",
              "name": "sft", "status": "running"}  # fmt: skip
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs: the wrapper "died"
    lite = LiteLedger.open(seeded)
    assert lite is not None
    try:
        assert lite.start_run(key, run_body(fields), host=hostname(), pid=gone.pid, heartbeat_s=1)
        usages = _window_usages(key.run_id)
        lite.beat(key, 3.5, usages, host=hostname(), pid=gone.pid, heartbeat_s=1)
    finally:
        lite.close()
    with Ledger(seeded) as ledger:  # opening it reaps the run
        (run,) = ledger.runs("demo")
        kept = ledger.usages("demo")
        assert ledger.verify().ok
    assert run.status is RunStatus.INTERRUPTED and run.wall_time_s == 3.5
    expected = {u["id"]: Usage(**u) for u in usages}
    assert len(kept) == len(expected)
    for usage in kept:
        assert usage.note is not None and usage.note.endswith("(up to the last heartbeat)")
        want = expected[usage.id].model_dump(mode="json", exclude={"note"})  # NaN as null
        assert usage.model_dump(mode="json", exclude={"note"}) == want


def test_usage_the_ledger_refuses_leaves_the_run_recorded_with_the_childs_code(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    nan = FakeDevice(fake_device(0), power_w=lambda t: float("nan"), energy_counter=False)
    meter = FakeGpuMeter([nan], FakeClock())
    code = launch(_args(seeded, sys.executable, "-c", "raise SystemExit(6)"),
                  meter_factory=lambda: meter)  # fmt: skip
    assert code == 6 and meter.closed
    assert "recorded without its usage" in capsys.readouterr().err
    with Ledger(seeded, reap=False) as ledger:
        (run,) = ledger.runs("demo")
        assert ledger.verify().ok and not ledger.usages("demo")
    assert run.status is RunStatus.FAILED and run.exit_code == 6
    assert "usage not recorded" in (run.note or "") and "finite" in (run.note or "")


def test_a_closed_stdout_does_not_change_the_exit_code(seeded: str) -> None:
    done = subprocess.run([sys.executable, "-m", "receipts", "run", "--ledger", seeded, *BASE,
                           "--", "sh", "-c", "exit 3"], stderr=subprocess.PIPE,
                          preexec_fn=lambda: os.close(1), timeout=60)  # fmt: skip
    assert done.returncode == 3, done.stderr
