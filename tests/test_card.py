"""Verdict cards: the plain-language paragraph across verdict kinds and cases, the one-file HTML
card and the PNG, written by `receipts check --out`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from claims.card import article, card_paths, deciding, plain_paragraph, render_card_html
from claims.card_cost import the
from claims.report import ClaimVerdict, Verdict
from ledger.store import Ledger
from receipts.cli import app


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ClaimVerdict]]:
    """Every claim of the bundled cases with cost and comparison verdicts, checked against one
    real ledger."""
    from claims.cli import case_claims
    from ledger.cases import load_case, record_case

    url = f"sqlite:///{tmp_path_factory.mktemp('card') / 'ledger.db'}"
    out: dict[str, ClaimVerdict] = {}
    with Ledger(url) as ledger:
        for case in ("s1", "alpaca", "sky-t1", "deepseek-v3", "deepseek-r1", "bespoke-stratos"):
            record_case(ledger, load_case(case))
            out.update({c.id: c for c in case_claims(case, ledger)})
    yield out


def test_a_misleading_cost_says_what_price_it_needs(verdicts: dict[str, ClaimVerdict]) -> None:
    claim = verdicts["s1/muennighoff"]
    assert claim.verdict is Verdict.MISLEADING
    text = plain_paragraph(claim)
    assert text.startswith("True only under another reading")
    assert "What the words state, the final fine-tuning run, rented compute, cost" in text
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
    """A figure published as "under $500" is up to $500: its low end is unknown, not $0."""
    claim = verdicts["alpaca/blog"]
    assert claim.verdict is Verdict.SUPPORTED
    text = plain_paragraph(claim)
    assert text.startswith("The evidence backs the words.")
    assert (
        "What the words state, generating the 52K demonstrations with the OpenAI API, cost up "
        "to $500.00 by the source's own published figures." in text
    )
    assert "$0.00" not in text


def test_a_supported_cost_rates_the_scope_it_rests_on(verdicts: dict[str, ClaimVerdict]) -> None:
    """DeepSeek-V3's $5.576M holds for the official training at the claimant's $2/GPU-hour:
    the paragraph rates that scope on that basis, not the first scope listed."""
    claim = verdicts["deepseek-v3/report"]
    assert claim.verdict is Verdict.SUPPORTED
    text = plain_paragraph(claim)
    assert "What the words state, the official training of DeepSeek-V3" in text
    assert (
        "cost $5.58M at the claimant's $2/GPU-hour, an owner's price below the rental cards "
        "($3.42 at the cheapest)" in text
    )
    assert "the figure holds at none of the 2 price cards of the time" in text
    assert "post-training run only" not in text and "$1,115" not in text
    nature = plain_paragraph(verdicts["deepseek-r1/nature-table"])
    assert "What the words state, the R1-specific stages" in nature
    assert "final R1 training run" not in nature


def test_a_misleading_cost_names_what_the_verdict_rests_on(
    verdicts: dict[str, ClaimVerdict],
) -> None:
    bbc = plain_paragraph(verdicts["deepseek-r1/bbc"])
    assert "The figure is DeepSeek-V3's, not DeepSeek-R1's: what the words describe, the " in bbc
    assert "final R1 training run" not in bbc
    hindustan = plain_paragraph(verdicts["deepseek-v3/hindustan-times"])
    assert "the figure holds only at $5.23M on the owned basis" in hindustan
    assert "not on the rental basis the words mean" in hindustan
    inherited = plain_paragraph(verdicts["alpaca/aibusiness"])
    assert "What the words describe, the recipe from LLaMA-7B" in inherited
    assert "leave out the inherited LLaMA-7B" in inherited


def test_a_not_supported_cost_rates_the_stated_scope(verdicts: dict[str, ClaimVerdict]) -> None:
    text = plain_paragraph(verdicts["s1/kellogg"])
    assert (
        "What the words state, the final fine-tuning run, rented compute, cost $20.73–$85.21 "
        "across the prices of the time. It needs $0.87 per GPU-hour" in text
    )


def test_no_paragraph_doubles_an_article_repeats_a_range_end_or_counts_zero_cards(
    verdicts: dict[str, ClaimVerdict],
) -> None:
    for claim in verdicts.values():
        text = plain_paragraph(claim)
        assert " the the " not in text.lower(), claim.id
        assert "only 0 of" not in text, claim.id
        assert not re.search(r"(\$[\d,.]+M?)\u2013\1(?![\d,.])", text), (claim.id, text)


def test_a_significant_win_on_a_beats_claim_says_so(verdicts: dict[str, ClaimVerdict]) -> None:
    text = plain_paragraph(verdicts["s1/paper-o1-preview"])
    assert (
        "On MATH500 (500 questions), s1-32B is 7.5 points ahead of o1-preview, more than "
        "chance explains" in text
    )
    assert "within what the words allow" not in text


def test_several_named_comparators_are_each_named(verdicts: dict[str, ClaimVerdict]) -> None:
    text = plain_paragraph(verdicts["bespoke-stratos/blog"])
    assert "On AIME24 against Sky-T1-32B-Preview, 30 questions" in text
    assert "On AIME24 against o1-preview, 30 questions" in text


@pytest.mark.parametrize(
    ("number", "word"),
    [
        ("8", "an"),
        ("8.5", "an"),
        ("11", "an"),
        ("18", "an"),
        ("80", "an"),
        ("86", "an"),
        ("800", "an"),
        ("8,000", "an"),
        ("11,000", "an"),
        ("18000", "an"),
        ("11000000", "an"),
        ("1", "a"),
        ("12", "a"),
        ("0.6", "a"),
        ("110", "a"),
        ("1,100", "a"),
        ("180", "a"),
        ("111", "a"),
    ],
)
def test_the_article_before_a_number_follows_how_it_is_read(number: str, word: str) -> None:
    assert article(number) == word


def test_an_unverifiable_claim_says_nothing_can_check_it(
    verdicts: dict[str, ClaimVerdict],
) -> None:
    text = plain_paragraph(verdicts["alpaca/blog-quality"])
    assert text.startswith("Nothing published can check the words.")


def test_the_card_rates_the_scope_the_rule_that_decided_names(
    ledger: Ledger, tmp_path: Path
) -> None:
    """The words credit the figure to toy-big (``figure_of``), but toy-big published no figure
    of that size and none of its scopes fits it; the figure fails for the recipe the words
    imply and fits only all of toy-ft's runs. The wider scope decided the verdict, and the card
    says so: a card that guessed from the scopes alone called the figure toy-big's."""
    import yaml
    from test_claims_costs import _big, _y, toy_ft

    from claims.engine import check_claims
    from claims.files import load_claims
    from claims.registry import load_registry
    from ledger.cases import load_case, record_case

    y = _y(130)
    toy_ft(tmp_path)
    record_case(ledger, load_case(_big(tmp_path)))  # toy-big's own figure is $4,000
    assert not y * 5 / 6 <= 4000 <= y * 6 / 5
    claim = tmp_path / "claim.yaml"
    assertion = {"kind": "cost", "id": "c", "text": "t", "bound": "about", "usd": int(y)}
    claim.write_text(
        yaml.safe_dump(
            {
                "schema_version": 1,
                "id": "toy/figure-of",
                "title": "t",
                "subject": "toy-ft",
                "case": "toy-ft.yaml",
                "source": {"outlet": "o", "quote": "q", "language": "en", "date": "2025-01-15"},
                "assertions": [{**assertion, "figure_of": "toy-big"}],
            }
        )
    )
    registry = load_registry()
    verdict = check_claims(load_claims([str(claim)], registry), registry, ledger).claims[0]
    a = verdict.assertions[0]
    assert a.verdict is Verdict.MISLEADING
    assert [s.status for s in a.scopes if s.subject == "toy-big"] == ["fails"]
    assert (a.decided_by, a.decided_subject, a.decided_scope) == ("wider", "toy-ft", "toy-ft/all")
    text = plain_paragraph(verdict)
    assert "The figure fits the scope “all”, which cost " in text
    assert "; that is wider than what the words describe, the recipe, which cost " in text
    assert "toy-big" not in text


@pytest.mark.parametrize(
    ("label", "words"),
    [
        ("all", "the scope “all”"),  # not "the all"
        ("All ", "the scope “All”"),
        ("recipe", "the recipe"),
        ("final fine-tuning run, rented compute", "the final fine-tuning run, rented compute"),
        ("all of toy-ft's runs", "all of toy-ft's runs"),
        ("everything the authors ran", "everything the authors ran"),
        ("generating the 52K demonstrations", "generating the 52K demonstrations"),
    ],
)
def test_a_scope_label_reads_in_a_sentence(label: str, words: str) -> None:
    assert the(label) == words


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


def _axes_of(claim: ClaimVerdict) -> object:
    from matplotlib.figure import Figure

    from claims.card_chart import _draw

    fig = Figure(figsize=(7, 2.8))
    ax = fig.add_subplot()
    assert _draw(ax, claim) is not None
    return ax


def test_an_upper_bound_is_drawn_as_a_bound_not_a_bar_from_the_axis(
    verdicts: dict[str, ClaimVerdict],
) -> None:
    """Alpaca's "under $500" of API calls: nothing drawn below $500/12 on its row (the old
    chart drew a bar from the axis edge, an invented low end), an arrow, and "up to $500"."""
    ax: Any = _axes_of(verdicts["alpaca/blog"])
    rows = [s for s in deciding(verdicts["alpaca/blog"]).scopes if s.cost_usd_high > 0]  # type: ignore[union-attr]
    row = next(i for i, s in enumerate(rows) if s.upper_bound_only)
    xs = [x for line in ax.get_lines() for x, y in line.get_xydata() if y == row]
    assert xs and min(xs) >= 500 / 12 - 1e-9
    assert [t for t in ax.texts if t.get_text().startswith("up to")]
    assert any(getattr(c, "arrow_patch", None) is not None for c in ax.texts)


def test_the_estimate_label_sits_by_its_point(verdicts: dict[str, ClaimVerdict]) -> None:
    ax: Any = _axes_of(verdicts["s1/techcrunch"])
    labels = [t for t in ax.texts if t.get_text() == "\u221217.7"]
    assert labels and all(abs(t.get_position()[0] - (-17.7)) < 0.1 for t in labels)


def test_the_png_card_keeps_its_axis_labels_inside_the_image(
    verdicts: dict[str, ClaimVerdict],
) -> None:
    import io

    from PIL import Image

    from claims.card import render_card_png

    for claim in ("alpaca/blog", "deepseek-v3/report"):
        png = render_card_png(verdicts[claim])
        image = Image.open(io.BytesIO(png)).convert("L")
        # the left margin (the first 2% of the width) stays blank: no label runs off the edge
        margin = image.crop((0, 0, image.width // 50, image.height))
        assert margin.getextrema()[0] > 200, claim
