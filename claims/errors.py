"""claims' exceptions. They subclass the ledger's, so the ``receipts`` command turns each into one
stderr line and exit code 2 (:class:`ledger.cli.ErrorHandlingGroup`)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from ledger.errors import InputError


class ClaimInputError(InputError):
    """A claim file, registry file or item-results file is malformed or names something unknown."""


class UnknownNameError(ClaimInputError):
    """A model, benchmark, training set or scope that the registry or ledger does not know."""


class AmbiguousNameError(UnknownNameError):
    """A name (a bare family name such as "QwQ") that means several models, and no date picks
    one of them: which model it names is unknown."""


def nearest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known names closest to ``name`` (case-insensitive), best first."""
    by_key = {k.casefold(): k for k in known}
    found = difflib.get_close_matches(name.casefold(), list(by_key), n=n, cutoff=0.4)
    return [by_key[k] for k in found]


def unknown(
    what: str,
    name: str,
    known: Iterable[str],
    hint: str = "",
    canonical: Callable[[str], str] | None = None,
    context: str = "",
) -> UnknownNameError:
    """An :class:`UnknownNameError` that suggests the nearest known names.

    ``canonical`` maps a known name (an alias) to the id it stands for, so that three aliases of
    one model count as one suggestion.
    """
    names = sorted(set(known))
    close: list[str] = []
    for found in nearest(name, names, n=12):
        ident = canonical(found) if canonical else found
        if ident not in close:
            close.append(ident)
    close = close[:3]
    if close:
        suggestion = f"nearest: {', '.join(close)}"
    else:
        ids = sorted({canonical(n) if canonical else n for n in names})
        suggestion = "known: " + ", ".join(ids[:12]) + (", ..." if len(ids) > 12 else "")
    return UnknownNameError(f"unknown {what} {name!r}{context} ({suggestion}){hint}")
