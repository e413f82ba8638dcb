"""The ledger's exceptions. The CLI catches :class:`LedgerError` once and prints its message."""

from __future__ import annotations

from ledger.printable import printable


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose. The message says what to do."""


class InputError(LedgerError):
    """A file, option or record is malformed: names the file and field where there is one."""


class StoreError(LedgerError):
    """The ledger database cannot be opened or written."""


class NotFoundError(LedgerError):
    """A subject, run, case or price card that was asked for does not exist."""


def error_line(message: object) -> str:
    """The one stderr line every command prints for an error it expected: on one line, without
    the control characters a value from an input file may carry (:mod:`ledger.printable`)."""
    return f"receipts: error: {printable(str(message), one_line=True)}"
