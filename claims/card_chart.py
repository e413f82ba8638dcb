"""The verdict card's chart and its PNG, drawn with matplotlib (imported here only, lazily).

The chart is the evidence that decided the claim: for a cost claim, each scope's cost at the
representative price (bar) and across the market (whisker) on a log scale, with the published
figure as a line; for a comparison, each difference with its 95% interval over the band the
words are judged against. Figures use matplotlib's object API, so nothing global changes.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from claims.card import deciding, deciding_checks, signed
from claims.decide import DEFAULT_PARITY_MARGIN_POINTS
from claims.report import AssertionVerdict, ClaimVerdict
from ledger.money import usd

COLORS = {
    "supported": "#1a7f37",
    "misleading": "#b26b00",
    "not_supported": "#c0392b",
    "inconclusive": "#3d7ab8",
    "unverifiable": "#7b5ea7",
}
STATUS_COLORS = {
    "holds": "#1a7f37",
    "extreme_prices": "#b26b00",
    "lower_bound": "#3d7ab8",
    "upper_bound": "#3d7ab8",
    "unquantified": "#8c8c8c",
    "fails": "#c0392b",
}
STATUS_WORDS = {
    "holds": "holds",
    "extreme_prices": "holds only at extreme prices",
    "lower_bound": "only a lower bound known",
    "upper_bound": "only an upper bound known",
    "unquantified": "nothing quantified",
    "fails": "fails at every price",
}
_RC: Any = {
    "font.size": 9,
    "font.family": ["DejaVu Sans"],
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "svg.hashsalt": "receipts-card",
    "svg.fonttype": "path",
}


def _text(value: str) -> str:
    """Text for a matplotlib label: ``$`` would start mathtext."""
    from ledger.printable import printable

    return printable(value).replace("\\", "\\\\").replace("$", r"\$")


def _upper_bound(ax: Any, y: float, high: float, color: str) -> None:
    """A cost known only as a published upper bound ("under $500"): a bar end at the bound and
    an arrow pointing down the axis, open-ended, since nobody knows how much less it cost."""
    ax.plot([high, high], [y - 0.28, y + 0.28], color=color, linewidth=2.5)
    ax.annotate(
        "",
        xy=(high / 12, y),
        xytext=(high, y),
        arrowprops={"arrowstyle": "-|>", "color": color, "linewidth": 1.6, "linestyle": "--"},
    )


def _cost_axes(ax: Any, a: AssertionVerdict) -> str | None:
    from matplotlib.ticker import FuncFormatter, LogLocator

    scopes = [
        s for s in a.scopes if s.cost_usd_high > 0 and (s.cost_usd_low > 0 or s.upper_bound_only)
    ]
    if not scopes:
        return None
    for y, s in enumerate(scopes):
        color = STATUS_COLORS.get(s.status, "#444444")
        low, high = float(s.cost_usd_low), float(s.cost_usd_high)
        words = STATUS_WORDS.get(s.status, s.status)
        if s.upper_bound_only:
            _upper_bound(ax, y, high, color)
            words = f"up to {usd(high)}: {words}"
        else:
            rep_low = max(float(s.representative_usd_low), low)
            rep_high = max(float(s.representative_usd_high), rep_low)
            ax.plot([low, high], [y, y], color=color, linewidth=1.2)
            ax.plot(
                [rep_low, rep_high * 1.0001],
                [y, y],
                color=color,
                linewidth=8,
                solid_capstyle="butt",
            )
        ax.text(high * 1.5, y, _text(words), va="center", fontsize=8, color=color)
    figure = next(
        (
            float(s.implied_usd_per_gpu_hour) * s.gpu_hours
            for s in a.scopes
            if s.implied_usd_per_gpu_hour is not None and s.gpu_hours
        ),
        None,
    )
    if figure is not None:
        ax.axvline(figure, color="#222222", linestyle="--", linewidth=1.2)
        ax.text(
            figure, -0.7, _text(f"the figure ({usd(figure)})"), ha="center", va="bottom", fontsize=8
        )
    ax.set_xscale("log")
    values = [float(s.cost_usd_low) for s in scopes if s.cost_usd_low > 0]
    values += [float(s.cost_usd_high) / 12 for s in scopes if s.upper_bound_only]
    values += [float(s.cost_usd_high) for s in scopes] + ([figure] if figure else [])
    ax.set_xlim(10 ** math.floor(math.log10(min(values))), max(values) * 60)
    ax.xaxis.set_major_locator(LogLocator(numticks=12))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _text(usd(v).replace(".00", ""))))
    ax.set_yticks(range(len(scopes)), [_label(s.label) for s in scopes])
    ax.set_ylim(len(scopes) - 0.5, -1.0)
    ax.set_xlabel("US dollars, log scale: bar at the typical price, line across the market")
    caption = "What each scope of the work cost, against the published figure."
    if any(s.upper_bound_only for s in scopes):
        caption += " An arrow: a cost published only as an upper bound, its low end unknown."
    return caption


def _label(text: str) -> str:
    """A y-axis label in at most two lines of 32 characters."""
    return _text(textwrap.fill(text, 32, max_lines=2, placeholder=" …", break_on_hyphens=False))


def _difference_axes(ax: Any, a: AssertionVerdict, names: Mapping[str, str]) -> str | None:
    from matplotlib.patches import Rectangle

    checks = deciding_checks(a)
    if not checks:
        return None
    parity = a.relation not in (None, "beats")
    margin = a.margin_points
    band = (
        (margin if margin is not None else DEFAULT_PARITY_MARGIN_POINTS)
        if parity
        else (margin or 0.0)
    )
    for y, b in enumerate(checks):
        t = b.test
        assert t is not None
        if parity:
            ax.add_patch(Rectangle((-band, y - 0.4), 2 * band, 0.8, color="#e8eef5", linewidth=0))
        color = COLORS.get(b.verdict.value, "#222222")
        ax.errorbar(
            [t.estimate_points],
            [y],
            xerr=[[t.estimate_points - t.ci_low_points], [t.ci_high_points - t.estimate_points]],
            fmt="o",
            color=color,
            markersize=6,
            elinewidth=2.2,
            capsize=4,
        )
        ax.text(  # by the point, above it: at an end of the interval it would read as that end
            t.estimate_points,
            y - 0.22,
            signed(t.estimate_points),
            ha="center",
            va="bottom",
            fontsize=8,
            color=color,
        )
    ax.axvline(0, color="#222222", linewidth=0.8)
    if not parity:
        ax.axvline(band, color="#777777", linestyle="--", linewidth=1)
    several = len({b.comparator for b in checks}) > 1
    labels = [
        _label(
            f"{names.get(b.benchmark, b.benchmark)}"
            + (f" vs {names.get(b.comparator, b.comparator)}" if several else "")
            + f" (n={b.test.n_subject})"
        )
        for b in checks
        if b.test is not None
    ]
    ax.set_yticks(range(len(checks)), labels)
    ax.set_ylim(len(checks) - 0.5, -0.7)
    who = "each comparator" if several else names.get(checks[0].comparator, checks[0].comparator)
    ax.set_xlabel(_text(f"difference against {who}, percentage points (95% interval)"))
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    if parity:
        return f"Each difference with its 95% interval; shaded: the ±{band:g}-point band."
    return "Each difference with its 95% interval; dashed: the win the words need."


def _draw(ax: Any, claim: ClaimVerdict) -> str | None:
    a = deciding(claim)
    if a is None:
        return None
    if a.kind == "cost":
        return _cost_axes(ax, a)
    if a.comparators:
        return _difference_axes(ax, a, claim.names)
    return None


def _fit_labels(fig: Any, ax: Any, margin: float = 0.05, right: float = 0.95) -> None:
    """Move the axes' left edge so that its y-axis labels start at the card's margin, none cut
    off at the left edge of the image, and the plot takes the rest of the width."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    box = ax.get_position()
    labels = ax.yaxis.get_tightbbox(renderer)
    if labels is None:
        return
    width = (box.x0 * fig.bbox.width - labels.x0) / fig.bbox.width  # labels left of the axes
    left = min(max(margin + width, 0.12), 0.6)
    ax.set_position((left, box.y0, right - left, box.height))


def chart_svg(claim: ClaimVerdict) -> tuple[bytes, str] | None:
    """The deciding chart as SVG (text as paths) with its caption; ``None`` without data."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context(_RC):
        fig = Figure(figsize=(7, 2.8), layout="constrained")
        caption = _draw(fig.add_subplot(), claim)
        if caption is None:
            return None
        out = io.BytesIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue(), caption


def card_png(claim: ClaimVerdict, verdict: str, paragraph: str, sources: Sequence[str]) -> bytes:
    """The whole card as one PNG, 1200 pixels wide."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context(_RC):
        fig = Figure(figsize=(8, 9), dpi=150)
        color = COLORS.get(claim.verdict.value, "#222222")
        fig.text(
            0.05, 0.965, _text(claim.source.outlet[:80]), fontsize=9, color="#59636e", va="top"
        )
        quote = textwrap.fill(f"“{' '.join(claim.source.quote.split())}”", 70)
        fig.text(0.05, 0.93, _text(quote), fontsize=13, va="top", style="italic")
        lines = quote.count("\n") + 1
        top = 0.93 - 0.03 * lines - 0.02
        fig.text(
            0.05,
            top,
            verdict.upper(),
            fontsize=16,
            fontweight="bold",
            color="white",
            va="top",
            bbox={"boxstyle": "round,pad=0.4", "facecolor": color, "edgecolor": color},
        )
        body = textwrap.fill(paragraph, 92)
        fig.text(0.05, top - 0.06, _text(body), fontsize=10, va="top", linespacing=1.4)
        below = top - 0.06 - 0.024 * (body.count("\n") + 1) - 0.03
        ax = fig.add_axes((0.33, max(below - 0.3, 0.14), 0.6, 0.26))
        caption = _draw(ax, claim)
        if caption is None:
            ax.set_visible(False)
        else:
            _fit_labels(fig, ax)
        source = textwrap.fill("Sources: " + "; ".join(sources), 110)
        fig.text(0.05, 0.075, _text(source), fontsize=7, color="#59636e", va="top")
        fig.text(
            0.05,
            0.02,
            _text(f"receipts {claim.versions.get('receipts', '')}: claim {claim.id}"),
            fontsize=7,
            color="#59636e",
        )
        out = io.BytesIO()
        fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
