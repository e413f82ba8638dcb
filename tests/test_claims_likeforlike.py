"""Like-for-like comparisons: one table that scores both sides under one protocol decides; a mix of
tables is the fallback, flagged; a claim may pin a table or a protocol; an extension file may
correct a benchmark's metadata by an explicit override."""

from __future__ import annotations

from pathlib import Path

import pytest

from claims.compare import Context, check_benchmark
from claims.engine import check_claims
from claims.files import load_claims
from claims.items import ItemIndex
from claims.pairing import choose_pair, protocol_difference
from claims.registry import Registry, load_registry
from claims.report import Verdict
from claims.schema import Protocol, ProtocolKind, Relation
from ledger.errors import InputError

DATA = Path(__file__).parent / "data" / "claims"
REGISTRY = DATA / "likeforlike-registry.yaml"


@pytest.fixture(scope="module")
def reg() -> Registry:
    return load_registry([REGISTRY])


def _ctx(reg: Registry) -> Context:
    return Context(registry=reg, items=ItemIndex(), seed=1)


def _claim(tmp_path: Path, assertion: str, subject: str = "lf-a", date: str = "") -> Path:
    path = tmp_path / "claim.yaml"
    path.write_text(
        "schema_version: 1\nid: t/claim\ntitle: t\n"
        f"subject: {subject}\nsource:\n  outlet: test\n  quote: q\n  language: en\n"
        + (f"  date: {date}\n" if date else "")
        + "assertions:\n"
        + assertion,
        encoding="utf-8",
    )
    return path


def test_one_table_scoring_both_sides_under_one_protocol_decides(reg: Registry) -> None:
    bench = reg.benchmarks["lf-bench"]
    check = check_benchmark(_ctx(reg), Relation.BEATS, None, "lf-a", "lf-b", bench)
    # the developers' 70.0 (greedy) against B's own 60.0 (pass@1) would be a significant win
    assert check.test is not None
    assert (check.test.subject_pct, check.test.comparator_pct) == (62.0, 61.0)
    assert check.like_for_like and check.subject_table == check.comparator_table == "LF-EVALS-t3"
    assert check.verdict is Verdict.INCONCLUSIVE
    assert "like for like: both scored in LF-EVALS-t3" in check.reason
    assert not check.protocol_mismatch  # pass@1 over 64 vs over up to 64


def test_a_copied_row_is_not_a_like_for_like_pair(reg: Registry) -> None:
    pair = choose_pair(reg, "lf-a", "lf-b", "lf-bench", table="LF-LAB-A-t1")
    assert pair.subject is not None and pair.comparator is not None
    assert (pair.subject.value_pct, pair.comparator.value_pct) == (70.0, 60.0)
    assert not pair.like_for_like  # B's row is cited from B's report, and the protocols differ


def test_mixing_tables_is_the_fallback_and_is_flagged(reg: Registry, tmp_path: Path) -> None:
    check = check_benchmark(
        _ctx(reg), Relation.BEATS, None, "lf-a", "lf-c", reg.benchmarks["lf-bench"]
    )
    assert not check.like_for_like
    assert "scores from different tables: LF-LAB-A-t1 vs LF-LAB-C-t1" in check.reason
    claim = _claim(
        tmp_path,
        "  - {kind: comparison, id: x, text: t, relation: beats, comparator: lf-c,"
        " benchmarks: [lf-bench]}\n",
    )
    (verdict,) = check_claims(load_claims([str(claim)], reg), reg, None).claims[0].assertions
    assert (
        "scores from different tables (no table measured both sides under one protocol)"
        in verdict.reason
    )


def test_a_claim_may_pin_a_table(reg: Registry, tmp_path: Path) -> None:
    claim = _claim(
        tmp_path,
        "  - {kind: comparison, id: x, text: t, relation: beats, comparator: lf-b,"
        " benchmarks: [lf-bench], table: LF-LAB-A-t1}\n",
    )
    (verdict,) = check_claims(load_claims([str(claim)], reg), reg, None).claims[0].assertions
    (check,) = verdict.comparators[0].benchmarks
    assert check.test is not None and check.test.subject_pct == 70.0
    assert check.verdict is Verdict.SUPPORTED and check.protocol_mismatch


def test_a_claim_may_pin_a_protocol(reg: Registry, tmp_path: Path) -> None:
    claim = _claim(
        tmp_path,
        "  - {kind: comparison, id: x, text: t, relation: beats, comparator: lf-b,"
        " benchmarks: [lf-bench], protocol: {kind: greedy}}\n",
    )
    (verdict,) = check_claims(load_claims([str(claim)], reg), reg, None).claims[0].assertions
    assert verdict.verdict is Verdict.UNVERIFIABLE
    assert any("no published score for lf-b under greedy" in line for line in verdict.evidence)


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        ("table: NOPE-t1", ["line 10", "field assertions[0].table", "unknown table 'NOPE-t1'"]),
        ("table: LF-LAB-C-t1", ["field assertions[0].table", "has no score of lf-a"]),
        ("protocol: {kind: pass_at_2}", ["assertions[0].protocol.kind"]),
    ],
)
def test_pinned_references_are_checked_when_the_file_is_read(
    reg: Registry, tmp_path: Path, extra: str, needles: list[str]
) -> None:
    claim = _claim(
        tmp_path,
        "  - {kind: comparison, id: x, text: t, relation: beats, comparator: lf-b,"
        f" benchmarks: [lf-bench], {extra}}}\n",
    )
    with pytest.raises(InputError) as exc:
        load_claims([str(claim)], reg)
    for needle in needles:
        assert needle in str(exc.value)


def test_pass_at_1_over_64_is_pass_at_1_over_up_to_64() -> None:
    fixed = Protocol(kind=ProtocolKind.PASS_AT_1, samples_k=64)
    up_to = Protocol(kind=ProtocolKind.PASS_AT_1, samples_k_max=64)
    assert protocol_difference(fixed, up_to) == (False, None)
    assert protocol_difference(up_to, fixed) == (False, None)
    # a fixed k beyond the other's stated maximum, or two different fixed k, still differ
    assert protocol_difference(Protocol(kind=ProtocolKind.PASS_AT_1, samples_k=128), up_to)[0]
    assert protocol_difference(fixed, Protocol(kind=ProtocolKind.PASS_AT_1, samples_k=8))[0]
    cons8 = Protocol(kind=ProtocolKind.CONS_AT_K, samples_k=8)
    assert protocol_difference(Protocol(kind=ProtocolKind.CONS_AT_K, samples_k=64), cons8)[0]
