"""The claims commands: ``check`` and ``baselines list``. Thin: build inputs, call the engine,
render. Bad input raises a :class:`~ledger.errors.LedgerError` subclass that the top-level
:class:`~ledger.cli.ErrorHandlingGroup` turns into one line and exit code 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli import ErrorHandlingGroup, JsonOpt, LedgerOpt, console, print_json

if TYPE_CHECKING:
    from rich.console import Console

    from claims.report import BaselineRow, ClaimVerdict
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
    out: Annotated[
        list[Path] | None,
        typer.Option(
            "--out",
            help="Also write a verdict card (repeatable): card.html, one self-contained page, "
            "or card.png; several claims write <stem>-<claim>.<suffix> each. The directory "
            "must exist.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check published claims against the ledger and the baseline registry.

    Exit 0 whatever the verdicts; exit 2 on bad input.
    """
    for path in out or []:
        check_card_path(path)  # before the ledger is touched
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
    if out:
        write_cards(report.claims, out, err=as_json)


def check_card_path(path: Path) -> None:
    """A card's output path: a known suffix, in an existing directory.

    Raises:
        ClaimInputError: another suffix, or a missing directory.
    """
    from claims.card import CARD_SUFFIXES
    from claims.errors import ClaimInputError

    if path.suffix.lower() not in CARD_SUFFIXES:
        raise ClaimInputError(
            f"--out {path}: a card is written as .html or .png, not {path.suffix or 'no suffix'!r}"
        )
    if not path.parent.is_dir():
        raise ClaimInputError(f"--out {path}: directory {path.parent} does not exist")
    if path.is_dir():
        raise ClaimInputError(f"--out {path} is a directory: name a file, e.g. card.html")


def write_cards(claims: Sequence[ClaimVerdict], outs: Sequence[Path], *, err: bool) -> None:
    """Render every card first, then write each file atomically."""
    from claims.card import card_paths, render_card_html, render_card_png, write_card

    files: dict[Path, bytes] = {}
    for out in outs:
        for path, claim in card_paths(out, claims):
            png = path.suffix.lower() == ".png"
            files[path] = render_card_png(claim) if png else render_card_html(claim).encode()
    for path, data in files.items():
        write_card(path, data)
        typer.echo(f"wrote {path}", err=err)


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
    origin: Annotated[
        str | None,
        typer.Option("--origin", help="Only scores of this origin: developer, cited, independent."),
    ] = None,
    baselines: BaselinesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every published score, grouped by model, conflicting values side by side."""
    from claims.errors import ClaimInputError, nearest
    from claims.registry import baseline_rows, load_registry
    from claims.schema import Origin

    origins = [o.value for o in Origin]
    if origin is not None and origin not in origins:
        close = nearest(origin, origins)
        hint = f" (nearest: {', '.join(close)})" if close else ""
        raise ClaimInputError(
            f"--origin: unknown origin {origin!r}{hint}; choose from {', '.join(origins)}"
        )
    registry = load_registry(baselines or [])
    rows = baseline_rows(registry, model, benchmark)
    rows = [r for r in rows if origin is None or r.origin == origin]
    if as_json:
        print_json([row.model_dump(mode="json") for row in rows])
    else:
        names = {m: e.name for m, e in registry.models.items()}
        render_baseline_groups(console(), rows, names)


WIDE_COLUMNS = 120
"""From this width the baselines are one column per field; below it, protocol and origin share a
column, and source and notes another."""


def render_baseline_groups(
    out: Console, rows: Sequence[BaselineRow], names: Mapping[str, str]
) -> None:
    """One table per model (its heading names it), benchmarks in turn, every name whole: long
    words fold onto the next line, nothing is cut."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    if not rows:
        out.print("no published score matches")
        return
    wide = out.width >= WIDE_COLUMNS
    models = list(dict.fromkeys(r.model for r in rows))
    count = f"{len(rows)} score{'s' * (len(rows) != 1)} of {len(models)} model"
    out.print(f"Published scores (baseline registry): {count}{'s' * (len(models) != 1)}")
    for model in models:
        mine = [r for r in rows if r.model == model]
        title = model if names.get(model, model) == model else f"{model} ({names[model]})"
        table = Table(title=escape(title), title_justify="left", title_style="bold", expand=False)
        table.add_column("benchmark", overflow="fold")
        table.add_column("score", justify="right", no_wrap=True)
        table.add_column("n", justify="right", no_wrap=True)
        if wide:
            for name in ("protocol", "origin", "source", "notes"):
                table.add_column(name, overflow="fold")
        else:
            table.add_column("protocol / origin", overflow="fold")
            table.add_column("source / notes", overflow="fold")
        for index, r in enumerate(mine):
            last = index + 1 == len(mine) or mine[index + 1].benchmark != r.benchmark
            first = index == 0 or mine[index - 1].benchmark != r.benchmark
            source = f"{r.source} {r.location}" + (
                f" (from {r.cited_from})" if r.cited_from else ""
            )
            notes = _baseline_notes(r)
            score = ["—" if r.n is None else str(r.n)]
            cells: list[str | Text] = [Text(r.benchmark if first else ""), f"{r.value_pct:.1f}"]
            if wide:
                cells += [*score, Text(r.protocol), r.origin, Text(source), Text(notes)]
            else:
                pair = Text(r.protocol)
                pair.append(f"\n{r.origin}", style="dim")
                cited = Text(source)
                if notes:
                    cited.append(f"\n{notes}", style="dim")
                cells += [*score, pair, cited]
            table.add_row(*cells, end_section=last)
        out.print(table)


def _baseline_notes(r: BaselineRow) -> str:
    flags = []
    if r.preferred:
        flags.append("used by verdicts")
    if r.setting:
        flags.append(r.setting)
    if r.other_values_pct:
        flags.append("conflicts: " + ", ".join(f"{v:.1f}" for v in r.other_values_pct))
    return "; ".join(flags)


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
