"""Where a process sits in a multi-node job, from the torchrun and Slurm environment.

Only one process per node meters that node's devices (local rank 0, or the only process when no
launcher is involved); every row it writes carries the host, the node rank and the job id, so
that reports can fold the nodes of one job into one logical run.

Also the other facts about this process's place that a run records: a fresh run id and the git
commit of the working directory.
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from typing import Literal

TORCHRUN_NO_ID = "none"
"""``TORCHELASTIC_RUN_ID`` of a ``torchrun`` started without ``--rdzv-id`` (its default): no job
id, since every such run on a host shares it."""


@dataclass(frozen=True)
class ClusterContext:
    """This process's place in a (possibly distributed) job."""

    host: str
    """Host name."""
    node_rank: int | None = None
    """Node index in the job (torchrun GROUP_RANK, Slurm SLURM_NODEID)."""
    local_rank: int | None = None
    """Process index on this node (LOCAL_RANK, SLURM_LOCALID)."""
    rank: int | None = None
    """Global process index (RANK, SLURM_PROCID)."""
    world_size: int | None = None
    """Processes in the job (WORLD_SIZE, SLURM_NTASKS)."""
    job_id: str | None = None
    """SLURM_JOB_ID, else TORCHELASTIC_RUN_ID (unless torchrun's default ``none``)."""
    launcher: Literal["torchrun", "slurm"] | None = None
    """Which environment the ranks came from."""

    @property
    def meters_node(self) -> bool:
        """Whether this process meters the node's devices (local rank 0 or no launcher)."""
        return self.local_rank in (None, 0)


def _int(environ: dict[str, str], name: str) -> int | None:
    value = environ.get(name)
    return int(value) if value is not None and value.strip().lstrip("-").isdigit() else None


def from_environ(environ: dict[str, str] | None = None) -> ClusterContext:
    """Read the launcher's variables; torchrun's win where both are set (torchrun under srun)."""
    env = dict(os.environ) if environ is None else environ
    rdzv_id = env.get("TORCHELASTIC_RUN_ID")
    # torchrun's --rdzv-id defaults to "none": every plain torchrun shares it, so it names no job.
    job_id = env.get("SLURM_JOB_ID") or (rdzv_id if rdzv_id != TORCHRUN_NO_ID else None) or None
    host = socket.gethostname()
    if "LOCAL_RANK" in env:
        return ClusterContext(
            host=host,
            node_rank=_int(env, "GROUP_RANK") if "GROUP_RANK" in env else _int(env, "NODE_RANK"),
            local_rank=_int(env, "LOCAL_RANK"),
            rank=_int(env, "RANK"),
            world_size=_int(env, "WORLD_SIZE"),
            job_id=job_id,
            launcher="torchrun",
        )
    if "SLURM_JOB_ID" in env and "SLURM_LOCALID" in env:
        return ClusterContext(
            host=host,
            node_rank=_int(env, "SLURM_NODEID"),
            local_rank=_int(env, "SLURM_LOCALID"),
            rank=_int(env, "SLURM_PROCID"),
            world_size=_int(env, "SLURM_NTASKS"),
            job_id=job_id,
            launcher="slurm",
        )
    return ClusterContext(host, job_id=job_id)


def new_run_id(subject: str, stage: str, node_rank: int | None) -> str:
    """A fresh id for a run of ``subject`` at ``stage``: ``SUBJECT/STAGE/[nodeN-]<12 hex>``."""
    suffix = f"node{node_rank}-" if node_rank is not None else ""
    return f"{subject}/{stage}/{suffix}{os.urandom(6).hex()}"


def git_commit(directory: str) -> str | None:
    """HEAD of the git repository holding ``directory``, as ``git rev-parse HEAD`` says; ``None``
    outside a repository, before its first commit, or where git is not installed."""
    try:
        done = subprocess.run(
            ["git", "-C", directory, "rev-parse", "--verify", "-q", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None
