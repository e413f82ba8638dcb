"""Text from input files renders as text in every format: LaTeX, Markdown and HTML.

The nasty quote below goes into a claim's quote, title and reason, a published figure's quote, a
run's name and a funnel step's name; each renderer must show it literally and run none of it.
These tests need no external tool; test_appendix_tools.py compiles and renders the same appendix.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.cases import load_case, record_case
from ledger.store import Ledger
from receipts.appendix import Appendix, build_appendix
from receipts.appendix.escape import escape_latex, escape_markdown, escape_matplotlib
from receipts.appendix.plots import render_figures
from receipts.appendix.render import figure_refs, render_text

NASTY = r"Said: \ % & _ $ # { } ~ ^ <script>alert('pwned')</script> -- 'quoted' \"double\" `tick`"
"""Every character LaTeX, Markdown or HTML reads as markup, and a script tag."""
CJK = "李飞飞团队用不到50美元训练出媲美DeepSeek R1的AI推理模型"


def nasty_appendix(appendix: Appendix) -> Appendix:
    """``appendix`` with the nasty text in every kind of field that comes from an input file."""
    claim = appendix.claims[0]
    source = claim.source.model_copy(update={"quote": NASTY, "url": "javascript:alert(1)"})
    first = claim.assertions[0].model_copy(update={"reason": NASTY, "text": NASTY})
    claim = claim.model_copy(
        update={"title": NASTY, "source": source, "assertions": [first, *claim.assertions[1:]]}
    )
    audit = appendix.audit.model_copy(
        update={
            "headline_figures": [
                appendix.audit.headline_figures[0].model_copy(
                    update={"quote": NASTY, "said_by": NASTY}
                )
            ]
        }
    )
    runs = [appendix.runs[0].model_copy(update={"name": NASTY}), *appendix.runs[1:]]
    assert appendix.funnel is not None
    funnel = appendix.funnel.funnels[0]
    step = funnel.steps[0].model_copy(update={"name": NASTY})
    report = appendix.funnel.model_copy(
        update={
            "funnels": [
                funnel.model_copy(update={"steps": [step, *funnel.steps[1:]]}),
                *appendix.funnel.funnels[1:],
            ]
        }
    )
    return appendix.model_copy(
        update={
            "claims": [claim, *appendix.claims[1:]],
            "audit": audit,
            "runs": runs,
            "funnel": report,
        }
    )


@pytest.fixture(scope="module")
def s1_appendix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appendix]:
    url = f"sqlite:///{tmp_path_factory.mktemp('esc') / 'ledger.db'}"
    with Ledger(url) as ledger:
        record_case(ledger, load_case("s1"))
        yield build_appendix(ledger, "s1-32B")


@pytest.fixture(scope="module")
def rendered(s1_appendix: Appendix) -> dict[str, str]:
    appendix = nasty_appendix(s1_appendix)
    refs = figure_refs(render_figures(appendix), "report-figures")
    return {
        kind: render_text(appendix, kind, refs, "report-figures")  # type: ignore[arg-type]
        for kind in ("md", "tex", "html")
    }


def flat(text: str) -> str:
    return " ".join(text.split())


def test_latex_escape_of_each_special_character() -> None:
    assert escape_latex("\\%&_$#{}~^") == (
        r"\textbackslash{}\%\&\_\$\#\{\}\textasciitilde{}\textasciicircum{}"
    )
    assert escape_latex("<b>") == r"\textless{}b\textgreater{}"
    assert escape_latex("a--b") == "a-{}-b"
    assert escape_latex(CJK) == rf"\receiptscjk{{{CJK}}}"
    assert escape_latex("“李飞飞” & x") == r"“\receiptscjk{李飞飞}” \& x"
    assert escape_latex("≈ 5 ≤ 6 α Ω") == (
        r"\ensuremath{\approx} 5 \ensuremath{\leq} 6 \ensuremath{\alpha} \ensuremath{\Omega}"
    )
    assert escape_latex("snow ☃") == r"snow \textup{[U+2603]}"
    assert escape_latex("ﬁne é") == "fine é"


def test_markdown_escape_keeps_text_on_one_line_and_inert() -> None:
    assert escape_markdown("a|b\nc") == r"a\|b c"
    assert escape_markdown("<script>") == r"\<script\>"
    assert escape_markdown("1. not a list") == r"1\. not a list"
    assert escape_markdown("- not a list") == r"\- not a list"
    assert escape_markdown("2.46M (1.97M–3.28M)") == "2.46M (1.97M–3.28M)"
    assert escape_matplotlib("$50 a\\b") == r"\$50 a\\b"


def test_markdown_renders_the_quote_as_text(rendered: dict[str, str]) -> None:
    from markdown_it import MarkdownIt

    page = MarkdownIt("commonmark", {"html": True}).enable("table").render(rendered["md"])
    assert "<script" not in page
    text = flat(html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert flat(NASTY) in text
    assert "javascript:" not in re.findall(r'href="([^"]*)"', page)


def test_html_autoescapes_the_quote_and_never_links_a_script_url(rendered: dict[str, str]) -> None:
    page = rendered["html"]
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    text = flat(html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert flat(NASTY) in text


def test_html_is_self_contained(rendered: dict[str, str]) -> None:
    page = rendered["html"]
    assert "<link" not in page and "@import" not in page and "<iframe" not in page
    assert not re.search(r"""src=["'](?!data:)""", page)
    assert not re.search(r"url\((?!data:)", page)
    assert page.count('src="data:image/svg+xml;base64,') == 6


def test_latex_source_has_no_raw_special_from_the_quote(rendered: dict[str, str]) -> None:
    tex = rendered["tex"]
    assert "<script>" not in tex and "alert('pwned')" not in tex
    assert r"\textless{}script\textgreater{}" in tex
    assert r"\receiptscjk{" in tex  # the seed claim's Chinese headline


def test_json_keeps_the_text_exactly(s1_appendix: Appendix) -> None:
    appendix = nasty_appendix(s1_appendix)
    again = Appendix.model_validate_json(appendix.model_dump_json())
    assert again.claims[0].source.quote == NASTY
    assert any(c.source.quote == CJK for c in again.claims)


def test_the_figures_draw_the_quote_in_a_step_name(s1_appendix: Appendix) -> None:
    figures = {f.name: f for f in render_figures(nasty_appendix(s1_appendix))}
    assert figures["funnel"].png.startswith(b"\x89PNG") and b"<svg" in figures["funnel"].svg


def test_templates_are_package_data() -> None:
    folder = Path(__file__).parent.parent / "receipts" / "appendix" / "templates"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "appendix-body.tex.j2",
        "appendix.css",
        "appendix.html.j2",
        "appendix.md.j2",
        "appendix.tex.j2",
    ]
