"""``receipts import sacct`` without a JobIDRaw column: JobID stands in where it is the raw id,
and a line where it is not (an array task, a heterogeneous job's component) is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.errors import InputError
from ledger.store import Ledger
from probes import slurm
from receipts.cli import app
from tests.cli_helpers import assert_bad_input

DATA = Path(__file__).parent / "data" / "sacct"


def without_raw(text: str) -> str:
    """The export with its JobIDRaw column removed."""
    rows = [line.split("|") for line in text.splitlines()]
    at = rows[0].index("JobIDRaw")
    return "\n".join("|".join(r[:at] + r[at + 1 :]) for r in rows) + "\n"


def test_jobid_stands_in_for_jobidraw_on_plain_jobs(tmp_path: Path) -> None:
    full = (DATA / "sacct_duplicates.txt").read_text()
    plain = [line for line in full.splitlines() if not any(c in line.split("|")[0] for c in "_+")]
    (tmp_path / "with.txt").write_text("\n".join(plain) + "\n")
    (tmp_path / "without.txt").write_text(without_raw("\n".join(plain)))
    with_raw = slurm.read_sacct(tmp_path / "with.txt")
    without = slurm.read_sacct(tmp_path / "without.txt")
    assert [j.record.job_id for j in without.jobs] == [j.record.job_id for j in with_raw.jobs]
    assert [[s.step for s in j.steps] for j in without.jobs] == [
        [s.step for s in j.steps] for j in with_raw.jobs
    ]
    assert len(without.jobs) >= 3


@pytest.mark.parametrize(
    ("job_id", "what"),
    [
        ("4110_1", "an array task"),
        ("4110_[1-5]", "an array task"),
        ("4120+1", "a heterogeneous job's component"),
        ("4120+0.batch", "a heterogeneous job's component"),
        ("sft", "not a Slurm job id"),
    ],
)
def test_an_ambiguous_jobid_without_jobidraw_is_refused(
    runner: CliRunner, tmp_path: Path, sqlite_url: str, job_id: str, what: str
) -> None:
    path = tmp_path / "sacct.txt"
    path.write_text(
        "JobID|JobName|State|ElapsedRaw|AllocTRES|Start\n"
        "4100|sft|COMPLETED|60|gres/gpu=1|2024-05-01T09:00:00\n"
        f"{job_id}|x|COMPLETED|60|gres/gpu=1|2024-05-01T09:00:00\n"
    )
    result = runner.invoke(
        app,
        ["import", "sacct", str(path), "--subject", "toy", "--stage", "sft", "--category",
         "fine_tuning", "--create-subject", "--ledger", sqlite_url],
    )  # fmt: skip
    assert_bad_input(result, str(path), "line 3", f"JobID {job_id!r} is {what}")
    with Ledger(sqlite_url) as ledger:
        assert ledger.runs() == []


def test_neither_jobid_nor_jobidraw_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sacct.txt"
    path.write_text("JobName|State|ElapsedRaw|AllocTRES|Start\nx|COMPLETED|1|gres/gpu=1|\n")
    with pytest.raises(InputError) as err:
        slurm.read_sacct(path)
    assert "the header lacks JobIDRaw" in str(err.value)
