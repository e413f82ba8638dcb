"""Data-efficiency assertions: a small training set against a large one.

Within one recipe ("1K examples match the full 59K") both models are compared in one table that
scores both. Across recipes ("matches X with 1% of the data") the large side is another model
with its own training set; there is usually no shared table, so each side's headline score is
used (the flagged fallback), and a stated share of the data is checked against the registry's
training-set sizes.
"""

from __future__ import annotations

from claims.compare import Context, benchmarks_for, check_benchmark, label
from claims.comparison import comparator_evidence, flags, numbers, score_notes
from claims.decide import combine_benchmarks, most_serious
from claims.files import LoadedClaim, efficiency_sides
from claims.report import AssertionVerdict, ComparatorCheck, Verdict
from claims.schema import DataEfficiencyAssertion, ModelEntry

FRACTION_TOLERANCE = 0.2
""""With 1% of the data" bounds the data used, like "under $Y": it holds where the registry's
sizes give at most the stated share plus 20% of it (a rounded headline figure)."""


def check_data_efficiency(
    ctx: Context, loaded: LoadedClaim, index: int, a: DataEfficiencyAssertion
) -> AssertionVerdict:
    """The performance relation of the two sides, and the stated share of the data."""
    reg = ctx.registry
    small, large = efficiency_sides(loaded, index, a, reg)
    across = a.large_model is not None
    tables = [] if across else reg.shared_tables(small.id, large.id)
    table = tables[0] if tables else None
    notes: list[str] = []
    if a.benchmarks is not None:
        benches = [reg.benchmark(b) for b in a.benchmarks]
    elif table is not None:
        benches = [
            reg.benchmarks[b]
            for b in reg.benchmarks
            if reg.scores_for(small.id, b, table) and reg.scores_for(large.id, b, table)
        ]
    elif across:
        benches, _, notes = benchmarks_for(ctx, small.id, large.id, None, None)
    else:
        benches = [reg.benchmarks[b] for b in reg.reported_benchmarks(small.id)]
    checks = [
        check_benchmark(ctx, a.relation, a.margin_points, small.id, large.id, b, table)
        for b in benches
    ]
    verdict, reason = combine_benchmarks(a.relation, [(label(reg, c), c.verdict) for c in checks])
    reason += flags(checks)
    evidence = [
        _set_line(a.small_examples, small),
        _set_line(a.large_examples, large),
    ]
    if table is not None:
        evidence.append(f"both models scored in one table ({table}): same protocol and setting")
    elif checks and all(c.like_for_like for c in checks):
        evidence.append("one table scores both models under one protocol on every benchmark")
    else:
        what = "across recipes, " if across else ""
        evidence.append(
            f"{what}no table scores both models under one protocol: their headline scores are "
            "compared (the fallback, flagged)"
        )
    if a.data_fraction_pct is not None:
        share_verdict, line = _share(a.data_fraction_pct, small, large)
        evidence.append(line)
        reason += f"; {line}"
        verdict = most_serious([verdict, share_verdict])
    comparator = ComparatorCheck(
        comparator=large.id, role="named", verdict=verdict, reason=reason, benchmarks=checks
    )
    evidence += comparator_evidence(comparator, notes)
    evidence += score_notes([comparator])
    large_words = a.large_model or a.large_dataset
    return AssertionVerdict(
        id=a.id,
        kind="data_efficiency",
        text=a.text,
        verdict=verdict,
        reason=f"{a.small_dataset} vs {large_words}: {reason}",
        numbers=numbers(reg, comparator),
        evidence=evidence,
        comparators=[comparator],
        relation=a.relation.value,
        margin_points=a.margin_points,
    )


def _set_line(stated: int | None, model: ModelEntry) -> str:
    t = model.trained_on
    if t is None:
        return f"{model.id}: training set not in the registry"
    line = f"{t.dataset}: {model.id}"
    if t.examples:
        line += f", {t.examples:,} examples"
    if t.gpu_hours is not None:
        line += f", {t.gpu_hours:g} GPU-hours of training"
    if t.citation:
        line += f" ({t.citation})"
    if stated and t.examples and abs(stated - t.examples) > 0.05 * t.examples:
        line += f"; the words say {stated:,}"
    return line


def _share(stated_pct: float, small: ModelEntry, large: ModelEntry) -> tuple[Verdict, str]:
    """The stated share of the data against the registry's sizes: ``supported`` within the
    tolerance, ``not_supported`` beyond it, ``unverifiable`` where a size is not recorded."""
    sizes = [m.trained_on.examples if m.trained_on else None for m in (small, large)]
    small_n, large_n = sizes
    if small_n is None or large_n is None:
        missing = small.id if small_n is None else large.id
        return (
            Verdict.UNVERIFIABLE,
            f"stated {stated_pct:g}% of the data: {missing}'s training-set size is not in the "
            "registry",
        )
    actual = 100 * small_n / large_n
    line = (
        f"stated {stated_pct:g}% of the data; the registry's sizes give {small_n:,} of "
        f"{large_n:,} examples = {actual:.3g}%"
    )
    if actual > stated_pct * (1 + FRACTION_TOLERANCE):
        return (
            Verdict.NOT_SUPPORTED,
            line + f": more than {FRACTION_TOLERANCE:.0%} above the stated share",
        )
    if actual < stated_pct / (1 + FRACTION_TOLERANCE):
        return Verdict.SUPPORTED, line + ": less than stated (the words understate the efficiency)"
    return Verdict.SUPPORTED, line + f": within {FRACTION_TOLERANCE:.0%}"
