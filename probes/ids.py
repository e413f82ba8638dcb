"""Ledger ids made from free text (step names, response ids, file names)."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._:/@+-]+")


def id_part(text: str, fallback: str = "unnamed") -> str:
    """``text`` with every run of characters a ledger id does not allow replaced by ``-`` (and
    none at either end); ``fallback`` where nothing is left."""
    return _UNSAFE.sub("-", text).strip("-") or fallback
