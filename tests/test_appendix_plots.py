"""The figures that make the argument (scope ladder, forest plot, GPU price strip), accuracy
panels fitted to their data, vector figures for LaTeX, and several formats in one call."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.cases import load_case, record_case
from ledger.store import Ledger
from receipts.appendix import Appendix, build_appendix
from receipts.appendix.argument import forest_rows, ladder_rows, price_strips
from receipts.appendix.escape import escape_latex, escape_markdown
from receipts.appendix.plots import accuracy_limits, render_figures
from receipts.cli import app

MI300X_CASE = Path(__file__).parent / "data" / "cases" / "toy-mi300x.yaml"


@pytest.fixture(scope="module")
def appendices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Appendix]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('plots') / 'ledger.db'}"
    with Ledger(url) as ledger:
        out = {}
        for case in ("s1", "deepseek-v3", str(MI300X_CASE)):
            loaded = load_case(case)
            record_case(ledger, loaded)
            out[loaded.id] = build_appendix(ledger, loaded.subject, case=loaded)
        yield out


def test_the_ladder_puts_each_figure_with_who_said_it_beside_the_scopes(
    appendices: dict[str, Appendix],
) -> None:
    rows = ladder_rows(appendices["s1"])
    figures = [r for r in rows if r.kind == "figure"]
    assert [r.low for r in figures] == [6.0, 20.0, 50.0]
    assert figures[2].label.startswith("$50.00: TechCrunch")
    assert rows[-1].kind == "inherited" and rows[-1].high and rows[-1].high > 4e7


def test_an_unpriced_scope_is_not_drawn_at_zero(appendices: dict[str, Appendix]) -> None:
    rows = ladder_rows(appendices["toy-mi300x"])
    scopes = [r for r in rows if r.kind != "figure"]
    assert scopes and all(r.low is None and r.note == "not priced (—)" for r in scopes)
    names = [f.name for f in render_figures(appendices["toy-mi300x"])]
    assert "scope-ladder" not in names  # nothing priced to set the figures against


def test_the_forest_has_every_decided_difference_with_its_band(
    appendices: dict[str, Appendix],
) -> None:
    rows = forest_rows(appendices["s1"])
    aime = [r for r in rows if r.named and r.label.startswith("vs OpenAI o1, AIME24 (n=30)")]
    assert aime and aime[0].rule == "parity" and aime[0].band == 5.0
    assert aime[0].low < -5 < aime[0].high  # the interval spans the band: inconclusive
    beats = [r for r in rows if r.rule == "beats"]
    assert beats and all(r.band == 0.0 for r in beats)
    assert rows[0].named  # the named comparators first


def test_the_price_strip_has_dated_cards_and_each_implied_rate(
    appendices: dict[str, Appendix],
) -> None:
    strips = price_strips(appendices["s1"])
    assert [s.resource for s in strips] == ["gpu/H100"]
    rates = [round(r.usd_per_gpu_hour, 2) for r in strips[0].implied]
    assert rates[:3] == [0.87, 2.88, 7.21]
    assert len(strips[0].cards) >= 12


def test_accuracy_panels_are_fitted_to_their_data() -> None:
    rows = [("B", "m", 50.0, 44.0, 56.0, "subject"), ("B", "o", 58.0, 52.0, 61.0, "baseline")]
    assert accuracy_limits(rows, "B") == (40, 65)
    assert accuracy_limits([("C", "m", 97.0, 95.0, 99.5, "subject")], "C") == (90, 100)


def test_latex_prose_has_true_minus_signs_and_typographic_quotes() -> None:
    assert escape_latex("-3.3 [-20.0, +13.3]") == (r"\ensuremath{-}3.3 [\ensuremath{-}20.0, +13.3]")
    assert escape_latex("s1-32B, 2025-02-05") == "s1-32B, 2025-02-05"
    assert escape_latex("\"reasoning\" it's 'x'") == "“reasoning” it’s ‘x’"
    assert escape_latex('a"b', prose=False) == r"a\textquotedbl{}b"


def test_markdown_leaves_amounts_bare_and_escapes_other_dollars() -> None:
    assert escape_markdown("$13.80–$85.21") == "$13.80–$85.21"
    assert escape_markdown("under $50 and $ x and $/GPU-h") == r"under $50 and \$ x and \$/GPU-h"


def test_several_formats_in_one_call_into_a_new_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    runner = CliRunner()
    done = runner.invoke(app, ["audit", "s1", "--ledger", url, "--json"])
    assert done.exit_code == 0, done.output
    out = tmp_path / "new" / "folder"
    done = runner.invoke(
        app,
        [
            "appendix",
            "--subject",
            "s1-32B",
            "--out",
            str(out),
            "--format",
            "md,tex",
            "--format",
            "html",
            "--ledger",
            url,
        ],
    )
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == [
        "report-body.tex",
        "report.html",
        "report.md",
        "report.tex",
    ]
    figures = out / "report-figures"
    for name in ("scope-ladder", "forest", "gpu-prices", "accuracy"):
        assert (figures / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
    body = (out / "report-body.tex").read_text(encoding="utf-8")
    assert r"\receiptsfigdir/forest.pdf}" in body and ".png}" not in body
    md = (out / "report.md").read_text(encoding="utf-8")
    assert not re.search(r"\\\$\d", md), "a \\$ before an amount"
    assert "![" in md and "forest.svg" in md and "scope-ladder.svg" in md
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count('src="data:image/svg+xml;base64,') == 6


def test_the_old_file_usage_still_works_and_a_bad_format_writes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "s1", "--ledger", url]).exit_code == 0
    done = runner.invoke(
        app, ["appendix", "--subject", "s1-32B", "--out", str(tmp_path / "a.json"), "--ledger", url]
    )
    assert done.exit_code == 0 and (tmp_path / "a.json").exists()
    bad = tmp_path / "bad"
    done = runner.invoke(
        app,
        [
            "appendix",
            "--subject",
            "s1-32B",
            "--out",
            str(bad),
            "--format",
            "md,docx",
            "--ledger",
            url,
        ],
    )
    assert done.exit_code == 2 and "docx" in done.output
    assert not bad.exists()
