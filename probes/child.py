"""The wrapped command as a child process: its own process group, SIGINT, SIGTERM and SIGHUP
forwarded to it, and its return code mapped to a run status and a shell-style exit code. Shared by
both paths of ``receipts run`` (:mod:`probes.wrap` and :mod:`probes.launch`).

The child is started with ``posix_spawnp`` (``os.posix_spawnp``), not :mod:`subprocess`:
``receipts run`` starts it as early as it can, and importing :mod:`subprocess` (with
:mod:`threading`, :mod:`selectors` and :mod:`locale`) took 7 ms on a small machine, more than the
rest of the wrapper's own modules. The child gets what ``subprocess.Popen(argv,
process_group=0)`` would give it: its own process group; ``SIGPIPE`` and ``SIGXFSZ`` back at their
defaults (Python ignores them); no descriptor of the wrapper's but 0, 1 and 2 (``close_fds``: the
inheritable ones are closed in the child, as a C library's may be); exec errors reported to the
wrapper (``FileNotFoundError``, ``PermissionError``; on glibc older than 2.24 a failed exec shows
as the child exiting with 127 instead).
"""

from __future__ import annotations

import contextlib
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
        self._exited = False

    def wait(self) -> int:
        """Wait for the child to end (signals arriving meanwhile run their handlers) and reap it.

        It is reaped only after :meth:`send_signal` stopped signalling it: until then its pid,
        held by the exited (zombie) process, cannot belong to anyone else.
        """
        if self.returncode is None:
            if hasattr(os, "waitid"):
                os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
            self._exited = True
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the child, unless it has ended."""
        if not self._exited:
            with contextlib.suppress(ProcessLookupError):  # reaped by someone else
                os.kill(self.pid, signum)


def spawn(argv: list[str]) -> Child:
    """Start ``argv`` (looked up on ``PATH``) in its own process group, so that a terminal's Ctrl-C
    reaches it once, through the wrapper (:class:`Forwarding`).

    Raises:
        SpawnError: the command does not exist or cannot be executed.
    """
    if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # else the kernel reaps it before we can
    try:
        pid = os.posix_spawnp(
            argv[0],
            argv,
            os.environ,
            file_actions=[(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds()],
            setpgroup=0,
            setsigdef=RESTORED,
        )
    except FileNotFoundError:
        raise SpawnError(127, f"command not found: {argv[0]}") from None
    except PermissionError:
        raise SpawnError(126, f"command not executable: {argv[0]}") from None
    except OSError as exc:  # not a format the kernel runs (a script without #!), no memory, ...
        raise SpawnError(126, f"cannot start {argv[0]}: {exc.strerror}") from None
    return Child(pid)


def _inheritable_fds() -> list[int]:
    """The wrapper's open descriptors above 2 that an exec would pass on (Python opens its own
    close-on-exec; a C library need not): what ``close_fds`` closes in the child."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        names = os.listdir("/dev/fd") if os.path.isdir("/dev/fd") else []
    fds = []
    for name in names:
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):  # the listing's own descriptor, closed by now
                if os.get_inheritable(fd):
                    fds.append(fd)
    return fds


class Forwarding:
    """Forward :data:`FORWARDED` signals to the child, within a ``with`` block that starts before
    the child does: a signal that arrives before :meth:`attach` is passed on as soon as the child
    exists, one that arrives after the child ended is dropped. The previous handlers come back at
    the end of the block."""

    def __init__(self) -> None:
        self.child: Child | None = None
        self._pending: list[int] = []
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Forwarding:
        self._previous = {sig: signal.signal(sig, self._forward) for sig in FORWARDED}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def attach(self, child: Child) -> None:
        """Forward to ``child`` from now on, starting with the signals that came before it."""
        self.child = child
        pending, self._pending = self._pending, []
        for signum in pending:
            child.send_signal(signum)

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        if self.child is None:
            self._pending.append(signum)
        else:
            self.child.send_signal(signum)
