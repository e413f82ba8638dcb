"""Terminal rendering of verdicts and baselines with rich. Formatting only: no arithmetic.

Text from claim and registry files goes into :class:`rich.text.Text` cells, never through rich
markup, so brackets in a quote or an interval print as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from claims.report import CheckReport, ClaimVerdict, Verdict

STYLES = {
    Verdict.SUPPORTED: "green",
    Verdict.MISLEADING: "yellow",
    Verdict.NOT_SUPPORTED: "bold red",
    Verdict.INCONCLUSIVE: "cyan",
    Verdict.UNVERIFIABLE: "magenta",
}
LEGEND = (
    "Differences are subject minus comparator in percentage points, with the 95% interval in "
    "brackets. Verdicts, most serious first: not_supported, misleading, unverifiable, "
    "inconclusive, supported (docs/claims.md)."
)


def verdict_text(verdict: Verdict) -> Text:
    """A verdict, coloured."""
    return Text(verdict.value, style=STYLES[verdict])


def claim_table(claim: ClaimVerdict) -> Table:
    """One claim: each assertion with its verdict, reason and key numbers."""
    source = claim.source
    said = ", ".join(
        part for part in (source.outlet, source.author, str(source.date or "")) if part
    )
    title = Text.assemble((f"{claim.id}", "bold"), ": ", verdict_text(claim.verdict), f"  ({said})")
    table = Table(title=title, title_justify="left", caption=Text(f"“{source.quote}”"))
    table.add_column("assertion", ratio=2)
    table.add_column("verdict", no_wrap=True)
    table.add_column("reason", ratio=4)
    table.add_column("numbers", ratio=3)
    for a in claim.assertions:
        table.add_row(
            Text(f"{a.id}\n{a.text}"),
            verdict_text(a.verdict),
            Text(a.reason),
            Text("\n".join(a.numbers)),
        )
    return table


def render_check(console: Console, report: CheckReport) -> None:
    """Every claim's table, then the legend."""
    for claim in report.claims:
        console.print(claim_table(claim))
    if report.claims:
        seed = report.claims[0].seed
        console.print(Text(f"{LEGEND} Bootstrap seed {seed}; --json shows every evidence line."))


def render_claims_summary(console: Console, claims: Sequence[ClaimVerdict]) -> None:
    """The compact form under ``receipts audit``: one row per assertion."""
    if not claims:
        return
    table = Table(title="Published claims, checked (receipts check)", title_justify="left")
    table.add_column("claim: assertion", ratio=1, overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("reason", ratio=3)
    for claim in claims:
        for i, a in enumerate(claim.assertions):
            head = (
                Text.assemble((claim.id, "bold"), " (", verdict_text(claim.verdict), ")\n")
                if i == 0
                else Text("")
            )
            table.add_row(
                Text.assemble(head, "  ", a.id),
                verdict_text(a.verdict),
                Text(a.reason),
                end_section=i == len(claim.assertions) - 1,
            )
    console.print(table)
    console.print(Text(LEGEND))
