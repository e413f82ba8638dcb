"""A process and its descendants, read from /proc (Linux), to tell the job's GPU processes from
other users' on a shared device."""

from __future__ import annotations

import os

PROC = "/proc"


def _parents(proc: str) -> dict[int, int]:
    parents: dict[int, int] = {}
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "stat"), encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue  # exited meanwhile
        # The command name (field 2) is parenthesised and may contain spaces or parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        parents[int(name)] = int(fields[1])
    return parents


def descendants(root: int, proc: str | os.PathLike[str] = PROC) -> set[int]:
    """``root`` and every process below it; just ``{root}`` where /proc is missing."""
    proc = os.fspath(proc)
    if not os.path.isdir(proc):
        return {root}
    children: dict[int, list[int]] = {}
    for pid, parent in _parents(proc).items():
        children.setdefault(parent, []).append(pid)
    found, stack = {root}, [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def job_tree(child: int) -> set[int]:
    """The wrapper itself and its child's whole tree."""
    return descendants(child) | {os.getpid()}
