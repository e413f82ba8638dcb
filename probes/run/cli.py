"""Commands ``receipts run`` (meter any command), ``receipts runs`` (list, reap) and
``receipts ledger merge`` (fold the per-node ledgers of a multi-node run into one). Thin: build
inputs, call :func:`probes.run.wrap.run_command`, :func:`ledger.liveness.reap` or
:func:`ledger.merge.merge_all`, render.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli import ErrorHandlingGroup, JsonOpt, LedgerOpt, console, print_json
from ledger.enums import Category, RunStatus
from probes.errors import WrapperInputError

if TYPE_CHECKING:
    from rich.table import Table

    from ledger.schema import Run

# Heavy imports (SQLAlchemy, the meters) happen inside the commands: `receipts --help` stays fast.


_OPTIONS = {
    "subject": "--subject",
    "stage": "--stage",
    "name": "--name",
    "declared_gpus": "--gpus",
    "declared_gpu_model": "--gpu-model",
}
"""The option of ``receipts run`` behind each :class:`~probes.run.session.RunSpec` field."""


def run(
    command: Annotated[list[str], typer.Argument(help="The command and its arguments, after --.")],
    subject: Annotated[str, typer.Option("--subject", help="Subject id the run belongs to.")],
    stage: Annotated[str, typer.Option("--stage", help="Pipeline stage, e.g. sft, eval.")],
    category: Annotated[Category, typer.Option("--category", help="Cost category.")],
    name: Annotated[str | None, typer.Option("--name", help="Human-readable run name.")] = None,
    gpus: Annotated[
        int | None,
        typer.Option("--gpus", help="Declare an allocation where no GPU can be metered.", min=1),
    ] = None,
    gpu_model: Annotated[
        str | None, typer.Option("--gpu-model", help="Model of the declared GPUs, e.g. H100.")
    ] = None,
    sample_interval: Annotated[
        float, typer.Option("--sample-interval", help="Seconds between GPU samples.", min=0.01)
    ] = 1.0,
    heartbeat: Annotated[
        float, typer.Option("--heartbeat", help="Seconds between heartbeats.", min=0.1)
    ] = 10.0,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            help="Seconds between SIGTERM and SIGKILL for processes the command left running.",
            min=0,
        ),
    ] = 5.0,
    no_meter: Annotated[
        bool,
        typer.Option(
            "--no-meter",
            help="Meter no GPU: the node's GPUs are metered by another run or a Prometheus "
            "import (the run is recorded, with no GPU time of its own).",
        ),
    ] = False,
    ledger: LedgerOpt = None,
) -> None:
    """Run a command as a metered child; exit with its exit code (128+signal for a signal).
    Refuses to start (exit 2) where another run already meters this job's GPUs on this node."""
    from ledger.store import Ledger
    from probes.run.session import RunFieldError, RunSpec
    from probes.run.wrap import run_command

    if (gpus is None) != (gpu_model is None):
        raise WrapperInputError("--gpus and --gpu-model go together")
    if no_meter and gpus is not None:
        raise WrapperInputError(
            "--no-meter and --gpus exclude each other: a run metered elsewhere declares no GPUs"
        )
    try:  # every field checked before the ledger is opened or the command started
        spec = RunSpec(
            subject=subject,
            stage=stage,
            category=category,
            name=name,
            command=command,
            working_dir=os.getcwd(),
            declared_gpus=gpus,
            declared_gpu_model=gpu_model,
        )
    except RunFieldError as exc:
        option = _OPTIONS.get(exc.field)
        if option is None:
            raise
        raise WrapperInputError(f"{option}: {exc.problem}") from None
    with Ledger(ledger) as store:  # an unwritable ledger fails here, before the child starts
        code = run_command(
            store,
            spec,
            command,
            sample_interval_s=sample_interval,
            heartbeat_s=heartbeat,
            grace_s=grace,
            meter_gpus=not no_meter,
        )
    raise typer.Exit(code)


def runs(
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject.")] = None,
    status: Annotated[RunStatus | None, typer.Option("--status", help="Only this status.")] = None,
    do_reap: Annotated[
        bool, typer.Option("--reap", help="Close runs whose wrapper died, first.")
    ] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List runs; nodes of one job (same job id and stage) are shown as one logical run."""
    from ledger.liveness import reap
    from ledger.store import Ledger

    with Ledger(ledger, reap=False, read_only=not do_reap) as store:
        closed = reap(store) if do_reap else []
        found = [r for r in store.runs(subject) if status is None or r.status is status]
    if as_json:
        print_json(
            {
                "reaped": [r.id for r in closed],
                "runs": [r.model_dump(mode="json", exclude_none=True) for r in found],
            }
        )
        return
    for r in closed:
        typer.echo(f"reaped {r.id}: interrupted at its last heartbeat")
    console().print(_runs_table(found))


def _runs_table(found: list[Run]) -> Table:
    from rich.table import Table

    from ledger.render import hours

    table = Table(title="Runs", title_justify="left")
    for column in ("run", "subject", "stage", "status", "started (UTC)", "wall", "nodes", "exit"):
        table.add_column(column)
    jobs: dict[tuple[str, str], list[Run]] = {}
    for r in found:
        key = (f"job {r.job_id}", r.stage) if r.job_id else (r.id, r.stage)
        jobs.setdefault(key, []).append(r)
    for (label, stage), members in jobs.items():
        first = members[0]
        statuses = sorted({m.status.value for m in members})
        wall = max((m.wall_time_s or 0.0) for m in members)
        table.add_row(
            label,
            first.subject,
            stage,
            "/".join(statuses),
            first.started_at.strftime("%Y-%m-%d %H:%M:%S") if first.started_at else "",
            f"{hours(wall)} s" if wall else "",
            str(len(members)),
            ",".join(str(m.exit_code) for m in members if m.exit_code is not None),
        )
    return table


ledger_app = typer.Typer(cls=ErrorHandlingGroup, no_args_is_help=True, help="Ledger maintenance.")


@ledger_app.command("merge")
def merge_command(
    sources: Annotated[list[str], typer.Argument(help="Ledger files or URLs to merge.")],
    into: Annotated[str, typer.Option("--into", help="The ledger file or URL to merge into.")],
) -> None:
    """Merge per-node ledgers into one, all or none; merging the same file twice changes nothing.
    A run that measured a job's GPUs on a node the target (or an earlier source) already has
    measured over the same time is refused."""
    from ledger.merge import merge_all
    from ledger.store import Ledger

    def url(text: str) -> str:
        return text if "://" in text else f"sqlite:///{Path(text).resolve()}"

    for source in sources:
        if "://" not in source and not Path(source).exists():
            raise WrapperInputError(f"{source}: no such ledger file")
    with Ledger(url(into), reap=False) as target:
        for done in merge_all(target, [url(source) for source in sources]):
            typer.echo(
                f"{done.source}: {done.copied} copied, {done.already_present} already present"
            )
        check = target.verify()
    typer.echo(f"{into}: {check.entries} entries, head {check.head_hash}")


def register(app: typer.Typer) -> None:
    """Mount ``run``, ``runs`` and ``ledger merge`` on the top-level app."""
    app.command(
        context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True}
    )(run)
    app.command()(runs)
    app.add_typer(ledger_app, name="ledger")
