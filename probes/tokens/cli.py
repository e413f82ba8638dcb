"""Command ``receipts tokens count``. Thin: build inputs, call
:func:`probes.tokens.count.count_tokens`, render. Errors are :class:`~ledger.errors.InputError`,
turned into one stderr line and exit code 2 by :class:`~ledger.cli.ErrorHandlingGroup`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli import ErrorHandlingGroup, JsonOpt, LedgerOpt, console, print_json
from ledger.enums import Category
from ledger.errors import InputError

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.table import Table

    from probes.tokens.count import CountResult

# tokenizers, numpy, pyarrow and the ledger's models are imported inside the command.

PROGRESS_MIN_BYTES = 1 << 20
"""Inputs smaller than this finish before a progress bar would help."""


def count(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="JSONL, JSON (an array of objects), CSV (with a header) or parquet files.",
            show_default=False,
        ),
    ] = None,
    fields: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="A top-level text field to count; repeat for more. A list of strings counts as "
            "the sum of its strings.",
            show_default=False,
        ),
    ] = None,
    tokenizer: Annotated[
        str,
        typer.Option(
            "--tokenizer",
            help="'qwen2.5' (built in, exact, offline) or a local Hugging Face tokenizer "
            "directory. Nothing is downloaded.",
        ),
    ] = "qwen2.5",
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Processes to count with. Default: every core."),
    ] = None,
    record: Annotated[
        bool,
        typer.Option("--record", help="Store the totals as measured token usages of a new run."),
    ] = False,
    subject: Annotated[
        str | None, typer.Option("--subject", help="With --record: the subject, e.g. s1-32B.")
    ] = None,
    stage: Annotated[
        str | None, typer.Option("--stage", help="With --record: the stage, e.g. curation.")
    ] = None,
    category: Annotated[
        Category, typer.Option("--category", help="With --record: the cost category.")
    ] = Category.DATA,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Count the tokens of text fields: total, mean, median, p95 and max per file and field.

    Counts are exact: those of the tokenizer with no BOS/EOS added and special-token strings
    in the data read as plain text. Every file is checked before anything is recorded.
    """
    from probes.tokens.count import RecordTo, count_tokens

    target = None
    if record:
        if not subject or not stage:
            raise InputError("--record needs --subject and --stage")
        target = RecordTo(ledger, subject, stage, category.value)
    elif subject or stage:
        raise InputError("--subject and --stage only go with --record")
    bar = _ProgressBar()
    try:
        result = count_tokens(
            files or [], fields or [], tokenizer, workers=workers, record=target, progress=bar
        )
    finally:
        bar.stop()
    if as_json:
        print_json(result.as_json())
        return
    console().print(_table(result))
    if result.run:
        typer.echo(f"recorded run {result.run}: {len(result.usages)} token usages")


class _ProgressBar:
    """A rich bar on stderr, only when stderr is a terminal and the input is large. It has no
    refresh thread (it redraws when told), so the counting workers can be forked at any time."""

    def __init__(self) -> None:
        self.bar: RichProgress | None = None
        self.shown = 0.0

    def __call__(self, done: int, total: int) -> None:
        if total < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
            return
        if self.bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.bar = Progress(
                "counting tokens",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                auto_refresh=False,
                transient=True,
            )
            self.bar.add_task("count", total=total)
            self.bar.start()
        self.bar.update(self.bar.task_ids[0], completed=done)
        if time.monotonic() - self.shown > 0.1 or done >= total:
            self.bar.refresh()
            self.shown = time.monotonic()

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _table(result: CountResult) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Tokens ({escape(result.tokenizer)})", title_justify="left")
    table.add_column("file")
    table.add_column("field")
    for column in ("records", "total", "mean", "median", "p95", "max"):
        table.add_column(column, justify="right")
    rows = [(f.file, s) for f in result.files for s in f.fields]
    if len(result.files) > 1:
        rows += [("all files", s) for s in result.combined()]
    for file, s in rows:
        table.add_row(
            escape(file),
            escape(s.field),
            f"{s.records:,}",
            f"{s.total:,}",
            f"{s.mean:,.1f}",
            f"{s.median:,.1f}",
            f"{s.p95:,.1f}",
            f"{s.max:,}",
        )
    table.caption = f"{result.encoder}; {result.seconds:.2f} s"
    return table


tokens_app = typer.Typer(
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    help="Token counts of datasets, with the exact tokenizer, offline.",
)
tokens_app.command("count")(count)


def register(app: typer.Typer) -> None:
    """Mount ``receipts tokens`` on the top-level app."""
    app.add_typer(tokens_app, name="tokens")
