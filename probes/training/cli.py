"""Command ``receipts import trainer-state``. Thin: call
:func:`probes.training.state.import_trainer_state`, render. Errors are
:class:`~ledger.errors.LedgerError` subclasses, turned into one stderr line and exit code 2 by
:class:`~ledger.cli.ErrorHandlingGroup`. Does not import transformers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli import JsonOpt, LedgerOpt, console
from ledger.enums import Category
from probes.importer_cli import CategoryOpt, CreateOpt, SubjectOpt, cost_line


def import_trainer_state(
    file: Annotated[
        Path,
        typer.Argument(
            help="A Hugging Face trainer_state.json (the output directory's, written by "
            "trainer.save_state(), or a checkpoint's).",
            show_default=False,
        ),
    ],
    subject: SubjectOpt,
    stage: Annotated[str, typer.Option("--stage", help="Pipeline stage, e.g. sft.")] = "sft",
    category: CategoryOpt = Category.FINE_TUNING,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Model name in the flop/ and tokens/ resources. Default: the subject."
        ),
    ] = None,
    gpus: Annotated[
        int | None,
        typer.Option(
            "--gpus",
            help="GPUs the run held (declared, never measured): records "
            "GPUs x train_runtime as declared GPU-hours.",
        ),
    ] = None,
    gpu_model: Annotated[
        str | None,
        typer.Option(
            "--gpu-model", help="Model of the declared GPUs: H100, A100, ... Default: gpu/unknown."
        ),
    ] = None,
    create_subject: CreateOpt = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a Trainer's state file as a reported fine-tuning run, for training not wrapped.

    Records the runtime, steps and epochs, total_flos (the trainer's FLOP estimate) and the
    input tokens it counted where it counted them; GPU-hours only where --gpus declares the
    GPUs (declared provenance, never measured). The whole file is checked before anything is
    written; importing it again adds nothing.
    """
    from rich.markup import escape

    from ledger.store import Ledger
    from probes.training.state import import_trainer_state as run_import

    if gpu_model is not None and gpus is None:
        from ledger.errors import InputError

        raise InputError("--gpu-model: needs --gpus (the number of GPUs the run held)")
    with Ledger(ledger) as store:
        result = run_import(
            store,
            file,
            subject=subject,
            stage=stage,
            category=category,
            model=model,
            gpus=gpus,
            gpu_model=gpu_model,
            create_subject=create_subject,
        )
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    out = console()
    runtime = (
        "unknown (no train_runtime)" if result.runtime_s is None else f"{result.runtime_s:,.1f} s"
    )
    flops = "none" if result.total_flos is None else f"{result.total_flos:.3g}"
    tokens = "not counted" if result.tokens_seen is None else f"{result.tokens_seen:,}"
    out.print(
        f"{escape(result.file)}: run {escape(result.run)}: {result.global_step:,} steps, "
        f"runtime {runtime}, total_flos {flops}, tokens seen {tokens}"
    )
    if gpus is not None:
        hours = "unknown" if result.gpu_hours is None else f"{result.gpu_hours:,.2f}"
        out.print(f"declared GPU-hours: {hours} ({gpus} GPUs, declared, not measured)")
    if result.cost is not None:
        out.print(f"cost: {cost_line(result.cost)}")
    out.print(
        f"{result.appended} new, {result.superseded} corrected, {result.unchanged} unchanged "
        "records"
    )


def register(import_app: typer.Typer) -> None:
    """Mount ``import trainer-state``."""
    import_app.command("trainer-state")(import_trainer_state)
