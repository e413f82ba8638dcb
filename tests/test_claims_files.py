"""Claim files: the golden version-1 file, bundled names, and bad files named by line and field."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from claims.files import bundled_claim_sets, load_claims, read_claim, resolve
from claims.items import load_item_results
from claims.registry import Registry, load_registry
from claims.schema import (
    Area,
    ComparisonAssertion,
    CostAssertion,
    CostBound,
    DataEfficiencyAssertion,
    Relation,
)
from ledger.errors import InputError, NotFoundError

GOLDEN = Path(__file__).parent / "golden" / "claims"
DATA = Path(__file__).parent / "data" / "claims"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def test_golden_claim_v1_reads_every_field(registry: Registry) -> None:
    claim = read_claim(GOLDEN / "claim-v1.yaml", registry).claim
    assert (claim.schema_version, claim.id, claim.subject, claim.case) == (
        1,
        "golden/claim-v1",
        "s1-32B",
        "s1",
    )
    assert claim.source.date == date(2025, 2, 10) and claim.source.language == "en"
    cost, beats, matches, efficiency = claim.assertions
    assert isinstance(cost, CostAssertion)
    assert (cost.bound, cost.usd, cost.scope) == (
        CostBound.AT_MOST,
        Decimal(100),
        "s1/final-sft-rented",
    )
    assert isinstance(beats, ComparisonAssertion)
    assert beats.margin_points == 5 and beats.claimed_gain is not None
    assert (beats.claimed_gain.value, beats.claimed_gain.unit) == (7.5, "points")
    assert isinstance(matches, ComparisonAssertion)
    assert matches.relation is Relation.MATCHES and matches.areas == [Area.MATH]
    assert isinstance(efficiency, DataEfficiencyAssertion)
    assert (efficiency.relation, efficiency.small_dataset, efficiency.large_examples) == (
        Relation.LEVEL_WITH,
        "s1K",
        59000,
    )


def test_golden_items_v1_read_through_the_golden_registry() -> None:
    registry = load_registry([GOLDEN / "registry-v1.yaml"])
    items = load_item_results([GOLDEN / "items-v1.yaml"], registry)
    small = items.get("golden-small", "golden-bench")  # named by alias GB-100 in the file
    assert small is not None and small.correct == {"q1": True, "q2": False, "q3": True}
    assert len(items) == 2


def test_a_json_claim_file_works_too(registry: Registry, tmp_path: Path) -> None:
    data = yaml.safe_load((GOLDEN / "claim-v1.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(data, default=str), encoding="utf-8")
    assert read_claim(path, registry).claim.id == "golden/claim-v1"


def test_bundled_claims_by_set_file_and_folder(registry: Registry) -> None:
    assert "s1" in bundled_claim_sets() and len(bundled_claim_sets()) >= 9
    names = sorted(p.stem for p in resolve(["s1"]))
    assert names == [
        "kellogg",
        "muennighoff",
        "paper-data-efficiency",
        "paper-o1-preview",
        "seed-zh",
        "techcrunch",
        "vrstate",
    ]
    assert [p.stem for p in resolve(["s1/techcrunch"])] == ["techcrunch"]
    folder = resolve([str(resolve(["s1/kellogg"])[0].parent)])
    assert len(folder) == 7
    with pytest.raises(NotFoundError, match=r"bundled: .*s1"):
        resolve(["s2"])
    assert {c.claim.subject for c in load_claims(["s1"], registry)} == {"s1-32B"}


def test_the_same_claim_twice_is_refused(registry: Registry) -> None:
    with pytest.raises(InputError, match="claim id 's1/kellogg' is also used"):
        load_claims(["s1/kellogg", "s1/kellogg"], registry)


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("bad-unknown-model.yaml", ["line 11, column 17", "assertions[0].comparator", "o1-pro"]),
        ("bad-unknown-benchmark.yaml", ["line 12, column 26", "benchmarks[1]", "'aime23'"]),
        ("bad-kind.yaml", ["line 7, column 5", "field assertions[0]", "'vibes'"]),
        ("bad-relation.yaml", ["line 10, column 15", "assertions[0].relation", "'rivals'"]),
        ("bad-unknown-subject.yaml", ["line 4, column 10", "field subject", "'s2-32B'"]),
        ("bad-duplicate-assertion.yaml", ["line 13", "duplicate assertion id 'a'"]),
        ("bad-unknown-dataset.yaml", ["large_dataset", "unknown training set '60K'", "59K-full"]),
        ("bad-both-targets.yaml", ["assertions[0].areas", "not both"]),
        ("bad-newer.yaml", ["schema_version", "version 2 is newer"]),
        ("bad-malformed.yaml", ["line 6, column 1", "malformed YAML"]),
    ],
)
def test_bad_claim_files(registry: Registry, name: str, needles: list[str]) -> None:
    with pytest.raises(InputError) as exc:
        read_claim(DATA / name, registry)
    message = str(exc.value)
    assert message.startswith(str(DATA / name))
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
