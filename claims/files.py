"""Claim files: reading them by path or by bundled name, and checking what they refer to.

A bundled claim set is a folder under ``claims/data/claims/`` (``s1``); ``s1/techcrunch`` names
one file in it. Every reference to the registry (comparator, benchmarks, training sets) is
checked while loading, so a bad file fails with its line and column before anything is printed.
References to the ledger (the subject's costs, a stated scope) are checked by the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from claims.errors import ClaimInputError, UnknownNameError, unknown
from claims.registry import Registry
from claims.schema import (
    CLAIMS_SCHEMA_VERSION,
    ClaimFile,
    ComparisonAssertion,
    DataEfficiencyAssertion,
    ModelEntry,
    RelativeQualityAssertion,
)
from ledger.errors import NotFoundError
from ledger.files import Locator, check_version, load_structured, validate

_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class LoadedClaim:
    """A validated claim file with the way back to its lines."""

    claim: ClaimFile
    path: str
    locate: Locator

    def where(self, *loc: int | str) -> str:
        """``path: line L, column C: `` for a field path in the file."""
        return f"{self.path}: {self.locate(loc)}"


def _bundled_root() -> Traversable:
    return resources.files("claims") / "data" / "claims"


def bundled_claim_sets() -> list[str]:
    """Names of the claim sets shipped with receipts (one per case, e.g. ``s1``)."""
    return sorted(e.name for e in _bundled_root().iterdir() if e.is_dir())


def _claim_files(folder: Traversable) -> list[Traversable]:
    return sorted(
        (e for e in folder.iterdir() if e.is_file() and e.name.endswith(_SUFFIXES)),
        key=lambda e: e.name,
    )


def bundled_claims(name: str) -> list[Traversable]:
    """The files of a bundled claim set (``s1``) or one bundled file (``s1/techcrunch``)."""
    root = _bundled_root()
    if name in bundled_claim_sets():
        return _claim_files(root / name)
    folder, _, stem = name.partition("/")
    if folder in bundled_claim_sets() and stem:
        return [e for e in _claim_files(root / folder) if e.name.rsplit(".", 1)[0] == stem]
    return []


def resolve(names_or_paths: Sequence[str]) -> list[Path]:
    """Files for each argument: a claim file, a folder of them, or a bundled name.

    Raises:
        NotFoundError: an argument is none of these.
    """
    out: list[Path] = []
    for arg in names_or_paths:
        path = Path(arg)
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES)
        elif path.exists():
            out.append(path)
        elif found := bundled_claims(arg):
            for entry in found:
                with resources.as_file(entry) as real:
                    out.append(Path(real))
        else:
            known = ", ".join(bundled_claim_sets()) or "none"
            raise NotFoundError(
                f"{arg}: no such claim file, folder or bundled claim set (bundled: {known})"
            )
    return out


def read_claim(path: Path, registry: Registry) -> LoadedClaim:
    """Parse, validate and resolve one claim file against the registry.

    Raises:
        InputError: malformed file, newer version, duplicate assertion id, or an unknown model,
            benchmark or training set (with the nearest known names).
    """
    data, locate = load_structured(path)
    check_version(data, path, CLAIMS_SCHEMA_VERSION)
    claim = validate(ClaimFile, data, path, locate)
    loaded = LoadedClaim(claim=claim, path=str(path), locate=locate)
    seen: set[str] = set()
    for i, assertion in enumerate(claim.assertions):
        if assertion.id in seen:
            raise ClaimInputError(
                f"{loaded.where('assertions', i, 'id')}field assertions[{i}].id: "
                f"duplicate assertion id {assertion.id!r}"
            )
        seen.add(assertion.id)
        if isinstance(assertion, ComparisonAssertion):
            _check_comparison(loaded, i, assertion, registry)
        elif isinstance(assertion, DataEfficiencyAssertion):
            _check_data_efficiency(loaded, i, assertion, registry)
        elif isinstance(assertion, RelativeQualityAssertion):
            _check_relative_quality(loaded, i, assertion, registry)
    return loaded


def _resolve(loaded: LoadedClaim, loc: tuple[int | str, ...], lookup: Callable[[], object]) -> None:
    try:
        lookup()
    except UnknownNameError as exc:
        field = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc)
        field = field.replace(".[", "[")
        raise ClaimInputError(f"{loaded.where(*loc)}field {field}: {exc}") from None


def _subject_model(loaded: LoadedClaim, registry: Registry) -> str:
    claim = loaded.claim
    _resolve(loaded, ("subject",), lambda: registry.model(claim.subject, claim.source.date))
    return registry.model(claim.subject, claim.source.date).id


def _model(loaded: LoadedClaim, loc: tuple[int | str, ...], name: str, registry: Registry) -> str:
    """A model named in an assertion, resolved with the claim's source date."""
    date = loaded.claim.source.date
    _resolve(loaded, loc, partial(registry.model, name, date))
    return registry.model(name, date).id


def _refuse(loaded: LoadedClaim, i: int, field: str, why: str) -> ClaimInputError:
    return ClaimInputError(
        f"{loaded.where('assertions', i, field)}field assertions[{i}].{field}: {why}"
    )


def _check_comparison(
    loaded: LoadedClaim, i: int, a: ComparisonAssertion, registry: Registry
) -> None:
    subject = _subject_model(loaded, registry)
    if a.benchmarks is not None and a.areas is not None:
        raise _refuse(loaded, i, "areas", "give benchmarks or areas, not both")
    if a.comparator is not None and a.comparators is not None:
        raise _refuse(loaded, i, "comparators", "give comparator or comparators, not both")
    if a.comparator is None and a.comparators is None and a.comparator_text is None:
        raise _refuse(
            loaded,
            i,
            "comparator",
            "name the comparator (comparator, or a set under comparators), or quote an unnamed "
            "one under comparator_text",
        )
    named = []
    if a.comparator is not None:
        named.append(_model(loaded, ("assertions", i, "comparator"), a.comparator, registry))
    for j, name in enumerate(a.comparators or []):
        named.append(_model(loaded, ("assertions", i, "comparators", j), name, registry))
    for j, bench in enumerate(a.benchmarks or []):
        _resolve(loaded, ("assertions", i, "benchmarks", j), partial(registry.benchmark, bench))
    if a.table is not None:
        _check_table(loaded, i, a.table, [subject, *named], registry)


def _check_table(
    loaded: LoadedClaim, i: int, table: str, models: list[str], registry: Registry
) -> None:
    """A pinned table must exist and score the subject and every comparator."""
    if table not in registry.table_notes:
        exc = unknown("table", table, registry.table_notes)
        raise _refuse(loaded, i, "table", str(exc))
    scored = {s.model for s in registry.scores if s.table == table}
    for model in models:
        if model not in scored:
            raise _refuse(loaded, i, "table", f"table {table!r} has no score of {model}")


def _check_relative_quality(
    loaded: LoadedClaim, i: int, a: RelativeQualityAssertion, registry: Registry
) -> None:
    _subject_model(loaded, registry)
    _model(loaded, ("assertions", i, "comparator"), a.comparator, registry)
    for j, bench in enumerate(a.benchmarks or []):
        _resolve(loaded, ("assertions", i, "benchmarks", j), partial(registry.benchmark, bench))


def _check_data_efficiency(
    loaded: LoadedClaim, i: int, a: DataEfficiencyAssertion, registry: Registry
) -> None:
    if (a.large_dataset is None) == (a.large_model is None):
        raise _refuse(
            loaded,
            i,
            "large_dataset",
            "give large_dataset (a training set of the same recipe) or large_model (another "
            "model), exactly one",
        )
    efficiency_sides(loaded, i, a, registry)
    for j, bench in enumerate(a.benchmarks or []):
        _resolve(loaded, ("assertions", i, "benchmarks", j), partial(registry.benchmark, bench))


def efficiency_sides(
    loaded: LoadedClaim, i: int, a: DataEfficiencyAssertion, registry: Registry
) -> tuple[ModelEntry, ModelEntry]:
    """The small side's model (its training set, of the recipe) and the large side's (a
    training set of the same recipe, or a named model).

    Raises:
        InputError: an unknown training set or model, with the file, line and field.
    """
    recipe = recipe_of(loaded, i, a, registry)
    at = ("assertions", i)
    small = partial(registry.trained_model, recipe, a.small_dataset)
    _resolve(loaded, (*at, "small_dataset"), small)
    if a.large_model is not None:
        large = registry.models[_model(loaded, (*at, "large_model"), a.large_model, registry)]
    else:
        assert a.large_dataset is not None
        find = partial(registry.trained_model, recipe, a.large_dataset)
        _resolve(loaded, (*at, "large_dataset"), find)
        large = find()
    return small(), large


def recipe_of(loaded: LoadedClaim, i: int, a: DataEfficiencyAssertion, registry: Registry) -> str:
    """The recipe a data-efficiency assertion is about: its own, or the subject's."""
    if a.recipe is not None:
        return a.recipe
    subject = registry.models[_subject_model(loaded, registry)]
    if subject.trained_on is None:
        raise ClaimInputError(
            f"{loaded.where('assertions', i)}field assertions[{i}].recipe: the subject "
            f"{subject.id!r} has no training recipe in the registry: name one"
        )
    return subject.trained_on.recipe


def load_claims(names_or_paths: Sequence[str], registry: Registry) -> list[LoadedClaim]:
    """Every claim file named, validated against the registry, in order.

    Raises:
        InputError: a file is bad, or two files have the same claim id.
        NotFoundError: an argument names nothing.
    """
    loaded = [read_claim(path, registry) for path in resolve(names_or_paths)]
    seen: dict[str, str] = {}
    for item in loaded:
        if item.claim.id in seen:
            raise ClaimInputError(
                f"{item.where('id')}field id: claim id {item.claim.id!r} is also used by "
                f"{seen[item.claim.id]}"
            )
        seen[item.claim.id] = item.path
    return loaded
