"""The canonical form of a ledger entry: the hashed columns in order, their text, what the SHA-256
chain hashes, and the id rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

GENESIS = "0" * 64
"""``prev_hash`` of the first entry."""


COLUMNS = (
    "kind",
    "record_id",
    "subject",
    "run_id",
    "category",
    "stage",
    "resource",
    "unit",
    "quantity",
    "quantity_low",
    "quantity_high",
    "provenance",
    "body",
    "supersedes",
    "origin",
    "recorded_at",
)
"""Hashed columns in hash order. ``seq`` and the hashes themselves are checked separately."""


ROLLUP_KEY = ("subject", "category", "stage", "run_id", "resource", "unit", "provenance")
"""The columns current usages are summed by in ``usage_rollup`` (its primary key)."""


CURRENT = "seq NOT IN (SELECT supersedes FROM entries WHERE supersedes IS NOT NULL)"
"""SQL condition selecting the entries nobody superseded (the current view)."""


def render(values: Sequence[Any]) -> str:
    """Canonical text of column values: None as NUL, floats by repr, joined by US (0x1f)."""
    return "\x1f".join(
        "\x00" if v is None else repr(v) if isinstance(v, float) else str(v) for v in values
    )


def entry_bytes(prev_hash: str, values: Sequence[Any]) -> bytes:
    """What an entry's hash is the SHA-256 of: the previous hash, then the canonical text of the
    entry's hashed column values (:func:`ledger.chain.digest` hashes it)."""
    return f"{prev_hash}\x1f{render(values)}".encode()


_ID_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ID_REST = _ID_FIRST | frozenset("._:/@+-")


def is_valid_id(value: str) -> bool:
    """Whether ``value`` is a record id: ASCII letters, digits and ``. _ : / @ + -``, starting
    with a letter or digit."""
    return bool(value) and value[0] in _ID_FIRST and all(c in _ID_REST for c in value)
