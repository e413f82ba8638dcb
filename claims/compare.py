"""Comparisons: the subject against each comparator, benchmark by benchmark.

Per benchmark the difference (subject minus comparator, points) gets a 95% interval: paired
(seeded bootstrap and exact McNemar) where both sides have per-item results, the source's own
paired interval where it published one, and otherwise Newcombe's unpaired interval from each
side's score and n. The decision rules are in :mod:`claims.decide`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from claims import stats
from claims.decide import combine_benchmarks, decide_difference
from claims.items import ItemResultsSource, align
from claims.pairing import Pair, choose_pair, protocol_difference
from claims.registry import Difference, Registry
from claims.report import (
    AlternativeValue,
    BenchmarkCheck,
    ComparatorCheck,
    DifferenceTest,
    IntervalMethod,
    Verdict,
)
from claims.schema import (
    Area,
    Benchmark,
    ItemResults,
    Protocol,
    ProtocolKind,
    Relation,
    Score,
)

Role = Literal["named", "beaten_by_source", "listed_family"]
_WHOLE = (ProtocolKind.GREEDY, ProtocolKind.SINGLE_SAMPLE)


@dataclass(frozen=True)
class Context:
    """What every comparison reads: the registry, per-item results, and the bootstrap seed."""

    registry: Registry
    items: ItemResultsSource
    seed: int


def successes(score: Score, n: int) -> float:
    """Correct items behind a published score: whole where one answer per item was scored (a
    greedy 56.7% of 30 is 17), fractional for an average over samples."""
    return stats.successes(score.value_pct, n, score.protocol.kind in _WHOLE)


def cite(score: Score) -> str:
    """``S1P Table 1`` (plus ``from OAI1`` for a copied figure)."""
    text = f"{score.source} {score.location}"
    return text + (f", from {score.cited_from}" if score.cited_from else "")


def newcombe_test(bench: Benchmark, subject: Score, comparator: Score) -> DifferenceTest:
    """Unpaired test from two published scores and the benchmark's n."""
    assert bench.n is not None
    n = bench.n
    x1, x2 = successes(subject, n), successes(comparator, n)
    interval = stats.newcombe_difference(x1, n, x2, n)
    return DifferenceTest(
        benchmark=bench.id,
        subject=subject.model,
        comparator=comparator.model,
        subject_pct=subject.value_pct,
        comparator_pct=comparator.value_pct,
        n_subject=n,
        n_comparator=n,
        method=IntervalMethod.NEWCOMBE,
        estimate_points=round((subject.value_pct - comparator.value_pct), 6),
        ci_low_points=interval.low * 100,
        ci_high_points=interval.high * 100,
        confidence=stats.CONFIDENCE,
        citation=f"{cite(subject)}; {cite(comparator)}",
    )


def paired_test(
    bench: Benchmark, subject: ItemResults, comparator: ItemResults, seed: int
) -> DifferenceTest | None:
    """Paired test on the items both sides answered; ``None`` if they share none."""
    ids, x, y = align(subject, comparator)
    if not ids:
        return None
    result = stats.paired_difference(x, y, seed)
    return DifferenceTest(
        benchmark=bench.id,
        subject=subject.model,
        comparator=comparator.model,
        subject_pct=100 * sum(x) / len(x),
        comparator_pct=100 * sum(y) / len(y),
        n_subject=len(ids),
        n_comparator=len(ids),
        method=IntervalMethod.PAIRED,
        estimate_points=result.estimate * 100,
        ci_low_points=result.low * 100,
        ci_high_points=result.high * 100,
        confidence=stats.CONFIDENCE,
        p_value=result.p_value,
        items_paired=result.n,
        subject_only_correct=result.x_only,
        comparator_only_correct=result.y_only,
        seed=seed,
        resamples=stats.BOOTSTRAP_RESAMPLES,
        citation=f"{subject.source}; {comparator.source}",
    )


def published_test(diff: Difference, subject: Score, comparator: Score, n: int) -> DifferenceTest:
    """The interval a source computed itself, with the two scores of the same table."""
    return DifferenceTest(
        benchmark=diff.benchmark,
        subject=subject.model,
        comparator=comparator.model,
        subject_pct=subject.value_pct,
        comparator_pct=comparator.value_pct,
        n_subject=n,
        n_comparator=n,
        method=IntervalMethod.PUBLISHED,
        estimate_points=round(subject.value_pct - comparator.value_pct, 6),
        ci_low_points=diff.low_points,
        ci_high_points=diff.high_points,
        confidence=diff.confidence,
        citation=f"{diff.citation}: {diff.method}",
    )


def short(test: DifferenceTest) -> str:
    """``-4.3 [-6.9, -1.8]``: the difference and its interval, in points."""
    return f"{test.estimate_points:+.1f} [{test.ci_low_points:+.1f}, {test.ci_high_points:+.1f}]"


def label(reg: Registry, check: BenchmarkCheck) -> str:
    """``MATH500 (-4.3 [-7.1, -1.7])``: a benchmark with its difference, for reasons."""
    name = reg.benchmarks[check.benchmark].name
    if check.point_pct is not None:
        return f"{name} ({check.point_pct[0] - check.point_pct[1]:+.1f}, n not recorded)"
    return f"{name} ({short(check.test)})" if check.test else name


def _method_words(test: DifferenceTest) -> str:
    if test.method is IntervalMethod.PAIRED:
        return (
            f"paired on {test.items_paired} items, bootstrap seed {test.seed}; "
            f"exact McNemar p={test.p_value:.3g} (b={test.subject_only_correct}, "
            f"c={test.comparator_only_correct})"
        )
    if test.method is IntervalMethod.PUBLISHED:
        return f"interval published by the source: {test.citation}"
    return "Newcombe hybrid score, unpaired"


def check_benchmark(
    ctx: Context,
    relation: Relation,
    margin: float | None,
    subject: str,
    comparator: str,
    bench: Benchmark,
    table: str | None = None,
    pin: Protocol | None = None,
) -> BenchmarkCheck:
    """The subject against one comparator on one benchmark.

    With ``table`` both scores come from that table (same protocol and setting, as a
    data-efficiency comparison needs); otherwise a like-for-like pair where one table scores
    both under one protocol, else each side's preferred headline score, flagged
    (:func:`claims.pairing.choose_pair`). ``pin`` keeps only scores of that protocol.
    """
    reg = ctx.registry
    pair = choose_pair(reg, subject, comparator, bench.id, table, pin)
    s_score, c_score = pair.subject, pair.comparator
    s_items, c_items = ctx.items.get(subject, bench.id), ctx.items.get(comparator, bench.id)
    test = cross = None
    if s_items is not None and c_items is not None:
        test = paired_test(bench, s_items, c_items, ctx.seed)
    if test is None:
        found = _aggregate_test(
            reg, relation, margin, bench, pair, (subject, comparator), table, pin
        )
        if isinstance(found, BenchmarkCheck):
            return found
        test, cross = found
        assert s_score is not None and c_score is not None
    s_protocol = s_items.protocol if test.method is IntervalMethod.PAIRED and s_items else None
    c_protocol = c_items.protocol if test.method is IntervalMethod.PAIRED and c_items else None
    s_protocol = s_protocol or (
        s_score.protocol if s_score else Protocol(kind=ProtocolKind.UNKNOWN)
    )
    c_protocol = c_protocol or (
        c_score.protocol if c_score else Protocol(kind=ProtocolKind.UNKNOWN)
    )
    mismatch, favours = protocol_difference(s_protocol, c_protocol)
    verdict, phrase = decide_difference(
        relation, test.estimate_points, test.ci_low_points, test.ci_high_points, margin
    )
    if verdict is Verdict.SUPPORTED and favours == "subject":
        verdict = Verdict.MISLEADING
        phrase += ", but only with the subject's extra attempts per item"
    reason = (
        f"{bench.name} (n={test.n_subject}): {subject} {test.subject_pct:.1f} vs {comparator} "
        f"{test.comparator_pct:.1f} = {short(test)} points ({_method_words(test)}): {phrase}"
    )
    if mismatch:
        reason += f"; protocol mismatch: {s_protocol.words} vs {c_protocol.words}"
    paired = test.method is IntervalMethod.PAIRED
    if pair.like_for_like and not paired:
        assert s_score is not None
        reason += f"; like for like: both scored in {s_score.table}"
    elif pair.tables_differ and not paired:
        assert s_score is not None and c_score is not None
        reason += f"; scores from different tables: {s_score.table} vs {c_score.table}"
    alternatives = []
    fallback = table is None and not pair.like_for_like
    if test.method is IntervalMethod.NEWCOMBE and fallback and s_score and c_score:
        alternatives = _alternatives(reg, relation, margin, bench, s_score, c_score)
    notes = [
        f"{score.model} {bench.name} {score.value_pct:.1f} ({cite(score)}): {score.note}"
        for score in (s_score, c_score)
        if score is not None and score.note and test.method is not IntervalMethod.PAIRED
    ]
    return BenchmarkCheck(
        benchmark=bench.id,
        comparator=comparator,
        verdict=verdict,
        reason=reason,
        notes=notes,
        test=test,
        cross_check=cross,
        subject_protocol=s_protocol.words,
        comparator_protocol=c_protocol.words,
        protocol_mismatch=mismatch,
        favours=favours,
        alternatives=alternatives,
        like_for_like=pair.like_for_like and not paired,
        subject_table=None if paired or s_score is None else s_score.table,
        comparator_table=None if paired or c_score is None else c_score.table,
    )


def _aggregate_test(
    reg: Registry,
    relation: Relation,
    margin: float | None,
    bench: Benchmark,
    pair: Pair,
    sides: tuple[str, str],
    table: str | None,
    pin: Protocol | None,
) -> tuple[DifferenceTest, DifferenceTest | None] | BenchmarkCheck:
    """The test from published scores: the source's own interval for the pair where it gave one
    (with Newcombe's beside it), else Newcombe's; or the check that ends here (a missing score,
    no n)."""
    subject, comparator = sides
    s_score, c_score = pair.subject, pair.comparator
    if s_score is None or c_score is None:
        missing = subject if s_score is None else comparator
        why = f"no published score for {missing}"
        if table is not None:
            why += f" in table {table}"
        if pin is not None:
            why += f" under {pin.words}"
        return unverifiable(bench, comparator, why)
    if bench.n is None:
        return _point_only(relation, margin, bench, comparator, s_score, c_score)
    within = table or (s_score.table if pair.like_for_like else None)
    diff = reg.difference(subject, comparator, bench.id, within) if within else None
    if diff is not None:
        return published_test(diff, s_score, c_score, bench.n), newcombe_test(
            bench, s_score, c_score
        )
    return newcombe_test(bench, s_score, c_score), None


def _point_only(
    relation: Relation,
    margin: float | None,
    bench: Benchmark,
    comparator: str,
    subject: Score,
    other: Score,
) -> BenchmarkCheck:
    """Both scores published, the benchmark's size not: evidence with no interval. A parity
    claim cannot be decided (``inconclusive``); a win is ``not_supported`` where the published
    numbers show none, else ``inconclusive``."""
    estimate = subject.value_pct - other.value_pct
    if not relation.is_parity and estimate <= (margin or 0.0):
        verdict, phrase = Verdict.NOT_SUPPORTED, "no win in the published numbers"
    else:
        verdict, phrase = Verdict.INCONCLUSIVE, "no interval without the benchmark's size"
    return BenchmarkCheck(
        benchmark=bench.id,
        comparator=comparator,
        verdict=verdict,
        reason=(
            f"{bench.name} (n not recorded): {subject.model} {subject.value_pct:.1f} vs "
            f"{comparator} {other.value_pct:.1f} = {estimate:+.1f} points: {phrase}"
        ),
        test=None,
        point_pct=(subject.value_pct, other.value_pct),
        subject_protocol=subject.protocol.words,
        comparator_protocol=other.protocol.words,
        subject_table=subject.table,
        comparator_table=other.table,
    )


def unverifiable(bench: Benchmark, comparator: str, why: str) -> BenchmarkCheck:
    """A benchmark with no evidence on it, and why."""
    return BenchmarkCheck(
        benchmark=bench.id,
        comparator=comparator,
        verdict=Verdict.UNVERIFIABLE,
        reason=f"{bench.name}: {why}",
        test=None,
    )


def _alternatives(
    reg: Registry,
    relation: Relation,
    margin: float | None,
    bench: Benchmark,
    s_score: Score,
    c_score: Score,
) -> list[AlternativeValue]:
    """Other published default-setting values of either side, and what they would give."""
    out = []
    for chosen, other in ((s_score, c_score), (c_score, s_score)):
        seen = {chosen.value_pct}
        for alt in reg.scores_for(chosen.model, bench.id):
            if alt.setting is not None or alt.protocol.kind is ProtocolKind.CONS_AT_K:
                continue
            if alt.value_pct in seen:
                continue
            seen.add(alt.value_pct)
            pair = (alt, other) if chosen is s_score else (other, alt)
            test = newcombe_test(bench, *pair)
            verdict, _ = decide_difference(
                relation, test.estimate_points, test.ci_low_points, test.ci_high_points, margin
            )
            out.append(
                AlternativeValue(
                    model=alt.model,
                    value_pct=alt.value_pct,
                    protocol=alt.protocol.words,
                    citation=cite(alt),
                    estimate_points=test.estimate_points,
                    ci_low_points=test.ci_low_points,
                    ci_high_points=test.ci_high_points,
                    verdict=verdict,
                )
            )
    return out


def benchmarks_for(
    ctx: Context,
    subject: str,
    comparator: str,
    benchmarks: Sequence[str] | None,
    areas: Sequence[Area] | None,
    table: str | None = None,
) -> tuple[list[Benchmark], list[str], list[str]]:
    """Benchmarks to compare on, areas without evidence, and notes on what was left out.

    Named benchmarks are all kept (a missing score makes that benchmark unverifiable). Areas
    expand to the benchmarks of the subject's own report in that area that the comparator also
    has a score on; an area with none of those has no evidence.
    """
    reg = ctx.registry
    if benchmarks is not None:
        return [reg.benchmark(b) for b in benchmarks], [], []
    reported = reg.reported_benchmarks(subject)
    chosen: list[Benchmark] = []
    missing: list[str] = []
    notes: list[str] = []
    for area in areas or [Area.REASONING]:
        in_area = [
            reg.benchmarks[b]
            for b in reported
            if area is Area.REASONING or area in reg.benchmarks[b].areas
        ]
        if not in_area:
            missing.append(area.value)
            notes.append(_no_area_note(reg, subject, area))
            continue
        usable = [
            b
            for b in in_area
            if (
                reg.scores_for(comparator, b.id, table) if table else reg.headline(comparator, b.id)
            )
            or ctx.items.get(comparator, b.id)
        ]
        where = f" in table {table}" if table else ""
        for b in in_area:
            if b not in usable:
                notes.append(f"{b.name}: no published score for {comparator}{where}; left out")
        if not usable:
            missing.append(area.value)
        chosen += [b for b in usable if b not in chosen]
    return chosen, missing, notes


def _no_area_note(reg: Registry, subject: str, area: Area) -> str:
    note = f"{area.value}: no {area.value} benchmark in {subject}'s own report"
    others = [
        f"{reg.benchmarks[s.benchmark].name} {s.value_pct:.1f} ({cite(s)}, {s.origin.value})"
        for s in reg.scores
        if s.model == subject and area in reg.benchmarks[s.benchmark].areas
    ]
    if others:
        note += "; other figures: " + "; ".join(others)
    return note


def check_comparator(
    ctx: Context,
    relation: Relation,
    margin: float | None,
    subject: str,
    comparator: str,
    role: Role,
    benchmarks: Sequence[str] | None,
    areas: Sequence[Area] | None,
    table: str | None = None,
    pin: Protocol | None = None,
) -> tuple[ComparatorCheck, list[str]]:
    """The relation against one comparator over the benchmarks in question, and notes; ``table``
    and ``pin`` restrict the scores used (see :func:`check_benchmark`)."""
    chosen, missing, notes = benchmarks_for(ctx, subject, comparator, benchmarks, areas, table)
    checks = [
        check_benchmark(ctx, relation, margin, subject, comparator, b, table, pin) for b in chosen
    ]
    labels = [(label(ctx.registry, c), c.verdict) for c in checks]
    verdict, reason = combine_benchmarks(relation, labels, missing)
    return (
        ComparatorCheck(
            comparator=comparator,
            role=role,
            verdict=verdict,
            reason=reason,
            benchmarks=checks,
            missing_areas=missing,
        ),
        notes,
    )
