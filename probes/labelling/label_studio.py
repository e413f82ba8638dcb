"""Label Studio's exports: the annotators' time, as reported person-hours.

:func:`read_label_studio` reads a project's JSON export (a list of tasks, each with
``annotations``) and :func:`import_label_studio` records each annotation's ``lead_time`` seconds as
reported person-hours. Skipped annotations are counted apart: ``was_cancelled`` (what Label
Studio's "Skip" button writes; its export documentation says "skipped, or cancelled": one state)
or ``skipped`` (the flag's name before 1.0). Their time was spent, so it is billed, but in a run of
their own. An annotation without a ``lead_time`` is recorded as unquantified, never as 0. Drafts
(unsubmitted) and predictions (a model's) are not counted.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.bounds import MAX_SECONDS
from ledger.errors import InputError
from ledger.files import parse_json, read_text
from ledger.schema import Category, Provenance, Run, RunStatus, Unit, Usage
from ledger.store import Ledger
from probes.ids import id_part
from probes.labelling.schema import IMPORTER, RESOURCE, STAGE, AnnotatorTime, LabelStudioImport
from probes.subjects import check_subject, costs_of_runs, subject_records

PROGRESS_EVERY = 500
"""Tasks checked between two progress calls."""


@dataclass(frozen=True)
class LsAnnotation:
    """One annotation of a Label Studio export."""

    task: str
    """Task id."""
    annotation: str
    """Annotation id (``task-<task>-<n>`` where the export gives none)."""
    annotator: str
    """``completed_by``: the user's email where exported, else ``user-<id>``."""
    lead_time_s: float | None
    """Seconds Label Studio measured; ``None`` where it recorded none."""
    skipped: bool
    """``was_cancelled`` (or, before 1.0, ``skipped``): skipped in Label Studio."""


@dataclass(frozen=True)
class LabelStudioExport:
    """A Label Studio JSON export, checked."""

    path: Path
    key: str
    """``project-<id>`` where every task names one project, else the file's SHA-256 (12)."""
    project: str | None
    """The project id, where one."""
    tasks: int
    """Tasks in the export."""
    annotations: list[LsAnnotation]
    """Every annotation, in file order."""
    drafts: int
    """Drafts in the export (unsubmitted, not counted)."""


def read_label_studio(
    path: Path, progress: Callable[[int, int], None] | None = None
) -> LabelStudioExport:
    """Read and check a Label Studio JSON export (``[{"id": ..., "annotations": [...]}, ...]``);
    ``progress`` hears how many of its tasks are checked.

    Raises:
        InputError: the file is unreadable, not JSON, or not shaped like a JSON export; the
            message names the task, the annotation and the field.
    """
    text = read_text(path)
    try:
        data = parse_json(text, str(path))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: line {exc.lineno}, column {exc.colno}: malformed JSON ({exc.msg})"
        ) from None
    if not isinstance(data, list):
        hint = " (one task? wrap it in [ ])" if isinstance(data, dict) and "id" in data else ""
        raise InputError(
            f"{path}: expected a list of tasks (Label Studio's JSON export), found "
            f"{_kind(data)}{hint}"
        )
    if not data:
        raise InputError(f"{path}: no tasks in the export")
    annotations: list[LsAnnotation] = []
    projects: set[str] = set()
    drafts = 0
    seen: dict[str, str] = {}
    for index, task in enumerate(data):
        if progress is not None and index % PROGRESS_EVERY == 0:
            progress(index, len(data))
        task_id, anns = _task(task, f"{path}: task #{index}")
        if task.get("project") is not None:
            projects.add(str(task["project"]))
        if isinstance(task.get("drafts"), list):
            drafts += len(task["drafts"])
        for number, ann in enumerate(anns):
            where = f"{path}: task {task_id}"
            annotation = _annotation(ann, task_id, number, where)
            key = id_part(annotation.annotation)
            if key in seen:
                # Its usage id would be the other's: one of the two would be lost.
                raise InputError(
                    f"{where}: annotation #{number}: field id: annotation {annotation.annotation} "
                    f"is also in task {seen[key]}; annotation ids must be unique in an export"
                )
            seen[key] = task_id
            annotations.append(annotation)
    if progress is not None:
        progress(len(data), len(data))
    project = projects.pop() if len(projects) == 1 else None
    key = (
        f"project-{id_part(project)}"
        if project
        else hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    )
    return LabelStudioExport(path, key, project, len(data), annotations, drafts)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), f"a {type(value).__name__}")


def _task(task: Any, where: str) -> tuple[str, list[Any]]:
    if not isinstance(task, dict):
        raise InputError(f"{where}: expected a task object, found {_kind(task)}")
    task_id = task.get("id")
    if isinstance(task_id, bool) or not isinstance(task_id, int | str):
        raise InputError(f"{where}: field id: missing or not a task id")
    anns = task.get("annotations", task.get("completions"))  # "completions": before 1.0
    if anns is None:
        raise InputError(
            f"{where} (id {task_id}): field annotations: missing; this is not Label Studio's "
            "JSON export (JSON-MIN and CSV exports leave skipped annotations out): export the "
            "project as JSON"
        )
    if not isinstance(anns, list):
        raise InputError(
            f"{where} (id {task_id}): field annotations: expected a list, found {_kind(anns)}"
        )
    return str(task_id), anns


def _annotation(ann: Any, task_id: str, number: int, where: str) -> LsAnnotation:
    where = f"{where}: annotation #{number}"
    if not isinstance(ann, dict):
        raise InputError(f"{where}: expected an annotation object, found {_kind(ann)}")
    lead = ann.get("lead_time")
    if isinstance(lead, float) and not math.isfinite(lead):
        raise InputError(
            f"{where}: field lead_time: {lead} is not a number (JSON has no NaN or Infinity)"
        )
    if lead is not None and (
        isinstance(lead, bool) or not isinstance(lead, int | float) or not math.isfinite(lead)
    ):
        raise InputError(
            f"{where}: field lead_time: expected seconds (a number), found {_kind(lead)} {lead!r}"
        )
    if lead is not None and lead < 0:
        raise InputError(f"{where}: field lead_time: {lead} seconds is negative")
    if lead is not None and lead > MAX_SECONDS:
        raise InputError(
            f"{where}: field lead_time: {lead:g} seconds is above the plausible bound of "
            f"{MAX_SECONDS:g} s"
        )
    flags = {name: ann.get(name, False) for name in ("was_cancelled", "skipped")}
    for name, flag in flags.items():  # "skipped" is the flag's name before Label Studio 1.0
        if not isinstance(flag, bool):
            raise InputError(f"{where}: field {name}: expected true or false, found {flag!r}")
    ann_id = ann.get("id")
    return LsAnnotation(
        task=task_id,
        annotation=f"task-{task_id}-{number}" if ann_id is None else str(ann_id),
        annotator=_annotator(ann.get("completed_by"), where),
        lead_time_s=None if lead is None else float(lead),
        skipped=any(flags.values()),
    )


def _annotator(value: Any, where: str) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return f"user-{value}"
    if isinstance(value, dict):
        email, user = value.get("email"), value.get("id")
        if isinstance(email, str) and email.strip():
            return email.strip()
        if isinstance(user, int | str) and not isinstance(user, bool):
            return f"user-{user}"
    raise InputError(
        f"{where}: field completed_by: expected a user id or an object with id or email, "
        f"found {value!r}"
    )


def _tally(annotations: Iterable[LsAnnotation]) -> list[AnnotatorTime]:
    rows: dict[str, dict[str, Any]] = {}
    for a in annotations:
        row = rows.setdefault(a.annotator, {"submitted": [], "skipped": [], "without_lead_time": 0})
        if a.lead_time_s is None:
            row["without_lead_time"] += 1
        row["skipped" if a.skipped else "submitted"].append(a.lead_time_s or 0.0)
    return [
        AnnotatorTime(
            annotator=name,
            submitted=len(row["submitted"]),
            submitted_s=math.fsum(row["submitted"]),
            skipped=len(row["skipped"]),
            skipped_s=math.fsum(row["skipped"]),
            without_lead_time=row["without_lead_time"],
        )
        for name, row in rows.items()
    ]


def import_label_studio(
    ledger: Ledger,
    export: LabelStudioExport,
    *,
    subject: str,
    stage: str = STAGE,
    category: Category = Category.DATA,
    create_subject: bool = False,
) -> LabelStudioImport:
    """Record an export's lead times as reported person-hours, one usage per annotation.

    Runs: ``<subject>/<stage>/label-studio-<key>`` for submitted annotations and ``.../skipped``
    for skipped ones, where the key is the project (so a later export of the same project adds
    only its new annotations and corrects changed ones) or the file's hash. Usage ids are
    ``<run base>/annotation-<id>``, independent of the outcome, so an annotation that moves
    from skipped to submitted moves, and is never counted twice. Re-importing adds nothing.

    Raises:
        InputError: the subject is not a valid id.
        NotFoundError: the subject does not exist and ``create_subject`` is off.
    """
    check_subject(subject)
    new_subject = subject_records(ledger, subject, create_subject)
    base = f"{subject}/{id_part(stage)}/label-studio-{export.key}"
    label = f"Label Studio project {export.project}" if export.project else export.path.name
    runs: dict[bool, Run] = {}
    usages: list[Usage] = []
    missing: dict[tuple[bool, str], list[str]] = {}
    for a in export.annotations:
        if a.skipped not in runs:
            runs[a.skipped] = _ls_run(base, subject, stage, category, label, export, a.skipped)
        run_id = runs[a.skipped].id
        if a.lead_time_s is None:
            missing.setdefault((a.skipped, a.annotator), []).append(a.annotation)
            continue
        usages.append(
            Usage(
                id=f"{base}/annotation-{id_part(a.annotation)}",
                run=run_id,
                resource=RESOURCE,
                unit=Unit.PERSON_HOUR,
                quantity=a.lead_time_s / 3600,
                provenance=Provenance.REPORTED,
                citation=f"{export.path.name}: task {a.task}, annotation {a.annotation}",
                detail={
                    "task": a.task,
                    "annotation": a.annotation,
                    "annotator": a.annotator,
                    "lead_time_s": a.lead_time_s,
                    "outcome": "skipped" if a.skipped else "submitted",
                },
            )
        )
    for (skipped, annotator), ids in missing.items():
        usages.append(
            Usage(
                id=f"{runs[skipped].id}/no-lead-time/{id_part(annotator)}",
                run=runs[skipped].id,
                resource=RESOURCE,
                unit=Unit.PERSON_HOUR,
                quantity=None,
                provenance=Provenance.REPORTED,
                citation=f"{export.path.name}: annotations {', '.join(ids)}",
                note=f"{len(ids)} annotations by {annotator} without a lead_time: time unknown",
                detail={"annotator": annotator, "annotations": ids},
            )
        )
    ordered = [runs[k] for k in (False, True) if k in runs]
    done = ledger.record([*new_subject, *ordered, *usages])
    costs = costs_of_runs(ledger, subject, [r.id for r in ordered])
    people = _tally(export.annotations)
    return LabelStudioImport(
        file=str(export.path),
        project=export.project,
        tasks=export.tasks,
        annotators=people,
        submitted=sum(p.submitted for p in people),
        submitted_s=math.fsum(p.submitted_s for p in people),
        skipped=sum(p.skipped for p in people),
        skipped_s=math.fsum(p.skipped_s for p in people),
        without_lead_time=sum(p.without_lead_time for p in people),
        drafts_ignored=export.drafts,
        costs=[costs[r.id] for r in ordered],
        appended=done.appended,
        superseded=done.superseded,
        unchanged=done.unchanged,
    )


def _ls_run(
    base: str,
    subject: str,
    stage: str,
    category: Category,
    label: str,
    export: LabelStudioExport,
    skipped: bool,
) -> Run:
    return Run(
        id=f"{base}/skipped" if skipped else base,
        subject=subject,
        stage=stage,
        category=category,
        name=f"{label}: {'skipped' if skipped else 'submitted'} annotations",
        status=RunStatus.REPORTED,
        citation=f"{export.path.name} (Label Studio JSON export)",
        note=(
            "annotations skipped (was_cancelled) in Label Studio: the time was spent, so it is "
            "billed, apart from the submitted work"
            if skipped
            else None
        ),
        detail={
            "importer": IMPORTER,
            "project": export.project,
            "outcome": "skipped" if skipped else "submitted",
        },
    )
