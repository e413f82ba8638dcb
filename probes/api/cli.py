"""Command ``receipts import api-log``. Thin: build inputs, call
:func:`probes.api.log.import_api_log`, render. Errors are :class:`~ledger.errors.LedgerError`
subclasses, turned into one stderr line and exit code 2 by :class:`~ledger.cli.ErrorHandlingGroup`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli import JsonOpt, LedgerOpt, console
from ledger.enums import Category
from probes.importer_cli import CategoryOpt, CreateOpt, SubjectOpt, cost_line

if TYPE_CHECKING:
    from rich.console import Console

    from probes.api.log import ApiLogImport

# Heavy imports (pydantic models, SQLAlchemy) happen inside the commands: `receipts --help` stays
# fast.


def import_api_log(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSONL, one API response a line: an OpenAI chat completion or Responses API "
            'response, an Anthropic message or a Gemini response, as JSON, or {"response": ..., '
            '"model": ...}.',
            show_default=False,
        ),
    ],
    subject: SubjectOpt,
    stage: Annotated[str, typer.Option("--stage", help="Pipeline stage, e.g. traces.")] = "api",
    category: CategoryOpt = Category.DATA,
    create_subject: CreateOpt = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import logged LLM-API usage: one reported run per file, tokens per model, priced by cards.

    Uncached and cached input, cache writes, output and thinking tokens are counted apart, each
    once. A model without a card, or a response without usage, is recorded and listed as unpriced
    by `receipts report`, never as 0. The whole file is checked before anything is written;
    importing it again adds nothing, and a log that grew adds only its new lines.
    """
    from ledger.progress import activity
    from ledger.store import Ledger
    from probes.api.log import import_api_log as run_import

    with Ledger(ledger) as store, activity(f"reading {file.name}", unit="lines") as shown:
        result = run_import(
            store,
            file,
            subject=subject,
            stage=stage,
            category=category,
            create_subject=create_subject,
            progress=shown.advance,
        )
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        render_api_log(console(), result, subject)


def render_api_log(out: Console, result: ApiLogImport, subject: str) -> None:
    """The imported calls per model as a table, then the run's cost and the record counts."""
    from rich.markup import escape
    from rich.table import Table

    if result.already_imported:
        out.print(
            f"{escape(result.file)}: already imported as run "
            f"{escape(result.already_imported)}: nothing added"
        )
        return
    if result.run is None:
        out.print(f"{escape(result.file)}: no new lines since run {escape(result.continues or '')}")
        return
    lines = f"lines {result.first_line}-{result.last_line}"
    if result.continues:
        lines += f", after run {escape(result.continues)}"
    table = Table(title=f"{escape(result.file)} ({lines})", title_justify="left")
    for name in ("Resource", "Card", "Calls", "Input", "Cached", "Cache write", "Output",
                 "Thinking"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("Resource", "Card") else "right")
    for m in result.models:
        write = m.cache_write_tokens + m.cache_write_1h_tokens
        calls = f"{m.calls:,}"
        if m.calls_without_usage:
            calls += f" ({m.calls_without_usage:,} without usage)"
        table.add_row(
            escape(m.resource),
            m.price_match,
            calls,
            f"{m.input_tokens:,}",
            f"{m.cached_input_tokens:,}",
            f"{write:,}",
            f"{m.output_tokens:,}",
            f"{m.thinking_tokens:,}",
        )
    out.print(table)
    if result.cost is not None:
        out.print(f"run {escape(result.run)}: {cost_line(result.cost)}")
    for m in result.models:
        if m.unaccounted_tokens:
            out.print(
                f"{escape(m.resource)}: the responses' totals exceed the counted parts by "
                f"{m.unaccounted_tokens:,} tokens, which are not priced"
            )
    out.print(
        f"{result.appended} new, {result.superseded} corrected, {result.unchanged} unchanged "
        f"records; costs by run: receipts report --subject {escape(subject)} --by run"
    )


def register(import_app: typer.Typer) -> None:
    """Mount ``import api-log``."""
    import_app.command("api-log")(import_api_log)
