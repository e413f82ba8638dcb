"""Text from input files made safe to show: no terminal escape sequences, no bidirectional
overrides.

A run name, a citation or a claim's quote can carry raw control characters (``ESC ]0;title BEL``
sets a terminal's window title, ``ESC [31m`` colours the rest of the screen) and Unicode bidi
controls that make a line read differently from what it holds. Every place that shows such text
passes it through :func:`printable`: the rich console (:class:`ledger.render.SafeConsole`), the
error line (:func:`ledger.errors.error_line`) and the appendix writers
(:mod:`receipts.appendix.escape`). JSON output needs nothing: the encoder escapes controls.
"""

from __future__ import annotations

import re

_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f"
"""C0 controls but tab and newline, DEL and C1 controls (``\\x9b`` is a one-byte CSI)."""
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""Bidirectional marks, embeddings, overrides and isolates."""
_UNSAFE = re.compile(f"[{_CONTROLS}{_BIDI}]")
_BREAKS = re.compile(r"\s*[\n\t]\s*")


def printable(text: str, *, one_line: bool = False) -> str:
    """``text`` without control characters, tabs and newlines kept (or, with ``one_line``, each
    run of them and the spaces around it turned into one space).

    Controls are dropped rather than replaced: a terminal measures them as zero wide, so tables
    laid out before this runs stay aligned, and what is left of a sequence (``[31m``) shows
    that something was there.
    """
    if one_line:
        text = _BREAKS.sub(" ", text)
    return _UNSAFE.sub("", text)


def has_controls(text: str) -> bool:
    """Whether :func:`printable` would change ``text`` (tabs and newlines aside)."""
    return _UNSAFE.search(text) is not None
