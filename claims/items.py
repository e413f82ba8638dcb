"""Per-item results: where paired tests get their data.

The verdict engine asks an :class:`ItemResultsSource` for one model on one benchmark and pairs
two sides by item id. Three sources ship: files (``receipts check --items FILE``), the ledger's
eval runs (:class:`LedgerItemResults`: per-item :class:`~ledger.schema.EvalItem` records of the
subject with the model's id, from ``receipts`` eval runs or lm-evaluation-harness imports), and
:class:`ChainedItems`, which asks several in turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol as Interface

from claims.errors import ClaimInputError, UnknownNameError
from claims.registry import Registry
from claims.schema import (
    CLAIMS_SCHEMA_VERSION,
    ItemResults,
    ItemResultsFile,
    Protocol,
    ProtocolKind,
)
from ledger.files import check_version, load_structured, validate
from ledger.schema import Category
from ledger.store import Ledger


class ItemResultsSource(Interface):
    """Anything that can hand the engine one model's per-item results on one benchmark."""

    def get(self, model: str, benchmark: str) -> ItemResults | None:
        """Results of ``model`` (registry id) on ``benchmark`` (registry id), or ``None``."""
        ...


class ChainedItems:
    """Several sources asked in turn; the first that has the results wins."""

    def __init__(self, *sources: ItemResultsSource) -> None:
        self._sources = sources

    def get(self, model: str, benchmark: str) -> ItemResults | None:
        """The first source's results, or ``None``."""
        for source in self._sources:
            found = source.get(model, benchmark)
            if found is not None:
                return found
        return None


class LedgerItemResults:
    """Per-item results from the ledger: the eval runs of the subject whose id is the model's.

    An item's benchmark is read through the registry's task-name table (an lm-eval task such as
    s1's ``aime24_nofigures`` scores AIME24), else as a benchmark id or alias. Where a run scored
    several metrics (an lm-eval task with several filters), only its primary metric counts.
    Only single-sample runs pair item by item (an item with samples beyond the first is a pass@k
    run, skipped); items that could not be judged (``correct`` is ``None``) are left out. Where
    several runs scored the benchmark, the latest one counts. The protocol is not recorded on an
    eval run, so it is reported as unknown. The source names the run, and for an imported one
    its task and metric, so the verdict's evidence says which runs were paired.
    """

    def __init__(self, ledger: Ledger, registry: Registry) -> None:
        self._ledger = ledger
        self._registry = registry

    def _benchmark(self, name: str) -> str | None:
        found = self._registry.benchmark_of_task(name)
        return found.id if found is not None else None

    def get(self, model: str, benchmark: str) -> ItemResults | None:
        """The latest single-sample eval run of ``model`` on ``benchmark``, or ``None``."""
        runs = [r for r in self._ledger.runs(model) if r.category is Category.EVALUATION]
        runs.sort(key=lambda r: r.ended_at or r.started_at or datetime.min.replace(tzinfo=UTC))
        found = None
        for run in runs:
            primary = (run.detail or {}).get("primary_metric")
            items = [
                i
                for i in self._ledger.eval_items(run.id)
                if self._benchmark(i.benchmark) == benchmark
                and (primary is None or i.metric == primary)
            ]
            if not items or any(i.sample > 0 for i in items):
                continue
            correct = {i.item_id: i.correct for i in items if i.correct is not None}
            if correct:
                tasks = sorted({i.benchmark for i in items})
                metrics = sorted({i.metric for i in items})
                found = ItemResults(
                    model=model,
                    benchmark=benchmark,
                    protocol=Protocol(kind=ProtocolKind.UNKNOWN, note=f"eval run {run.id}"),
                    source=(
                        f"ledger eval run {run.id} (task {', '.join(tasks)}, "
                        f"metric {', '.join(metrics)}, {len(correct)} items)"
                    ),
                    correct=correct,
                )
        return found


class ItemIndex:
    """Per-item results held in memory, keyed by registry model id and benchmark id."""

    def __init__(self, results: Iterable[ItemResults] = ()) -> None:
        self._by_key: dict[tuple[str, str], ItemResults] = {}
        for result in results:
            key = (result.model, result.benchmark)
            if key in self._by_key:
                raise ClaimInputError(
                    f"per-item results for {result.model} on {result.benchmark} given twice "
                    f"({self._by_key[key].source}; {result.source})"
                )
            self._by_key[key] = result

    def get(self, model: str, benchmark: str) -> ItemResults | None:
        """Results of a model on a benchmark, or ``None``."""
        return self._by_key.get((model, benchmark))

    def __len__(self) -> int:
        return len(self._by_key)


def align(a: ItemResults, b: ItemResults) -> tuple[list[str], list[bool], list[bool]]:
    """The item ids both sides answered (sorted) and each side's correctness on them."""
    ids = sorted(set(a.correct) & set(b.correct), key=lambda i: (len(i), i))
    return ids, [a.correct[i] for i in ids], [b.correct[i] for i in ids]


def load_item_results(paths: Sequence[Path], registry: Registry) -> ItemIndex:
    """Read per-item results files; models and benchmarks are resolved through the registry.

    Raises:
        InputError: a file is malformed, names an unknown model or benchmark, or has more items
            than the benchmark.
    """
    results: list[ItemResults] = []
    for path in paths:
        data, locate = load_structured(path)
        check_version(data, path, CLAIMS_SCHEMA_VERSION)
        file = validate(ItemResultsFile, data, path, locate)
        for i, result in enumerate(file.results):
            try:
                model = registry.model(result.model).id
            except UnknownNameError as exc:
                raise ClaimInputError(
                    f"{path}: {locate(('results', i, 'model'))}field results[{i}].model: {exc}"
                ) from None
            try:
                bench = registry.benchmark(result.benchmark)
            except UnknownNameError as exc:
                where = locate(("results", i, "benchmark"))
                raise ClaimInputError(
                    f"{path}: {where}field results[{i}].benchmark: {exc}"
                ) from None
            if bench.n is not None and len(result.correct) > bench.n:
                raise ClaimInputError(
                    f"{path}: {locate(('results', i, 'correct'))}field results[{i}].correct: "
                    f"{len(result.correct)} items, but {bench.name} has {bench.n}"
                )
            results.append(result.model_copy(update={"model": model, "benchmark": bench.id}))
    return ItemIndex(results)
