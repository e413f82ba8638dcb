"""Terminal rendering of ledger results with rich. Only formatting here: no arithmetic."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.segment import Segment
from rich.table import Table

from ledger.printable import has_controls, printable
from ledger.report import Audit, CostGroup, CostReport, ScopeCost, Unpriced
from ledger.schema import Provenance
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


def usd(value: Decimal | None) -> str:
    """``$13.80``, ``$3,922``, ``$3.92M``; an em dash for a missing amount."""
    if value is None:
        return "—"
    if value >= 1_000_000:
        return f"${value / 1_000_000:,.2f}M"
    if value >= 1_000:
        return f"${value:,.0f}"
    return f"${value:,.2f}"


def number(value: float) -> str:
    """``6.93``, ``477``, ``1,120``, ``1.97M``: readable at a glance."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:,.2f}M"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def hours(central: float | None, low: float | None = None, high: float | None = None) -> str:
    """GPU-hours, with the range where it is one."""
    if central is None:
        return "—"
    text = number(central)
    if low is not None and high is not None and (low != central or high != central):
        text += f" ({number(low)}–{number(high)})"
    return text


def markers(provenance: Sequence[Provenance]) -> str:
    """``R+E`` for a group mixing reported and estimated lines."""
    return "+".join(MARKERS[p] for p in provenance)


def _groups_table(title: str, first: str, groups: Sequence[CostGroup]) -> Table:
    table = Table(title=title, title_justify="left")
    for name, justify in (
        (first, "left"),
        ("GPU-hours", "right"),
        ("low", "right"),
        ("high", "right"),
        ("prov.", "center"),
        ("", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for g in groups:
        flags = []
        if g.inherited:
            flags.append("inherited")
        if g.unpriced_lines:
            flags.append(f"{g.unpriced_lines} unpriced")
        table.add_row(
            g.key,
            hours(g.gpu_hours, g.gpu_hours_low, g.gpu_hours_high),
            usd(g.cost_usd_low),
            usd(g.cost_usd_high),
            markers(g.provenance),
            ", ".join(flags),
        )
    return table


def _scopes_table(scopes: Sequence[ScopeCost]) -> Table:
    table = Table(title="Scopes: what a dollar figure may be counting", title_justify="left")
    for name, justify in (
        ("scope", "left"),
        ("categories", "left"),
        ("GPU-hours", "right"),
        ("low", "right"),
        ("high", "right"),
        ("missing", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in scopes:
        cats = ", ".join(c.value for c in s.categories)
        if s.include_inherited:
            cats += " + inherited"
        missing = []
        if s.unquantified:
            missing.append(f"{s.unquantified} not quantified")
        if s.unpriced_lines:
            missing.append(f"{s.unpriced_lines} unpriced")
        table.add_row(
            s.label,
            cats,
            hours(s.gpu_hours, s.gpu_hours_low, s.gpu_hours_high),
            usd(s.cost_usd_low),
            usd(s.cost_usd_high),
            ", ".join(missing),
        )
    return table


def _unpriced_table(items: Sequence[Unpriced]) -> Table:
    table = Table(title="Not priced or not quantified (missing, not zero)", title_justify="left")
    for name in ("run", "resource", "quantity", "why", "source"):
        table.add_column(name)
    for u in items:
        quantity = "—" if u.quantity is None else f"{u.quantity:,.4g} {u.unit.value}"
        table.add_row(u.run, u.resource, quantity, u.reason, u.citation or "")
    return table


def render_audit(console: Console, audit: Audit) -> None:
    """The s1-style audit: categories, scopes, published figures, gaps."""
    console.print(f"[bold]{escape(audit.title)}[/bold]")
    console.print(f"Subject {audit.subject}; lineage {' <- '.join(audit.lineage)}")
    console.print(_groups_table("Cost by category", "category", audit.categories))
    console.print(_scopes_table(audit.scopes))
    if audit.headline_figures:
        table = Table(
            title="Published figures against the scope they describe", title_justify="left"
        )
        for name in (
            "figure",
            "said by",
            "scope range",
            "where it falls",
            "implies $/GPU-h",
            "cards $/GPU-h",
        ):
            table.add_column(name)
        for h in audit.headline_figures:
            table.add_row(
                usd(h.usd),
                h.said_by,
                f"{usd(h.scope_cost_usd_low)}–{usd(h.scope_cost_usd_high)}",
                {
                    "below": "below the range",
                    "within": "within the range",
                    "above": "above the range",
                }[h.position],
                usd(h.implied_usd_per_gpu_hour),
                f"{usd(h.card_usd_per_gpu_hour_low)}–{usd(h.card_usd_per_gpu_hour_high)}",
            )
        console.print(table)
    if audit.unpriced:
        console.print(_unpriced_table(audit.unpriced))
    console.print(LEGEND)
    console.print(
        f"{len(audit.price_cards)} price cards applied (receipts prices list). "
        f"Ledger head {audit.ledger_head[:16]}…"
    )


def render_report(console: Console, report: CostReport) -> None:
    """A cost report grouped by category, stage or run."""
    console.print(f"[bold]{escape(report.subject)}[/bold] (lineage {' <- '.join(report.lineage)})")
    console.print(_groups_table(f"Cost by {report.by}", report.by, report.groups))
    if report.scopes:
        console.print(_scopes_table(report.scopes))
    if report.unpriced:
        console.print(_unpriced_table(report.unpriced))
    console.print(LEGEND)


def render_prices(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    """The price cards."""
    table = Table(title="Price cards", title_justify="left")
    for name in ("id", "resource", "unit", "USD", "per", "date", "term", "tier"):
        table.add_column(name)
    for r in rows:
        table.add_row(
            r["id"],
            r["resource"],
            r["unit"],
            str(r["price_usd"]),
            f"{r['per']:,}",
            r["date"],
            r["term"],
            r["tier"],
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
