"""Command ``receipts funnel``: a subject's curation funnels with the cost of each step. Thin:
read options, call :func:`ledger.funnel.funnel_report`, render. Only formatting here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli import JsonOpt, LedgerOpt, console

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from ledger.enums import Provenance
    from ledger.funnel import FunnelComparison, FunnelReport, FunnelSummary

# SQLAlchemy, pydantic and rich are imported inside the command: `receipts --help` stays fast.


def funnel(
    subject: Annotated[str, typer.Option("--subject", help="Subject id, e.g. s1-32B.")],
    name: Annotated[
        str | None, typer.Option("--funnel", help="Only this funnel (default: every funnel).")
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="Funnel the others are compared with. Default: the one whose steps name the "
            "most runs (the one costs are attached to).",
        ),
    ] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A subject's curation funnels: records in and out, wall time and cost of every step.

    Reads the ledger only: load a case first (`receipts audit s1` for s1-32B).
    """
    from ledger.funnel import funnel_report
    from ledger.store import Ledger

    with Ledger(ledger) as store:
        result = funnel_report(store, subject, funnel=name, reference=reference)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        render_funnels(console(), result)


def register(app: typer.Typer) -> None:
    """Mount ``funnel`` on the top-level app."""
    app.command()(funnel)


# -- rendering ----------------------------------------------------------------------------------


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value:.3f} s"
    return f"{value:,.2f} s" if value < 600 else f"{value / 3600:,.2f} h"


def _signed(value: int) -> str:
    return f"{value:+,}" if value else "same"


def _mark(provenance: Provenance) -> str:
    from ledger.render import MARKERS

    return MARKERS.get(provenance, provenance.value[0].upper())


def _funnel_table(summary: FunnelSummary) -> Table:
    from rich.markup import escape
    from rich.table import Table

    from ledger.costs import INFORMATIONAL_UNITS
    from ledger.render import hours, usd

    table = Table(
        title=f"Funnel {escape(summary.funnel)}: {summary.records_start:,} -> "
        f"{summary.records_final:,} records ({_pct(summary.kept_pct)} kept)",
        title_justify="left",
    )
    for column, justify in (
        ("#", "right"),
        ("step", "left"),
        ("in", "right"),
        ("out", "right"),
        ("kept", "right"),
        ("wall", "right"),
        ("GPU-h", "right"),
        ("low", "right"),
        ("high", "right"),
        ("prov.", "center"),
        ("also", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for s in summary.steps:
        also = [
            f"{line.resource}: {line.quantity:,.6g} {line.unit.value}"
            for line in s.lines
            if line.unit in INFORMATIONAL_UNITS
        ]
        if s.unpriced_lines:
            also.append(f"{s.unpriced_lines} unpriced")
        if s.unquantified:
            also.append(f"{s.unquantified} not quantified")
        if not s.runs:
            also.append("no runs recorded")
        if s.citation:
            also.append(s.citation)
        table.add_row(
            str(s.order),
            escape(s.name),
            _count(s.records_in),
            _count(s.records_out),
            _pct(s.kept_pct),
            _seconds(s.wall_time_s),
            hours(s.gpu_hours),
            usd(s.cost_usd_low),
            usd(s.cost_usd_high),
            f"{_mark(s.provenance)}/{'+'.join(_mark(p) for p in s.cost_provenance) or '—'}",
            escape("; ".join(also)),
        )
    table.add_section()
    table.add_row(
        "",
        "total",
        _count(summary.records_start),
        _count(summary.records_final),
        _pct(summary.kept_pct),
        _seconds(summary.wall_time_s),
        "",
        usd(summary.cost_usd_low),
        usd(summary.cost_usd_high),
        "",
        "",
    )
    return table


def _comparison_table(comparison: FunnelComparison) -> Table:
    from rich.markup import escape
    from rich.table import Table

    ref, other = escape(comparison.reference), escape(comparison.other)
    table = Table(
        title=f"{other} against {ref}: steps aligned on their counts", title_justify="left"
    )
    for column, justify in (
        (ref, "left"),
        ("in", "right"),
        ("out", "right"),
        (other, "left"),
        ("in ", "right"),
        ("out ", "right"),
        ("difference out", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in comparison.rows:
        only = f"only in {other if r.other_name else ref}"
        table.add_row(
            escape(f"{r.reference_order}. {r.reference_name}") if r.reference_name else "(none)",
            _count(r.reference_in),
            _count(r.reference_out),
            escape(f"{r.other_order}. {r.other_name}") if r.other_name else "(none)",
            _count(r.other_in),
            _count(r.other_out),
            only if r.difference_out is None else _signed(r.difference_out),
        )
    return table


def render_funnels(out: Console, report: FunnelReport) -> None:
    """Every funnel of the subject, then the differences between them."""
    from rich.markup import escape

    from ledger.render import LEGEND

    out.print(f"[bold]Curation funnels of {escape(report.subject)}[/bold]")
    for summary in report.funnels:
        out.print(_funnel_table(summary))
    for comparison in report.comparisons:
        out.print(_comparison_table(comparison))
    out.print(
        f"{LEGEND} prov.: of the counts / of the cost. Cost: priced usage of the step's runs; "
        "— where nothing is priced (missing, not zero). Tokens and FLOP are shown, not billed."
    )
    if report.price_cards:
        out.print(f"{len(report.price_cards)} price cards applied (receipts prices list).")
