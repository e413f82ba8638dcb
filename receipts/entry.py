"""The ``receipts`` console script: ``receipts run ...`` goes to the run wrapper's fast path
(:mod:`probes.launch`) before typer is even imported, every other command (and every ``run`` the
fast path declines) to the typer app in :mod:`receipts.cli`.
"""

from __future__ import annotations

import contextlib
import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["run"]:
        from ledger.errors import LedgerError, error_line
        from probes.launch import main as launch

        try:
            code = launch(args[1:])
        except LedgerError as exc:  # what the typer app's error handling prints
            print(error_line(exc), file=sys.stderr)
            sys.exit(2)
        if code is not None:
            # The run is recorded and the ledger closed: skip the interpreter's teardown, which
            # would only add to the wrapper's overhead.
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # None when the wrapper was started with it closed
                    with contextlib.suppress(OSError, ValueError):
                        stream.flush()
            os._exit(code)
    from receipts.cli import app

    app(args=args)
