"""Case files: a subject's lineage, runs, usages, scopes and published figures in one YAML file.

A usage in a case file is written out (measured or reported, with a citation), given as an
estimator call (``estimator:`` and ``inputs:``) that :mod:`ledger.estimators` turns into an
estimated usage with its formula and inputs stored, or given as money (``reported_usd:``) where a
source published a cost only in dollars. Loading the same case twice appends nothing; a changed
figure supersedes the old one.

Base models live once, in the bundled base registry (``ledger/data/bases/*.yaml``, files in the
case format): a case names its subject's ``base:`` and the loader brings the base's records in. A
case may not define a bundled base itself, and a ``base:`` that names neither a subject of the
case nor a bundled base is an error.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Tag, model_validator

from ledger.emissions import known_regions, unknown_region
from ledger.errors import InputError, NotFoundError
from ledger.estimators import ESTIMATORS
from ledger.files import Locator, check_version, load_structured, validate
from ledger.schema import (
    ABOUT_TOLERANCE,
    SCHEMA_VERSION,
    Case,
    Id,
    Money,
    Provenance,
    Record,
    Unit,
    Usage,
)
from ledger.store import Ledger, RecordResult


class EstimateSpec(Record):
    """A usage to be produced by a named estimator from the given inputs."""

    id: Id
    """Usage id."""
    run: Id
    """Run id."""
    resource: str
    """Resource consumed."""
    unit: Unit | None = None
    """Unit, for estimators that need one (``api_tokens``)."""
    estimator: str
    """Name in :data:`ledger.estimators.ESTIMATORS`."""
    inputs: dict[str, float | tuple[float, float]]
    """Keyword inputs of the estimator: a number, or ``[low, high]`` for a range."""
    citation: str | None = None
    """Where the inputs come from."""
    note: str | None = None
    """Caveats."""


class ReportedUsd(Record):
    """A cost published only in dollars, with the bound the words give it."""

    bound: Literal["under", "at_most", "about", "exact", "range"]
    """"Under $500" and "at most" are upper bounds (the cost lies in 0..usd); "about" spreads
    the figure by the same tolerance as an "about" claim; "exact" is the figure; "range" runs from
    ``usd`` to ``usd_high``."""
    usd: Money
    """The figure (the low end of a range)."""
    usd_high: Money | None = None
    """The high end, for ``range`` only."""

    @model_validator(mode="after")
    def _check_range(self) -> ReportedUsd:
        if (self.bound == "range") != (self.usd_high is not None):
            raise ValueError("usd_high is required for a range, and only for a range")
        if self.usd_high is not None and self.usd_high < self.usd:
            raise ValueError("usd_high must not be below usd")
        return self

    def quantities(self) -> tuple[float, float, float]:
        """(low, central, high) in dollars."""
        usd = float(self.usd)
        if self.bound in ("under", "at_most"):
            return 0.0, usd, usd
        if self.bound == "about":
            return usd / float(1 + ABOUT_TOLERANCE), usd, usd * float(1 + ABOUT_TOLERANCE)
        if self.bound == "range":
            assert self.usd_high is not None
            high = float(self.usd_high)
            return usd, (usd + high) / 2, high
        return usd, usd, usd


class MoneySpec(Record):
    """A usage published only as money ("less than $500 using the OpenAI API")."""

    id: Id
    """Usage id."""
    run: Id
    """Run id."""
    resource: str
    """What the money bought (``api/text-davinci-003``, ``gpu/A100-80GB``)."""
    reported_usd: ReportedUsd
    """The figure and its bound."""
    citation: str
    """Where the figure is published."""
    note: str | None = None
    """Caveats."""

    def usage(self) -> Usage:
        """The reported usage in US dollars, its bound kept in ``detail``."""
        low, central, high = self.reported_usd.quantities()
        return Usage(
            id=self.id,
            run=self.run,
            resource=self.resource,
            unit=Unit.USD,
            quantity=central,
            quantity_low=low,
            quantity_high=high,
            provenance=Provenance.REPORTED,
            citation=self.citation,
            note=self.note,
            detail={"reported_usd": self.reported_usd.model_dump(mode="json")},
        )


def _usage_kind(value: Any) -> str:
    if isinstance(value, dict) and "estimator" in value:
        return "estimate"
    if isinstance(value, dict) and "reported_usd" in value:
        return "money"
    return "usage"


UsageSpec = Annotated[
    Annotated[Usage, Tag("usage")]
    | Annotated[EstimateSpec, Tag("estimate")]
    | Annotated[MoneySpec, Tag("money")],
    Discriminator(_usage_kind),
]


class CaseFile(Case):
    """The on-disk form of a :class:`~ledger.schema.Case`: usages may be estimator calls."""

    usages: list[UsageSpec]  # type: ignore[assignment]
    """Usages, written out, as estimator calls or as money."""


def bundled_case_names() -> list[str]:
    """Names of the cases shipped with receipts."""
    folder = resources.files("ledger") / "data" / "cases"
    return sorted(
        e.name.removesuffix(".yaml") for e in folder.iterdir() if e.name.endswith(".yaml")
    )


@functools.cache
def bundled_bases() -> dict[str, Case]:
    """The bundled base registry: every subject a base file defines, mapped to that file's case.

    Raises:
        InputError: a base file is malformed, or two base files define one subject.
    """
    folder = resources.files("ledger") / "data" / "bases"
    out: dict[str, Case] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        with resources.as_file(entry) as path:
            base = _read(path, bases={})
        for subject in base.subjects:
            if subject.id in out:
                raise InputError(f"{path}: subject {subject.id!r} is also a base in another file")
            out[subject.id] = base
    return out


def load_case(name_or_path: str | Path) -> Case:
    """Read a bundled case by name (``s1``) or a case file by path.

    Raises:
        NotFoundError: neither a bundled case nor an existing file.
        InputError: the file is malformed (file, line and field named).
    """
    path = Path(name_or_path)
    if not path.exists() and str(name_or_path) in bundled_case_names():
        entry = resources.files("ledger") / "data" / "cases" / f"{name_or_path}.yaml"
        with resources.as_file(entry) as bundled:
            return _read(bundled)
    if not path.exists():
        known = ", ".join(bundled_case_names())
        raise NotFoundError(
            f"no case named {str(name_or_path)!r} (bundled: {known}) and no such file"
        )
    return _read(path)


def _read(path: Path, bases: dict[str, Case] | None = None) -> Case:
    """One case file; ``bases`` is the base registry to draw on (the bundled one by default)."""
    data, locate = load_structured(path)
    check_version(data, path, SCHEMA_VERSION)
    spec = validate(CaseFile, data, path, locate)
    _check_unique(spec, path, locate)
    if spec.region is not None and spec.region not in known_regions():
        where = locate(("region",))
        raise InputError(f"{path}: {where}field region: {unknown_region(spec.region)}")
    usages = []
    for index, item in enumerate(spec.usages):
        if isinstance(item, EstimateSpec):
            usages.append(_estimate(item, path, locate(("usages", index))))
        elif isinstance(item, MoneySpec):
            usages.append(item.usage())
        else:
            usages.append(item)
    case = Case.model_validate({**dict(spec), "usages": usages})
    case = _with_bases(case, path, bundled_bases() if bases is None else bases)
    _check_references(case, path)
    return case


_LISTS = ("sources", "subjects", "runs", "usages", "scopes", "headline_figures", "funnel_steps")


def _check_unique(spec: CaseFile, path: Path, locate: Locator) -> None:
    """Refuse an id given twice in one list of a case file: the later record would silently
    supersede the earlier one."""
    for part in _LISTS:
        seen: dict[str, int] = {}
        for index, record in enumerate(getattr(spec, part)):
            name = "tag" if part == "sources" else "id"
            key = getattr(record, name)
            if key in seen:
                raise InputError(
                    f"{path}: {locate((part, index, name))}field {part}[{index}].{name}: "
                    f"{key!r} is also {part}[{seen[key]}]'s {name}; ids must be unique"
                )
            seen[key] = index


def _with_bases(case: Case, path: Path, bases: dict[str, Case]) -> Case:
    """The case with the records of every bundled base its subjects descend from."""
    own = {s.id for s in case.subjects}
    for subject in case.subjects:
        if subject.id in bases and bases[subject.id].id != case.id:
            raise InputError(
                f"{path}: subject {subject.id!r} is a bundled base model ({bases[subject.id].id}): "
                f"reference it with `base: {subject.id}` instead of defining it"
            )
    needed: list[Case] = []
    pending = [s.base for s in case.subjects if s.base is not None and s.base not in own]
    while pending:
        name = pending.pop()
        if name not in bases:
            known = ", ".join(sorted(bases)) or "none"
            raise InputError(
                f"{path}: field subjects: base {name!r} is neither a subject of the case nor a "
                f"bundled base model (bundled: {known})"
            )
        if bases[name] not in needed:
            needed.append(bases[name])
            pending += [s.base for s in bases[name].subjects if s.base is not None]
    if not needed:
        return case
    merged: dict[str, list[Record]] = {}
    for part in ("sources", "subjects", "runs", "usages"):
        records: dict[str, Record] = {}
        for source in [*reversed(needed), case]:
            for record in getattr(source, part):
                key = record.tag if part == "sources" else record.id
                if key in records and records[key] != record:
                    raise InputError(
                        f"{path}: field {part}: {key!r} differs from the bundled base model's"
                    )
                records[key] = record
        merged[part] = list(records.values())
    return case.model_copy(update=merged)


def _estimate(spec: EstimateSpec, path: Path, where: str) -> Usage:
    function = ESTIMATORS.get(spec.estimator)
    if function is None:
        known = ", ".join(sorted(ESTIMATORS))
        raise InputError(
            f"{path}: {where}field usages.{spec.id}.estimator: unknown estimator "
            f"{spec.estimator!r} (known: {known})"
        )
    inputs: dict[str, Any] = dict(spec.inputs)
    if spec.unit is not None:
        inputs["unit"] = spec.unit
    try:
        usage = function(id=spec.id, run=spec.run, resource=spec.resource, note=spec.note, **inputs)
    except TypeError as exc:
        raise InputError(f"{path}: {where}field usages.{spec.id}.inputs: {exc}") from None
    except InputError as exc:
        raise InputError(f"{path}: {where}usage {spec.id}: {exc}") from None
    return usage.model_copy(update={"citation": spec.citation})


def _check_references(case: Case, path: Path) -> None:
    subjects = {s.id for s in case.subjects}
    runs = {r.id for r in case.runs}
    problems = [f"subject {case.subject!r}" for _ in [0] if case.subject not in subjects]
    problems += [
        f"run {r.id}: subject {r.subject!r}" for r in case.runs if r.subject not in subjects
    ]
    problems += [f"usage {u.id}: run {u.run!r}" for u in case.usages if u.run not in runs]
    problems += [
        f"scope {s.id}: run {run!r}"
        for s in case.scopes
        for run in (s.runs or [])
        if run not in runs
    ]
    scopes = {s.id for s in case.scopes}
    problems += [
        f"headline figure {h.id}: scope {h.scope!r}"
        for h in case.headline_figures
        if h.scope not in scopes
    ]
    problems += [
        f"funnel step {f.id}: run {run!r}"
        for f in case.funnel_steps
        for run in f.runs
        if run not in runs
    ]
    if problems:
        raise InputError(f"{path}: {problems[0]} is not defined in the case")


def ancestors(case: Case, subject: str | None = None) -> list[str]:
    """The ancestors of a subject of the case (its own by default), nearest first."""
    bases = {s.id: s.base for s in case.subjects}
    out: list[str] = []
    base = bases.get(subject or case.subject)
    while base is not None and base not in out:
        out.append(base)
        base = bases.get(base)
    return out


def case_records(case: Case) -> list[Record]:
    """The case's records in the order the ledger needs them (runs before their usages)."""
    return [
        *case.sources,
        *case.subjects,
        *case.runs,
        *case.usages,
        *case.scopes,
        *case.headline_figures,
        *case.funnel_steps,
    ]


def record_case(ledger: Ledger, case: Case) -> RecordResult:
    """Append a case to a ledger; a second load of the same case appends nothing."""
    return ledger.record(case_records(case))
