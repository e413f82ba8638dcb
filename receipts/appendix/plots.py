"""The appendix's figures, drawn with matplotlib (imported here only, when a figure is drawn).

Each figure is drawn once from the :class:`~receipts.appendix.schema.Appendix` and saved as PNG
(LaTeX, and HTML fallbacks) and SVG (HTML, Markdown). Figures use matplotlib's object API and no
pyplot, so nothing global (backend, open figures) changes; the SVG is deterministic for one input.
Nothing is invented: a figure whose data is missing is left out, and the text says why.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger.enums import Category
from receipts.appendix import argument, fmt
from receipts.appendix.escape import escape_matplotlib as tx
from receipts.appendix.schema import Appendix

COLORS = {
    Category.PRETRAINING: "#8c8c8c",
    Category.DATA: "#2a9d8f",
    Category.FINE_TUNING: "#e76f51",
    Category.RND: "#7b5ea7",
    Category.EVALUATION: "#3d7ab8",
}
SUBJECT = "#e76f51"
BASELINE = "#3d5a80"
MEASURED = "#2a9d8f"
INK = "#222222"
GRID = "#d9d9d9"
_RC: Any = {
    "font.size": 9,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "figure.titleweight": "bold",
    "axes.edgecolor": "#888888",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "receipts-appendix",
    "svg.fonttype": "none",
}


@dataclass(frozen=True)
class FigureFile:
    """One drawn figure."""

    name: str
    """File stem, e.g. ``cost-by-category``."""
    title: str
    """Short title."""
    caption: str
    """What it shows, in words (also the alt text)."""
    png: bytes | None
    """PNG at 150 dpi; ``None`` where it was not asked for."""
    svg: bytes
    """SVG, its text as text (searchable; a viewer without the font falls back to its own,
    which covers scripts such as Chinese that the bundled font lacks)."""
    pdf: bytes | None = None
    """Vector PDF for the LaTeX appendix, its text in Computer Modern (the design of the
    document's Latin Modern) with true minus signs; ``None`` unless asked for."""


_PDF_RC: Any = {
    **_RC,
    # matplotlib's own Computer Modern (cmr10), the design Latin Modern (the LaTeX appendix's
    # font) digitises; DejaVu Serif for the glyphs it lacks (U+2212, arrows). Mathtext for the
    # tick labels, whose minus signs cmr10 has only in its math font.
    "font.family": ["cmr10", "DejaVu Serif"],
    "axes.titleweight": "normal",  # matplotlib has no bold cmr10 under that family name
    "figure.titleweight": "normal",
    "mathtext.fontset": "cm",
    "axes.formatter.use_mathtext": True,
    "axes.unicode_minus": True,
    "pdf.fonttype": 3,
}


def _save_pdf(fig: Any) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="pdf", bbox_inches="tight", metadata={"CreationDate": None})
    return out.getvalue()


def _save(fig: Any, png: bool = True) -> tuple[bytes | None, bytes]:
    raster, svg = io.BytesIO(), io.BytesIO()
    if png:
        fig.savefig(raster, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None})
    return (raster.getvalue() if png else None), svg.getvalue()


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _dollars(value: float, _pos: object = None) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return tx(f"${value / limit:g}{suffix}")
    return tx(f"${value:g}")


def _compact_usd(value: float) -> str:
    return tx(f"${value:,.0f}" if value == round(value) else f"${value:,.2f}")


def cost_figure(a: Appendix) -> tuple[Any, str, str] | None:
    """Cost by category on a log scale, range as error bars, published figures as lines."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    groups = [g for g in a.audit.categories if g.category is not None and g.cost_usd_high > 0]
    if not groups:
        return None
    lows = [max(float(g.cost_usd_low), 0.0) for g in groups]
    highs = [float(g.cost_usd_high) for g in groups]
    figures = sorted({float(h.usd) for h in a.audit.headline_figures if h.usd > 0})
    smallest = min([v for v in lows if v > 0] + figures or highs)
    floor = 10 ** math.floor(math.log10(smallest))
    top = 10 ** math.ceil(math.log10(max(highs)))
    mids = [math.sqrt(max(lo, floor) * hi) for lo, hi in zip(lows, highs, strict=True)]
    fig = _figure(8, 0.6 * len(groups) + 1.9)
    ax = fig.add_subplot()
    ys = list(range(len(groups)))
    for y, g, mid in zip(ys, groups, mids, strict=True):
        assert g.category is not None
        ax.barh(
            y,
            mid - floor,
            left=floor,
            height=0.62,
            color=COLORS[g.category],
            hatch="///" if g.inherited else None,
            edgecolor="white",
            linewidth=0,
        )
    ax.errorbar(
        mids,
        ys,
        xerr=[
            [m - max(lo, floor) for m, lo in zip(mids, lows, strict=True)],
            [h - m for m, h in zip(mids, highs, strict=True)],
        ],
        fmt="none",
        ecolor=INK,
        elinewidth=1.2,
        capsize=4,
    )
    for y, g, hi in zip(ys, groups, highs, strict=True):
        label = fmt.usd_range(g.cost_usd_low, g.cost_usd_high)
        ax.text(hi * 1.35, y, tx(label), va="center", fontsize=8.5, color=INK)
    for value in figures:
        ax.axvline(value, color=INK, linestyle=":", linewidth=0.9)
        ax.text(
            value,
            len(groups) - 0.35,
            _compact_usd(value),
            va="top",
            ha="center",
            fontsize=7.5,
            color=INK,
        )
    ax.set_xscale("log")
    ax.set_xlim(floor, top * 300)
    ticks = [10.0**k for k in range(round(math.log10(floor)), round(math.log10(top)) + 1)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(_dollars))
    ax.xaxis.set_minor_locator(FixedLocator([]))
    ax.set_yticks(ys, [fmt.category_name(g.category, g.inherited) for g in groups if g.category])
    ax.set_ylim(len(groups) - 0.1 + (0.35 if figures else 0), -0.6)
    ax.grid(axis="x", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    below = "; dotted lines: published dollar figures" if figures else ""
    ax.set_xlabel(
        "US dollars, log scale: bar at the geometric mean of the range, whiskers at "
        f"its low and high ends{below}"
    )
    caption = "Cost by category on a log scale, each range as error bars."
    title = f"Cost by category: {a.subject}"
    if a.contrast is not None:
        c = a.contrast
        large = fmt.category_name(c.large, c.large_inherited)
        small = fmt.category_name(c.small)
        title = f"{a.subject}: {large} costs about {fmt.ratio(c.ratio)}× {small}"
        caption += (
            f" {large.capitalize()} costs about {fmt.ratio(c.ratio)} times {small} "
            f"({fmt.ratio(c.ratio_low)} times at the low ends, {fmt.ratio(c.ratio_high)} at the "
            "high ends)."
        )
    ax.set_title(tx(textwrap.fill(title, 90)), loc="left")
    return fig, "Cost by category", caption


def funnel_figure(a: Appendix) -> tuple[Any, str, str] | None:
    """The reference curation funnel: records left after each step, with each step's cost."""
    if a.funnel is None or not a.funnel.funnels:
        return None
    f = a.funnel.funnels[0]
    steps = f.steps
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig = _figure(8, 0.5 * len(steps) + 1.6)
    ax, side = fig.subplots(1, 2, sharey=True, width_ratios=[4.2, 1], gridspec_kw={"wspace": 0})
    ys = list(range(len(steps)))
    top = max([f.records_start, *(s.records_out for s in steps)])
    ax.barh(ys, [s.records_out for s in steps], height=0.6, color=COLORS[Category.DATA])
    for y, s in zip(ys, steps, strict=True):
        kept = f" ({fmt.pct(s.kept_pct)} kept)" if s.kept_pct is not None else ""
        ax.text(
            s.records_out + top * 0.01,
            y,
            tx(f"{s.records_out:,}{kept}"),
            va="center",
            fontsize=8.5,
            color=INK,
        )
        cost = fmt.usd_range(s.cost_usd_low, s.cost_usd_high)
        side.text(
            1,
            y,
            tx(cost if cost != fmt.MISSING else "no priced run"),
            va="center",
            ha="right",
            fontsize=8.5,
            color=INK if cost != fmt.MISSING else "#777777",
        )
    side.set_xlim(0, 1)
    side.set_title("cost of its runs", loc="right", fontsize=8.5, fontweight="normal")
    side.axis("off")
    labels = [tx(textwrap.shorten(f"{s.order}. {s.name}", 46, placeholder="…")) for s in steps]
    ax.set_yticks(ys, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.4)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.set_xlabel("records left after the step")
    ax.grid(axis="x", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    fig.suptitle(
        tx(f"Curation funnel ({f.funnel}): {f.records_start:,} → {f.records_final:,} records"),
        x=0.01,
        ha="left",
        fontsize=10.5,
    )
    caption = (
        f"The {f.funnel} curation funnel, records left after each step, with the priced cost of "
        f"the runs behind each step: {f.records_start:,} records in, {f.records_final:,} out "
        f"({fmt.pct(f.kept_pct, 2)} kept)."
    )
    return fig, "Curation funnel", caption


def accuracy_figure(a: Appendix) -> tuple[Any, str, str] | None:
    """Accuracy with 95% intervals, subject against baselines, one panel per benchmark."""
    rows: list[tuple[str, str, float, float | None, float | None, str]] = [
        (s.benchmark_name, s.model_name, s.value_pct, s.ci_low_pct, s.ci_high_pct, s.role)
        for s in a.published_scores
    ]
    for e in a.evals:
        if e.accuracy is None:
            continue
        how = f"imported from {e.imported_from}" if e.imported_from else "measured"
        model = f"{e.model or e.subject} (eval run, {how})"
        low = None if e.ci_low is None else 100 * e.ci_low
        high = None if e.ci_high is None else 100 * e.ci_high
        rows.append((e.benchmark or e.metric, model, 100 * e.accuracy, low, high, "measured"))
    if not rows:
        return None
    benches = list(dict.fromkeys(r[0] for r in rows))
    models = list(dict.fromkeys(r[1] for r in rows))
    cols = min(len(benches), 4)
    lines = math.ceil(len(benches) / cols)
    fig = _figure(8, lines * (0.34 * len(models) + 1.1) + 0.5)
    axes = fig.subplots(lines, cols, sharey=True, squeeze=False)
    colors = {"subject": SUBJECT, "baseline": BASELINE, "measured": MEASURED}
    markers = {"subject": "o", "baseline": "o", "measured": "D"}
    for i, bench in enumerate(benches):
        ax = axes[i // cols][i % cols]
        for _, model, value, low, high, role in (r for r in rows if r[0] == bench):
            y = models.index(model)
            err = None if low is None or high is None else [[value - low], [high - value]]
            ax.errorbar(
                [value],
                [y],
                xerr=err,
                fmt=markers[role],
                color=colors[role],
                markersize=5,
                elinewidth=1.4,
                capsize=3,
            )
        own = [r[2] for r in rows if r[0] == bench and r[5] == "subject"]
        if own:
            ax.axvline(own[0], color=SUBJECT, linewidth=0.8, alpha=0.5, zorder=0)
        ax.set_title(tx(bench), loc="center", fontsize=9.5)
        ax.set_xlim(*accuracy_limits(rows, bench))
        ax.grid(axis="x", color=GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_xlabel("accuracy, %")
    for j in range(len(benches), lines * cols):
        axes[j // cols][j % cols].set_visible(False)
    axes[0][0].set_yticks(range(len(models)), [tx(m) for m in models])
    axes[0][0].invert_yaxis()
    fig.suptitle(
        tx(f"Published accuracy with 95% Wilson intervals: {a.subject} and its baselines"),
        x=0.01,
        ha="left",
        fontsize=10.5,
    )
    measured = " Diamonds: eval runs in the ledger." if a.evals else ""
    caption = (
        f"Accuracy of {a.subject} (orange) against the baselines its claims name (blue): "
        "published scores, with Wilson 95% intervals from each benchmark's n." + measured
    )
    return fig, "Accuracy against baselines", caption


def accuracy_limits(
    rows: list[tuple[str, str, float, float | None, float | None, str]], bench: str
) -> tuple[float, float]:
    """The x range of one benchmark's panel: its scores and interval ends, padded, within
    0-100 (not 0-100 itself when every score lies between 40 and 60)."""
    ends = [v for r in rows if r[0] == bench for v in (r[2], r[3], r[4]) if v is not None]
    low, high = min(ends), max(ends)
    pad = max(2.0, 0.08 * (high - low))
    low, high = max(0.0, low - pad), min(100.0, high + pad)
    return math.floor(low / 5) * 5, math.ceil(high / 5) * 5


def gpu_figure(a: Appendix) -> tuple[Any, str, str] | None:
    """Board power and utilisation over time of every sampled device."""
    if not a.gpu_traces:
        return None
    fig = _figure(8, 3.2)
    ax = fig.add_subplot()
    util = ax.twinx()
    util.spines["right"].set_visible(True)
    palette = ["#e76f51", "#3d7ab8", "#2a9d8f", "#7b5ea7", "#e9c46a", "#8c8c8c"]
    span = max(t for trace in a.gpu_traces for t in trace.t_s)
    scale, unit = (60.0, "min") if span > 600 else (1.0, "s")
    for i, trace in enumerate(a.gpu_traces[:12]):
        color = palette[i % len(palette)]
        t = [v / scale for v in trace.t_s]
        label = tx(f"{trace.device}, {trace.run}")
        ax.plot(
            t,
            [math.nan if p is None else p for p in trace.power_w],
            color=color,
            linewidth=1.2,
            label=label,
        )
        util.plot(
            t,
            [math.nan if u is None else u for u in trace.sm_util_pct],
            color=color,
            linewidth=0.9,
            linestyle="--",
            alpha=0.8,
        )
    ax.set_xlabel(f"time since the run started, {unit}")
    ax.set_ylabel("board power, W (solid)")
    util.set_ylabel("utilisation, % (dashed)")
    util.set_ylim(0, 105)
    ax.set_ylim(bottom=0)
    ax.grid(color=GRID, linewidth=0.6)
    ax.legend(fontsize=7.5, loc="lower left", frameon=False)
    ax.set_title("GPU power and utilisation over time", loc="left")
    return fig, "GPU power and utilisation", a.gpu_traces_note


FIGURES: dict[str, Callable[[Appendix], tuple[Any, str, str] | None]] = {
    "scope-ladder": lambda a: argument.ladder_figure(a, _figure),
    "cost-by-category": cost_figure,
    "gpu-prices": lambda a: argument.price_figure(a, _figure),
    "funnel": funnel_figure,
    "gpu-power": gpu_figure,
    "accuracy": accuracy_figure,
    "forest": lambda a: argument.forest_figure(a, _figure),
}
"""Every figure by file stem, in the order the appendix shows them."""


def render_figures(appendix: Appendix, *, pdf: bool = False, png: bool = True) -> list[FigureFile]:
    """Every figure the appendix has data for, drawn and saved as SVG (and as PNG unless
    ``png`` is false: the documents show the SVG or the PDF, so the writers skip the raster,
    the dearest of the three to draw); with ``pdf``, drawn again in the LaTeX document's font
    and saved as vector PDF too."""
    import warnings

    from matplotlib import rc_context

    out = []
    for name, draw in FIGURES.items():
        with rc_context(_RC):
            drawn = draw(appendix)
            if drawn is None:
                continue
            fig, title, caption = drawn
            raster, svg = _save(fig, png=png)
        vector = None
        if pdf:
            with rc_context(_PDF_RC), warnings.catch_warnings():
                # A glyph neither font has (CJK in a label) is drawn as a box; say so once.
                warnings.filterwarnings("ignore", "Glyph .* missing from font")
                drawn = draw(appendix)
                assert drawn is not None
                vector = _save_pdf(drawn[0])
        out.append(
            FigureFile(name=name, title=title, caption=caption, png=raster, svg=svg, pdf=vector)
        )
    return out
