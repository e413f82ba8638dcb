"""Relative-quality assertions: "90% of ChatGPT quality".

Such a figure is usually a judge's preference (another model's, or people's), not a scored
benchmark: without a benchmark the verdict is ``unverifiable`` and says so. Where the claim names
scored benchmarks that have both sides, the share is checked there: subject >= f x comparator,
with the MOVER interval of ``subject - f x comparator`` from the two Wilson intervals.
"""

from __future__ import annotations

import datetime as dt

from claims import stats
from claims.compare import Context, cite, successes, unverifiable
from claims.comparison import comparator_evidence, flags, numbers
from claims.decide import combine_benchmarks
from claims.pairing import choose_pair, protocol_difference
from claims.report import (
    AssertionVerdict,
    BenchmarkCheck,
    ComparatorCheck,
    DifferenceTest,
    IntervalMethod,
    Verdict,
)
from claims.schema import Benchmark, JudgeKind, Relation, RelativeQualityAssertion


def judge_words(a: RelativeQualityAssertion) -> str:
    """Who judged, in words: ``the preference of GPT-4 (another model's judgement)``."""
    if a.judge is JudgeKind.MODEL:
        return f"the preference of {a.judge_name or 'another model'} (another model's judgement)"
    if a.judge is JudgeKind.PEOPLE:
        return f"the preference of {a.judge_name or 'people'} (people's judgement)"
    return f"the judgement of {a.judge_name or 'a judge the words do not name'}"


def check_relative_quality(
    ctx: Context, a: RelativeQualityAssertion, subject: str, on: dt.date | None = None
) -> AssertionVerdict:
    """``unverifiable`` without a scored benchmark; otherwise the share on each named one."""
    reg = ctx.registry
    comparator = reg.model(a.comparator, on)
    claim = f"{a.fraction_pct:g}% of {comparator.id}'s quality"
    evidence = [reg.name_words(a.comparator, on), f"the words' measure: {judge_words(a)}"]
    if a.benchmarks is None:
        shared = [
            reg.benchmarks[b].name
            for b in reg.reported_benchmarks(subject)
            if reg.headline(comparator.id, b)
        ]
        if shared:
            evidence.append(
                f"both sides have published scores on {', '.join(shared)}: name them under "
                "`benchmarks` to check the share there (a different measure from the words')"
            )
        return AssertionVerdict(
            id=a.id,
            kind="relative_quality",
            text=a.text,
            verdict=Verdict.UNVERIFIABLE,
            reason=(
                f"{claim} rests on {judge_words(a)}, not on a scored benchmark: no published "
                "score can check it"
            ),
            numbers=[],
            evidence=evidence,
        )
    checks = [
        share_check(ctx, subject, comparator.id, reg.benchmark(b), a.fraction_pct / 100)
        for b in a.benchmarks
    ]
    labels = [(reg.benchmarks[c.benchmark].name, c.verdict) for c in checks]
    verdict, reason = combine_benchmarks(Relation.MATCHES, labels)
    reason = f"subject >= {claim} on scored benchmarks: {reason}" + flags(checks)
    check = ComparatorCheck(
        comparator=comparator.id, role="named", verdict=verdict, reason=reason, benchmarks=checks
    )
    evidence += comparator_evidence(check, [])
    return AssertionVerdict(
        id=a.id,
        kind="relative_quality",
        text=a.text,
        verdict=verdict,
        reason=reason,
        numbers=numbers(reg, check),
        evidence=evidence,
        comparators=[check],
    )


def share_check(
    ctx: Context, subject: str, comparator: str, bench: Benchmark, share: float
) -> BenchmarkCheck:
    """Whether the subject scores at least ``share`` of the comparator's score on one benchmark.

    ``not_supported`` where the whole interval of subject - share x comparator is below 0,
    ``supported`` where it is at or above 0, otherwise ``inconclusive``.
    """
    pair = choose_pair(ctx.registry, subject, comparator, bench.id)
    s, c = pair.subject, pair.comparator
    missing = next((m for m, x in ((subject, s), (comparator, c)) if x is None), None)
    why = f"no published score for {missing}" if missing else None
    if why is None and bench.n is None:
        why = "the benchmark's size is not recorded, so no interval can be computed"
    if why is not None or s is None or c is None or bench.n is None:
        return unverifiable(bench, comparator, why or "")
    n = bench.n
    x1, x2 = successes(s, n), successes(c, n)
    interval = stats.weighted_difference(x1, n, x2, n, share)
    test = DifferenceTest(
        benchmark=bench.id,
        subject=subject,
        comparator=comparator,
        subject_pct=s.value_pct,
        comparator_pct=c.value_pct,
        n_subject=n,
        n_comparator=n,
        method=IntervalMethod.MOVER,
        estimate_points=round(interval.estimate * 100, 6),
        ci_low_points=interval.low * 100,
        ci_high_points=interval.high * 100,
        confidence=stats.CONFIDENCE,
        citation=f"{cite(s)}; {cite(c)}",
    )
    if test.ci_high_points < 0:
        verdict, phrase = Verdict.NOT_SUPPORTED, "significantly below that share"
    elif test.ci_low_points >= 0:
        verdict, phrase = Verdict.SUPPORTED, "at least that share"
    else:
        verdict, phrase = Verdict.INCONCLUSIVE, "a shortfall below that share cannot be ruled out"
    mismatch, favours = protocol_difference(s.protocol, c.protocol)
    if verdict is Verdict.SUPPORTED and favours == "subject":
        verdict = Verdict.MISLEADING
        phrase += ", but only with the subject's extra attempts per item"
    target = share * c.value_pct
    reason = (
        f"{bench.name} (n={n}): {subject} {s.value_pct:.1f} vs {share:.0%} of {comparator} "
        f"{c.value_pct:.1f} = {target:.1f}: {test.estimate_points:+.1f} "
        f"[{test.ci_low_points:+.1f}, {test.ci_high_points:+.1f}] points (MOVER from Wilson "
        f"intervals, unpaired): {phrase}"
    )
    if mismatch:
        reason += f"; protocol mismatch: {s.protocol.words} vs {c.protocol.words}"
    if pair.like_for_like:
        reason += f"; like for like: both scored in {s.table}"
    elif pair.tables_differ:
        reason += f"; scores from different tables: {s.table} vs {c.table}"
    return BenchmarkCheck(
        benchmark=bench.id,
        comparator=comparator,
        verdict=verdict,
        reason=reason,
        test=test,
        subject_protocol=s.protocol.words,
        comparator_protocol=c.protocol.words,
        protocol_mismatch=mismatch,
        favours=favours,
        like_for_like=pair.like_for_like,
        subject_table=s.table,
        comparator_table=c.table,
    )
