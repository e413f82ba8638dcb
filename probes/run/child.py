"""The wrapped command as a child process: its own process group, SIGINT, SIGTERM and SIGHUP
forwarded to it, and its return code mapped to a run status and a shell-style exit code
(:mod:`probes.run.wrap`).

The child is a :class:`subprocess.Popen` in its own process group (``process_group=0``), with
Python's ignored signals back at their defaults and none of the wrapper's descriptors but 0, 1 and
2. A command that cannot start exits the wrapper with 127 (not found) or 126 (not executable), as
a shell does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
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


class Child:
    """A started child process: its ``pid``, and its ``returncode`` once :meth:`wait` reaped it
    (negative: the signal that ended it)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.pid = process.pid
        self.returncode: int | None = None
        self._exited = False

    def wait(self, before_reap: Callable[[], None] | None = None) -> int:
        """Wait for the child to end (signals arriving meanwhile run their handlers) and reap it.

        It is reaped only after :meth:`send_signal` stopped signalling it, and after
        ``before_reap`` ran (where ``waitid`` exists): until then its pid and its process group's
        id, held by the exited (zombie) process, cannot belong to anyone else.
        """
        if self.returncode is None:
            if hasattr(os, "waitid"):
                os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
            self._exited = True
            if before_reap is not None and hasattr(os, "waitid"):
                before_reap()
            self.returncode = self.process.wait()
            if before_reap is not None and not hasattr(os, "waitid"):
                before_reap()
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the child, unless it has ended."""
        if not self._exited:
            with contextlib.suppress(ProcessLookupError):  # reaped by someone else
                os.kill(self.pid, signum)


def spawn(
    argv: list[str],
    preexec_fn: Callable[[], None] | None = None,
    env: dict[str, str] | None = None,
) -> Child:
    """Start ``argv`` (looked up on ``PATH``) in its own process group, so that a terminal's Ctrl-C
    reaches it once, through the wrapper (:class:`Forwarding`), and so that what it leaves behind
    can be found (:mod:`probes.run.leftovers`). ``preexec_fn`` runs in the child before the exec
    (:func:`probes.run.leftovers.die_with_parent`; safe only while no other thread runs).
    ``env``: the child's environment (default: the wrapper's).

    Raises:
        SpawnError: the command does not exist or cannot be executed.
    """
    if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # else the kernel reaps it before we can
    try:
        process = subprocess.Popen(argv, process_group=0, preexec_fn=preexec_fn, env=env)
    except FileNotFoundError:
        raise SpawnError(127, f"command not found: {argv[0]}") from None
    except PermissionError:
        raise SpawnError(126, f"command not executable: {argv[0]}") from None
    except OSError as exc:  # not a format the kernel runs (a script without #!), no memory, ...
        raise SpawnError(126, f"cannot start {argv[0]}: {exc.strerror}") from None
    return Child(process)


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
