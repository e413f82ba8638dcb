"""Mounts the probes' commands: each package registers its own (``run``, ``runs`` and ``ledger
merge``; the ``import`` group and its importers; ``reconcile``, ``label``, ``funnel``, ``tokens``
and ``eval``). Every command module keeps its heavy imports inside the commands, so that
``receipts --help`` stays fast.
"""

from __future__ import annotations

import typer

from ledger.cli import ErrorHandlingGroup

import_app = typer.Typer(
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    help="Import usage and results that other tools recorded (Slurm, Prometheus, API logs, "
    "Label Studio, lm-evaluation-harness, Hugging Face trainer states).",
)


def register(app: typer.Typer) -> None:
    """Mount the probes' commands on the top-level app, in the order ``receipts --help`` lists
    them."""
    from probes.api import cli as api_cli
    from probes.evals import cli as evals_cli
    from probes.funnel import cli as funnel_cli
    from probes.labelling import cli as labelling_cli
    from probes.prometheus import cli as prometheus_cli
    from probes.run import cli as run_cli
    from probes.slurm import cli as slurm_cli
    from probes.tokens import cli as tokens_cli
    from probes.training import cli as training_cli

    run_cli.register(app)
    app.add_typer(import_app, name="import")
    slurm_cli.register(import_app, app)
    prometheus_cli.register(import_app)
    api_cli.register(import_app)
    training_cli.register(import_app)
    labelling_cli.register(app, import_app)
    funnel_cli.register(app)
    tokens_cli.register(app)
    evals_cli.register(app, import_app)
