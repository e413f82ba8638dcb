"""Entry format versions, and upgrading entries written in an older format as they are read.

Every entry carries the format it was written in (the ``format`` column, hashed with the entry).
Entries are never rewritten (the hash chain forbids it), so a reader meets every format any
release ever wrote, and reads each through today's models:

- an entry without a format (written before formats existed) is format 1;
- an entry of an older format is passed through :data:`UPGRADES`, one step per version, from its
  format to :data:`ENTRY_FORMAT`, and only then validated;
- an entry of a newer format than this release knows is refused, with a message that says to
  upgrade receipts.

Changing a stored model incompatibly (renaming or removing a field of ``Run`` or ``Usage``,
changing a unit) therefore means: raise :data:`ENTRY_FORMAT`, add the step from the old format,
and add a golden ledger of the old format to ``tests/golden/`` (``make_ledger.py`` writes one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.errors import StoreError

ENTRY_FORMAT = 1
"""The format this release writes."""

Upgrade = Callable[[str, dict[str, Any]], dict[str, Any]]
"""One step: ``(kind, fields of format n) -> fields of format n + 1``. ``fields`` is what the
entry's model is validated from: a record's JSON body, or a usage's columns and extras."""

UPGRADES: dict[int, Upgrade] = {}
"""The step from each older format to the next, by the format it upgrades from."""


def format_of(stored: int | None) -> int:
    """The format of a stored entry or heartbeat: ``NULL`` (written before formats) is 1."""
    return 1 if stored is None else int(stored)


def upgrade(kind: str, fields: dict[str, Any], stored: int | None, where: str) -> dict[str, Any]:
    """``fields`` of an entry of format ``stored``, brought to :data:`ENTRY_FORMAT`.

    Raises:
        StoreError: the entry is newer than this release reads, or no step leads from its
            format (``where`` names the entry in the message).
    """
    version = format_of(stored)
    if version > ENTRY_FORMAT:
        raise StoreError(
            f"{where} is in entry format {version}, newer than this receipts reads "
            f"({ENTRY_FORMAT}): upgrade receipts to read this ledger"
        )
    while version < ENTRY_FORMAT:
        step = UPGRADES.get(version)
        if step is None:
            raise StoreError(f"{where}: no upgrade from entry format {version} (a receipts bug)")
        fields = step(kind, fields)
        version += 1
    return fields
