"""Benchmark items from JSONL: the shipped ``aime24.jsonl`` and ``math500.jsonl`` formats, and any
other file through a field mapping (``--field question=prompt``).

Every line is checked before anything runs: a line that is not a JSON object, or that lacks the
id, question or answer field, is an error naming the file, the line and the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ledger.files import parse_json
from probes.evals.errors import EvalInputError

ROLES = ("id", "question", "answer", "choices")
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id", "unique_id", "problem_id", "question_id", "idx"),
    "question": ("problem", "question", "prompt", "input"),
    "answer": ("answer", "gold", "target", "solution_answer"),
    "choices": ("choices", "options"),
}
"""Field names tried in order for each role; ``--field ROLE=NAME`` names one instead."""
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Item:
    """One benchmark item."""

    id: str
    question: str
    answer: str
    """Gold answer; a letter for multiple-choice items."""
    choices: tuple[str, ...] | None = None


def parse_field_map(pairs: list[str] | None) -> dict[str, str]:
    """``["question=prompt", ...]`` as ``{"question": "prompt"}``.

    Raises:
        EvalInputError: a pair is not ``ROLE=NAME`` or names an unknown role.
    """
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        role, sep, name = pair.partition("=")
        role, name = role.strip(), name.strip()
        if not sep or not name or role not in ROLES:
            raise EvalInputError(
                f"--field {pair!r}: expected ROLE=NAME with ROLE one of {', '.join(ROLES)}"
            )
        mapping[role] = name
    return mapping


def _pick(row: Mapping[str, object], role: str, mapping: Mapping[str, str]) -> object | None:
    names = (mapping[role],) if role in mapping else DEFAULT_FIELDS[role]
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    return None


def _need(value: object | None, role: str, mapping: Mapping[str, str], where: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        tried = mapping.get(role) or " / ".join(DEFAULT_FIELDS[role])
        raise EvalInputError(
            f"{where}: no {role} (field {tried}); name it with --field {role}=NAME"
        )
    if isinstance(value, dict | list):
        raise EvalInputError(f"{where}: the {role} field is not a string or a number")
    return str(value)


def load_items(
    path: Path, mapping: Mapping[str, str] | None = None, limit: int | None = None
) -> list[Item]:
    """The items of a JSONL file, in file order, the first ``limit`` of them where given.

    Raises:
        EvalInputError: the file is missing or empty, a line is malformed or lacks a field, an id
            repeats, a multiple-choice gold answer is not one of the choices.
    """
    mapping = dict(mapping or {})
    if limit is not None and limit <= 0:
        raise EvalInputError(f"--limit must be positive, got {limit}")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise EvalInputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalInputError(f"{path}: cannot read ({exc})") from None
    items: list[Item] = []
    seen: set[str] = set()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        where = f"{path}: line {number}"
        try:
            row = parse_json(text, where)
        except json.JSONDecodeError as exc:
            raise EvalInputError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise EvalInputError(f"{where}: not a JSON object")
        item = _item(row, mapping, where)
        if item.id in seen:
            raise EvalInputError(f"{where}: id {item.id!r} repeats an earlier item")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise EvalInputError(f"{path}: no items")
    return items[:limit] if limit else items


def _item(row: Mapping[str, object], mapping: Mapping[str, str], where: str) -> Item:
    item_id = _need(_pick(row, "id", mapping), "id", mapping, where)
    question = _need(_pick(row, "question", mapping), "question", mapping, where)
    answer = _need(_pick(row, "answer", mapping), "answer", mapping, where).strip()
    raw = _pick(row, "choices", mapping)
    if raw is None:
        return Item(item_id, question, answer)
    if not isinstance(raw, list) or not raw or len(raw) > len(LETTERS):
        raise EvalInputError(f"{where}: choices must be a non-empty list (at most 26)")
    choices = tuple(str(c) for c in raw)
    letters = LETTERS[: len(choices)]
    if answer.upper() in letters and len(answer) == 1:
        gold = answer.upper()
    elif answer in choices:
        gold = letters[choices.index(answer)]
    else:
        raise EvalInputError(
            f"{where}: multiple-choice answer {answer!r} is neither a letter A-{letters[-1]} "
            "nor one of the choices"
        )
    return Item(item_id, question, gold, choices)


def render_question(item: Item, template: str) -> str:
    """The user turn: ``template`` with ``{question}``; choices listed as ``(A) ...`` lines."""
    question = item.question
    if item.choices:
        listed = "\n".join(f"({LETTERS[i]}) {c}" for i, c in enumerate(item.choices))
        question = f"{question}\n\n{listed}"
    return template.replace("{question}", question)
