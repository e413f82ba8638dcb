"""Commands ``receipts import label-studio`` and ``receipts label start|stop|status``. Thin: build
inputs, call :mod:`probes.labelling.label_studio` or :mod:`probes.labelling.timer`, render. Errors
are :class:`~ledger.errors.LedgerError` subclasses, turned into one stderr line and exit code 2 by
:class:`~ledger.cli.ErrorHandlingGroup`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli import ErrorHandlingGroup, JsonOpt, LedgerOpt, console
from ledger.enums import Category
from probes.importer_cli import CategoryOpt, CreateOpt, SubjectOpt, cost_line

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from probes.labelling.schema import LabelStudioImport, StoppedTimer, TimerSession, TimerStatus

# Heavy imports (pydantic models, SQLAlchemy) happen inside the commands: `receipts --help` stays
# fast.


def import_label_studio(
    file: Annotated[
        Path,
        typer.Argument(help="A Label Studio project export in JSON format.", show_default=False),
    ],
    subject: SubjectOpt,
    stage: Annotated[str, typer.Option("--stage", help="Pipeline stage.")] = "labelling",
    category: CategoryOpt = Category.DATA,
    create_subject: CreateOpt = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import annotation time: each annotation's lead_time as reported person-hours.

    Skipped (was_cancelled) annotations are billed in a run of their own, shown apart; an
    annotation without a lead_time is recorded as unquantified, never as 0. Priced by the
    labour/annotator cards. The whole file is checked first; importing it again adds nothing.
    """
    from ledger.progress import activity
    from ledger.store import Ledger
    from probes.labelling.label_studio import import_label_studio as run_import
    from probes.labelling.label_studio import read_label_studio

    with activity(f"reading {file.name}", unit="records") as shown:
        export = read_label_studio(file, progress=shown.advance)
        shown.phase("recording the annotations")
        with Ledger(ledger) as store:
            result = run_import(
                store,
                export,
                subject=subject,
                stage=stage,
                category=category,
                create_subject=create_subject,
            )
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        render_label_studio(console(), result)


label_app = typer.Typer(
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    help="Labelling timers: the open timer lives in the ledger and outlives the shell.",
)


@label_app.command("start")
def label_start(
    subject: SubjectOpt,
    task: Annotated[str, typer.Option("--task", help="What is being labelled.")],
    annotator: Annotated[str, typer.Option("--annotator", help="Who labels.")],
    category: CategoryOpt = Category.DATA,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start a labelling timer (a running run in the ledger); a missing subject is created."""
    from ledger.store import Ledger
    from probes.labelling.timer import start_timer

    with Ledger(ledger) as store:
        run = start_timer(store, subject=subject, task=task, annotator=annotator, category=category)
    if as_json:
        typer.echo(run.model_dump_json(indent=2))
        return
    assert run.started_at is not None
    typer.echo(
        f"started {run.id}: {annotator} on {subject}, task {task}, at "
        f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC; stop it with `receipts label stop`"
    )


@label_app.command("stop")
def label_stop(
    subject: Annotated[
        str | None, typer.Option("--subject", help="Only a timer of this subject.")
    ] = None,
    annotator: Annotated[
        str | None, typer.Option("--annotator", help="Only this annotator's timer.")
    ] = None,
    task: Annotated[str | None, typer.Option("--task", help="Only the timer of this task.")] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop the open labelling timer and record its person-hours (UTC start to stop)."""
    from ledger.store import Ledger
    from probes.labelling.timer import stop_timer

    with Ledger(ledger) as store:
        result = stop_timer(store, subject=subject, annotator=annotator, task=task)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        render_stopped(console(), result)


@label_app.command("status")
def label_status(
    subject: Annotated[
        str | None, typer.Option("--subject", help="Only timers of this subject.")
    ] = None,
    annotator: Annotated[
        str | None, typer.Option("--annotator", help="Only this annotator's timers.")
    ] = None,
    recent: Annotated[
        int, typer.Option("--recent", min=0, help="Closed timers to list, latest first.")
    ] = 10,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The open labelling timers (started, elapsed) and the latest closed ones with their
    person-hours. Exit 0 whether or not a timer is open."""
    from ledger.store import open_for_reading
    from probes.labelling.timer import timer_status

    with open_for_reading(ledger) as store:
        status = timer_status(store, subject=subject, annotator=annotator, recent=recent)
    if as_json:
        typer.echo(status.model_dump_json(indent=2))
    else:
        render_status(console(), status, closed=recent > 0)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min" if minutes else f"{seconds:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours / 24:,.1f} days"


def _sessions_table(title: str, rows: list[TimerSession], closed: bool) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name in ("subject", "stage", "task", "annotator", "started (UTC)"):
        table.add_column(name, overflow="fold")
    if closed:
        table.add_column("stopped (UTC)")
    table.add_column("elapsed", justify="right")
    if closed:
        table.add_column("person-hours", justify="right")
    for r in rows:
        cells = [escape(r.subject), escape(r.stage), escape(r.task or "—"),
                 escape(r.annotator or "—"), f"{r.started_at:%Y-%m-%d %H:%M}"]  # fmt: skip
        if closed:
            cells.append("—" if r.stopped_at is None else f"{r.stopped_at:%Y-%m-%d %H:%M}")
        cells.append(_duration(r.elapsed_s))
        if closed:
            cells.append("—" if r.person_hours is None else f"{r.person_hours:,.3f}")
        table.add_row(*cells)
    return table


def render_status(out: Console, status: TimerStatus, *, closed: bool = True) -> None:
    """Open timers (or "no open timer"), then (with ``closed``) the latest closed ones."""
    if status.open:
        out.print(_sessions_table(f"Open labelling timers ({len(status.open)})", status.open,
                                  closed=False))  # fmt: skip
        out.print("stop one with `receipts label stop` (--subject, --annotator or --task)")
    else:
        out.print("no open timer")
    if status.recent:
        out.print(_sessions_table("Recently closed timers", status.recent, closed=True))
    elif closed:
        out.print("no closed timer yet")


def render_label_studio(out: Console, result: LabelStudioImport) -> None:
    """Time per annotator, then submitted and skipped work with their costs."""
    from rich.markup import escape
    from rich.table import Table

    title = escape(result.file) + (f" (project {escape(result.project)})" if result.project else "")
    table = Table(title=title, title_justify="left")
    for name in ("Annotator", "Submitted", "Hours", "Skipped", "Hours ", "No lead_time"):
        table.add_column(name, justify="left" if name == "Annotator" else "right")
    for a in result.annotators:
        table.add_row(
            escape(a.annotator),
            str(a.submitted),
            f"{a.submitted_s / 3600:,.3f}",
            str(a.skipped),
            f"{a.skipped_s / 3600:,.3f}",
            str(a.without_lead_time),
        )
    out.print(table)
    for cost in result.costs:
        out.print(f"run {escape(cost.run)}: {cost_line(cost)}")
    out.print(
        f"{result.tasks} tasks: {result.submitted} annotations submitted "
        f"({result.submitted_s:,.1f} s), {result.skipped} skipped ({result.skipped_s:,.1f} s, "
        f"billed apart), {result.without_lead_time} without lead_time, "
        f"{result.drafts_ignored} drafts not counted"
    )
    out.print(
        f"{result.appended} new, {result.superseded} corrected, {result.unchanged} unchanged "
        "records"
    )


def render_stopped(out: Console, result: StoppedTimer) -> None:
    """One line: the run, its person-hours and their cost."""
    from rich.markup import escape

    detail = result.run.detail or {}
    hours = result.usage.quantity or 0.0
    out.print(
        f"stopped {escape(result.run.id)}: {hours:,.3f} person-hours "
        f"({result.run.wall_time_s or 0:,.0f} s) by {escape(str(detail.get('annotator')))}, "
        f"task {escape(str(detail.get('task')))}: {cost_line(result.cost)}"
    )


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    """Mount ``import label-studio`` and ``label start|stop|status``."""
    import_app.command("label-studio")(import_label_studio)
    app.add_typer(label_app, name="label")
