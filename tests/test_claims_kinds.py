"""Assertions the formats could not state get an honest verdict: an unnamed comparator, a
relative-quality claim judged by a model or by people, a named set of comparators, and data
efficiency across two recipes."""

from __future__ import annotations

from pathlib import Path

import pytest

from claims import stats
from claims.engine import check_claims
from claims.files import load_claims
from claims.registry import Registry, load_registry
from claims.report import AssertionVerdict, IntervalMethod, Verdict
from ledger.errors import InputError

LIKE = Path(__file__).parent / "data" / "claims" / "likeforlike-registry.yaml"


@pytest.fixture(scope="module")
def reg() -> Registry:
    return load_registry([LIKE])


def _write(tmp_path: Path, assertion: str, subject: str = "lf-a") -> Path:
    path = tmp_path / "claim.yaml"
    path.write_text(
        "schema_version: 1\nid: t/claim\ntitle: t\n"
        f"subject: {subject}\nsource:\n  outlet: test\n  quote: q\n  language: en\n"
        "  date: 2025-03-10\nassertions:\n" + assertion,
        encoding="utf-8",
    )
    return path


def _check(
    reg: Registry, tmp_path: Path, assertion: str, subject: str = "lf-a"
) -> AssertionVerdict:
    path = _write(tmp_path, assertion, subject)
    (verdict,) = check_claims(load_claims([str(path)], reg), reg, None).claims[0].assertions
    return verdict


# ---- unnamed comparators -----------------------------------------------------------------------


def test_an_unnamed_comparator_is_unverifiable_and_says_why(reg: Registry, tmp_path: Path) -> None:
    verdict = _check(
        reg,
        tmp_path,
        "  - {kind: comparison, id: sota, text: beats previous SOTA, relation: beats,"
        " comparator_text: previous SOTA}\n",
    )
    assert verdict.verdict is Verdict.UNVERIFIABLE
    assert "the comparator is not named ('previous SOTA')" in verdict.reason


@pytest.mark.parametrize(
    ("fields", "needles"),
    [
        ("", ["field assertions[0].comparator", "comparator_text"]),
        ("comparator: lf-b, comparators: [lf-c]", ["field assertions[0].comparators", "not both"]),
        ("comparators: [lf-b, gpt-9]", ["field assertions[0].comparators[1]", "unknown model"]),
    ],
)
def test_comparators_are_named_one_way(
    reg: Registry, tmp_path: Path, fields: str, needles: list[str]
) -> None:
    sep = ", " if fields else ""
    path = _write(
        tmp_path,
        f"  - {{kind: comparison, id: x, text: t, relation: beats{sep}{fields}}}\n",
    )
    with pytest.raises(InputError) as exc:
        load_claims([str(path)], reg)
    for needle in needles:
        assert needle in str(exc.value)


# ---- a named set ("the best open models") ------------------------------------------------------


def test_beats_a_named_set_must_hold_against_each(reg: Registry, tmp_path: Path) -> None:
    verdict = _check(
        reg,
        tmp_path,
        "  - {kind: comparison, id: best, text: the best of the lot, relation: beats,"
        " comparators: [lf-c, lf-d], comparator_text: the other open models,"
        " benchmarks: [lf-bench]}\n",
        subject="lf-a",
    )
    by = {c.comparator: c.verdict for c in verdict.comparators}
    assert by == {"lf-c": Verdict.SUPPORTED, "lf-d": Verdict.NOT_SUPPORTED}
    assert verdict.verdict is Verdict.NOT_SUPPORTED
    assert verdict.reason.startswith(
        "against the other open models (lf-c, lf-d): not_supported against lf-d"
    )
    assert "holds against lf-c" in verdict.reason


def test_a_named_set_that_holds_against_each_is_supported(reg: Registry, tmp_path: Path) -> None:
    verdict = _check(
        reg,
        tmp_path,
        "  - {kind: comparison, id: best, text: t, relation: beats, comparators: [lf-c],"
        " benchmarks: [lf-bench]}\n",
    )
    assert verdict.verdict is Verdict.SUPPORTED
    assert verdict.reason.startswith("against each of the named set (lf-c): holds")


# ---- relative quality ("90% of ChatGPT quality") -----------------------------------------------


def test_relative_quality_judged_by_a_model_is_unverifiable(reg: Registry, tmp_path: Path) -> None:
    verdict = _check(
        reg,
        tmp_path,
        "  - {kind: relative_quality, id: q, text: 90% of B's quality as judged by GPT-4,"
        " comparator: lf-b, fraction_pct: 90, judge: model, judge_name: GPT-4}\n",
    )
    assert verdict.kind == "relative_quality" and verdict.verdict is Verdict.UNVERIFIABLE
    assert "the preference of GPT-4 (another model's judgement)" in verdict.reason
    assert "not on a scored benchmark" in verdict.reason
    assert any("LF-Bench" in line and "benchmarks" in line for line in verdict.evidence)


def test_relative_quality_judged_by_people_says_so(reg: Registry, tmp_path: Path) -> None:
    verdict = _check(
        reg,
        tmp_path,
        "  - {kind: relative_quality, id: q, text: t, comparator: lf-b, fraction_pct: 90,"
        " judge: people}\n",
    )
    assert verdict.verdict is Verdict.UNVERIFIABLE
    assert "the preference of people (people's judgement)" in verdict.reason


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(90, Verdict.SUPPORTED), (100, Verdict.INCONCLUSIVE), (120, Verdict.NOT_SUPPORTED)],
)
def test_relative_quality_on_a_scored_benchmark(
    reg: Registry, tmp_path: Path, fraction: int, expected: Verdict
) -> None:
    verdict = _check(
        reg,
        tmp_path,
        "  - {kind: relative_quality, id: q, text: t, comparator: lf-b, judge: model,"
        f" fraction_pct: {fraction}, benchmarks: [lf-bench]}}\n",
    )
    (check,) = verdict.comparators[0].benchmarks
    assert check.test is not None and check.test.method is IntervalMethod.MOVER
    # like for like: 62.0 vs 61.0 in the independent table
    assert check.test.estimate_points == pytest.approx(62.0 - fraction / 100 * 61.0)
    assert check.like_for_like
    assert verdict.verdict is expected


def test_the_share_interval_is_newcombes_at_a_share_of_one() -> None:
    weighted = stats.weighted_difference(17, 30, 12, 30, 1.0)
    newcombe = stats.newcombe_difference(17, 30, 12, 30)
    assert (weighted.low, weighted.high) == pytest.approx((newcombe.low, newcombe.high))
    half = stats.weighted_difference(17, 30, 12, 30, 0.5)
    assert half.estimate == pytest.approx(17 / 30 - 6 / 30) and half.low < half.estimate


# ---- data efficiency across recipes ------------------------------------------------------------

ACROSS = (
    "  - {kind: data_efficiency, id: d, text: matches B with 1% of the data, relation: matches,"
    " small_dataset: LF-A-1K, large_model: lf-b, data_fraction_pct: FRACTION,"
    " benchmarks: [lf-sized-later]}\n"
)


def test_across_recipes_checks_the_stated_share_against_the_registry(
    reg: Registry, tmp_path: Path
) -> None:
    verdict = _check(reg, tmp_path, ACROSS.replace("FRACTION", "1"))
    assert any("1,000 of 100,000 examples = 1%: within 20%" in line for line in verdict.evidence)
    assert verdict.verdict is Verdict.INCONCLUSIVE  # LF-Sized-Later has no n: no interval
    off = _check(reg, tmp_path, ACROSS.replace("FRACTION", "0.1"))
    assert off.verdict is Verdict.NOT_SUPPORTED
    assert "stated 0.1% of the data" in off.reason
    assert "more than 20% above the stated share" in off.reason
    # "with 1%" bounds the data like "under $Y": using less than stated does not mislead
    under = _check(reg, tmp_path, ACROSS.replace("FRACTION", "5"))
    assert under.verdict is Verdict.INCONCLUSIVE  # the performance part, not the share
    assert "less than stated (the words understate the efficiency)" in under.reason


def test_across_recipes_the_headline_fallback_is_flagged(reg: Registry, tmp_path: Path) -> None:
    body = ACROSS.replace("FRACTION", "1").replace("[lf-sized-later]", "[lf-bench]")
    verdict = _check(reg, tmp_path, body)
    # one table scores both A and B here, so that pair decides: 62.0 vs 61.0
    (check,) = verdict.comparators[0].benchmarks
    assert check.like_for_like and check.test is not None and check.test.subject_pct == 62.0
    assert verdict.verdict is Verdict.INCONCLUSIVE  # +1.0 on 500 items: a 5-point gap not ruled out
    vs_c = body.replace("large_model: lf-b", "large_model: lf-c").replace(
        "data_fraction_pct: 1, ", ""
    )
    verdict = _check(reg, tmp_path, vs_c)
    assert (
        "scores from different tables (no table measured both sides under one protocol)"
        in verdict.reason
    )
    assert any("across recipes, no table scores both models" in line for line in verdict.evidence)
    assert any("lf-c: training set not in the registry" in line for line in verdict.evidence)


def test_large_dataset_or_large_model_exactly_one(reg: Registry, tmp_path: Path) -> None:
    body = ACROSS.replace("FRACTION", "1").replace(
        "large_model: lf-b", "large_model: lf-b, large_dataset: LF-B-100K"
    )
    with pytest.raises(InputError, match=r"field assertions\[0\]\.large_dataset"):
        load_claims([str(_write(tmp_path, body))], reg)
