"""Comparison assertions: the subject against a named comparator, a named set, or an unnamed one.

A named comparator is checked with the alternative readings of its name (the comparators the
source reports beating, the named one's siblings in the subject's table). A named set ("the best
open models": a, b and c) must hold against each member. An unnamed comparator ("previous SOTA")
names no model whose scores could check the words: ``unverifiable``. The evidence helpers here are
shared with the data-efficiency and relative-quality checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from claims.compare import Context, Role, check_comparator, short
from claims.decide import combine_comparators, most_serious
from claims.registry import Registry
from claims.report import AssertionVerdict, BenchmarkCheck, ComparatorCheck, IntervalMethod, Verdict
from claims.schema import ComparisonAssertion, Gain

_ROLE_WORDS = {
    "named": "named by the words",
    "beaten_by_source": "the one the source reports beating",
    "listed_family": "same family, listed in the subject's own table",
}


def check_comparison(
    ctx: Context, a: ComparisonAssertion, subject: str, on: dt.date | None = None
) -> AssertionVerdict:
    """The named comparator, the ones the source beat, and the named one's listed siblings; or
    each member of a named set; or ``unverifiable`` for an unnamed comparator.

    ``on`` is the claim's source date, which resolves a name shared by several models.
    """
    if a.comparators is not None:
        return _check_set(ctx, a, subject, a.comparators, on)
    if a.comparator is None:
        return _unnamed(a)
    reg = ctx.registry
    named = reg.model(a.comparator, on)
    plan: list[tuple[str, Role]] = [(named.id, "named")]
    wins = reg.beaten_by(subject)
    plan += [(w.comparator, "beaten_by_source") for w in wins]
    plan += [(m, "listed_family") for m in reg.listed_family(subject, named.id)]
    seen: set[str] = set()
    results = []
    for comparator, role in plan:
        if comparator in seen or comparator == subject:
            continue
        seen.add(comparator)
        results.append(
            check_comparator(
                ctx,
                a.relation,
                a.margin_points,
                subject,
                comparator,
                role,
                a.benchmarks,
                a.areas,
                a.table,
                a.protocol,
            )
        )
    main = results[0][0]
    verdict, reason = combine_comparators(
        (main.comparator, main.verdict, main.reason),
        [(c.comparator, c.role, c.verdict) for c, _ in results[1:]],
    )
    evidence = [reg.name_words(a.comparator, on)]
    for w in wins:
        names = ", ".join(reg.benchmarks[b].name for b in w.benchmarks)
        evidence.append(
            f"the source reports beating {w.comparator} on {names} ({w.source}, {w.location})"
        )
    others = [w.comparator for w in wins if w.comparator != named.id]
    if others:
        reason += f"; the win the source itself reported is over {', '.join(others)}"
    reason += flags(main.benchmarks)
    if a.claimed_gain is not None:
        gain_verdict, line = gain_check(a.claimed_gain, main)
        if line:
            evidence.append(line)
        if gain_verdict is not None:
            verdict = most_serious([verdict, gain_verdict])
            reason += f"; {line}"
    for check, notes in results:
        evidence += comparator_evidence(check, notes)
    evidence += score_notes(c for c, _ in results)
    return AssertionVerdict(
        id=a.id,
        kind="comparison",
        text=a.text,
        verdict=verdict,
        reason=reason,
        numbers=numbers(reg, main),
        evidence=evidence,
        comparators=[c for c, _ in results],
        relation=a.relation.value,
        margin_points=a.margin_points,
    )


def flags(checks: Sequence[BenchmarkCheck]) -> str:
    """Reason suffixes for the first protocol mismatch and the first mix of tables."""
    out = ""
    mismatch = next((b for b in checks if b.protocol_mismatch), None)
    if mismatch is not None:
        out += (
            f"; protocol mismatch flagged: {mismatch.subject_protocol} vs "
            f"{mismatch.comparator_protocol}"
        )
    mixed = next(
        (b for b in checks if b.subject_table and b.comparator_table != b.subject_table), None
    )
    if mixed is not None and mixed.comparator_table:
        out += (
            "; scores from different tables (no table measured both sides under one protocol): "
            f"{mixed.subject_table} vs {mixed.comparator_table}"
        )
    return out


def _unnamed(a: ComparisonAssertion) -> AssertionVerdict:
    words = a.comparator_text or "not stated"
    return AssertionVerdict(
        id=a.id,
        kind="comparison",
        text=a.text,
        verdict=Verdict.UNVERIFIABLE,
        reason=(
            f"the comparator is not named ({words!r}): no model to look up, so no published "
            "score can check the words"
        ),
        numbers=[],
        evidence=[
            f"the words compare with {words!r} without naming a model; name it under "
            "`comparator` (or the set under `comparators`) to check it"
        ],
    )


def _check_set(
    ctx: Context, a: ComparisonAssertion, subject: str, names: Sequence[str], on: dt.date | None
) -> AssertionVerdict:
    """The relation against each member of a named set; the most serious verdict decides."""
    reg = ctx.registry
    members = list(dict.fromkeys(reg.model(n, on).id for n in names))
    label = a.comparator_text or "the named set"
    results = [
        check_comparator(
            ctx,
            a.relation,
            a.margin_points,
            subject,
            m,
            "named",
            a.benchmarks,
            a.areas,
            a.table,
            a.protocol,
        )
        for m in members
        if m != subject
    ]
    verdicts = []
    evidence = [reg.name_words(n, on) for n in names]
    for check, _ in results:
        verdict = check.verdict
        if a.claimed_gain is not None:
            gain_verdict, line = gain_check(a.claimed_gain, check)
            if line:
                evidence.append(f"vs {check.comparator}: {line}")
            verdict = most_serious([verdict, gain_verdict or verdict])
        verdicts.append((check, verdict))
    verdict = most_serious(v for _, v in verdicts)
    holding = [c.comparator for c, v in verdicts if v is Verdict.SUPPORTED]
    worst = [f"{c.comparator} ({c.reason})" for c, v in verdicts if v is verdict]
    also = [
        f"{v.value} against {c.comparator} ({c.reason})"
        for c, v in verdicts
        if v not in (verdict, Verdict.SUPPORTED)
    ]
    everyone = ", ".join(members)
    if verdict is Verdict.SUPPORTED:
        reason = f"against each of {label} ({everyone}): holds"
    else:
        reason = f"against {label} ({everyone}): {verdict.value} against " + "; ".join(worst)
        reason += "".join(f"; {line}" for line in also)
        if holding:
            reason += f"; holds against {', '.join(holding)}"
    reason += flags([b for c, _ in results for b in c.benchmarks])
    for check, notes in results:
        evidence += comparator_evidence(check, notes)
    evidence += score_notes(c for c, _ in results)
    return AssertionVerdict(
        id=a.id,
        kind="comparison",
        text=a.text,
        verdict=verdict,
        reason=reason,
        numbers=[f"vs {c.comparator}: {line}" for c, _ in results for line in numbers(reg, c)],
        evidence=evidence,
        comparators=[c for c, _ in results],
        relation=a.relation.value,
        margin_points=a.margin_points,
    )


def gain_check(gain: Gain, check: ComparatorCheck) -> tuple[Verdict | None, str]:
    """Whether the stated size of win is what the numbers show; the line that says so."""
    sizes = []
    for b in check.benchmarks:
        t = b.test
        if t is None or (gain.unit == "percent" and t.comparator_pct == 0):
            continue
        size = (
            t.estimate_points
            if gain.unit == "points"
            else 100 * (t.subject_pct - t.comparator_pct) / t.comparator_pct
        )
        sizes.append((size, b))
    if not sizes:
        return None, ""
    size, bench = max(sizes, key=lambda s: s[0]) if gain.up_to else min(sizes, key=lambda s: s[0])
    unit = " points" if gain.unit == "points" else "% relative"
    words = f"{'up to ' if gain.up_to else ''}{gain.value:g}{unit}"
    assert bench.test is not None
    which = "largest" if gain.up_to else "smallest"
    line = (
        f"claimed gain {words}: {which} observed {size:+.1f}{unit} on {bench.benchmark} "
        f"({bench.test.subject_pct:.1f} vs {bench.test.comparator_pct:.1f}), where the verdict "
        f"is {bench.verdict.value}"
    )
    if size < gain.value - 0.5:
        return Verdict.NOT_SUPPORTED, line + ": short of the claim"
    return None, line


def comparator_evidence(check: ComparatorCheck, notes: Sequence[str]) -> list[str]:
    """Evidence lines of one comparator: its verdict, each benchmark, alternatives and notes."""
    lines = [
        f"vs {check.comparator} ({_ROLE_WORDS[check.role]}): {check.verdict.value}: {check.reason}"
    ]
    for b in check.benchmarks:
        lines.append(f"  {b.reason}")
        if b.test is not None and b.test.method is IntervalMethod.PAIRED:
            lines.append(f"    per-item results paired: {b.test.citation}")
        if b.cross_check is not None:
            lines.append(f"    unpaired cross-check (Newcombe): {short(b.cross_check)} points")
        for alt in b.alternatives:
            lines.append(
                f"    with {alt.model} at {alt.value_pct:.1f} ({alt.citation}; {alt.protocol}): "
                f"{alt.estimate_points:+.1f} [{alt.ci_low_points:+.1f}, "
                f"{alt.ci_high_points:+.1f}]: {alt.verdict.value}"
            )
    lines += [f"  {note}" for note in notes]
    return lines


def score_notes(checks: Iterable[ComparatorCheck]) -> list[str]:
    """Each caveat on a score used, once."""
    notes = [note for check in checks for b in check.benchmarks for note in b.notes]
    return [f"note on {note}" for note in dict.fromkeys(notes)]


def numbers(reg: Registry, check: ComparatorCheck) -> list[str]:
    """Short lines of the key figures of one comparator, for tables."""
    out = []
    for b in check.benchmarks:
        name = reg.benchmarks[b.benchmark].name
        if b.point_pct is not None:
            s, c = b.point_pct
            out.append(f"{name}: {s:.1f} vs {c:.1f}, n not recorded")
            continue
        if b.test is None:
            out.append(f"{name}: no score")
            continue
        t = b.test
        out.append(f"{name}: {t.subject_pct:.1f} vs {t.comparator_pct:.1f}, {short(t)}")
    out += [f"{area}: no benchmark" for area in check.missing_areas]
    return out
