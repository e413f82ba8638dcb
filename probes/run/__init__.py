"""The run wrapper: any command, or any block of Python, metered as a run in the ledger.

Public API: :func:`metered_run` and :class:`MeteredRun` (a run written ``running`` before the work
starts, heartbeating while it runs, finalised however it ends), :class:`RunSpec` (what a run is),
:func:`run_command` (``receipts run``: a command as a metered child process; it raises
:class:`AlreadyMetered` where another run meters the job's GPUs on the node),
:class:`ClusterContext` and :func:`from_environ` (where a process sits in a multi-node job),
:func:`git_commit`, and :func:`descendants` (a process's tree, to tell the job's GPU processes
from other users'). The commands ``run``, ``runs`` and ``ledger merge`` are in
:mod:`probes.run.cli`. Names load on first use: importing the package pulls in neither pydantic
nor SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probes.lazy import lazy_exports

if TYPE_CHECKING:
    from probes.run.cluster import ClusterContext, from_environ, git_commit
    from probes.run.proctree import descendants
    from probes.run.session import MeteredRun, RunSpec, metered_run
    from probes.run.wrap import AlreadyMetered, run_command

_WHERE = {
    "AlreadyMetered": "wrap",
    "ClusterContext": "cluster",
    "from_environ": "cluster",
    "git_commit": "cluster",
    "descendants": "proctree",
    "MeteredRun": "session",
    "RunSpec": "session",
    "metered_run": "session",
    "run_command": "wrap",
}

__all__ = [
    "AlreadyMetered",
    "ClusterContext",
    "MeteredRun",
    "RunSpec",
    "descendants",
    "from_environ",
    "git_commit",
    "metered_run",
    "run_command",
]

__getattr__ = lazy_exports(__name__, _WHERE)
