"""Verdict cards: the plain-language paragraph across verdict kinds and cases, the one-file HTML
card and the PNG, written by `receipts check --out`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claims.card import card_paths, plain_paragraph, render_card_html
from claims.report import ClaimVerdict, Verdict
from ledger.store import Ledger
from receipts.cli import app


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ClaimVerdict]]:
    """Every claim of the s1, alpaca and sky-t1 cases, checked against one real ledger."""
    from claims.cli import case_claims
    from ledger.cases import load_case, record_case

    url = f"sqlite:///{tmp_path_factory.mktemp('card') / 'ledger.db'}"
    out: dict[str, ClaimVerdict] = {}
    with Ledger(url) as ledger:
        for case in ("s1", "alpaca", "sky-t1"):
            record_case(ledger, load_case(case))
            out.update({c.id: c for c in case_claims(case, ledger)})
    yield out


def test_a_misleading_cost_says_what_price_it_needs(verdicts: dict[str, ClaimVerdict]) -> None:
    claim = verdicts["s1/muennighoff"]
    assert claim.verdict is Verdict.MISLEADING
    text = plain_paragraph(claim)
    assert text.startswith("True only under a narrower reading")
    assert "It needs $2.88 per GPU-hour; the typical price was $3.99" in text
    assert "the figure holds at only 3 of the 7 price cards of the time" in text


def test_a_figure_below_every_card_says_so(verdicts: dict[str, ClaimVerdict]) -> None:
    text = plain_paragraph(verdicts["s1/kellogg"])
    assert text.startswith("The evidence contradicts the words.")
    assert "cheaper than every one of the 7 price cards" in text


def test_a_comparison_says_how_many_questions_are_too_few(
    verdicts: dict[str, ClaimVerdict],
) -> None:
    claim = verdicts["s1/paper-o1-preview"]
    assert claim.verdict is Verdict.INCONCLUSIVE
    text = plain_paragraph(claim)
    assert "On AIME24, 30 questions are too few to tell a 12-point lead from luck" in text
    assert "\u221212.6 to +34.8" in text  # a true minus sign


def test_a_significant_shortfall_is_named(verdicts: dict[str, ClaimVerdict]) -> None:
    text = plain_paragraph(verdicts["s1/techcrunch"])
    assert "s1-32B is 18 points behind OpenAI o1, more than chance explains" in text
    assert "an 18-point gap from luck" in text


def test_the_other_assertions_of_a_claim_are_named_with_their_verdicts(
    verdicts: dict[str, ClaimVerdict],
) -> None:
    """The card decides on the most serious assertion; the others still show, in the words
    they check, never a registry id."""
    text = plain_paragraph(verdicts["s1/techcrunch"])
    assert "Also checked: \u201ctrain an AI 'reasoning' model for under $50" in text
    assert "credits\u201d, misleading." in text
    assert "aime24" not in text and "gpqa-diamond" not in text


def test_a_supported_cost_backs_the_words(verdicts: dict[str, ClaimVerdict]) -> None:
    claim = verdicts["alpaca/blog"]
    assert claim.verdict is Verdict.SUPPORTED
    assert plain_paragraph(claim).startswith("The evidence backs the words.")


def test_an_unverifiable_claim_says_nothing_can_check_it(
    verdicts: dict[str, ClaimVerdict],
) -> None:
    text = plain_paragraph(verdicts["alpaca/blog-quality"])
    assert text.startswith("Nothing published can check the words.")


def test_the_html_card_is_one_self_contained_file(verdicts: dict[str, ClaimVerdict]) -> None:
    page = render_card_html(verdicts["s1/seed-zh"])
    assert "李飞飞" in page and "Noto Sans CJK SC" in page
    assert 'src="data:image/svg+xml;base64,' in page
    assert not re.search(r"""(src|href)=["'](?!data:|https?://)""", page)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "Not supported" in page


def test_several_claims_get_one_card_each() -> None:
    names = [p.name for p, _ in card_paths(Path("out/card.html"), [_fake("a/b"), _fake("a/c")])]
    assert names == ["card-a-b.html", "card-a-c.html"]


def _fake(claim_id: str) -> ClaimVerdict:
    from claims.schema import ClaimSource

    return ClaimVerdict(
        id=claim_id,
        title="t",
        subject="s",
        source=ClaimSource(outlet="o", quote="q", language="en"),
        verdict=Verdict.UNVERIFIABLE,
        assertions=[],
        seed=1,
        versions={},
    )


def test_check_out_writes_the_html_and_the_png(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    html, png = tmp_path / "card.html", tmp_path / "card.png"
    done = CliRunner().invoke(
        app, ["check", "s1/muennighoff", "--out", str(html), "--out", str(png), "--ledger", url]
    )
    assert done.exit_code == 0, done.output
    assert "Misleading" in html.read_text(encoding="utf-8")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", ["card.txt", "missing/card.html"])
def test_check_refuses_a_bad_card_path(tmp_path: Path, name: str) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    done = CliRunner().invoke(
        app, ["check", "s1/muennighoff", "--out", str(tmp_path / name), "--ledger", url]
    )
    assert done.exit_code == 2
    assert "--out" in done.output
    assert not (tmp_path / "ledger.db").exists()
