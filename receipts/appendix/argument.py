"""The figures that make the argument: the scope ladder, the forest plot of the differences the
verdicts decided on, and the strip of dated GPU prices against the rates the published figures
imply.

Their data are read from the typed results (the audit's scopes and published figures, the
claims' difference tests, the price book's dated cards) by the pure functions here
(:func:`ladder_rows`, :func:`forest_rows`, :func:`price_strips`); the drawing functions only
place them. Each returns ``None`` where it has nothing to show, and the figure is left out.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from datetime import date
from typing import Any

from claims.decide import DEFAULT_PARITY_MARGIN_POINTS
from ledger.enums import Unit
from receipts.appendix import fmt
from receipts.appendix.escape import escape_matplotlib as tx
from receipts.appendix.schema import Appendix

INK = "#222222"
GRID = "#d9d9d9"
MUTED = "#777777"
FIGURE = "#c0392b"
SCOPE = "#3d7ab8"
INHERITED = "#8c8c8c"
VERDICT_COLORS = {
    "supported": "#1a7f37",
    "misleading": "#b26b00",
    "not_supported": "#c0392b",
    "inconclusive": "#3d7ab8",
    "unverifiable": "#7b5ea7",
}
VERDICT_WORDS = {
    "supported": "supported",
    "misleading": "misleading",
    "not_supported": "not supported",
    "inconclusive": "inconclusive",
    "unverifiable": "unverifiable",
}
MAX_FOREST_ROWS = 36
"""At most this many differences in the forest plot (the named comparators come first)."""


def minus(text: str) -> str:
    """``text`` with each hyphen before a number as a true minus sign (U+2212)."""
    import re

    return re.sub(r"(?:(?<=^)|(?<=[\s(\[,]))-(?=\.?\d)", "\u2212", text)


def signed(value: float, digits: int = 1) -> str:
    """``+12.1``, ``−3.3`` (a true minus sign), ``0.0``."""
    text = f"{value:+.{digits}f}"
    if float(text) == 0:
        text = f"{0:.{digits}f}"
    return minus(text)


def _short(text: str, width: int = 38) -> str:
    return textwrap.shorten(" ".join(text.split()), width, placeholder="…")


# ---- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LadderRow:
    """One rung: a scope's priced range, or a published figure at the scope it describes."""

    label: str
    """The y-axis label."""
    kind: str
    """``scope``, ``inherited`` (a scope that counts an ancestor's costs) or ``figure``."""
    low: float | None
    """Low end in US dollars (``None``: not priced)."""
    high: float | None
    """High end."""
    note: str
    """The text beside the bar."""


def ladder_rows(a: Appendix) -> list[LadderRow]:
    """The published figures (cheapest first, each labelled with who said it), then the scopes
    (narrowest first); a scope with no priced line shows as not priced, never as $0."""
    rows = [
        LadderRow(
            label=f"{fmt.usd(h.usd)}: {_short(h.said_by)}",
            kind="figure",
            low=float(h.usd),
            high=float(h.usd),
            note=f"describes: {_short(_scope_label(a, h.scope), 44)}",
        )
        for h in sorted(a.audit.headline_figures, key=lambda h: (h.usd, h.said_by))
        if h.usd > 0
    ]
    for s in sorted(a.audit.scopes, key=lambda s: (s.cost_usd_high, s.cost_usd_low)):
        priced = s.cost_usd_high > 0
        gaps = s.unpriced_lines + s.unquantified
        note = fmt.usd_range(s.cost_usd_low, s.cost_usd_high) if priced else "not priced (—)"
        if priced and gaps:
            note += f" + {gaps} gap{'s' if gaps > 1 else ''}"
        rows.append(
            LadderRow(
                label=_short(s.label, 46),
                kind="inherited" if s.include_inherited else "scope",
                low=float(s.cost_usd_low) if priced else None,
                high=float(s.cost_usd_high) if priced else None,
                note=note,
            )
        )
    return rows


def _scope_label(a: Appendix, scope: str) -> str:
    return next((s.label for s in a.audit.scopes if s.scope == scope), scope)


@dataclass(frozen=True)
class ForestRow:
    """One difference a verdict decided on: subject minus comparator on one benchmark."""

    label: str
    """Who against whom, where, on how many items."""
    estimate: float
    """Difference, percentage points."""
    low: float
    """Low end of its 95% interval."""
    high: float
    """High end."""
    verdict: str
    """The benchmark verdict."""
    rule: str
    """``parity`` or ``beats``."""
    band: float
    """Parity: no shortfall beyond ``-band`` is supported; beats: a win must clear ``band``."""
    named: bool
    """Whether the comparator is the one the words name (else one the source beat, or a
    sibling read generously)."""


def forest_rows(a: Appendix) -> list[ForestRow]:
    """Every distinct difference test in the comparison and data-efficiency verdicts, named
    comparators first, with the band of the rule it was judged by (at most
    :data:`MAX_FOREST_ROWS`)."""
    models = {s.model: s.model_name for s in a.published_scores}
    benches = {s.benchmark: s.benchmark_name for s in a.published_scores}
    seen: dict[tuple[Any, ...], ForestRow] = {}
    for claim in a.claims:
        for assertion in claim.assertions:
            if assertion.relation is None:
                continue
            parity = assertion.relation != "beats"
            margin = assertion.margin_points
            band = (
                (margin if margin is not None else DEFAULT_PARITY_MARGIN_POINTS)
                if parity
                else (margin or 0.0)
            )
            for check in assertion.comparators:
                for b in check.benchmarks:
                    t = b.test
                    if t is None:
                        continue
                    key = (
                        t.subject,
                        t.comparator,
                        t.benchmark,
                        t.method,
                        t.estimate_points,
                        parity,
                        band,
                    )
                    if key in seen:
                        continue
                    role = {
                        "beaten_by_source": "; the source beat it",
                        "listed_family": "; read as",
                    }.get(check.role, "")
                    who = models.get(t.comparator, t.comparator)
                    label = (
                        f"vs {who}, {benches.get(t.benchmark, t.benchmark)} "
                        f"(n={t.n_subject}{', paired' if t.method.value == 'paired' else ''})"
                    )
                    if role == "; read as":
                        label += " [sibling]"
                    elif role:
                        label += " [beaten in source]"
                    seen[key] = ForestRow(
                        label=label,
                        estimate=t.estimate_points,
                        low=t.ci_low_points,
                        high=t.ci_high_points,
                        verdict=b.verdict.value,
                        rule="parity" if parity else "beats",
                        band=band,
                        named=check.role == "named",
                    )
    rows = sorted(seen.values(), key=lambda r: (not r.named, r.label))
    return rows[:MAX_FOREST_ROWS]


@dataclass(frozen=True)
class ImpliedRate:
    """The $/GPU-hour a published figure implies for the scope it describes."""

    usd_per_gpu_hour: float
    """The figure divided by the scope's central GPU-hours."""
    label: str
    """The figure and who said it."""


@dataclass(frozen=True)
class PriceStrip:
    """The dated cards of one GPU model, and the rates the figures imply for it."""

    resource: str
    """The GPU resource, e.g. ``gpu/H100``."""
    cards: list[tuple[date, float]]
    """(date, $/GPU-hour) of each card."""
    implied: list[ImpliedRate]
    """Rates the published figures imply."""
    work: tuple[date, date] | None
    """First and last day of the subject's own runs that used the GPU, where known."""


def scope_gpu(a: Appendix, scope: str) -> str | None:
    """The one GPU resource a scope's GPU-hour lines use; ``None`` where none or several."""
    found = next((s for s in a.audit.scopes if s.scope == scope), None)
    if found is None:
        return None
    resources = {
        line.resource
        for g in a.audit.categories
        for line in g.lines
        if line.category in found.categories
        and (found.include_inherited or not line.inherited)
        and line.unit is Unit.GPU_HOUR
    }
    return resources.pop() if len(resources) == 1 else None


def price_strips(a: Appendix) -> list[PriceStrip]:
    """One strip a GPU model with dated cards, each with the rates the published figures (the
    audit's, and the claims' cost checks on a stated or narrower scope) imply for it."""
    out = []
    for resource in dict.fromkeys(c.resource for c in a.gpu_prices):
        cards = [
            (c.date, float(c.price_usd / c.per)) for c in a.gpu_prices if c.resource == resource
        ]
        implied: dict[str, ImpliedRate] = {}
        for h in a.audit.headline_figures:
            rate = h.implied_usd_per_gpu_hour
            if rate is not None and scope_gpu(a, h.scope) == resource:
                key = f"{float(rate):.2f}"
                label = f"{fmt.usd(h.usd)}, {_short(h.said_by, 30)}"
                implied.setdefault(key, ImpliedRate(float(rate), label))
        for claim in a.claims:
            for assertion in claim.assertions:
                for s in assertion.scopes:
                    rate = s.implied_usd_per_gpu_hour
                    if rate is None or s.reading not in ("stated", "narrower", "other_subject"):
                        continue
                    if scope_gpu(a, s.scope) != resource:
                        continue
                    key = f"{float(rate):.2f}"
                    label = f"{_short(claim.source.outlet, 30)}"
                    implied.setdefault(key, ImpliedRate(float(rate), label))
        days = [
            r.started_at.date()
            for r in a.runs
            if not r.inherited and r.started_at is not None and r.gpu_hours
        ]
        work = (min(days), max(days)) if days else None
        out.append(
            PriceStrip(
                resource, cards, sorted(implied.values(), key=lambda i: i.usd_per_gpu_hour), work
            )
        )
    return [s for s in out if s.cards and s.implied]


# ---- drawing ------------------------------------------------------------------------------------


def _dollars(value: float, _pos: object = None) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return tx(f"${value / limit:g}{suffix}")
    return tx(f"${value:g}")


def ladder_figure(a: Appendix, new_figure: Any) -> tuple[Any, str, str] | None:
    """Published dollar figures and the scopes' priced ranges on one log-scaled dollar axis."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    rows = ladder_rows(a)
    figures = [r for r in rows if r.kind == "figure"]
    priced = [r for r in rows if r.high is not None and r.kind != "figure"]
    if not figures or not priced:
        return None
    values = [v for r in rows for v in (r.low, r.high) if v is not None and v > 0]
    floor = 10 ** math.floor(math.log10(min(values)))
    top = 10 ** math.ceil(math.log10(max(values)))
    fig = new_figure(8, 0.42 * len(rows) + 1.7)
    ax = fig.add_subplot()
    for y, r in enumerate(rows):
        if r.kind == "figure":
            assert r.low is not None
            ax.plot([r.low], [y], marker="D", color=FIGURE, markersize=6, zorder=3)
            ax.axvline(r.low, color=FIGURE, linestyle=":", linewidth=0.8, alpha=0.6, zorder=1)
            ax.text(r.low * 1.4, y, tx(r.note), va="center", fontsize=7.5, color=MUTED)
            continue
        color = INHERITED if r.kind == "inherited" else SCOPE
        if r.low is None or r.high is None:
            ax.text(floor * 1.2, y, tx(r.note), va="center", fontsize=8, color=MUTED)
            continue
        low = max(r.low, floor)
        ax.plot([low, r.high], [y, y], color=color, linewidth=7, solid_capstyle="butt", zorder=2)
        ax.text(r.high * 1.4, y, tx(r.note), va="center", fontsize=8, color=INK)
    ax.axhline(len(figures) - 0.5, color=GRID, linewidth=1)
    ax.set_xscale("log")
    ax.set_xlim(floor, top * 400)
    ticks = [10.0**k for k in range(round(math.log10(floor)), round(math.log10(top)) + 1)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(_dollars))
    ax.xaxis.set_minor_locator(FixedLocator([]))
    ax.set_yticks(range(len(rows)), [tx(r.label) for r in rows])
    for label, r in zip(ax.get_yticklabels(), rows, strict=True):
        label.set_color(FIGURE if r.kind == "figure" else INK)
    ax.set_ylim(len(rows) - 0.4, -0.6)
    ax.grid(axis="x", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_xlabel(
        "US dollars, log scale. Diamonds: published figures (who said it); bars: what each "
        "scope costs, low to high"
    )
    cheapest = min(priced, key=lambda r: r.high or 0)
    dearest = max(priced, key=lambda r: r.high or 0)
    ax.set_title(
        tx(textwrap.fill(f"{a.subject}: the published figures against the scopes", 90)), loc="left"
    )
    caption = (
        f"The scope ladder: {len(figures)} published dollar figure"
        f"{'s' if len(figures) > 1 else ''} (diamonds, labelled with who said it) on one log "
        f"axis with what each scope costs, from {cheapest.label} ({cheapest.note}) to "
        f"{dearest.label} ({dearest.note})."
    )
    return fig, "Published figures against the scopes", caption


def forest_figure(a: Appendix, new_figure: Any) -> tuple[Any, str, str] | None:
    """Each difference with its 95% interval, coloured by its verdict, over the margin band."""
    from matplotlib.patches import Patch, Rectangle

    rows = forest_rows(a)
    if not rows:
        return None
    fig = new_figure(8, 0.3 * len(rows) + 1.9)
    ax = fig.add_subplot()
    for y, r in enumerate(rows):
        if r.rule == "parity":
            ax.add_patch(
                Rectangle(
                    (-r.band, y - 0.42), 2 * r.band, 0.84, color="#e8eef5", linewidth=0, zorder=0
                )
            )
        else:
            ax.plot([r.band, r.band], [y - 0.42, y + 0.42], color=MUTED, linewidth=1.2, zorder=1)
        color = VERDICT_COLORS.get(r.verdict, INK)
        ax.errorbar(
            [r.estimate],
            [y],
            xerr=[[r.estimate - r.low], [r.high - r.estimate]],
            fmt="o",
            color=color,
            markersize=4.5,
            elinewidth=1.6,
            capsize=2.5,
            zorder=3,
        )
    ax.axvline(0, color=INK, linewidth=0.8)
    ax.set_yticks(range(len(rows)), [tx(r.label) for r in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(axis="x", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_xlabel(f"{a.subject} minus comparator, percentage points (95% interval)")
    verdicts = list(dict.fromkeys(r.verdict for r in rows))
    handles = [
        Patch(color=VERDICT_COLORS.get(v, INK), label=VERDICT_WORDS.get(v, v)) for v in verdicts
    ]
    if any(r.rule == "parity" for r in rows):
        handles.append(Patch(color="#e8eef5", label="parity band (margin)"))
    if any(r.rule == "beats" for r in rows):
        handles.append(Patch(color=MUTED, label="win must clear this line"))
    ax.legend(
        handles=handles,
        fontsize=7.5,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncols=min(len(handles), 4),
        frameon=False,
    )
    ax.set_title(tx(f"{a.subject}: the differences the verdicts decided on"), loc="left")
    narrow = [
        r for r in rows if r.high - r.low > 2 * max(r.band, 1.0) and r.verdict == "inconclusive"
    ]
    caption = (
        f"Forest plot of {len(rows)} differences (subject minus comparator, points) with 95% "
        "intervals, coloured by the verdict on each benchmark; the shaded band is the margin a "
        'parity claim is judged against, the grey tick the win a "beats" claim must clear.'
    )
    if narrow:
        caption += (
            f" {len(narrow)} interval{'s are' if len(narrow) > 1 else ' is'} wider than the band "
            "on both sides: too few items to decide."
        )
    return fig, "Differences the verdicts decided on", caption


def price_figure(a: Appendix, new_figure: Any) -> tuple[Any, str, str] | None:
    """Dated GPU-hour cards as dots; the rates the published figures imply as lines."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import FuncFormatter

    strips = price_strips(a)[:3]
    if not strips:
        return None
    fig = new_figure(8, 2.6 * len(strips) + 0.6)
    axes = fig.subplots(len(strips), 1, squeeze=False)
    palette = ["#c0392b", "#b26b00", "#7b5ea7", "#1a7f37", "#3d5a80"]
    for ax, strip in zip((row[0] for row in axes), strips, strict=True):
        days = [d for d, _ in strip.cards]
        ax.scatter(
            days,
            [p for _, p in strip.cards],
            s=16,
            color=SCOPE,
            alpha=0.8,
            zorder=3,
            label="price cards (dated)",
        )
        if strip.work is not None:
            ax.axvspan(
                strip.work[0],
                max(strip.work[1], strip.work[0]),
                color="#f3e3c3",
                zorder=0,
                linewidth=2.5,
                edgecolor="#e0b860",
                label="the work",
            )
        for i, rate in enumerate(strip.implied):
            color = palette[i % len(palette)]
            ax.axhline(rate.usd_per_gpu_hour, color=color, linestyle="--", linewidth=1.1)
            ax.text(
                1.0,
                rate.usd_per_gpu_hour,
                tx(f" ${rate.usd_per_gpu_hour:,.2f}/GPU-h: {rate.label}"),
                transform=ax.get_yaxis_transform(),
                va="center",
                ha="left",
                fontsize=7.5,
                color=color,
            )
        prices = [p for _, p in strip.cards] + [r.usd_per_gpu_hour for r in strip.implied]
        ax.set_ylim(0, max(prices) * 1.12)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: tx(f"${v:g}")))
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.grid(color=GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_ylabel(tx(f"{strip.resource}, $/GPU-hour"))
        ax.legend(fontsize=7, loc="upper right", frameon=False)
    axes[0][0].set_title(
        tx("Dated GPU prices against the $/GPU-hour each published figure implies"), loc="left"
    )
    first = strips[0]
    cheapest = min(p for _, p in first.cards)
    below = [r for r in first.implied if r.usd_per_gpu_hour < cheapest]
    caption = (
        f"Every dated {first.resource} price card (dots) against the $/GPU-hour each published "
        "figure implies for the scope it describes (dashed lines, labelled with who said it)"
        + ("; the shaded span is when the subject's own runs ran." if first.work else ".")
    )
    if below:
        caption += (
            f" {len(below)} figure{'s imply' if len(below) > 1 else ' implies'} less than the "
            f"cheapest card (${cheapest:,.2f}/GPU-h)."
        )
    return fig, "Dated GPU prices and implied rates", caption
