"""The wrapped command as a child process: its own process group, SIGINT, SIGTERM and SIGHUP
forwarded to it, and its return code mapped to a run status and a shell-style exit code. Shared by
both paths of ``receipts run`` (:mod:`probes.wrap` and :mod:`probes.launch`).

The child is started with ``posix_spawnp`` (``os.posix_spawnp``), not :mod:`subprocess`:
``receipts run`` starts it as early as it can, and importing :mod:`subprocess` (with
:mod:`threading`, :mod:`selectors` and :mod:`locale`) took 7 ms on a small machine, more than the
rest of the wrapper's own modules. The child gets what ``subprocess.Popen(argv,
process_group=0)`` would give it: its own process group, ``SIGPIPE`` and ``SIGXFSZ`` back at their
defaults (Python ignores them), and exec errors reported to the wrapper (``FileNotFoundError``,
``PermissionError``). One difference, as with ``exec``-style wrappers (``env``, ``nice``,
``time``): file descriptors the wrapper itself inherited without close-on-exec stay open in the
child (a make jobserver's, say); Python's own descriptors are never inherited.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

from ledger.enums import RunStatus

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals sent to the wrapper that it passes on to the child."""

RESTORED = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ") if hasattr(signal, name)
)
"""Signals Python ignores that the child gets back at their defaults, as ``subprocess`` does
(``restore_signals``)."""


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


class Child:
    """A started child process: its ``pid``, and its ``returncode`` once :meth:`wait` reaped it
    (negative: the signal that ended it)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def wait(self) -> int:
        """Wait for the child to end (signals arriving meanwhile run their handlers) and reap it."""
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the child, unless it was reaped already (its pid may be reused)."""
        if self.returncode is None:
            os.kill(self.pid, signum)


def spawn(argv: list[str]) -> Child:
    """Start ``argv`` (looked up on ``PATH``) in its own process group, so that a terminal's Ctrl-C
    reaches it once, through the wrapper.

    Raises:
        SpawnError: the command does not exist or cannot be executed.
    """
    if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # else the kernel reaps it before we can
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ, setpgroup=0, setsigdef=RESTORED)
    except FileNotFoundError:
        raise SpawnError(127, f"command not found: {argv[0]}") from None
    except PermissionError:
        raise SpawnError(126, f"command not executable: {argv[0]}") from None
    except OSError as exc:  # not a format the kernel runs (a script without #!), say
        raise SpawnError(126, f"cannot execute {argv[0]}: {exc.strerror}") from None
    return Child(pid)


def wait_forwarding(child: Child) -> int:
    """Wait for ``child``, forwarding :data:`FORWARDED` signals to it meanwhile; its return code
    (negative: the signal that ended it)."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
