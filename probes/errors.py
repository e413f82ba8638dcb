"""The probes' base exception, and the wrapper's input error. Each subpackage raises its own
subclasses (the meters' in :mod:`probes.gpu.errors`, the evals' in :mod:`probes.evals.errors`)."""

from __future__ import annotations

from ledger.errors import InputError, LedgerError


class ProbeError(LedgerError):
    """Base of every error the probes raise on purpose."""


class WrapperInputError(InputError):
    """Bad options to a wrapper (``receipts run``)."""
