"""Labelling time: the timer that lives in the ledger across shells, Label Studio exports, and a
wrong-shaped export refused with one line and nothing recorded."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cli_helpers import app_with_imports, assert_bad_input
from typer.testing import CliRunner

from ledger.audit import build_report
from ledger.errors import InputError, NotFoundError
from ledger.liveness import reap
from ledger.schema import Provenance, RunStatus, Subject, Unit, utcnow
from ledger.store import Ledger
from probes.labelling.cli import register
from probes.labelling.label_studio import import_label_studio, read_label_studio
from probes.labelling.schema import RESOURCE
from probes.labelling.timer import open_timers, start_timer, stop_timer

LS = Path(__file__).parent / "data" / "labelstudio"
EXPORT = LS / "export.json"
SUBJECT = "s1-32B"
# The bundled labour/annotator cards: $8.00 (crowd floor) to $50.05 (statistician median) an hour.
LOW, HIGH = Decimal("8.00"), Decimal("50.05")


APP = app_with_imports(register)


# -- the timer ----------------------------------------------------------------------------------


def test_a_timer_survives_reopening_and_reaping_and_stops_with_its_hours(ledger_url: str) -> None:
    started = utcnow() - timedelta(days=3)
    with Ledger(ledger_url) as ledger:
        run = start_timer(ledger, subject=SUBJECT, task="difficulty review", annotator="ana",
                          now=started)  # fmt: skip
    assert run.status is RunStatus.RUNNING and run.stage == "labelling"
    assert run.detail == {"timer": "labelling", "task": "difficulty review", "annotator": "ana"}
    with Ledger(ledger_url) as ledger:  # a new shell, three days later: opening reaps stale runs
        assert reap(ledger) == []
        (still,) = open_timers(ledger)
        assert still.id == run.id and still.status is RunStatus.RUNNING
        done = stop_timer(ledger, now=started + timedelta(seconds=5400))
        report = build_report(ledger, SUBJECT, "run")
    assert done.run.status is RunStatus.SUCCEEDED and done.run.wall_time_s == 5400.0
    assert done.run.ended_at == started + timedelta(seconds=5400)
    usage = done.usage
    assert (usage.resource, usage.unit, usage.quantity) == (RESOURCE, Unit.PERSON_HOUR, 1.5)
    assert usage.provenance is Provenance.MEASURED and usage.detail["seconds"] == 5400.0  # type: ignore[index]
    (group,) = report.groups
    assert (group.cost_usd_low, group.cost_usd_high) == (LOW * 3 / 2, HIGH * 3 / 2)
    assert (done.cost.cost_usd_low, done.cost.cost_usd_high) == (Decimal("12"), Decimal("75.075"))
    assert "labour-annotator-prolific-minimum-2023-09" in done.cost.cards


def test_stop_needs_exactly_one_open_timer(ledger: Ledger) -> None:
    with pytest.raises(NotFoundError, match="no open labelling timer"):
        stop_timer(ledger)
    start_timer(ledger, subject=SUBJECT, task="t1", annotator="ana")
    start_timer(ledger, subject=SUBJECT, task="t2", annotator="ben")
    with pytest.raises(InputError, match="2 labelling timers are open"):
        stop_timer(ledger)
    with pytest.raises(NotFoundError, match="for annotator cy"):
        stop_timer(ledger, annotator="cy")
    done = stop_timer(ledger, annotator="ben")
    assert done.run.detail["task"] == "t2"  # type: ignore[index]
    assert [r.detail["annotator"] for r in open_timers(ledger)] == ["ana"]  # type: ignore[index]


def test_one_open_timer_per_annotator_and_subject(ledger: Ledger) -> None:
    start_timer(ledger, subject=SUBJECT, task="t1", annotator="ana")
    with pytest.raises(InputError, match="a timer is already open for ana on s1-32B, task t1"):
        start_timer(ledger, subject=SUBJECT, task="t2", annotator="ana")
    start_timer(ledger, subject="other", task="t2", annotator="ana")  # another subject is fine


def test_a_stop_clock_before_the_start_is_refused(ledger: Ledger) -> None:
    now = utcnow()
    start_timer(ledger, subject=SUBJECT, task="t", annotator="ana", now=now)
    with pytest.raises(InputError, match="before the timer started"):
        stop_timer(ledger, now=now - timedelta(seconds=30))
    assert open_timers(ledger)  # still open


def test_timer_options_are_checked(ledger: Ledger) -> None:
    with pytest.raises(InputError, match="subject: 'bad subject' is not a valid id"):
        start_timer(ledger, subject="bad subject", task="t", annotator="ana")
    with pytest.raises(InputError, match="--annotator: must not be empty"):
        start_timer(ledger, subject=SUBJECT, task="t", annotator=" ")


def test_label_start_and_stop_from_separate_invocations(runner: CliRunner, sqlite_url: str) -> None:
    start = ["label", "start", "--subject", SUBJECT, "--ledger", sqlite_url]
    started = runner.invoke(APP, [*start, "--task", "traces", "--annotator", "ana@example.org"])
    assert started.exit_code == 0, started.output
    assert "stop it with `receipts label stop`" in started.stdout
    with Ledger(sqlite_url) as ledger:
        assert ledger.subject(SUBJECT).name == SUBJECT  # created bare, as `receipts run` does
    stopped = runner.invoke(APP, ["label", "stop", "--ledger", sqlite_url])
    assert stopped.exit_code == 0, stopped.output
    assert "person-hours" in stopped.stdout and "ana@example.org" in stopped.stdout
    assert_bad_input(runner.invoke(APP, ["label", "stop", "--ledger", sqlite_url]),
                     "no open labelling timer")  # fmt: skip
    again = runner.invoke(APP, [*start, "--task", "t", "--annotator", "ana", "--json"])
    assert json.loads(again.stdout)["status"] == "running"
    stopped = runner.invoke(APP, ["label", "stop", "--annotator", "ana", "--ledger", sqlite_url,
                                  "--json"])  # fmt: skip
    data = json.loads(stopped.stdout)
    assert data["run"]["status"] == "succeeded" and data["usage"]["unit"] == "person_hour"


# -- Label Studio -------------------------------------------------------------------------------


def test_an_export_is_read_per_annotation() -> None:
    export = read_label_studio(EXPORT)
    assert (export.key, export.project, export.tasks, export.drafts) == ("project-83", "83", 6, 1)
    rows = [(a.task, a.annotation, a.annotator, a.lead_time_s, a.skipped)
            for a in export.annotations]  # fmt: skip
    assert rows == [
        ("1", "1001", "ana@example.org", 1800.0, False),
        ("2", "1002", "ana@example.org", 900.0, False),
        ("2", "1003", "ben@example.org", 2700.0, False),
        ("3", "1004", "ben@example.org", 225.0, True),
        ("4", "1005", "ana@example.org", 450.0, False),
        ("5", "1006", "ben@example.org", None, False),
    ]


def test_an_export_imports_with_correct_seconds_and_dollars(ledger: Ledger) -> None:
    ledger.record([Subject(id=SUBJECT, name="s1 32B")])
    result = import_label_studio(ledger, read_label_studio(EXPORT), subject=SUBJECT)
    # five submitted, one of them (1006) without a lead_time: 1800 + 900 + 2700 + 450 s
    assert (result.submitted, result.submitted_s) == (5, 5850.0)
    assert (result.skipped, result.skipped_s) == (1, 225.0)
    assert (result.without_lead_time, result.drafts_ignored, result.tasks) == (1, 1, 6)
    people = {a.annotator: (a.submitted, a.submitted_s, a.skipped, a.skipped_s,
                            a.without_lead_time) for a in result.annotators}  # fmt: skip
    assert people == {
        "ana@example.org": (3, 3150.0, 0, 0.0, 0),
        "ben@example.org": (2, 2700.0, 1, 225.0, 1),
    }
    submitted, skipped = result.costs
    base = "s1-32B/labelling/label-studio-project-83"
    assert (submitted.run, skipped.run) == (base, f"{base}/skipped")
    # 5850 s = 1.625 h; 225 s = 0.0625 h
    assert (submitted.cost_usd_low, submitted.cost_usd_high) == (Decimal("13"), Decimal("81.33125"))
    assert (skipped.cost_usd_low, skipped.cost_usd_high) == (Decimal("0.5"), Decimal("3.128125"))
    assert (submitted.unpriced, skipped.unpriced) == (1, 0)
    report = build_report(ledger, SUBJECT, "run")
    assert {g.key: g.cost_usd_high for g in report.groups} == {
        base: Decimal("81.33125"), f"{base}/skipped": Decimal("3.128125"),
    }  # fmt: skip
    (unknown,) = report.unpriced
    assert unknown.quantity is None and "without a lead_time" in unknown.reason
    lines = [line for g in report.groups for line in g.lines]
    assert {line.provenance for line in lines} == {Provenance.REPORTED}
    usage = next(u for u in ledger.usages(SUBJECT) if u.id == f"{base}/annotation-1003")
    assert usage.citation == "export.json: task 2, annotation 1003"
    assert usage.detail == {"task": "2", "annotation": "1003", "annotator": "ben@example.org",
                            "lead_time_s": 2700.0, "outcome": "submitted"}  # fmt: skip


def test_importing_again_or_a_later_export_counts_each_annotation_once(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.record([Subject(id=SUBJECT, name="s1 32B")])
    import_label_studio(ledger, read_label_studio(EXPORT), subject=SUBJECT)
    head = ledger.head()
    again = import_label_studio(ledger, read_label_studio(EXPORT), subject=SUBJECT)
    assert (again.appended, again.superseded) == (0, 0) and ledger.head() == head
    tasks = json.loads(EXPORT.read_text(encoding="utf-8"))
    later = tasks[2:]  # a later export of the same project, filtered to tasks 3-6
    later[0]["annotations"][0].update(was_cancelled=False, lead_time=405)  # 1004 now submitted
    later[-1]["annotations"].append(
        {"id": 1007, "completed_by": {"id": 10, "email": "ana@example.org"}, "lead_time": 90,
         "was_cancelled": False, "result": []}
    )  # fmt: skip
    path = tmp_path / "export-later.json"
    path.write_text(json.dumps(later), encoding="utf-8")
    import_label_studio(ledger, read_label_studio(path), subject=SUBJECT)
    hours = {
        (line.run, line.unit): line.quantity
        for g in build_report(ledger, SUBJECT, "run").groups
        for line in g.lines
    }
    base = "s1-32B/labelling/label-studio-project-83"
    # 1800 + 900 + 2700 + 405 (moved from skipped) + 450 + 90 (new) = 6345 s; nothing skipped
    assert hours == {(base, Unit.PERSON_HOUR): 6345 / 3600}
    assert ledger.verify().ok


def test_a_pre_1_0_export_with_completions_and_skipped(ledger: Ledger) -> None:
    export = read_label_studio(LS / "export_legacy.json")
    assert export.project is None and len(export.key) == 12  # keyed by the file's hash
    result = import_label_studio(ledger, export, subject="judge", create_subject=True)
    people = {a.annotator: (a.submitted_s, a.skipped_s) for a in result.annotators}
    assert people == {"user-3": (0.0, 60.0), "user-4": (180.0, 0.0)}


def test_import_command_prints_the_time_and_its_cost(runner: CliRunner, sqlite_url: str) -> None:
    args = ["import", "label-studio", str(EXPORT), "--subject", SUBJECT, "--ledger", sqlite_url]
    assert_bad_input(runner.invoke(APP, args), "unknown subject 's1-32B'", "--create-subject")
    done = runner.invoke(APP, [*args, "--create-subject"])
    assert done.exit_code == 0, done.output
    assert "$13.00–$81.33 (1 unpriced usages: missing, not $0)" in done.stdout
    assert "$0.50–$3.13" in done.stdout
    assert "5 annotations submitted (5,850.0 s), 1 skipped (225.0 s, billed apart)" in done.stdout
    data = json.loads(runner.invoke(APP, [*args, "--json"]).stdout)
    assert data["unchanged"] > 0 and data["appended"] == 0
    assert data["costs"][0]["cost_usd_high"] == 81.3312  # JSON rounds half to even


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("tasks_object.json", ("expected a list of tasks", "found an object")),
        (
            "json_min.json",
            ("task #0 (id 1): field annotations: missing", "export the project as JSON"),
        ),
        ("lead_time_text.json", ("task 1: annotation #0: field lead_time", "'12 min'")),
        ("lead_time_negative.json", ("field lead_time: -3 seconds is negative",)),
        ("lead_time_nan.json", ("field lead_time: nan is not a number",)),
        ("annotations_object.json", ("field annotations: expected a list, found an object",)),
        ("completed_by_list.json", ("field completed_by",)),
        ("was_cancelled_text.json", ("field was_cancelled: expected true or false",)),
        ("task_without_id.json", ("task #0: field id: missing",)),
        ("no_tasks.json", ("no tasks in the export",)),
        ("malformed.json", ("line 2, column", "malformed JSON")),
    ],
)
def test_a_wrong_shaped_export_is_one_line_exit_2_and_nothing_recorded(
    runner: CliRunner, sqlite_url: str, name: str, needles: tuple[str, ...]
) -> None:
    path = LS / "bad" / name
    args = ["import", "label-studio", str(path), "--subject", SUBJECT, "--create-subject",
            "--ledger", sqlite_url]  # fmt: skip
    assert_bad_input(runner.invoke(APP, args), str(path), *needles)
    with Ledger(sqlite_url) as ledger:
        assert ledger.head()[0] == 0  # not even the subject


def test_a_missing_export_is_bad_input(runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    args = ["import", "label-studio", str(tmp_path / "none.json"), "--subject", SUBJECT,
            "--ledger", sqlite_url]  # fmt: skip
    assert_bad_input(runner.invoke(APP, args), "none.json: no such file")
