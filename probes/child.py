"""The wrapped command as a child process: its own process group, SIGINT, SIGTERM and SIGHUP
forwarded to it, and its return code mapped to a run status and a shell-style exit code. Shared by
both paths of ``receipts run`` (:mod:`probes.wrap` and :mod:`probes.launch`); standard library
only.
"""

from __future__ import annotations

import signal
import subprocess
from types import FrameType

from ledger.enums import RunStatus

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals sent to the wrapper that it passes on to the child."""


def status_of(returncode: int) -> tuple[RunStatus, int]:
    """The run status and the wrapper's own exit code for a child's return code: ``killed`` and
    128 + the signal for a signal (as shells do), else ``succeeded`` or ``failed`` and the code."""
    if returncode < 0:
        return RunStatus.KILLED, 128 - returncode
    return (RunStatus.SUCCEEDED if returncode == 0 else RunStatus.FAILED), returncode


def end_note(returncode: int) -> str | None:
    """What the run's note says about how the child ended: the signal's name, where one ended it."""
    return f"ended by {signal.Signals(-returncode).name}" if returncode < 0 else None


class SpawnError(Exception):
    """The command could not start: ``exit_code`` 127 (not found) or 126 (not executable)."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group, so that a terminal's Ctrl-C reaches it once,
    through the wrapper.

    Raises:
        SpawnError: the command does not exist or cannot be executed.
    """
    try:
        return subprocess.Popen(argv, process_group=0)
    except FileNotFoundError:
        raise SpawnError(127, f"command not found: {argv[0]}") from None
    except PermissionError:
        raise SpawnError(126, f"command not executable: {argv[0]}") from None


def wait_forwarding(child: subprocess.Popen[bytes]) -> int:
    """Wait for ``child``, forwarding :data:`FORWARDED` signals to it meanwhile; its return code
    (negative: the signal that ended it)."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
