"""Commands ``receipts import sacct`` and ``receipts reconcile``. Thin: build inputs, call
:mod:`probes.slurm`, render. Errors are :class:`~ledger.errors.LedgerError` subclasses, turned into
one stderr line and exit code 2 by the top-level :class:`~ledger.cli.ErrorHandlingGroup`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli import JsonOpt, LedgerOpt, console
from ledger.enums import Category

if TYPE_CHECKING:
    from rich.console import Console

    from probes.slurm import ImportResult, Reconciliation

# The parsers, the store and rich are imported inside the commands: `receipts --help` stays fast.


def import_sacct(
    file: Annotated[
        Path,
        typer.Argument(
            help="A `sacct -P` export (pipe-separated, with its header; `-p` works too) or a "
            "`sacct --json` export. Export with --duplicates, so that every attempt of a requeued "
            "job is counted. Fields: JobIDRaw (JobID alone will do where no line is an array task "
            "or a heterogeneous job's component), State, ElapsedRaw, AllocTRES and Start; also "
            "JobID, JobName, End, ExitCode, NNodes, NodeList, Partition, Account, Cluster.",
            show_default=False,
        ),
    ],
    subject: Annotated[str, typer.Option("--subject", help="Subject the runs belong to.")],
    stage: Annotated[str, typer.Option("--stage", help="Pipeline stage, e.g. sft.")],
    category: Annotated[Category, typer.Option("--category", help="Cost category of the runs.")],
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="Cluster name in the run ids. Default: the export's Cluster field, else 'slurm'. "
            "Give the same name for every export of one cluster.",
        ),
    ] = None,
    timezone: Annotated[
        str,
        typer.Option(
            "--timezone",
            help="IANA time zone of the Start and End times of `sacct -P`, which are local times "
            "without a zone (e.g. Europe/Berlin). JSON exports carry Unix times and ignore it.",
        ),
    ] = "UTC",
    gpu_model: Annotated[
        str | None,
        typer.Option(
            "--gpu-model",
            help="Model of GPUs that AllocTRES does not type (gres/gpu=4): H100, A100, ... "
            "Default: gpu/unknown. Typed gres (gres/gpu:h100=8) always names its model.",
        ),
    ] = None,
    create_subject: Annotated[
        bool,
        typer.Option("--create-subject", help="Create a bare subject (id and name) if missing."),
    ] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import Slurm accounting: one reported run per job attempt, with its allocated GPU-hours.

    GPU-hours = allocated GPUs x ElapsedRaw of the allocation; steps overlap it and are not added.

    The whole file is checked before anything is written; importing it again adds nothing.
    """
    from ledger.progress import activity
    from ledger.store import Ledger
    from probes import slurm

    with activity(f"reading {file.name}") as shown:
        export = slurm.read_sacct(file, timezone)
        shown.phase("recording the job attempts")
        with Ledger(ledger) as store:
            result = slurm.import_sacct(
                store,
                export,
                subject=subject,
                stage=stage,
                category=category,
                cluster=cluster,
                gpu_model=gpu_model,
                create_subject=create_subject,
            )
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        render_import(console(), result)


def reconcile(
    job: Annotated[
        str, typer.Option("--job", help="Slurm job id (JobIDRaw; SLURM_JOB_ID inside the job).")
    ],
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Slurm's GPU-hours for one job beside the probes' allocated and busy GPU-hours (the
    wrapper's, and those metered from Prometheus), explained."""
    from ledger.store import Ledger
    from probes import slurm

    with Ledger(ledger) as store:
        result = slurm.reconcile(store, job)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        render_reconciliation(console(), result)


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def render_import(out: Console, result: ImportResult) -> None:
    """The imported attempts as a table, then the totals and what was skipped."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{escape(result.file)} ({result.format})", title_justify="left")
    for name, justify in (
        ("Job", "left"),
        ("Name", "left"),
        ("State", "left"),
        ("Status", "left"),
        ("Start (UTC)", "left"),
        ("Elapsed s", "right"),
        ("Nodes", "left"),
        ("GPUs", "right"),
        ("Resource", "left"),
        ("GPU-hours", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for run in result.runs:
        resources: dict[str, float | None] = {**run.gpu_hours} or {"—": None}
        for index, (resource, hours) in enumerate(resources.items()):
            first = index == 0
            table.add_row(
                escape(run.display_id) if first else "",
                escape(run.name) if first else "",
                escape(run.state) if first else "",
                run.status.value if first else "",
                f"{run.started_at:%Y-%m-%d %H:%M:%S}" if first else "",
                str(run.elapsed_s) if first else "",
                escape(run.nodes or "—") if first else "",
                str(run.gpus) if first else "",
                escape(resource),
                _hours(hours),
            )
    out.print(table)
    out.print(
        f"{len(result.runs)} runs, {result.gpu_hours:,.2f} GPU-hours: {result.appended} new, "
        f"{result.superseded} corrected, {result.unchanged} unchanged records"
    )
    for skip in result.skipped:
        out.print(f"skipped {escape(skip.job)} ({escape(skip.where)}): {escape(skip.reason)}")


def render_reconciliation(out: Console, result: Reconciliation) -> None:
    """Both sides of one job in a table, then the reasons they differ."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Slurm job {escape(result.job_id)}", title_justify="left")
    for name, justify in (
        ("", "left"),
        ("GPU-hours", "right"),
        ("runs", "right"),
        ("nodes", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    nodes = ", ".join(result.slurm_nodes) or "—"
    hosts = ", ".join(result.probe_hosts) or "—"
    table.add_row(
        "Slurm allocation (sacct, reported)",
        _hours(result.slurm_gpu_hours),
        str(len(result.slurm_runs)),
        escape(nodes),
    )
    table.add_row(
        "Probes, allocated (measured)",
        _hours(result.probe_gpu_hours),
        str(len(result.probe_runs)),
        escape(hosts),
    )
    table.add_row("Probes, busy (measured)", _hours(result.probe_busy_gpu_hours), "", "")
    table.add_row("Difference (Slurm − probes)", _hours(result.difference_gpu_hours), "", "")
    if result.prometheus_runs:
        table.add_row(
            "Prometheus DCGM, allocated (measured)",
            _hours(result.prometheus_gpu_hours),
            str(len(result.prometheus_runs)),
            escape(", ".join(result.prometheus_hosts) or "—"),
        )
        table.add_row(
            "Prometheus DCGM, busy (measured)", _hours(result.prometheus_busy_gpu_hours), "", ""
        )
        table.add_row(
            "Difference (Slurm − Prometheus)",
            _hours(result.prometheus_difference_gpu_hours),
            "",
            "",
        )
    out.print(table)
    for line in result.explanation:
        out.print(f"- {escape(line)}")


def register(import_app: typer.Typer, app: typer.Typer) -> None:
    """Mount ``sacct`` on the ``import`` sub-app and ``reconcile`` on the top-level app."""
    import_app.command("sacct")(import_sacct)
    app.command("reconcile")(reconcile)
