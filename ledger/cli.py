"""The ledger's commands: ``report``, ``verify``, ``load`` and ``prices``. Thin: build inputs, call
one library function, render. Errors are :class:`~ledger.errors.LedgerError` and are turned into
one line and exit code 2 by :class:`ErrorHandlingGroup`.
"""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from ledger.enums import Unit
from ledger.errors import LedgerError, error_line

if TYPE_CHECKING:
    from rich.console import Console

# Command modules import the heavy parts (SQLAlchemy, pydantic models, rich tables) inside the
# commands, so that `receipts --help` starts fast.

LedgerOpt = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        help="SQLAlchemy URL of the ledger (sqlite:///path.db, postgresql+psycopg://...). "
        "Default: $RECEIPTS_LEDGER, else ledger.db in the user data directory.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]

# click's usage error, whichever click typer uses (its own copy since typer 0.20, click before).
UsageError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)


class ErrorHandlingGroup(TyperGroup):
    """Turns a :class:`LedgerError` (or a subclass from another package) and a usage error (a bad
    or missing option or argument, an unknown command) into one stderr line and exit code 2,
    in place of click's usage box."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            _exit_with(exc)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (LedgerError, UsageError) as exc:
            _exit_with(exc)


def _exit_with(exc: Exception) -> NoReturn:
    if type(exc).__name__ == "NoArgsIsHelpError":
        raise exc  # no arguments at all: click prints the help
    if isinstance(exc, UsageError):
        message = exc.format_message().replace("Value error, ", "")  # type: ignore[attr-defined]
        ctx = getattr(exc, "ctx", None)
        if ctx is not None and ctx.parent is not None:  # name the subcommand
            command = ctx.command_path.partition(" ")[2]
            message = f"{command}: {message} (see '{ctx.command_path} --help')"
        typer.echo(error_line(message), err=True)
    else:
        typer.echo(error_line(exc), err=True)
    raise typer.Exit(2) from None


class By(StrEnum):
    """How ``receipts report`` groups costs."""

    category = "category"
    stage = "stage"
    run = "run"


PIPED_WIDTH = 160
"""Columns of the tables when standard output is not a terminal and ``COLUMNS`` is not set."""


def console() -> Console:
    """Standard output that drops control characters (:class:`~ledger.render.SafeConsole`): a
    value from an input file cannot reach the terminal as an escape sequence. Its width is the
    terminal's; when piped, ``COLUMNS`` where it is set (``COLUMNS=80 receipts audit s1 | less``),
    else :data:`PIPED_WIDTH`."""
    from ledger.render import SafeConsole

    columns = os.environ.get("COLUMNS", "").strip()
    piped = not sys.stdout.isatty()
    width = None if not piped or (columns.isdigit() and int(columns) > 0) else PIPED_WIDTH
    return SafeConsole(width=width)


def print_json(data: Any) -> None:
    """Print JSON (Decimals as numbers)."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(type(value).__name__)

    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=default))


def report(
    subject: Annotated[str, typer.Option("--subject", help="Subject id, e.g. s1-32B.")],
    by: Annotated[By, typer.Option("--by", help="Group by category, stage or run.")] = By.category,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Costs of one subject and its ancestors, as ranges over the price cards: the bottom line,
    the groups with their totals, every usage line with its quantity (tokens, FLOP, person-hours,
    API calls, energy), the gaps and the runs that recorded no GPU time."""
    from ledger.audit import build_report
    from ledger.render import render_report
    from ledger.store import open_for_reading
    from ledger.summary import complete_report

    with open_for_reading(ledger) as store:  # reaps where it can write; read-only media work
        result = complete_report(store, build_report(store, subject, by.value))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        render_report(console(), result)


def verify(
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="A fingerprint an appendix printed: also check that the ledger still contains "
            "that entry unchanged.",
        ),
    ] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            help="A witness file to check the chain against, instead of the one kept for this "
            "ledger's location (a copy of the ledger checked elsewhere).",
        ),
    ] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the hash chain and hold it against the ledger's latest signed checkpoint: exit 0
    when intact, 1 naming the first bad entry. Opens the ledger read-only."""
    from ledger.render import render_verify
    from ledger.store import Ledger

    with Ledger(ledger, reap=False, read_only=True) as store:
        result = store.verify(head, anchor)
    if as_json:
        print_json(result.__dict__)
    else:
        render_verify(console(), result)
    if not result.ok:
        raise typer.Exit(1)


def load(
    file: Annotated[Path, typer.Argument(help="Case file (YAML or JSON), see docs/schema.md.")],
    ledger: LedgerOpt = None,
) -> None:
    """Append a case file (subjects, runs, usages, scopes) to the ledger; reloading adds nothing."""
    from ledger.cases import load_case, record_case
    from ledger.store import Ledger

    case = load_case(file)
    with Ledger(ledger) as store:
        done = record_case(store, case)
    typer.echo(
        f"{case.id}: {done.appended} new, {done.superseded} corrected, {done.unchanged} unchanged"
    )


prices_app = typer.Typer(
    cls=ErrorHandlingGroup, no_args_is_help=True, help="Price cards: list and add."
)


@prices_app.command("list")
def prices_list(
    resource: Annotated[
        str | None, typer.Option("--resource", help="Only resources starting with this.")
    ] = None,
    unit: Annotated[
        Unit | None, typer.Option("--unit", help="Only cards priced in this unit.")
    ] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every price card: bundled ones and those added to the ledger."""
    from ledger.audit import price_book
    from ledger.render import render_prices
    from ledger.store import Ledger

    with Ledger(ledger) as store:
        rows = price_book(store).summary()
    rows = [r for r in rows if resource is None or r["resource"].startswith(resource)]
    rows = [r for r in rows if unit is None or r["unit"] == unit]
    if as_json:
        print_json(rows)
    else:
        render_prices(console(), rows)


@prices_app.command("add")
def prices_add(
    file: Annotated[Path, typer.Argument(help="YAML, JSON or CSV price-card file.")],
    ledger: LedgerOpt = None,
) -> None:
    """Add price cards from a file to the ledger (validated first: all or nothing)."""
    from ledger.prices import load_price_file
    from ledger.store import Ledger

    cards = load_price_file(file)
    with Ledger(ledger) as store:
        done = store.record(cards)
    typer.echo(
        f"{file}: {done.appended} new, {done.superseded} replaced, {done.unchanged} unchanged"
    )


def register(app: typer.Typer) -> None:
    """Mount the ledger's commands on the top-level app."""
    app.command()(report)
    app.command()(verify)
    app.command()(load)
    app.add_typer(prices_app, name="prices")
