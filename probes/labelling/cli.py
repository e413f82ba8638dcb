"""Commands ``receipts import label-studio`` and ``receipts label start|stop``. Thin: build inputs,
call :mod:`probes.labelling.label_studio` or :mod:`probes.labelling.timer`, render. Errors are
:class:`~ledger.errors.LedgerError` subclasses, turned into one stderr line and exit code 2 by
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

    from probes.labelling.schema import LabelStudioImport, StoppedTimer

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
    from ledger.store import Ledger
    from probes.labelling.label_studio import import_label_studio as run_import
    from probes.labelling.label_studio import read_label_studio

    export = read_label_studio(file)
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
    """Mount ``import label-studio`` and ``label start|stop``."""
    import_app.command("label-studio")(import_label_studio)
    app.add_typer(label_app, name="label")
