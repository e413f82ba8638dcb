"""The claims commands: ``check`` and ``baselines list``. Thin: build inputs, call the engine,
render. Bad input raises a :class:`~ledger.errors.LedgerError` subclass that the top-level
:class:`~ledger.cli.ErrorHandlingGroup` turns into one line and exit code 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli import ErrorHandlingGroup, JsonOpt, LedgerOpt, console, print_json

if TYPE_CHECKING:
    from claims.report import ClaimVerdict
    from ledger.store import Ledger

# The engine (numpy, scipy, statsmodels, pydantic models) is imported inside the commands, so
# that `receipts --help` starts fast.

BaselinesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--baselines",
        help="A registry file extending the bundled baselines (repeatable), see docs/claims.md.",
        show_default=False,
    ),
]


def check(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Claim files (YAML or JSON), folders of them, or bundled claim sets (s1, "
            "s1/techcrunch)."
        ),
    ],
    ledger: LedgerOpt = None,
    baselines: BaselinesOpt = None,
    items: Annotated[
        list[Path] | None,
        typer.Option(
            "--items",
            help="Per-item results (repeatable): paired tests where both sides have them.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            help="Seed of the paired bootstrap (default: the engine's fixed seed); stored in "
            "every verdict.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check published claims against the ledger and the baseline registry.

    Exit 0 whatever the verdicts; exit 2 on bad input.
    """
    from claims.engine import DEFAULT_SEED, check_claims
    from claims.files import load_claims
    from claims.items import ChainedItems, LedgerItemResults, load_item_results
    from claims.registry import load_registry
    from claims.render import render_check
    from ledger.store import Ledger

    registry = load_registry(baselines or [])
    loaded = load_claims(files, registry)
    per_item = load_item_results(items or [], registry)
    seed = DEFAULT_SEED if seed is None else seed
    with Ledger(ledger) as store:
        sources = ChainedItems(per_item, LedgerItemResults(store, registry))
        report = check_claims(loaded, registry, store, sources, seed)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        render_check(console(), report)


baselines_app = typer.Typer(
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    help="The baseline registry: published scores with n, protocol and source.",
)


@baselines_app.command("list")
def baselines_list(
    model: Annotated[
        str | None, typer.Option("--model", help="Only this model (id or alias).")
    ] = None,
    benchmark: Annotated[
        str | None, typer.Option("--benchmark", help="Only this benchmark.")
    ] = None,
    baselines: BaselinesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every published score, conflicting values side by side."""
    from claims.registry import baseline_rows, load_registry
    from claims.render import render_baselines

    rows = baseline_rows(load_registry(baselines or []), model, benchmark)
    if as_json:
        print_json([row.model_dump(mode="json") for row in rows])
    else:
        render_baselines(console(), rows)


ClaimsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--claims",
        help="Claim files or folders (repeatable) checked beside the case's bundled claims.",
        show_default=False,
    ),
]


def case_claims(
    case: str | None,
    ledger: Ledger,
    claim_files: Sequence[str] = (),
    baselines: Sequence[Path] = (),
) -> list[ClaimVerdict]:
    """Verdicts of the claims bundled for a case (none where it has no claim set) and of the
    user's claim files, against the bundled registry extended by ``baselines``.

    The claims' own ``case`` fields are loaded (idempotently: a case already in the ledger adds
    nothing), so a claim that also names another subject's case finds it.

    Raises:
        InputError: a claim or registry file is bad.
    """
    from claims.engine import check_claims
    from claims.files import bundled_claim_sets, load_claims
    from claims.items import LedgerItemResults
    from claims.registry import load_registry

    names = [case] if case is not None and case in bundled_claim_sets() else []
    names += list(claim_files)
    if not names:
        return []
    registry = load_registry(baselines)
    loaded = load_claims(names, registry)
    items = LedgerItemResults(ledger, registry)
    return check_claims(loaded, registry, ledger, items).claims


def register(app: typer.Typer) -> None:
    """Mount the claims commands on the top-level app."""
    app.command()(check)
    app.add_typer(baselines_app, name="baselines")
