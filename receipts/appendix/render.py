"""Rendering the appendix as Markdown, LaTeX and HTML through jinja2 templates (package data in
``receipts/appendix/templates``). The templates only format: every number they print is a field of
the :class:`~receipts.appendix.schema.Appendix` passed through a formatting filter.

Escaping is on by default in every format: HTML through jinja2's autoescape, Markdown and LaTeX
through ``finalize`` (:mod:`receipts.appendix.escape`), so a template cannot forget it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ledger.printable import printable
from receipts.appendix import fmt
from receipts.appendix.escape import Raw, escape_latex, escape_markdown
from receipts.appendix.plots import FigureFile
from receipts.appendix.schema import Appendix

TextFormat = Literal["md", "tex", "tex-body", "html"]
_TEMPLATES = {
    "md": "appendix.md.j2",
    "tex": "appendix.tex.j2",
    "tex-body": "appendix-body.tex.j2",
    "html": "appendix.html.j2",
}
VERDICT_WORDS = {
    "supported": "supported",
    "misleading": "misleading",
    "not_supported": "not supported",
    "inconclusive": "inconclusive",
    "unverifiable": "unverifiable",
}
POSITION_WORDS = {
    "below": "below the range",
    "within": "within the range",
    "above": "above the range",
}


@dataclass(frozen=True)
class FigureRef:
    """A figure as a template places it."""

    name: str
    """File stem."""
    title: str
    """Short title."""
    caption: str
    """What it shows."""
    png: str
    """Relative path of the PNG (Markdown, LaTeX)."""
    svg: str
    """Relative path of the SVG (Markdown)."""
    data_uri: str
    """The SVG as a ``data:`` URI (HTML)."""
    vector: bool = False
    """Whether a vector PDF lies beside the PNG (LaTeX includes it instead)."""


def figure_refs(figures: Sequence[FigureFile], folder: str) -> dict[str, FigureRef]:
    """Where each figure lies relative to the document, by name."""
    return {
        f.name: FigureRef(
            name=f.name,
            title=f.title,
            caption=f.caption,
            png=Raw(f"{folder}/{f.name}.png"),  # folder: a safe name (see write.figure_folder)
            svg=Raw(f"{folder}/{f.name}.svg"),
            data_uri="data:image/svg+xml;base64," + base64.b64encode(f.svg).decode("ascii"),
            vector=f.pdf is not None,
        )
        for f in figures
    }


def _href(url: str | None) -> str | None:
    """Only web links become links: no ``javascript:`` or ``data:`` from an input file."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def _finalize(escape: Callable[[str], str]) -> Callable[[Any], Any]:
    def finalize(value: Any) -> Any:
        if isinstance(value, Raw):
            return value
        if value is None:
            return fmt.MISSING
        return escape(value if isinstance(value, str) else str(value))

    return finalize


def _md_code(value: Any) -> Raw:
    """An inline code span (backticks in the value cannot close it early)."""
    text = str(value).replace("`", "'").replace("\n", " ")
    return Raw(f"`{text}`")


def _md_verdict(verdict: Any) -> Raw:
    return Raw("**" + escape_markdown(_verdict_words(verdict)) + "**")


def _md_figure(ref: FigureRef | None) -> Raw:
    """The figure as an image with its caption below, or nothing."""
    if ref is None:
        return Raw("")
    caption = escape_markdown(ref.caption)
    return Raw(f"![{caption}]({ref.svg})\n\n*Figure: {caption}*\n")


def _tex_code(value: Any) -> Raw:
    """Monospace text, escaped, breakable after ``-`` and ``.`` (ids, card names, commands)."""
    text = (
        escape_latex(str(value), prose=False)
        .replace("-", r"-\allowbreak{}")
        .replace(".", r".\allowbreak{}")
    )
    return Raw(r"\texttt{" + text + "}")


def _html_wbr(value: Any) -> Any:
    """Escaped text with break opportunities after ``/``, ``-`` and ``_`` (long ids)."""
    from markupsafe import Markup, escape

    text = str(escape(str(value)))
    for char in "/-_":
        text = text.replace(char, char + "<wbr>")
    return Markup(text)


_TEX_COLORS = {
    "not_supported": "receiptsnot",
    "misleading": "receiptsmis",
    "inconclusive": "receiptsinc",
    "unverifiable": "receiptsunv",
    "supported": "receiptssup",
}


def _tex_verdict(verdict: Any) -> Raw:
    color = _TEX_COLORS.get(str(getattr(verdict, "value", verdict)), "black")
    return Raw(rf"\receiptsverdict{{{color}}}{{{escape_latex(_verdict_words(verdict))}}}")


def _tex_figure(ref: FigureRef | None) -> Raw:
    """A floating figure read from ``\\receiptsfigdir`` (the vector PDF where there is one),
    or nothing."""
    if ref is None:
        return Raw("")
    suffix = "pdf" if ref.vector else "png"
    return Raw(
        "\\begin{figure}[!htbp]\n  \\centering\n"
        f"  \\includegraphics[width=\\linewidth]{{\\receiptsfigdir/{ref.name}.{suffix}}}\n"
        f"  \\caption{{{escape_latex(ref.caption)}}}\n\\end{{figure}}\n"
    )


def _verdict_words(verdict: Any) -> str:
    value = str(getattr(verdict, "value", verdict))
    return VERDICT_WORDS.get(value, value)


def _filters() -> dict[str, Callable[..., Any]]:
    return {
        "usd": fmt.usd,
        "usd_range": fmt.usd_range,
        "usd_low": fmt.usd_low,
        "usd_high": fmt.usd_high,
        "hours": fmt.hours,
        "number": lambda v: fmt.MISSING if v is None else fmt.number(v),
        "price": fmt.price,
        "pct": fmt.pct,
        "interval": fmt.interval,
        "count": fmt.count,
        "fpct": fmt.fraction_pct,
        "finterval": fmt.fraction_interval,
        "value": fmt.value,
        "kwh": fmt.kwh,
        "kwh_range": fmt.kwh_range,
        "co2e_range": fmt.co2e_range,
        "number_range": fmt.number_range,
        "seconds": fmt.seconds,
        "ratio": fmt.ratio,
        "timestamp": fmt.timestamp,
        "provenance": fmt.provenance_words,
        "category": fmt.category_name,
        "verdict": _verdict_words,
        "position": lambda p: POSITION_WORDS.get(p, p),
        "href": _href,
        "short": lambda h, n=16: str(h)[:n],
    }


def environment(kind: TextFormat) -> Any:
    """The jinja2 environment of one format, with its escaping and filters."""
    import jinja2

    loader = jinja2.PackageLoader("receipts.appendix", "templates")
    common: dict[str, Any] = {
        "loader": loader,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
        "undefined": jinja2.StrictUndefined,
    }
    if kind == "html":
        env = jinja2.Environment(autoescape=True, **common)
        env.filters["wbr"] = _html_wbr
    elif kind == "md":
        env = jinja2.Environment(autoescape=False, finalize=_finalize(escape_markdown), **common)
        env.filters.update(code=_md_code, verdict_mark=_md_verdict, figure=_md_figure)
    else:
        env = jinja2.Environment(
            autoescape=False,
            finalize=_finalize(escape_latex),
            block_start_string="<%",
            block_end_string="%>",
            variable_start_string="<<",
            variable_end_string=">>",
            comment_start_string="<#",
            comment_end_string="#>",
            **common,
        )
        env.filters.update(code=_tex_code, verdict_mark=_tex_verdict, figure=_tex_figure)
    env.filters.update(_filters())
    return env


class _Figures(dict[str, FigureRef]):
    """Figures by name; a figure that was not drawn is ``None`` (its section says why)."""

    def __missing__(self, key: str) -> None:
        return None


def render_text(
    appendix: Appendix, kind: TextFormat, figures: dict[str, FigureRef], figure_dir: str = ""
) -> str:
    """The appendix as one document of the given format, without control characters (bar
    newlines and tabs): text from an input file cannot carry an escape sequence into it."""
    template = environment(kind).get_template(_TEMPLATES[kind])
    return printable(
        template.render(
            a=appendix,
            figures=_Figures(figures),
            figure_dir=Raw(figure_dir),
            fp=appendix.fingerprint,
            missing=fmt.MISSING,
        )
    )
