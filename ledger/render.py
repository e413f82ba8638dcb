"""Terminal rendering of ledger results with rich. Only formatting here: no arithmetic."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from ledger.money import usd, usd_range
from ledger.names import TOKEN_ROLES, category_name, unit_name
from ledger.printable import has_controls, printable
from ledger.render_bases import render_bases
from ledger.report import (
    Audit,
    BottomLine,
    CostGroup,
    CostLine,
    CostReport,
    QuietRun,
    ReportTotal,
    ScopeCost,
    Unpriced,
)
from ledger.schema import Provenance, Unit
from ledger.verify import VerifyResult


class SafeConsole(Console):
    """A rich console that drops the control characters of every piece of text it renders
    (:func:`ledger.printable.printable`), so text from an input file cannot send a terminal
    escape sequence. Its own styles and cursor moves are added after this and are kept."""

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterator[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and has_controls(segment.text):
                yield Segment(printable(segment.text), segment.style)
            else:
                yield segment


MARKERS = {
    Provenance.MEASURED: "M",
    Provenance.REPORTED: "R",
    Provenance.ESTIMATED: "E",
    Provenance.DECLARED: "D",
}
LEGEND = (
    "Provenance: M measured, R reported (cited), E estimated (formula and range stored), "
    "D declared by the user (not measured)."
)


def number(value: float) -> str:
    """``6.93``, ``477``, ``1,120``, ``1.97M``, ``7.00e+18``: readable at a glance; a whole
    count stays whole (``2``, not ``2.00``)."""
    if value >= 1e12:
        return f"{value:.2e}"
    if value >= 1_000_000:
        return f"{value / 1_000_000:,.2f}M"
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def hours(
    central: float | None,
    low: float | None = None,
    high: float | None = None,
    *,
    stacked: bool = False,
) -> str:
    """GPU-hours, with the range where it is one (below it, ``stacked``, for narrow tables)."""
    if central is None:
        return "—"
    text = number(central)
    if low is not None and high is not None and (low != central or high != central):
        text += f"{chr(10) if stacked else ' '}({number(low)}–{number(high)})"
    return text


def markers(provenance: Sequence[Provenance]) -> str:
    """``R+E`` for a group mixing reported and estimated lines."""
    return "+".join(MARKERS[p] for p in provenance)


def _numbers(table: Table, *names: str) -> None:
    """Right-aligned columns that never wrap: a deciding number is never cut or split."""
    for name in names:
        table.add_column(name, justify="right", no_wrap=True)


def _low_high(
    low: Decimal | None, high: Decimal | None, priced: bool, upper_bound_only: bool
) -> tuple[str, str]:
    """The "low" and "high" cells: dashes where nothing is priced; for money published only as
    an upper bound ("under $500"), a dash for the unknown low end and "up to" before the high."""
    if not priced:
        return "—", "—"
    if upper_bound_only:
        return "—", usd_range(low, high, upper_bound_only=True)
    return usd(low), usd(high)


def _group_name(by: str, group: CostGroup) -> str:
    if by == "category" and group.category is not None:
        return category_name(group.category, group.inherited)
    return group.key


def _groups_table(
    title: str, first: str, groups: Sequence[CostGroup], totals: Sequence[ReportTotal] = ()
) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(first, ratio=3, overflow="fold")
    _numbers(table, "GPU-hours", "low", "high")
    table.add_column("prov.", justify="center", no_wrap=True)
    table.add_column("notes", ratio=2)
    for g in groups:
        flags = []
        if g.inherited and first != "category":
            flags.append("inherited")
        if g.unpriced_lines:
            flags.append(f"{g.unpriced_lines} unpriced")
        priced = any(line.cost_usd_low is not None for line in g.lines)
        table.add_row(
            _group_name(first, g),
            hours(g.gpu_hours, g.gpu_hours_low, g.gpu_hours_high, stacked=True),
            *_low_high(g.cost_usd_low, g.cost_usd_high, priced, g.upper_bound_only),
            markers(g.provenance),
            ", ".join(flags),
            end_section=g is groups[-1],
        )
    for t in totals:
        table.add_row(
            t.label,
            hours(t.gpu_hours, t.gpu_hours_low, t.gpu_hours_high, stacked=True),
            usd(t.cost_usd_low),
            usd(t.cost_usd_high),
            "",
            f"+ {t.unpriced_lines} unpriced (missing, not zero)" if t.unpriced_lines else "",
            style="bold",
        )
    return table


def _scopes_table(scopes: Sequence[ScopeCost]) -> Table:
    table = Table(title="Scopes: what a dollar figure may be counting", title_justify="left")
    table.add_column("scope: what it counts, what it misses", ratio=1)
    _numbers(table, "GPU-hours", "low", "high")
    for s in scopes:
        notes = [", ".join(category_name(c) for c in s.categories)]
        if s.include_inherited:
            notes[0] += " + inherited"
        if s.unquantified:
            notes.append(f"{s.unquantified} not quantified")
        if s.unpriced_lines:
            notes.append(f"{s.unpriced_lines} unpriced")
        priced = bool(s.cost_usd_high) or len(notes) == 1
        table.add_row(
            Text.assemble(s.label, "\n", (f"({'; '.join(notes)})", "dim")),
            hours(s.gpu_hours, s.gpu_hours_low, s.gpu_hours_high, stacked=True),
            *_low_high(s.cost_usd_low, s.cost_usd_high, priced, s.upper_bound_only),
        )
    return table


def _unpriced_table(items: Sequence[Unpriced]) -> Table:
    table = Table(title="Not priced or not quantified (missing, not zero)", title_justify="left")
    table.add_column("run", ratio=2, overflow="fold")
    table.add_column("resource", ratio=1, overflow="fold")
    table.add_column("quantity", justify="right", no_wrap=True)
    table.add_column("why", ratio=3, overflow="fold")
    table.add_column("source", ratio=2, overflow="fold")
    for u in items:
        quantity = "—" if u.quantity is None else f"{number(u.quantity)} {unit_name(u.unit)}"
        table.add_row(
            Text(u.run), Text(u.resource), quantity, Text(u.reason), Text(u.citation or "")
        )
    return table


def render_bottom_line(console: Console, line: BottomLine) -> None:
    """The bottom line: its sentences, then one line per claim; wrapped at word boundaries, so
    a figure is never split."""
    for sentence in line.sentences:
        console.print(Text(sentence), overflow="fold")
    if line.verdicts:
        console.print(Text("Claims checked:", style="bold"))
        for v in line.verdicts:
            console.print(Text.assemble("• ", (v.text, VERDICT_STYLES.get(v.verdict, ""))))
    console.print()


VERDICT_STYLES = {
    "supported": "green",
    "misleading": "yellow",
    "not_supported": "bold red",
    "inconclusive": "cyan",
    "unverifiable": "magenta",
}
"""Colour of a verdict (:class:`claims.report.Verdict` values), the same in every table."""


def _headline_table(audit: Audit) -> Table:
    table = Table(title="Published figures against the scope they describe", title_justify="left")
    table.add_column("figure", justify="right", no_wrap=True)
    table.add_column("said by", ratio=1, overflow="fold")
    _numbers(table, "scope range", "implied $/h", "cards $/h")
    for h in audit.headline_figures:
        table.add_row(
            usd(h.usd),
            Text(h.said_by),
            usd_range(
                h.scope_cost_usd_low,
                h.scope_cost_usd_high,
                upper_bound_only=h.scope_upper_bound_only,
            )
            + f"\n{h.position} it"
            if h.scope_cost_usd_high
            else "not priced",
            usd(h.implied_usd_per_gpu_hour),
            usd_range(h.card_usd_per_gpu_hour_low, h.card_usd_per_gpu_hour_high),
        )
    return table


def render_audit(console: Console, audit: Audit, bottom: BottomLine | None = None) -> None:
    """The s1-style audit: the bottom line first, then categories, scopes, each scope on the
    rental and owned price bases with its energy and CO2e, published figures, gaps."""
    console.print(Text(audit.title, style="bold"))
    if bottom is not None:
        render_bottom_line(console, bottom)
    console.print(f"Subject {audit.subject}; lineage {' <- '.join(audit.lineage)}")
    console.print(_groups_table("Cost by category", "category", audit.categories))
    console.print(_scopes_table(audit.scopes))
    if audit.bases is not None:
        render_bases(console, audit.bases, {s.scope for s in audit.scopes if s.upper_bound_only})
    if audit.headline_figures:
        console.print(_headline_table(audit))
    if audit.unpriced:
        console.print(_unpriced_table(audit.unpriced))
    console.print(LEGEND)
    console.print(
        f"{len(audit.price_cards)} price cards applied (receipts prices list). "
        f"Ledger head {audit.ledger_head[:16]}…"
    )


def _what(line: CostLine) -> str:
    """``tokens/gpt2 (training)``: tokenizer counts say what they counted."""
    if line.unit is Unit.TOKEN:
        return f"{line.resource} ({TOKEN_ROLES[line.category]})"
    return line.resource


def _lines_table(report: CostReport) -> Table:
    """Every line under its group's name (a row of its own, so that 80 columns leave the
    resource room)."""
    table = Table(title="What was used, line by line", title_justify="left")
    table.add_column(f"{report.by}: resource", ratio=1, overflow="fold")
    _numbers(table, "quantity")
    table.add_column("unit", no_wrap=True)
    table.add_column("prov.", justify="center", no_wrap=True)
    _numbers(table, "low", "high")
    for g in report.groups:
        table.add_row(Text(_group_name(report.by, g), style="bold"), "", "", "", "", "")
        for i, line in enumerate(g.lines):
            table.add_row(
                Text("  " + _what(line)),
                number(line.quantity),
                unit_name(line.unit),
                MARKERS[line.provenance],
                *_low_high(
                    line.cost_usd_low,
                    line.cost_usd_high,
                    line.cost_usd_low is not None,
                    line.upper_bound_only,
                ),
                end_section=i == len(g.lines) - 1,
            )
    return table


def _quiet_table(quiet: Sequence[QuietRun]) -> Table:
    table = Table(title="Runs that recorded no GPU time", title_justify="left")
    table.add_column("run", ratio=2, overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("recorded", ratio=3)
    for q in quiet:
        if q.parent_run is not None:
            said = f"inside {q.parent_run}, whose GPU time covers it (counted once)"
        elif q.recorded_nothing:
            said = "nothing" + (f": {q.why}" if q.why else "")
        else:
            said = "no GPU time" + (f": {q.why}" if q.why else "")
        table.add_row(Text(q.run), q.status, Text(said))
    return table


def render_report(console: Console, report: CostReport) -> None:
    """A cost report grouped by category, stage or run: the bottom line, the groups with their
    totals, every line with its quantity, the scopes, the price bases with energy and CO2e, the
    gaps and the runs that recorded no GPU time."""
    console.print(Text(f"{report.subject} (lineage {' <- '.join(report.lineage)})", style="bold"))
    if report.bottom_line is not None:
        render_bottom_line(console, report.bottom_line)
    console.print(_groups_table(f"Cost by {report.by}", report.by, report.groups, report.totals))
    if any(g.lines for g in report.groups):
        console.print(_lines_table(report))
    if report.scopes:
        console.print(_scopes_table(report.scopes))
    if report.bases is not None:
        render_bases(console, report.bases, {s.scope for s in report.scopes if s.upper_bound_only})
    if report.unpriced:
        console.print(_unpriced_table(report.unpriced))
    if report.quiet_runs:
        console.print(_quiet_table(report.quiet_runs))
    console.print(LEGEND)


def _compact_count(n: int) -> str:
    """``1M`` for 1,000,000, ``1k`` for 1,000: a card's ``per`` beside its price."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size and n % size == 0:
            return f"{n // size:,}{suffix}"
    return f"{n:,}"


def render_prices(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    """The price cards."""
    table = Table(title="Price cards", title_justify="left")
    for name in ("id", "resource", "unit"):
        table.add_column(name, overflow="fold")
    table.add_column("USD", justify="right", no_wrap=True)
    table.add_column("date", no_wrap=True)
    table.add_column("term, tier", overflow="fold")
    table.add_column("vendor; source", overflow="fold", ratio=1)
    for r in rows:
        per = "" if r["per"] == 1 else "/" + _compact_count(r["per"])
        table.add_row(
            r["id"],
            r["resource"],
            r["unit"],
            f"{r['price_usd']}{per}",
            r["date"],
            f"{r['term']}, {r['tier']}",
            "; ".join(part for part in (r.get("vendor"), r.get("source")) if part),
        )
    console.print(table)


def render_verify(console: Console, result: VerifyResult) -> None:
    """One line: intact with its head, or the first bad entry."""
    if result.ok:
        console.print(f"ok: {result.entries} entries intact; head {result.head_hash}")
        if result.anchor is None:
            console.print(
                "not anchored: no witness for this ledger, so a recomputed chain, a cut tail "
                "or an older copy would pass"
            )
        elif result.anchor_seq is not None:
            console.print(
                f"ok: entry {result.anchor_seq} matches its signed checkpoint of "
                f"{result.anchor_at} in {result.anchor}",
                soft_wrap=True,
            )
        if result.expected_head is not None:
            console.print(
                f"ok: the fingerprint {result.expected_head[:16]}… is entry "
                f"{result.expected_head_seq} of {result.entries}"
            )
    else:
        where = f"entry {result.first_bad_seq}" if result.first_bad_seq else "ledger"
        if result.first_bad_entry:
            where += f" ({result.first_bad_entry})"
        console.print(f"BROKEN at {where}: {result.reason}", soft_wrap=True)
