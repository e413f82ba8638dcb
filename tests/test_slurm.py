"""Slurm accounting: sacct -P and --json exports as runs, counting rules, bad input, reconcile."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import app_with_imports, assert_bad_input
from typer.testing import CliRunner

from ledger.errors import InputError
from ledger.schema import Category, Provenance, Run, RunStatus, Subject, Unit, Usage
from ledger.store import Ledger
from probes import slurm
from probes.gpu import gpu_model_name
from probes.slurm.cli import register

SACCT = Path(__file__).parent / "data" / "sacct"
PARSABLE = SACCT / "sacct_duplicates.txt"
JSON_EXPORT = SACCT / "sacct.json"
SUBJECT = "s1-32B"

# Every attempt in both fixtures: run id after the cluster -> (status, GPU-hours by resource).
EXPECTED = {
    "4100/20240501T090000Z": ("succeeded", {"gpu/unknown": 24.0}),  # 16 GPUs x 5400 s
    "4101/20240501T110000Z": ("interrupted", {"gpu/unknown": 4.0}),  # requeued: 8 x 1800 s
    "4101/20240501T114000Z": ("succeeded", {"gpu/unknown": 8.0}),  # second attempt: 8 x 3600 s
    "4102/20240501T130000Z": ("failed", {"gpu/unknown": 1.0}),  # 4 x 900 s
    "4103/20240501T140000Z": ("killed", {"gpu/unknown": 6.0}),  # 8 x 2700 s
    "4104/20240502T080000Z": ("succeeded", {"gpu/H100": 16.0}),  # gres/gpu:h100=8 x 7200 s
    "4105/20240502T110000Z": ("succeeded", {}),  # CPU only: a run, no usage
    "4111/20240502T130000Z": ("succeeded", {"gpu/A100": 1.0}),  # array task 4110_1: 2 x 1800 s
}
TOTAL_GPU_HOURS = 60.0


APP = app_with_imports(lambda top, imports: register(imports, top))


def invoke(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(APP, list(args))


def import_args(path: Path, url: str, *extra: str) -> list[str]:
    return [
        "import", "sacct", str(path), "--subject", SUBJECT, "--stage", "sft",
        "--category", "fine_tuning", "--ledger", url, *extra,
    ]  # fmt: skip


@pytest.fixture
def url(sqlite_url: str) -> str:
    """A ledger holding the subject the imports belong to."""
    with Ledger(sqlite_url) as ledger:
        ledger.record([Subject(id=SUBJECT, name="s1 32B")])
    return sqlite_url


def plan(path: Path, **options: Any) -> slurm.ImportPlan:
    export = slurm.read_sacct(path, options.pop("timezone_name", "UTC"))
    return slurm.plan_import(
        export, subject=SUBJECT, stage="sft", category=Category.FINE_TUNING, **options
    )


def reported_gpu_hours(url: str) -> float:
    with Ledger(url) as ledger:
        totals = ledger.usage_totals([SUBJECT])
    return sum(t.quantity for t in totals if t.provenance is Provenance.REPORTED)


# -- counting rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "cluster"), [(PARSABLE, "slurm"), (JSON_EXPORT, "tiger")], ids=["-P", "json"]
)
def test_each_attempt_is_one_run_with_allocated_gpus_times_elapsed(
    path: Path, cluster: str
) -> None:
    planned = plan(path)
    got = {
        row.run_id.removeprefix(f"slurm/{cluster}/"): (row.status.value, row.gpu_hours)
        for row in planned.result.runs
    }
    assert got == EXPECTED
    assert planned.result.gpu_hours == TOTAL_GPU_HOURS
    assert [u.quantity for u in planned.usages] == [
        h for _, hours in EXPECTED.values() for h in hours.values()
    ]
    assert all(
        u.provenance is Provenance.REPORTED and u.unit is Unit.GPU_HOUR for u in planned.usages
    )
    skipped = {s.job: s.reason for s in planned.result.skipped}
    assert set(skipped) == {"4106", "4107"}  # pending: no time used; running: not finished
    assert "PENDING" in skipped["4106"] and "RUNNING" in skipped["4107"]


def test_steps_are_listed_but_never_added() -> None:
    row = next(r for r in plan(PARSABLE).result.runs if r.job_id == "4100")
    # .batch (8 x 5400 s), .extern (16 x 5400 s) and .0 (16 x 5280 s) overlap the allocation.
    assert row.steps == ["batch", "extern", "0"]
    assert row.gpu_hours == {"gpu/unknown": 16 * 5400 / 3600}


def test_runs_carry_job_ids_hosts_times_states_and_exit_codes() -> None:
    runs = {run.id.removeprefix("slurm/slurm/"): run for run in plan(PARSABLE).runs}
    training = runs["4100/20240501T090000Z"]
    assert training.job_id == "4100"
    assert training.host == "gpu-[01-02]"
    assert training.started_at == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    assert training.ended_at == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert training.wall_time_s == 5400.0
    assert training.detail == {
        "importer": "sacct",
        "job": "4100",
        "partition": "gpu",
        "account": "proj-s1",
        "nnodes": 2,
        "state": "COMPLETED",
    }
    assert training.citation == "Slurm accounting (sacct), job 4100"  # not the file: re-exports
    assert runs["4101/20240501T110000Z"].status is RunStatus.INTERRUPTED
    assert "requeued" in (runs["4101/20240501T110000Z"].note or "")
    assert (runs["4102/20240501T130000Z"].status, runs["4102/20240501T130000Z"].exit_code) == (
        RunStatus.FAILED,
        1,
    )
    cancelled = runs["4103/20240501T140000Z"]
    assert (cancelled.status, cancelled.exit_code) == (RunStatus.KILLED, 128 + 15)
    assert cancelled.note == "CANCELLED by 123"
    array_task = runs["4111/20240502T130000Z"]
    assert (array_task.job_id, array_task.name) == ("4111", "sweep (Slurm job 4110_1)")
    assert "no GPUs allocated" in (runs["4105/20240502T110000Z"].note or "")


def test_usage_detail_and_citation() -> None:
    usage = next(u for u in plan(PARSABLE).usages if u.resource == "gpu/H100")
    assert usage.citation == "Slurm accounting (sacct), job 4104"
    assert usage.detail == {
        "gpus": 8,
        "elapsed_s": 7200,
        "state": "COMPLETED",
        "nodes": "h100-01",
        "nnodes": 1,
        "gres": ["gres/gpu:h100"],
    }


def test_gpu_model_option_names_only_untyped_gpus() -> None:
    hours = {r.job_id: r.gpu_hours for r in plan(PARSABLE, gpu_model="h100").result.runs}
    assert hours["4100"] == {"gpu/H100": 24.0}
    assert hours["4111"] == {"gpu/A100": 1.0}  # typed gres keeps its own model


def test_local_times_are_read_in_the_given_timezone() -> None:
    run = plan(PARSABLE, timezone_name="America/New_York").runs[0]
    assert run.started_at == datetime(2024, 5, 1, 13, 0, tzinfo=UTC)  # EDT is UTC-4
    assert run.id == "slurm/slurm/4100/20240501T130000Z"
    assert run.wall_time_s == 5400.0  # ElapsedRaw, never End - Start
    assert plan(JSON_EXPORT, timezone_name="Asia/Tokyo").runs[0].started_at == datetime(
        2024, 5, 1, 9, 0, tzinfo=UTC
    )  # JSON carries Unix times


def test_both_formats_give_the_same_records_for_the_same_cluster() -> None:
    parsable, from_json = plan(PARSABLE, cluster="tiger"), plan(JSON_EXPORT)
    # "CANCELLED by 123" (uid) in -P, "CANCELLED by ops" (user name) in JSON
    cancelled: dict[str, Any] = {"note": True, "detail": {"state"}}
    assert [r.model_dump(exclude=cancelled) for r in parsable.runs] == [
        r.model_dump(exclude=cancelled) for r in from_json.runs
    ]
    assert [(u.id, u.quantity) for u in parsable.usages] == [
        (u.id, u.quantity) for u in from_json.usages
    ]


def test_parsable_with_trailing_delimiter(tmp_path: Path) -> None:
    trailing = tmp_path / "sacct-p.txt"
    trailing.write_text("".join(line + "|\n" for line in PARSABLE.read_text().splitlines()))
    assert plan(trailing).result.gpu_hours == TOTAL_GPU_HOURS


def test_same_attempt_twice_in_one_file_counts_once(tmp_path: Path) -> None:
    lines = PARSABLE.read_text().splitlines()
    twice = tmp_path / "twice.txt"
    twice.write_text("\n".join([*lines, lines[1]]) + "\n")
    planned = plan(twice)
    assert planned.result.gpu_hours == TOTAL_GPU_HOURS
    assert "same attempt as line 2" in planned.result.skipped[-1].reason
    changed = tmp_path / "changed.txt"
    changed.write_text("\n".join([*lines, lines[1].replace("|5400|", "|5500|")]) + "\n")
    with pytest.raises(
        InputError, match=r"changed.txt: line 32: job 4100 started .* \(first at line 2\)"
    ):
        plan(changed)


def minimal_json(tmp_path: Path, **job: Any) -> Path:
    base = {
        "job_id": 7,
        "name": "probe",
        "state": {"current": ["COMPLETED"]},
        "time": {"elapsed": 3600, "start": 1714554000, "end": 1714557600},
        "tres": {"allocated": [{"type": "gres", "name": "gpu", "id": 1001, "count": 2}]},
        "nodes": "n1",
        "steps": [],
    }
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"jobs": [base | job]}))
    return path


def test_json_flag_states_win_and_older_layouts_read(tmp_path: Path) -> None:
    requeued = minimal_json(tmp_path, state={"current": ["PENDING", "REQUEUED"]})
    assert plan(requeued).runs[0].status is RunStatus.INTERRUPTED
    older = minimal_json(  # data_parser v0.0.39: state a string, step id an object
        tmp_path,
        state={"current": "COMPLETED"},
        steps=[
            {
                "step": {"id": {"job_id": 7, "step_id": "batch"}, "name": "batch"},
                "state": "COMPLETED",
                "time": {"elapsed": 3600},
            }
        ],
    )
    assert plan(older).result.runs[0].steps == ["batch"]
    assert plan(older).result.gpu_hours == 2.0


@pytest.mark.parametrize(
    ("raw", "model"),
    [
        ("h100", "H100"),
        ("nvidia_h100_80gb_hbm3", "H100"),
        ("h100nvl", "H100"),
        ("a100-sxm4-80gb", "A100"),
        ("a10", "A10"),
        ("a10g", "A10G"),
        ("l40s", "L40S"),
        ("tesla_v100-sxm2-16gb", "V100"),
        ("mi300x", "MI300X"),
        ("H200", "H200"),
        ("rtx_6000", "RTX_6000"),
    ],
)
def test_gpu_model_names(raw: str, model: str) -> None:
    assert gpu_model_name(raw) == model


@pytest.mark.parametrize(
    ("tres", "total", "typed"),
    [
        ("billing=64,cpu=64,gres/gpu:h100=8,gres/gpu=8,mem=1T,node=1", 8, {"h100": 8}),
        ("cpu=16,gres/gpu=4,mem=256G,node=1", 4, {}),
        ("gres/gpu:a100=4,gres/gpu:h100=4,gres/gpu=8", 8, {"a100": 4, "h100": 4}),
        ("gres/gpu:h100=2", 2, {"h100": 2}),  # typed only: the total is their sum
        ("cpu=16,mem=64G,node=1", 0, {}),
        ("", 0, {}),
    ],
)
def test_alloc_tres(tres: str, total: int, typed: dict[str, int]) -> None:
    assert slurm.parse_alloc_tres(tres) == (total, typed)


def test_untyped_remainder_goes_to_the_given_model() -> None:
    record = slurm.SacctRecord(
        where="line 2",
        job_id="1",
        step=None,
        display_id="1",
        name="",
        state="COMPLETED",
        state_text="COMPLETED",
        elapsed_s=60,
        started_at=None,
        ended_at=None,
        gpus=8,
        gpu_types={"h100": 6},
    )
    assert slurm.gpus_by_model(record) == {"H100": 6, "unknown": 2}
    assert slurm.gpus_by_model(record, "H100") == {"H100": 8}


@pytest.mark.parametrize(
    ("hostlist", "hosts"),
    [
        ("gpu-[01-02]", ["gpu-01", "gpu-02"]),
        ("gpu-[01-03,07],cpu-1", ["gpu-01", "gpu-02", "gpu-03", "gpu-07", "cpu-1"]),
        ("rack[1-2]-n[1-2]", ["rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"]),
        ("h100-01", ["h100-01"]),
        ("None assigned", []),
    ],
)
def test_expand_hostlist(hostlist: str, hosts: list[str]) -> None:
    assert slurm.expand_hostlist(hostlist) == hosts


# -- the command ------------------------------------------------------------------------------


def test_import_then_import_again_adds_nothing(runner: CliRunner, url: str) -> None:
    first = invoke(runner, *import_args(PARSABLE, url, "--gpu-model", "H100"))
    assert first.exit_code == 0, first.output
    assert "8 runs, 60.00 GPU-hours: 15 new, 0 corrected, 0 unchanged records" in first.stdout
    assert "skipped 4107 (line 26): not finished (RUNNING)" in first.stdout
    with Ledger(url) as ledger:
        head = ledger.head()
        assert len([r for r in ledger.runs() if r.id.startswith("slurm/")]) == 8
    assert reported_gpu_hours(url) == TOTAL_GPU_HOURS
    again = invoke(runner, *import_args(PARSABLE, url, "--gpu-model", "H100"))
    assert "8 runs, 60.00 GPU-hours: 0 new, 0 corrected, 15 unchanged records" in again.stdout
    with Ledger(url) as ledger:
        assert ledger.head() == head
    assert reported_gpu_hours(url) == TOTAL_GPU_HOURS


def test_the_other_format_of_the_same_jobs_adds_no_run(runner: CliRunner, url: str) -> None:
    assert invoke(runner, *import_args(PARSABLE, url, "--cluster", "tiger")).exit_code == 0
    result = invoke(runner, *import_args(JSON_EXPORT, url, "--json"))
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert (done["format"], done["gpu_hours"]) == ("sacct --json", 60.0)
    # Only job 4103 changes: its run note and usage detail name the canceller (user, not uid).
    assert (done["appended"], done["superseded"], done["unchanged"]) == (0, 2, 13)
    with Ledger(url) as ledger:
        assert len(ledger.runs(SUBJECT)) == 8
        assert ledger.verify().ok
    assert reported_gpu_hours(url) == TOTAL_GPU_HOURS


def test_an_export_without_duplicates_then_with(
    runner: CliRunner, url: str, tmp_path: Path
) -> None:
    lines = PARSABLE.read_text().splitlines()
    last_only = tmp_path / "last-attempt.txt"  # sacct without --duplicates: the last attempt
    last_only.write_text("\n".join(lines[:5] + lines[8:]) + "\n")
    assert invoke(runner, *import_args(last_only, url)).exit_code == 0
    assert reported_gpu_hours(url) == TOTAL_GPU_HOURS - 4.0
    result = invoke(runner, *import_args(PARSABLE, url))
    # the first attempt and its usage are new; nothing else changes
    assert "8 runs, 60.00 GPU-hours: 2 new, 0 corrected, 13 unchanged records" in result.stdout
    assert reported_gpu_hours(url) == TOTAL_GPU_HOURS


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


JOB = {"job_id": 7, "state": {"current": ["COMPLETED"]}, "time": {"elapsed": 60}}
HEADER = PARSABLE.read_text().splitlines()[0]
LINE = PARSABLE.read_text().splitlines()[1]


@pytest.mark.parametrize(
    ("name", "text", "needles"),
    [
        ("malformed_columns.txt", None, ["malformed_columns.txt: line 4", "11 fields", "has 13"]),
        ("malformed_elapsed.txt", None, ["malformed_elapsed.txt: line 3", "ElapsedRaw '00:15:00'"]),
        ("malformed_elapsed.json", None, ["malformed_elapsed.json: jobs[1]: time.elapsed"]),
        ("state.txt", f"{HEADER}\n{LINE.replace('COMPLETED', 'DONE')}\n", ["line 2", "'DONE'"]),
        ("gpus.txt", f"{HEADER}\n{LINE.replace('gpu=16', 'gpu=lots')}\n", ["line 2", "gres/gpu"]),
        ("start.txt", f"{HEADER}\n{LINE.replace('2024-05-01T09', '05/01-09')}\n", ["Start"]),
        ("id.txt", f"{HEADER}\n{LINE.replace('4100|4100', '4100|x4100')}\n", ["JobIDRaw"]),
        ("date.txt", f"{HEADER}\n{LINE.replace('2024-05-01T09', '2024-13-01T09')}\n", ["Start"]),
        ("exit.txt", f"{HEADER}\n{LINE.replace('|0:0|', '|ok|')}\n", ["ExitCode 'ok'"]),
        ("header.txt", f"{HEADER.replace('|ElapsedRaw', '|Elapsed')}\n", ["lacks ElapsedRaw"]),
        ("noheader.txt", f"{LINE}\n", ["line 1", "--noheader"]),
        ("spaces.txt", "JobID    JobName\n------ ------\n", ["not a sacct -P export"]),
        ("empty.txt", "\n", ["empty file"]),
        ("broken.json", '{"jobs": [', ["broken.json: line 1", "malformed JSON"]),
        ("other.json", '{"nodes": []}', ['no top-level "jobs"']),
        (
            "epoch.json",
            json.dumps({"jobs": [JOB | {"time": {"elapsed": 1, "start": 10**20}}]}),
            ["epoch.json: jobs[0]: time.start: 100000000000000000000 is not a Unix time"],
        ),
        (
            "step.json",
            json.dumps({"jobs": [JOB | {"steps": [{"step": {"id": "7.0"}, "state": 3}]}]}),
            ["step.json: jobs[0]: steps[0]: unknown job state 3"],
        ),
    ],
)
def test_bad_exports_import_nothing(
    runner: CliRunner, url: str, tmp_path: Path, name: str, text: str | None, needles: list[str]
) -> None:
    path = SACCT / name if text is None else write(tmp_path, name, text)
    with Ledger(url) as ledger:
        before = ledger.head()
    assert_bad_input(invoke(runner, *import_args(path, url)), *needles)
    with Ledger(url) as ledger:
        assert ledger.head() == before


def test_missing_file_subject_and_time_zone(runner: CliRunner, url: str, tmp_path: Path) -> None:
    assert_bad_input(invoke(runner, *import_args(tmp_path / "nope.txt", url)), "no such file")
    assert_bad_input(
        invoke(runner, *import_args(PARSABLE, url, "--timezone", "Mars/Olympus")),
        "unknown time zone 'Mars/Olympus'",
    )
    args = import_args(PARSABLE, url)
    args[args.index(SUBJECT)] = "s2"
    assert_bad_input(invoke(runner, *args), "unknown subject 's2'", "--create-subject")
    args[args.index("s2")] = "no spaces"
    assert_bad_input(invoke(runner, *args), "subject: 'no spaces' is not a valid id")
    args[args.index("no spaces")] = "s2"
    assert invoke(runner, *args, "--create-subject").exit_code == 0
    with Ledger(url) as ledger:
        assert ledger.subject("s2") == Subject(id="s2", name="s2")
        assert len(ledger.runs("s2")) == 8


# -- reconcile --------------------------------------------------------------------------------


def probe_run(job: str, host: str, allocated: float, busy: float | None) -> list[Any]:
    """What a probe on one node records: a run tagged with the job id and measured GPU-hours."""
    run = Run(
        id=f"probe/{job}/{host}",
        subject=SUBJECT,
        stage="sft",
        category=Category.FINE_TUNING,
        name=f"torchrun on {host}",
        status=RunStatus.SUCCEEDED,
        host=host,
        job_id=job,
    )
    usages = [
        Usage(
            id=f"{run.id}/{unit.value}",
            run=run.id,
            resource="gpu/H100",
            unit=unit,
            quantity=quantity,
            provenance=Provenance.MEASURED,
        )
        for unit, quantity in ((Unit.GPU_HOUR, allocated), (Unit.GPU_HOUR_BUSY, busy))
        if quantity is not None
    ]
    return [run, *usages]


@pytest.fixture
def imported(runner: CliRunner, url: str) -> str:
    """The fixture's jobs imported, GPUs untyped taken as H100."""
    result = invoke(runner, *import_args(PARSABLE, url, "--gpu-model", "H100"))
    assert result.exit_code == 0, result.output
    return url


def record(url: str, *probes: list[Any]) -> None:
    with Ledger(url) as ledger:
        ledger.record([r for probe in probes for r in probe])


def test_reconcile_both_nodes_measured(imported: str) -> None:
    record(
        imported,
        probe_run("4100", "gpu-01.tiger.example.org", 11.6, 8.7),
        probe_run("4100", "gpu-02.tiger.example.org", 11.6, 9.1),
    )
    with Ledger(imported) as ledger:
        got = slurm.reconcile(ledger, "4100")
    assert got.slurm_gpu_hours == 24.0
    assert got.probe_gpu_hours == pytest.approx(23.2)
    assert got.probe_busy_gpu_hours == pytest.approx(17.8)
    assert got.difference_gpu_hours == pytest.approx(0.8)
    assert got.coverage == pytest.approx(23.2 / 24)
    assert got.utilisation == pytest.approx(17.8 / 23.2)
    assert got.agrees is False  # 0.8 > 2 % of 24
    assert (got.slurm_nodes, got.probe_hosts) == (["gpu-01", "gpu-02"], ["gpu-01", "gpu-02"])
    assert got.nodes_without_probe == [] and got.hosts_outside_allocation == []
    assert (
        got.explanation[0]
        == "Slurm counts 0.80 GPU-hours more than the probes (3.3% of its figure)."
    )
    assert "teardown after it" in got.explanation[1]
    assert got.explanation[-1].startswith("Busy 17.80 of 23.20 allocated GPU-hours (77%)")


def test_reconcile_probe_on_one_node_only(imported: str) -> None:
    record(imported, probe_run("4100", "gpu-01", 11.6, 8.7))
    with Ledger(imported) as ledger:
        got = slurm.reconcile(ledger, "4100")
    assert got.difference_gpu_hours == pytest.approx(12.4)
    assert got.nodes_without_probe == ["gpu-02"]
    assert "Probes ran on 1 of 2 allocated nodes; none on gpu-02" in " ".join(got.explanation)


def test_reconcile_agreement_and_excess(imported: str) -> None:
    record(imported, probe_run("4104", "h100-01", 15.9, None))
    with Ledger(imported) as ledger:
        agreed = slurm.reconcile(ledger, "4104")
    assert agreed.agrees is True
    assert (
        agreed.explanation[0] == "Slurm and the probes agree within 2%: 16.00 vs 15.90 GPU-hours."
    )
    assert agreed.explanation[-1].startswith("No busy GPU-hours were measured")
    record(imported, probe_run("4102", "gpu-05", 1.5, 1.0), probe_run("4102", "gpu-09", 0.5, 0.1))
    with Ledger(imported) as ledger:
        excess = slurm.reconcile(ledger, "4102")
    assert excess.difference_gpu_hours == pytest.approx(-1.0)
    assert excess.hosts_outside_allocation == ["gpu-09"]
    text = " ".join(excess.explanation)
    assert "The probes count 1.00 GPU-hours more than Slurm allocated" in text
    assert "hosts Slurm did not allocate to job 4102 (gpu-09)" in text


def test_reconcile_requeued_job_counts_every_attempt(imported: str) -> None:
    record(imported, probe_run("4101", "gpu-04", 7.5, 6.0))  # the probe wrapped attempt 2 only
    with Ledger(imported) as ledger:
        got = slurm.reconcile(ledger, "4101")
    assert (got.slurm_gpu_hours, len(got.slurm_runs)) == (12.0, 2)
    assert got.nodes_without_probe == ["gpu-03"]
    assert "Slurm ran job 4101 2 times (requeued or preempted)" in " ".join(got.explanation)


def test_reconcile_with_one_side_missing(imported: str) -> None:
    record(imported, probe_run("9999", "gpu-01", 2.0, 1.0))
    with Ledger(imported) as ledger:
        slurm_only = slurm.reconcile(ledger, "4104")
        probe_only = slurm.reconcile(ledger, "9999")
        cpu_only = slurm.reconcile(ledger, "4105")
    assert (slurm_only.probe_gpu_hours, slurm_only.difference_gpu_hours) == (None, None)
    assert slurm_only.explanation[0].startswith("Probe side missing: no probe ran under job 4104")
    assert probe_only.slurm_gpu_hours is None
    assert probe_only.explanation[0].startswith("Slurm side missing: no sacct record of job 9999")
    assert "sacct -j 9999 -P --duplicates" in probe_only.explanation[0]
    assert cpu_only.slurm_gpu_hours == 0.0  # imported, and Slurm allocated no GPU


def test_reconcile_command(runner: CliRunner, imported: str) -> None:
    record(imported, probe_run("4100", "gpu-01", 11.6, 8.7), probe_run("4100", "gpu-02", 11.6, 9.1))
    table = invoke(runner, "reconcile", "--job", "4100", "--ledger", imported)
    assert table.exit_code == 0, table.output
    for needle in (
        "Slurm job 4100",
        "Slurm allocation (sacct, reported)",
        "24.00",
        "23.20",
        "17.80",
        "0.80",
        "- Busy 17.80 of 23.20",
    ):
        assert needle in table.stdout, table.stdout
    as_json = json.loads(
        invoke(runner, "reconcile", "--job", "4100", "--ledger", imported, "--json").stdout
    )
    assert as_json["slurm_gpu_hours"] == 24.0
    assert as_json["probe_gpu_hours"] == pytest.approx(23.2)
    assert_bad_input(
        invoke(runner, "reconcile", "--job", "1", "--ledger", imported),
        "no run in the ledger has job id '1'",
    )
