"""Processes read from /proc (Linux), else from ``ps`` (macOS, the BSDs): a process and its
descendants, to tell the job's GPU processes from other users' on a shared device, and the members
of a process group, to find what a job left behind (:mod:`probes.run.leftovers`)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

PROC = "/proc"


@dataclass(frozen=True)
class Process:
    """One process: its parent, its process group, its state (``Z``: exited, not yet reaped) and
    its command name (at most 15 characters on Linux)."""

    pid: int
    ppid: int
    pgrp: int
    state: str
    name: str


def _from_proc(proc: str) -> dict[int, Process]:
    found: dict[int, Process] = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "stat"), encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue  # exited meanwhile
        # The command name (field 2) is parenthesised and may contain spaces or parentheses.
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        pid = int(entry)
        found[pid] = Process(pid, int(fields[1]), int(fields[2]), fields[0], name)
    return found


def _from_ps() -> dict[int, Process]:
    try:
        listing = subprocess.run(
            ["ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "pgid=", "-o", "stat=", "-o", "comm="],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[int, Process] = {}
    for line in listing.splitlines():
        fields = line.split(None, 4)
        if len(fields) == 5 and fields[0].isdigit():
            pid, ppid, pgrp = (int(f) for f in fields[:3])
            found[pid] = Process(pid, ppid, pgrp, fields[3][:1], os.path.basename(fields[4]))
    return found


def processes(proc: str | os.PathLike[str] = PROC) -> dict[int, Process]:
    """Every process, by pid: from ``proc`` where it exists, else from ``ps``; empty where neither
    can be read."""
    proc = os.fspath(proc)
    return _from_proc(proc) if os.path.isdir(proc) else _from_ps()


def below(root: int, table: dict[int, Process]) -> set[int]:
    """``root`` and every process below it in ``table``."""
    children: dict[int, list[int]] = {}
    for process in table.values():
        children.setdefault(process.ppid, []).append(process.pid)
    found, stack = {root}, [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def descendants(root: int, proc: str | os.PathLike[str] = PROC) -> set[int]:
    """``root`` and every process below it; just ``{root}`` where /proc is missing."""
    proc = os.fspath(proc)
    if not os.path.isdir(proc):
        return {root}
    return below(root, _from_proc(proc))


def job_tree(child: int) -> set[int]:
    """The wrapper itself and its child's whole tree."""
    return descendants(child) | {os.getpid()}
