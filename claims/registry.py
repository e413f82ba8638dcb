"""The baseline registry: published scores by exact model and benchmark, with their sources.

The bundled registry (``claims/data/baselines.yaml``, then ``claims/data/baselines/*.yaml`` in
name order) can be extended by user files in the same format. Model identity is exact: ``o1``,
``o1-preview`` and ``o1-mini`` are different models, and an alias ("DeepSeek R1", "R1") names
exactly one of them, except a name several dated models share ("QwQ"), which a date resolves.
Conflicting published values for the same model and benchmark are all kept;
:meth:`Registry.scores_for` orders them by preference.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from claims.errors import AmbiguousNameError, ClaimInputError, UnknownNameError, unknown
from claims.report import BaselineRow
from claims.schema import (
    CLAIMS_SCHEMA_VERSION,
    Benchmark,
    BenchmarkOverride,
    ModelEntry,
    Origin,
    ProtocolKind,
    RegistryFile,
    ReportedWin,
    Score,
)
from ledger.files import Locator, check_version, load_structured, validate
from ledger.schema import Source

PathLike = Path | str
Loc = tuple[int | str, ...]
_ORIGIN_RANK = {Origin.DEVELOPER: 0, Origin.CITED: 1, Origin.INDEPENDENT: 2}


def name_key(name: str) -> str:
    """Case, spaces, hyphens, underscores and apostrophes do not distinguish names."""
    return re.sub(r"[\s\-_'’]+", "", name.casefold())


@dataclass(frozen=True)
class Difference:
    """A published interval of ``model - versus`` on one benchmark, in points."""

    table: str
    model: str
    versus: str
    benchmark: str
    low_points: float
    high_points: float
    method: str
    confidence: float
    citation: str


class Registry:
    """Sources, benchmarks, models and published scores, merged from one or more files."""

    def __init__(self) -> None:
        self.sources: dict[str, Source] = {}
        self.benchmarks: dict[str, Benchmark] = {}
        self.models: dict[str, ModelEntry] = {}
        self.scores: list[Score] = []
        self.differences: list[Difference] = []
        self.wins: list[ReportedWin] = []
        self.table_notes: dict[str, str | None] = {}
        self.overrides: list[tuple[str, str, BenchmarkOverride]] = []
        """(benchmark id, file, override) of every benchmark correction, in order."""
        self.task_names: dict[str, str] = {}
        """Eval-harness task name -> benchmark id (the bundled table, then the user's files)."""
        self._model_keys: dict[str, list[str]] = {}
        self._bench_keys: dict[str, str] = {}

    # ---- building ------------------------------------------------------------------------------

    def add(self, file: RegistryFile, path: PathLike, locate: Locator) -> None:
        """Merge one registry file; every reference is checked against what is known so far.

        Raises:
            ClaimInputError: a redefinition, a clash of aliases or an unknown reference, with the
                file, line and field.
        """
        for i, src in enumerate(file.sources):
            self._define(self.sources, src.tag, src, path, locate, ("sources", i, "tag"))
        for i, bench in enumerate(file.benchmarks):
            where = ("benchmarks", i, "id")
            self._define(self.benchmarks, bench.id, bench, path, locate, where)
            self._index(self._bench_keys, bench.id, [bench.id, *bench.aliases], path, locate, where)
        for i, fix in enumerate(file.benchmark_overrides):
            self._override(fix, path, locate, ("benchmark_overrides", i))
        for task, bench_name in file.task_names.items():
            at: Loc = ("task_names", task)
            self.task_names[task] = self._ref_bench(bench_name, path, locate, at)
        for i, model in enumerate(file.models):
            where = ("models", i, "id")
            self._define(self.models, model.id, model, path, locate, where)
            self._index_model(model, path, locate, where)
        for t in range(len(file.tables)):
            self._add_table(file, t, path, locate)
        for i, win in enumerate(file.reported_wins):
            at = ("reported_wins", i)
            self.wins.append(
                ReportedWin(
                    subject=self._ref_model(win.subject, path, locate, (*at, "subject")),
                    comparator=self._ref_model(win.comparator, path, locate, (*at, "comparator")),
                    benchmarks=[
                        self._ref_bench(b, path, locate, (*at, "benchmarks", j))
                        for j, b in enumerate(win.benchmarks)
                    ],
                    source=self._ref_source(win.source, path, locate, (*at, "source")),
                    location=win.location,
                )
            )

    def _add_table(self, file: RegistryFile, t: int, path: PathLike, locate: Locator) -> None:
        table = file.tables[t]
        if table.id in self.table_notes:
            raise ClaimInputError(
                f"{path}: {locate(('tables', t, 'id'))}field tables[{t}].id: "
                f"table {table.id!r} is already defined"
            )
        self.table_notes[table.id] = table.note
        source = self._ref_source(table.source, path, locate, ("tables", t, "source"))
        for r, row in enumerate(table.rows):
            at = ("tables", t, "rows", r)
            model = self._ref_model(row.model, path, locate, (*at, "model"))
            for bench_name, value in row.scores.items():
                bench = self._ref_bench(bench_name, path, locate, (*at, "scores", bench_name))
                self.scores.append(
                    Score(
                        model=model,
                        benchmark=bench,
                        value_pct=value,
                        n=self.benchmarks[bench].n,
                        protocol=row.protocol or table.protocol,
                        origin=row.origin,
                        source=source,
                        location=table.location,
                        table=table.id,
                        cited_from=row.cited_from,
                        setting=row.setting,
                        note=row.note,
                    )
                )
        for d, diff in enumerate(table.differences):
            at = ("tables", t, "differences", d)
            model = self._ref_model(diff.model, path, locate, (*at, "model"))
            versus = self._ref_model(diff.versus, path, locate, (*at, "versus"))
            for bench_name, (low, high) in diff.intervals_points.items():
                where = (*at, "intervals_points", bench_name)
                bench = self._ref_bench(bench_name, path, locate, where)
                if low > high:
                    raise ClaimInputError(
                        f"{path}: {locate(where)}field {bench_name}: interval low above high"
                    )
                self.differences.append(
                    Difference(
                        table=table.id,
                        model=model,
                        versus=versus,
                        benchmark=bench,
                        low_points=low,
                        high_points=high,
                        method=table.difference_method or "not stated",
                        confidence=table.difference_confidence,
                        citation=f"{source} {table.location}",
                    )
                )

    def _define(
        self,
        into: dict[str, Any],
        key: str,
        value: object,
        path: PathLike,
        locate: Locator,
        where: Loc,
    ) -> None:
        if key in into and into[key] != value:
            raise ClaimInputError(
                f"{path}: {locate(where)}field {where[0]}[{where[1]}]: {key!r} is already "
                "defined differently (ids are global: pick another id)"
            )
        into[key] = value

    def _index(
        self,
        keys: dict[str, str],
        ident: str,
        names: Iterable[str],
        path: PathLike,
        locate: Locator,
        where: Loc,
    ) -> None:
        for name in names:
            key = name_key(name)
            if keys.get(key, ident) != ident:
                raise ClaimInputError(
                    f"{path}: {locate(where)}field {where[0]}[{where[1]}]: name {name!r} of "
                    f"{ident!r} already means {keys[key]!r}"
                )
            keys[key] = ident

    def _override(self, fix: BenchmarkOverride, path: PathLike, locate: Locator, at: Loc) -> None:
        """Correct a defined benchmark's metadata, and the n of the scores already on it."""
        ident = self._ref_bench(fix.id, path, locate, (*at, "id"))
        changes = {
            f: getattr(fix, f)
            for f in ("n", "name", "areas", "note")
            if getattr(fix, f) is not None
        }
        if not changes:
            raise ClaimInputError(
                f"{path}: {locate(at)}field {at[0]}[{at[1]}]: nothing to correct: give n, name, "
                "areas or note"
            )
        if "n" in changes:
            changes["citation"] = fix.source
        self.benchmarks[ident] = self.benchmarks[ident].model_copy(update=changes)
        if "n" in changes:
            self.scores = [
                s.model_copy(update={"n": fix.n}) if s.benchmark == ident else s
                for s in self.scores
            ]
        self.overrides.append((ident, str(path), fix))

    def _index_model(self, model: ModelEntry, path: PathLike, locate: Locator, where: Loc) -> None:
        """Index a model's id and aliases. A name may mean several models only where it is none
        of their ids, each has a release date, and no two share one (a date then picks)."""
        for name in [model.id, *model.aliases]:
            key = name_key(name)
            owners = self._model_keys.setdefault(key, [])
            others = [self.models[o] for o in owners if o != model.id]
            if others:
                shared = [*others, model]
                undated = [m.id for m in shared if m.released is None]
                dates = [m.released for m in shared]
                problem = ""
                if any(name_key(m.id) == key for m in shared):
                    problem = "it is a model id"
                elif undated:
                    problem = f"a shared name needs `released` on each model ({', '.join(undated)})"
                elif len(set(dates)) < len(dates):
                    problem = "models sharing a name need different `released` dates"
                if problem:
                    raise ClaimInputError(
                        f"{path}: {locate(where)}field {where[0]}[{where[1]}]: name {name!r} of "
                        f"{model.id!r} already means {others[0].id!r} ({problem})"
                    )
            if model.id not in owners:
                owners.append(model.id)

    def _ref_model(self, name: str, path: PathLike, locate: Locator, where: Loc) -> str:
        try:
            return self.model(name).id
        except UnknownNameError as exc:
            raise ClaimInputError(f"{path}: {locate(where)}{exc}") from None

    def _ref_bench(self, name: str, path: PathLike, locate: Locator, where: Loc) -> str:
        try:
            return self.benchmark(name).id
        except UnknownNameError as exc:
            raise ClaimInputError(f"{path}: {locate(where)}{exc}") from None

    def _ref_source(self, tag: str, path: PathLike, locate: Locator, where: Loc) -> str:
        if tag not in self.sources:
            raise ClaimInputError(
                f"{path}: {locate(where)}{unknown('source tag', tag, self.sources)}"
            )
        return tag

    # ---- lookups -------------------------------------------------------------------------------

    def candidates(self, name: str) -> list[ModelEntry]:
        """Every model a name means, oldest release first (one, except for a shared name)."""
        found = [self.models[i] for i in self._model_keys.get(name_key(name), [])]
        return sorted(found, key=lambda m: m.released or dt.date.min)

    def find_model(self, name: str, on: dt.date | None = None) -> ModelEntry | None:
        """The model an id or alias names exactly, or ``None``.

        A name shared by several models (a bare family name) means the one current on ``on``:
        the latest released on or before that date.

        Raises:
            AmbiguousNameError: a shared name with no date, or none of its models released by
                then; the message lists the candidates.
        """
        found = self.candidates(name)
        if len(found) <= 1:
            return found[0] if found else None
        listed = ", ".join(f"{m.id} (released {m.released})" for m in found)
        if on is None:
            raise AmbiguousNameError(
                f"{name!r} names several models: {listed}; the claim's source date picks the one "
                "current then: give source.date, or name the model by its id"
            )
        current = [m for m in found if m.released is not None and m.released <= on]
        if not current:
            raise AmbiguousNameError(
                f"{name!r} names several models, none released by {on}: {listed}; name the "
                "model by its id"
            )
        return current[-1]

    def model(self, name: str, on: dt.date | None = None) -> ModelEntry:
        """The model an id or alias names (on date ``on``, for a shared name).

        Raises:
            UnknownNameError: no model has that name; the nearest names are suggested.
            AmbiguousNameError: see :meth:`find_model`.
        """
        found = self.find_model(name, on)
        if found is None:
            names = [*self.models, *(a for m in self.models.values() for a in m.aliases)]
            raise unknown(
                "model",
                name,
                names,
                " (receipts baselines list shows every model)",
                canonical=lambda known: self._model_keys[name_key(known)][0],
            )
        return found

    def name_words(self, name: str, on: dt.date | None = None) -> str:
        """What a name resolved to, for evidence: ``'R1' is deepseek-r1 (DeepSeek-R1; aliases
        are exact)``, or for a shared name which models it means and why the date picks one."""
        model = self.model(name, on)
        found = self.candidates(name)
        if len(found) <= 1:
            return f"{name!r} is {model.id} ({model.name}; aliases are exact)"
        listed = ", ".join(f"{m.id} released {m.released}" for m in found)
        return (
            f"{name!r} is {model.id} ({model.name}): of the models the name means ({listed}), "
            f"the latest released by the claim's date {on}"
        )

    def benchmark(self, name: str) -> Benchmark:
        """The benchmark an id or alias names.

        Raises:
            UnknownNameError: no benchmark has that name.
        """
        ident = self._bench_keys.get(name_key(name))
        if ident is None:
            names = [*self.benchmarks, *(a for b in self.benchmarks.values() for a in b.aliases)]
            raise unknown(
                "benchmark", name, names, canonical=lambda known: self._bench_keys[name_key(known)]
            )
        return self.benchmarks[ident]

    def benchmark_of_task(self, name: str) -> Benchmark | None:
        """The benchmark an eval's task name scores: through the task-name table (``task_names``:
        ``aime24_nofigures`` is AIME24), else a benchmark id or alias; ``None`` where neither."""
        if name in self.task_names:
            return self.benchmarks[self.task_names[name]]
        try:
            return self.benchmark(name)
        except UnknownNameError:
            return None

    def scores_for(self, model: str, benchmark: str, table: str | None = None) -> list[Score]:
        """Published scores, preferred first: the default configuration before special settings,
        single-answer protocols before cons@k, then developer, cited, independent figures, then
        the order of the files."""
        found = [
            s
            for s in self.scores
            if s.model == model and s.benchmark == benchmark and (table is None or s.table == table)
        ]
        return sorted(
            found,
            key=lambda s: (
                s.setting is not None,
                s.protocol.kind is ProtocolKind.CONS_AT_K,
                _ORIGIN_RANK[s.origin],
            ),
        )

    def headline(self, model: str, benchmark: str) -> Score | None:
        """The preferred default-configuration score: single-answer where there is one, else a
        majority-vote (cons@k) figure, which the comparison then flags as favouring its side."""
        found = [s for s in self.scores_for(model, benchmark) if s.setting is None]
        return found[0] if found else None

    def reported_benchmarks(self, model: str) -> list[str]:
        """Benchmarks of the model's own headline report (developer figures, default setting);
        where it has none, of any default-setting figure. In registry order."""
        own = {
            s.benchmark
            for s in self.scores
            if s.model == model and s.setting is None and s.origin is Origin.DEVELOPER
        }
        if not own:
            own = {s.benchmark for s in self.scores if s.model == model and s.setting is None}
        return [b for b in self.benchmarks if b in own]

    def headline_tables(self, model: str) -> list[str]:
        """Tables that hold the model's own default-setting figures."""
        tables = []
        for s in self.scores:
            own = s.model == model and s.setting is None and s.origin is Origin.DEVELOPER
            if own and s.table not in tables:
                tables.append(s.table)
        return tables

    def listed_family(self, subject: str, comparator: str) -> list[str]:
        """Siblings of the comparator (same family) that the subject's own tables list."""
        family = self.models[comparator].family
        if family is None:
            return []
        tables = set(self.headline_tables(subject))
        out: list[str] = []
        for s in self.scores:
            sibling = self.models[s.model]
            if (
                s.table in tables
                and sibling.family == family
                and s.model not in (comparator, subject)
                and s.model not in out
            ):
                out.append(s.model)
        return out

    def beaten_by(self, subject: str) -> list[ReportedWin]:
        """Comparators that sources report the subject beating."""
        return [w for w in self.wins if w.subject == subject]

    def trained_model(self, recipe: str, dataset: str) -> ModelEntry:
        """The model trained with ``recipe`` on ``dataset``.

        Raises:
            UnknownNameError: no such training set for that recipe.
        """
        models = [m for m in self.models.values() if m.trained_on and m.trained_on.recipe == recipe]
        for model in models:
            assert model.trained_on is not None
            if name_key(model.trained_on.dataset) == name_key(dataset):
                return model
        known = [m.trained_on.dataset for m in models if m.trained_on]
        raise unknown("training set", dataset, known, context=f" of recipe {recipe!r}")

    def shared_tables(self, a: str, b: str) -> list[str]:
        """Tables with scores of both models; those with published differences first."""
        tables_a = {s.table for s in self.scores if s.model == a}
        ordered = []
        for s in self.scores:
            if s.model == b and s.table in tables_a and s.table not in ordered:
                ordered.append(s.table)
        with_diffs = {d.table for d in self.differences if {d.model, d.versus} == {a, b}}
        return sorted(ordered, key=lambda t: t not in with_diffs)

    def difference(self, model: str, versus: str, benchmark: str, table: str) -> Difference | None:
        """A published interval of ``model - versus`` (flipped where published the other way)."""
        for d in self.differences:
            if d.table != table or d.benchmark != benchmark:
                continue
            if (d.model, d.versus) == (model, versus):
                return d
            if (d.model, d.versus) == (versus, model):
                return Difference(
                    table=d.table,
                    model=model,
                    versus=versus,
                    benchmark=benchmark,
                    low_points=-d.high_points,
                    high_points=-d.low_points,
                    method=d.method,
                    confidence=d.confidence,
                    citation=d.citation,
                )
        return None


def bundled_registry_path() -> Traversable:
    """The main registry file shipped with receipts."""
    return resources.files("claims") / "data" / "baselines.yaml"


def bundled_task_names_path() -> Traversable:
    """The shipped table of eval-harness task names (a registry file with only ``task_names``)."""
    return resources.files("claims") / "data" / "task_names.yaml"


def bundled_registry_paths(folder: Traversable | None = None) -> list[Traversable]:
    """The shipped registry: ``baselines.yaml``, then ``baselines/*.yaml`` in name order.

    The folder (``folder`` replaces it, for tests) may be empty or absent; its files follow the
    same merge rules as user files.
    """
    if folder is None:
        folder = resources.files("claims") / "data" / "baselines"
    extra: list[Traversable] = []
    if folder.is_dir():
        extra = sorted(
            (f for f in folder.iterdir() if f.is_file() and f.name.endswith((".yaml", ".yml"))),
            key=lambda f: f.name,
        )
    return [bundled_registry_path(), *extra]


def read_registry_file(path: Path) -> tuple[RegistryFile, Locator]:
    """Parse and validate one registry file (file, line and field named on failure)."""
    data, locate = load_structured(path)
    check_version(data, path, CLAIMS_SCHEMA_VERSION)
    return validate(RegistryFile, data, path, locate), locate


def load_registry(extra: Sequence[Path] = (), bundled: Traversable | None = None) -> Registry:
    """The bundled registry extended by the user's files, in order.

    ``bundled`` replaces the folder of shipped extension files (``claims/data/baselines/``). The
    shipped task-name table (``claims/data/task_names.yaml``) follows the shipped files.

    Raises:
        InputError: a file is malformed or refers to something unknown.
    """
    registry = Registry()
    for shipped in [*bundled_registry_paths(bundled), bundled_task_names_path()]:
        with resources.as_file(shipped) as bundled:
            file, locate = read_registry_file(bundled)
            registry.add(file, bundled, locate)
    for path in extra:
        file, locate = read_registry_file(path)
        registry.add(file, path, locate)
    return registry


def _votes(score: Score) -> bool:
    """Whether a score counts a majority vote (cons@k): those conflict only with each other."""
    return score.protocol.kind is ProtocolKind.CONS_AT_K


def baseline_rows(
    registry: Registry, model: str | None = None, benchmark: str | None = None
) -> list[BaselineRow]:
    """Every published score (of one model and/or benchmark where given), conflicts adjacent.

    Raises:
        UnknownNameError: the model or benchmark filter names nothing.
    """
    model_id = registry.model(model).id if model else None
    bench_id = registry.benchmark(benchmark).id if benchmark else None
    out = []
    for m in registry.models:
        if model_id and m != model_id:
            continue
        for b in registry.benchmarks:
            if bench_id and b != bench_id:
                continue
            scores = registry.scores_for(m, b)
            headline = registry.headline(m, b)
            for s in scores:
                rivals = sorted(
                    {
                        o.value_pct
                        for o in scores
                        if o.setting == s.setting
                        and _votes(o) == _votes(s)
                        and o.value_pct != s.value_pct
                    }
                )
                out.append(
                    BaselineRow(
                        model=m,
                        benchmark=b,
                        value_pct=s.value_pct,
                        n=s.n,
                        protocol=s.protocol.words,
                        origin=s.origin.value,
                        source=s.source,
                        location=s.location,
                        setting=s.setting,
                        cited_from=s.cited_from,
                        note=s.note,
                        preferred=s is headline,
                        other_values_pct=rivals,
                    )
                )
    return out
