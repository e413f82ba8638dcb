"""Reading versioned YAML, JSON and CSV input files into records, with errors that name the spot.

Every error is one :class:`~ledger.errors.InputError` line: the file, the field path, and for
YAML the line and column, so a user can fix the file without a traceback.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ledger.errors import InputError, LedgerError

M = TypeVar("M", bound=BaseModel)

# PyYAML's binding to libyaml where the installed PyYAML has it (its wheels do): the same YAML 1.1
# safe schema as yaml.SafeLoader, parsed in C, over ten times faster on the bundled data.
SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Locator = Callable[[tuple[int | str, ...]], str]


def write_atomic(path: Path, data: bytes, error: type[LedgerError] = LedgerError) -> None:
    """Write ``data`` to a temporary file beside ``path`` and move it into place
    (``os.replace``), so a reader never sees a partly written file; the file gets the mode the
    umask gives a new file.

    Raises:
        error: the file cannot be written (the temporary file is removed).
    """
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def read_text(path: Path) -> str:
    """The file's text, or an :class:`InputError` saying why it cannot be read.

    A UTF-8 byte-order mark at the start (spreadsheet programs write one) is dropped.
    """
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


MAX_DEPTH = 100
"""The deepest nesting of mappings and lists an input file may have. Real files nest fewer than
ten levels; a deeper one is refused before a parser or a validator runs out of stack."""


def too_deep(where: str) -> InputError:
    """The error for a file nested deeper than :data:`MAX_DEPTH`."""
    return InputError(f"{where}: nested more than {MAX_DEPTH} levels deep (mappings and lists)")


def check_depth(data: Any, where: str) -> None:
    """Refuse ``data`` nested deeper than :data:`MAX_DEPTH`, or containing itself (a YAML alias
    to an enclosing node). Iterative, and each shared node (a YAML alias) is measured once."""
    height: dict[int, int] = {}
    stack: list[tuple[Any, int, bool]] = [(data, 1, False)]
    open_nodes: set[int] = set()
    while stack:
        node, level, done = stack.pop()
        children = [c for c in _children(node) if isinstance(c, dict | list)]
        if done:
            open_nodes.discard(id(node))
            height[id(node)] = 1 + max((height[id(c)] for c in children), default=0)
        elif id(node) in height:
            if level - 1 + height[id(node)] > MAX_DEPTH:
                raise too_deep(where)
        elif id(node) in open_nodes:
            raise InputError(f"{where}: a mapping or list contains itself (a recursive alias)")
        elif level > MAX_DEPTH:
            raise too_deep(where)
        else:
            open_nodes.add(id(node))
            stack.append((node, level, True))
            stack.extend((c, level + 1, False) for c in children)


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [*node.keys(), *node.values()]
    return list(node) if isinstance(node, list) else []


def parse_json(text: str, where: str) -> Any:
    """``json.loads(text)``, refusing a value nested too deeply (:func:`check_depth`); a
    :class:`json.JSONDecodeError` is left for the caller to report with its position."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise too_deep(where) from None
    check_depth(data, where)
    return data


def load_structured(path: Path) -> tuple[Any, Locator]:
    """Parse a YAML or JSON file; also return a function that maps a field path to its position.

    Raises:
        InputError: the file is malformed, or nested deeper than :data:`MAX_DEPTH`.
    """
    text = read_text(path)
    if path.suffix.lower() == ".json":
        try:
            return parse_json(text, str(path)), lambda _loc: ""
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}: line {exc.lineno}, column {exc.colno}: malformed JSON ({exc.msg})"
            ) from None
    try:
        node, data = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "maximum nesting depth" in problem:  # libyaml's own limit (1,000 levels)
            raise too_deep(str(path)) from None
        raise InputError(f"{path}: {where}malformed YAML ({problem})") from None
    except RecursionError:
        raise too_deep(str(path)) from None
    check_depth(data, str(path))
    return data, lambda loc: _position(node, loc)


def parse_yaml(text: str) -> tuple[Any, Any]:
    """The YAML document's node tree (for positions) and its data, from one parse."""
    loader = SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, (None if node is None else loader.construct_document(node))
    finally:
        loader.dispose()


def _position(node: Any, loc: tuple[int | str, ...]) -> str:
    best = node
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(part)), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            break
        node = best = child
    if best is None:
        return ""
    return f"line {best.start_mark.line + 1}, column {best.start_mark.column + 1}: "


def field_path(loc: tuple[int | str, ...]) -> str:
    """``cards[3].price_usd`` from pydantic's ``('cards', 3, 'price_usd')``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate(
    model: type[M], data: Any, path: Path, locate: Locator, prefix: tuple[Any, ...] = ()
) -> M:
    """``model.model_validate(data)``, with a failure reported as one line naming file and field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = (*prefix, *_data_path(data, err["loc"], missing=err["type"] == "missing"))
        message = err["msg"].removeprefix("Value error, ")
        raise InputError(f"{path}: {locate(loc)}field {field_path(loc)}: {message}") from None


def _data_path(
    data: Any, loc: tuple[int | str, ...], missing: bool = True
) -> tuple[int | str, ...]:
    """The error location with pydantic's union tags (which are not keys in the data) removed;
    a ``missing`` field, which the data lacks, is kept at the end to name it."""
    out: list[int | str] = []
    node = data
    for part in loc:
        is_key = isinstance(node, dict) and part in node
        is_index = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if is_key or is_index:
            node = node[part]
        elif isinstance(node, dict | list):
            continue  # a union member's tag, or a key the data lacks (kept below if last)
        out.append(part)
    if missing and loc and (not out or out[-1] != loc[-1]):
        out.append(loc[-1])  # a missing required field: name it
    return tuple(out)


def check_version(data: Any, path: Path, supported: int) -> None:
    """Refuse files without a ``schema_version`` or with a newer one than this release reads."""
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping at the top level")
    version = data.get("schema_version")
    if not isinstance(version, int):
        raise InputError(f"{path}: field schema_version: missing or not an integer")
    if version > supported:
        raise InputError(
            f"{path}: field schema_version: version {version} is newer than this receipts "
            f"release reads ({supported}); upgrade receipts"
        )
    if version < 1:
        raise InputError(f"{path}: field schema_version: unknown version {version}")


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file with a header, blank cells dropped.

    Raises:
        InputError: the file is not CSV, or a row has more cells than the header (file and line
            named): its extra cells would be lost.
    """
    text = read_text(path)
    reader = csv.DictReader(text.splitlines())
    rows = []
    try:
        for row in reader:
            if None in row:  # DictReader files the cells past the header under None
                width = len(reader.fieldnames or ())
                raise InputError(
                    f"{path}: line {reader.line_num}: {width + len(row[None])} cells where the "
                    f"header has {width}"
                )
            rows.append(row)
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV ({exc})") from None
    if not rows:
        raise InputError(f"{path}: no rows under the header")
    return [{k: v for k, v in row.items() if k and v not in (None, "")} for row in rows]
