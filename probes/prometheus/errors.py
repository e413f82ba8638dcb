"""The Prometheus import's error: bad options, an unreachable or refusing server, a selection that
is empty or ambiguous. One line, exit code 2, nothing written."""

from __future__ import annotations

from ledger.errors import InputError


class PrometheusError(InputError):
    """The import cannot go on; the message names the option or the server and what to do."""
