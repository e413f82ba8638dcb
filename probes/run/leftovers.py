"""The processes a job leaves behind, and a job that dies with its wrapper.

When the command of ``receipts run`` ends, what it started and left running (``sleep 60 &``, a
server started in the background, a daemon) is sent SIGTERM, then SIGKILL after a grace period
(:data:`GRACE_S`, ``--grace``), and waited for; each one is recorded in the run
(:func:`end_leftovers`, :func:`describe`). Found are:

- the processes still in the job's process group (the command runs in its own, see
  :mod:`probes.run.child`), everywhere;
- on Linux, while the wrapper is the only thread and its only child is the job
  (:func:`exclusive`, which ``receipts run`` always is), also every process below the wrapper:
  the wrapper is a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``), so the kernel re-parents
  the job's orphans to it rather than to init, and a process that left the group (``setsid``)
  is still found. Such orphans that end while the command still runs stay zombies of the wrapper
  (a pid, no memory) until the command ends.

On Linux, again only while :func:`exclusive`, the command is started with
``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (:func:`die_with_parent`): a wrapper killed with ``kill -9``
takes its command down, and ``runs --reap`` closes the run as ``interrupted``. The kernel signals
the command only, not what the command started: those die only if the command takes them down.
Elsewhere, or when the wrapper runs inside a program with other threads (``preexec_fn`` is unsafe
there), the command survives a killed wrapper, as it did before.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from probes.run.proctree import Process, below, processes

GRACE_S = 5.0
"""Seconds between SIGTERM and SIGKILL for the processes a job left behind."""

KILL_WAIT_S = 2.0
"""Seconds to wait for processes sent SIGKILL to be gone (one in uninterruptible sleep may not)."""

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37

_POLL_S = 0.02


def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, on Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def exclusive() -> bool:
    """Whether this process has no other thread and no child: then a ``preexec_fn`` is safe, and
    every process that is re-parented to it while the command runs is the job's."""
    if threading.active_count() > 1:
        return False
    me = os.getpid()
    return not any(p.ppid == me for p in processes().values())


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel send SIGKILL to the child when this process dies
    (Linux); ``None`` elsewhere. Use it only where :func:`exclusive` (fork with threads running,
    then Python code in the child, may deadlock)."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the wrapper died before the call: nobody would signal
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


@contextlib.contextmanager
def subreaper(enabled: bool = True) -> Iterator[bool]:
    """Make this process a child subreaper (Linux) for the block; yield whether it is one. The
    previous setting comes back at the end."""
    prctl = _prctl() if enabled else None
    previous = ctypes.c_int(0)
    if prctl is None or prctl(PR_GET_CHILD_SUBREAPER, ctypes.addressof(previous), 0, 0, 0) != 0:
        yield False
        return
    if prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        yield False
        return
    try:
        yield True
    finally:
        prctl(PR_SET_CHILD_SUBREAPER, previous.value, 0, 0, 0)


@dataclass
class Leftover:
    """A process the job left behind: the last signal it was sent, and whether it outlived it."""

    pid: int
    command: str
    signal: str | None = None
    survived: bool = False

    def as_detail(self) -> dict[str, object]:
        found: dict[str, object] = {"pid": self.pid, "command": self.command}
        if self.signal is not None:
            found["signal"] = self.signal
        if self.survived:
            found["survived"] = True
        return found


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def end_leftovers(
    pgid: int,
    *,
    exclude: int,
    tree: bool,
    grace_s: float = GRACE_S,
    clock: Callable[[], float] = time.monotonic,
) -> list[Leftover]:
    """SIGTERM, then after ``grace_s`` SIGKILL, every process left in the group ``pgid`` and, with
    ``tree``, below this process (a subreaper), but ``exclude`` (the command, exited); wait for them
    to be gone, reaping those re-parented here; return them in the order found.

    Where no process table can be read (neither /proc nor ``ps``), the group is sent SIGTERM once
    and nothing is recorded.
    """
    me = os.getpid()
    found: dict[int, Leftover] = {}
    readable = True

    def alive() -> dict[int, Process]:
        nonlocal readable
        table = processes()
        readable = bool(table)
        if tree:
            for p in table.values():  # orphans that ended: reap them, here and now
                if p.ppid == me and p.state == "Z" and p.pid != exclude:
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(p.pid, os.WNOHANG)
        mine = below(me, table) if tree else set()
        return {
            p.pid: p
            for p in table.values()
            if (p.pgrp == pgid or p.pid in mine) and p.pid not in (me, exclude) and p.state != "Z"
        }

    def send(signum: int, targets: dict[int, Process]) -> None:
        if not targets:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)
        for pid, p in targets.items():
            if p.pgrp != pgid:
                _signal(pid, signum)
            found.setdefault(pid, Leftover(pid, p.name)).signal = signal.Signals(signum).name

    def wait(signum: int, current: dict[int, Process], seconds: float) -> dict[int, Process]:
        """Send ``signum`` to ``current`` and to what shows up meanwhile, until none is left or
        ``seconds`` passed; return those still alive."""
        send(signum, current)
        deadline = clock() + seconds
        while current and clock() < deadline:
            time.sleep(_POLL_S)
            current = alive()
            send(signum, {pid: p for pid, p in current.items() if pid not in found})
        return current

    current = alive()
    if not readable:  # no process table: signal the group blind
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        return []
    if not current:
        return []
    current = wait(signal.SIGTERM, current, grace_s)
    if current:
        current = wait(signal.SIGKILL, current, KILL_WAIT_S)
    for pid in current:
        found[pid].survived = True
    return list(found.values())


NOTE_NAMES = 5
"""How many left-behind processes the note names (the run's detail lists them all)."""


def describe(leftovers: list[Leftover]) -> str:
    """One sentence for the run's note: ``left 1 process behind: sleep (pid 42); ended by
    SIGTERM``."""
    count = len(leftovers)
    names = ", ".join(f"{p.command} (pid {p.pid})" for p in leftovers[:NOTE_NAMES])
    if count > NOTE_NAMES:
        names += f" and {count - NOTE_NAMES} more"
    signals = sorted({p.signal for p in leftovers if p.signal}, key=["SIGTERM", "SIGKILL"].index)
    ended = " then ".join(signals) or "nothing"
    survived = sum(p.survived for p in leftovers)
    tail = f"; {survived} still running" if survived else ""
    plural = "process" if count == 1 else "processes"
    return f"left {count} {plural} behind: {names}; sent {ended}{tail}"
