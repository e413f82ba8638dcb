"""The verdict engine on constructed evidence: cost scopes from a real ledger, paired and unpaired
comparisons, per-item results from files and from the ledger's eval runs, protocol checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from claims.compare import Context, check_benchmark, protocol_difference
from claims.engine import DEFAULT_SEED, check_claims, check_comparison
from claims.files import load_claims
from claims.items import (
    ChainedItems,
    ItemIndex,
    ItemResultsSource,
    LedgerItemResults,
    load_item_results,
)
from claims.registry import Registry, load_registry
from claims.report import IntervalMethod, Verdict
from claims.schema import (
    ComparisonAssertion,
    ItemResults,
    Protocol,
    ProtocolKind,
    Relation,
)
from ledger.schema import EvalItem, Record, Run, Subject
from ledger.store import Ledger

DATA = Path(__file__).parent / "data" / "claims"


# ---- comparisons: paired and unpaired ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Registry:
    return load_registry([DATA / "demo-registry.yaml"])


def _ctx(
    registry: Registry, items: ItemResultsSource | None = None, seed: int = DEFAULT_SEED
) -> Context:
    return Context(registry=registry, items=items or ItemIndex(), seed=seed)


def test_aggregates_only_use_newcombe_and_30_questions_cannot_decide(demo: Registry) -> None:
    check = check_benchmark(
        _ctx(demo), Relation.BEATS, None, "demo-model-a", "demo-model-b", demo.benchmarks["aime24"]
    )
    assert check.test is not None and check.test.method is IntervalMethod.NEWCOMBE
    assert check.test.estimate_points == pytest.approx(20.0)
    assert check.test.ci_low_points == pytest.approx(-5.0028, abs=1e-3)
    assert check.test.ci_high_points == pytest.approx(41.7921, abs=1e-3)
    assert check.verdict is Verdict.INCONCLUSIVE
    assert check.test.seed is None and check.test.p_value is None


def test_per_item_results_for_both_sides_give_a_paired_test(demo: Registry) -> None:
    items = load_item_results([DATA / "items-aime24.yaml"], demo)
    check = check_benchmark(
        _ctx(demo, items, seed=123),
        Relation.BEATS,
        None,
        "demo-model-a",
        "demo-model-b",
        demo.benchmarks["aime24"],
    )
    test = check.test
    assert test is not None and test.method is IntervalMethod.PAIRED
    assert (test.items_paired, test.subject_only_correct, test.comparator_only_correct) == (
        30,
        6,
        0,
    )
    assert test.p_value == pytest.approx(2 / 64)
    assert test.seed == 123 and test.resamples == 10_000
    assert test.ci_low_points > 0
    assert check.verdict is Verdict.SUPPORTED
    assert "exact McNemar p=0.0312" in check.reason


def test_results_for_one_side_only_fall_back_to_unpaired(demo: Registry) -> None:
    a = load_item_results([DATA / "items-aime24.yaml"], demo).get("demo-model-a", "aime24")
    assert a is not None
    check = check_benchmark(
        _ctx(demo, ItemIndex([a])),
        Relation.BEATS,
        None,
        "demo-model-a",
        "demo-model-b",
        demo.benchmarks["aime24"],
    )
    assert check.test is not None and check.test.method is IntervalMethod.NEWCOMBE


def test_pairing_is_by_item_id(demo: Registry) -> None:
    protocol = Protocol(kind=ProtocolKind.GREEDY)
    a = ItemResults(
        model="demo-model-a",
        benchmark="aime24",
        protocol=protocol,
        source="a",
        correct={"60": True, "61": True, "62": False, "63": True},
    )
    b = ItemResults(
        model="demo-model-b",
        benchmark="aime24",
        protocol=protocol,
        source="b",
        correct={"63": False, "62": True, "61": True, "99": True},
    )
    check = check_benchmark(
        _ctx(demo, ItemIndex([a, b])),
        Relation.BEATS,
        None,
        "demo-model-a",
        "demo-model-b",
        demo.benchmarks["aime24"],
    )
    test = check.test
    assert test is not None and test.items_paired == 3  # 61, 62, 63
    assert (test.subject_only_correct, test.comparator_only_correct) == (1, 1)
    assert test.estimate_points == 0.0


def test_paired_verdict_through_the_claim_file(demo: Registry) -> None:
    loaded = load_claims([str(DATA / "demo-claim.yaml")], demo)
    unpaired = check_claims(loaded, demo, None).claims[0]
    assert unpaired.verdict is Verdict.INCONCLUSIVE
    items = load_item_results([DATA / "items-aime24.yaml"], demo)
    paired = check_claims(loaded, demo, None, items, seed=7).claims[0]
    assert paired.verdict is Verdict.SUPPORTED
    assert paired.seed == 7 and set(paired.versions) >= {"numpy", "scipy", "statsmodels"}
    (check,) = paired.assertions[0].comparators[0].benchmarks
    assert check.test is not None and check.test.seed == 7


def test_ledger_eval_runs_are_a_source_of_per_item_results(ledger: Ledger, demo: Registry) -> None:
    records: list[Record] = []
    for model, right in (("demo-model-a", 78), ("demo-model-b", 72)):
        run = f"{model}/eval"
        records += [
            Subject(id=model, name=model),
            Run(
                id=run,
                subject=model,
                stage="evaluation",
                category="evaluation",
                name="AIME24 eval",
                status="succeeded",
            ),
        ]
        records += [
            EvalItem(
                id=f"{run}/{i}", run=run, benchmark="AIME24", item_id=str(i), correct=i < right
            )
            for i in range(60, 90)
        ]
    ledger.record(records)
    source = LedgerItemResults(ledger, demo)
    found = source.get("demo-model-a", "aime24")
    assert found is not None and sum(found.correct.values()) == 18
    assert source.get("demo-model-a", "math500") is None
    chained = ChainedItems(ItemIndex(), source)
    check = check_benchmark(
        _ctx(demo, chained),
        Relation.BEATS,
        None,
        "demo-model-a",
        "demo-model-b",
        demo.benchmarks["aime24"],
    )
    assert check.test is not None and check.test.method is IntervalMethod.PAIRED
    assert check.verdict is Verdict.SUPPORTED


# ---- protocols, substitutions and stated gains -------------------------------------------------


def test_protocol_mismatch_and_which_side_it_favours() -> None:
    greedy = Protocol(kind=ProtocolKind.GREEDY)
    pass64 = Protocol(kind=ProtocolKind.PASS_AT_1, samples_k_max=64, temperature=0.6)
    cons64 = Protocol(kind=ProtocolKind.CONS_AT_K, samples_k=64)
    unknown = Protocol(kind=ProtocolKind.UNKNOWN)
    assert protocol_difference(greedy, pass64) == (True, None)
    assert protocol_difference(cons64, pass64) == (True, "subject")
    assert protocol_difference(greedy, cons64) == (True, "comparator")
    assert protocol_difference(greedy, unknown) == (False, None)
    assert protocol_difference(greedy, Protocol(kind=ProtocolKind.GREEDY)) == (False, None)
    assert pass64.words == "pass@1 over up to 64 samples, T=0.6"
    assert cons64.words == "cons@64"


def test_a_win_only_with_majority_voting_is_misleading(tmp_path: Path) -> None:
    extension = tmp_path / "votes.yaml"
    extension.write_text(
        (DATA / "demo-registry.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "{model: demo-model-a, origin: developer, scores: {aime24: 60.0, math500: 90.0}}",
            "{model: demo-model-a, origin: developer, protocol: {kind: cons_at_k, "
            "samples_k: 64}, scores: {math500: 95.0}}",
        ),
        encoding="utf-8",
    )
    registry = load_registry([extension])
    check = check_benchmark(
        _ctx(registry),
        Relation.BEATS,
        None,
        "demo-model-a",
        "demo-model-b",
        registry.benchmarks["math500"],
    )
    assert check.favours == "subject"
    assert check.verdict is Verdict.MISLEADING


def test_headline_naming_one_comparator_when_the_source_beat_another() -> None:
    registry = load_registry()
    assertion = ComparisonAssertion(
        kind="comparison",
        id="x",
        text="beats o1 on MATH500",
        relation=Relation.BEATS,
        comparator="o1",
        benchmarks=["math500"],
    )
    verdict = check_comparison(_ctx(registry), assertion, "s1-32B")
    assert verdict.verdict is Verdict.MISLEADING
    assert "holds against o1-preview, not against the named o1" in verdict.reason
    roles = {c.comparator: c.role for c in verdict.comparators}
    assert roles["o1"] == "named" and roles["o1-preview"] == "beaten_by_source"


def test_a_stated_gain_larger_than_any_observed_is_not_supported() -> None:
    registry = load_registry()
    assertion = ComparisonAssertion.model_validate(
        {
            "kind": "comparison",
            "id": "x",
            "text": "beats o1-preview on MATH500 by 20%",
            "relation": "beats",
            "comparator": "o1-preview",
            "benchmarks": ["math500"],
            "claimed_gain": {"value": 20, "unit": "percent"},
        }
    )
    verdict = check_comparison(_ctx(registry), assertion, "s1-32B")
    assert verdict.verdict is Verdict.NOT_SUPPORTED
    assert "short of the claim" in verdict.reason
    assert "+8.8% relative" in verdict.reason  # (93.0 - 85.5) / 85.5
