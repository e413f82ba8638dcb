"""Command ``receipts tokens count``. Thin: build inputs, call
:func:`probes.tokens.count.count_tokens`, render. Errors are :class:`~ledger.errors.InputError`,
turned into one stderr line and exit code 2 by :class:`~ledger.cli.ErrorHandlingGroup`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli import ErrorHandlingGroup, JsonOpt, LedgerOpt, console, print_json
from ledger.enums import Category
from ledger.errors import InputError

if TYPE_CHECKING:
    from rich.table import Table

    from probes.tokens.count import CountResult

# tokenizers, numpy, pyarrow and the ledger's models are imported inside the command.


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
    from ledger.progress import activity

    # No refresh thread: the counting workers are forked while the display is up.
    with activity("reading the files", unit="bytes", threads=False) as shown:
        result = count_tokens(
            files or [], fields or [], tokenizer, workers=workers, record=target,
            progress=shown.advance, phase=shown.phase,
        )  # fmt: skip
    if as_json:
        print_json(result.as_json())
        return
    out = console()
    out.print(_table(result))
    out.print(footer(result), highlight=False)
    if result.run:
        typer.echo(f"recorded run {result.run}: {len(result.usages)} token usages")


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
    return table


def footer(result: CountResult) -> str:
    """``1,000 records in 3.21 s (tokenizer 1.10 s, counting 2.11 s); <encoder>``: the whole
    wait, the tokenizer's build included, and its parts."""
    from rich.markup import escape

    parts = [f"tokenizer {result.tokenizer_seconds:.2f} s"]
    if result.check_seconds:
        parts.append(f"checking the files {result.check_seconds:.2f} s")
    parts.append(f"counting {result.seconds:.2f} s")
    records = sum(f.records for f in result.files)
    return (
        f"{records:,} records in {result.total_seconds:.2f} s ({', '.join(parts)}); "
        f"{escape(result.encoder)}"
    )


tokens_app = typer.Typer(
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    help="Token counts of datasets, with the exact tokenizer, offline.",
)
tokens_app.command("count")(count)


def register(app: typer.Typer) -> None:
    """Mount ``receipts tokens`` on the top-level app."""
    app.add_typer(tokens_app, name="tokens")
