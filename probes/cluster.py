"""Where a process sits in a multi-node job, from the torchrun and Slurm environment.

Only one process per node meters that node's devices (local rank 0, or the only process when no
launcher is involved); every row it writes carries the host, the node rank and the job id, so
that reports can fold the nodes of one job into one logical run.

Also the other facts about this process's place that a run records or depends on, kept here because
they need nothing beyond the standard library (``receipts run`` reads them before its child
starts): a fresh run id, the git commit of the working directory (read from the repository's files
where it can be), and whether an NVIDIA driver is visible at all.
"""

from __future__ import annotations

import os

from probes.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ledger.lite)
if TYPE_CHECKING:
    from typing import Literal


class ClusterContext(Value):
    """This process's place in a (possibly distributed) job. (A :class:`~probes.value.Value`,
    not a ``NamedTuple``: ``receipts run`` reads it before its child starts.)"""

    __slots__ = ("host", "job_id", "launcher", "local_rank", "node_rank", "rank", "world_size")

    def __init__(
        self,
        host: str,
        node_rank: int | None = None,
        local_rank: int | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        job_id: str | None = None,
        launcher: Literal["torchrun", "slurm"] | None = None,
    ) -> None:
        self.host = host
        """Host name."""
        self.node_rank = node_rank
        """Node index in the job (torchrun GROUP_RANK, Slurm SLURM_NODEID)."""
        self.local_rank = local_rank
        """Process index on this node (LOCAL_RANK, SLURM_LOCALID)."""
        self.rank = rank
        """Global process index (RANK, SLURM_PROCID)."""
        self.world_size = world_size
        """Processes in the job (WORLD_SIZE, SLURM_NTASKS)."""
        self.job_id = job_id
        """SLURM_JOB_ID, else TORCHELASTIC_RUN_ID."""
        self.launcher = launcher
        """Which environment the ranks came from."""

    @property
    def meters_node(self) -> bool:
        """Whether this process meters the node's devices (local rank 0 or no launcher)."""
        return self.local_rank in (None, 0)


def hostname() -> str:
    """This host's name: ``socket.gethostname()``, read without importing :mod:`socket` where
    ``os.uname`` gives the same (POSIX: both are the kernel's node name)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def _int(environ: dict[str, str], name: str) -> int | None:
    value = environ.get(name)
    return int(value) if value is not None and value.strip().lstrip("-").isdigit() else None


def from_environ(environ: dict[str, str] | None = None) -> ClusterContext:
    """Read the launcher's variables; torchrun's win where both are set (torchrun under srun)."""
    env = dict(os.environ) if environ is None else environ
    job_id = env.get("SLURM_JOB_ID") or env.get("TORCHELASTIC_RUN_ID") or None
    if "LOCAL_RANK" in env:
        return ClusterContext(
            host=hostname(),
            node_rank=_int(env, "GROUP_RANK") if "GROUP_RANK" in env else _int(env, "NODE_RANK"),
            local_rank=_int(env, "LOCAL_RANK"),
            rank=_int(env, "RANK"),
            world_size=_int(env, "WORLD_SIZE"),
            job_id=job_id,
            launcher="torchrun",
        )
    if "SLURM_JOB_ID" in env and "SLURM_LOCALID" in env:
        return ClusterContext(
            host=hostname(),
            node_rank=_int(env, "SLURM_NODEID"),
            local_rank=_int(env, "SLURM_LOCALID"),
            rank=_int(env, "SLURM_PROCID"),
            world_size=_int(env, "SLURM_NTASKS"),
            job_id=job_id,
            launcher="slurm",
        )
    return ClusterContext(hostname(), job_id=job_id)


def new_run_id(subject: str, stage: str, node_rank: int | None) -> str:
    """A fresh id for a run of ``subject`` at ``stage``: ``SUBJECT/STAGE/[nodeN-]<12 hex>``."""
    suffix = f"node{node_rank}-" if node_rank is not None else ""
    return f"{subject}/{stage}/{suffix}{os.urandom(6).hex()}"


def git_commit(directory: str) -> str | None:
    """HEAD of the git repository at ``directory``, where it is one.

    Read from the repository's own files where they are the plain kind (:func:`read_head`), which
    takes microseconds; otherwise, and wherever that reading is unsure, as ``git rev-parse HEAD``
    says (a few milliseconds: ``receipts run`` asks before its child starts).
    """
    found = read_head(directory)
    return found if found is not None else _rev_parse(directory)


def read_head(directory: str) -> str | None:
    """The commit HEAD names in the repository holding ``directory``, read from its files;
    ``None`` wherever ``git`` itself should answer: no ``.git`` found on this file system, a
    variable set that moves the repository, its refs or its configuration
    (:data:`GIT_LOCATION_VARIABLES`), a repository owned by another user (git's
    ``safe.directory`` rule), an unborn branch, a symbolic ref to a symbolic ref, a reftable,
    anything that is not a hex object id."""
    if any(name in os.environ for name in GIT_LOCATION_VARIABLES):
        return None
    here = os.path.abspath(directory)
    try:
        device = os.stat(here).st_dev
        while True:
            dot_git = os.path.join(here, ".git")
            if os.path.isdir(dot_git) or os.path.isfile(dot_git):
                break
            parent = os.path.dirname(here)
            if parent == here or os.stat(parent).st_dev != device:
                return None  # git stops at a mount point too (GIT_DISCOVERY_ACROSS_FILESYSTEM)
            here = parent
        if os.stat(here).st_uid != os.geteuid():
            return None
        git_dir = dot_git
        if os.path.isfile(dot_git):  # a worktree or a submodule: "gitdir: PATH"
            pointer = _first_line(dot_git)
            if not pointer.startswith("gitdir: "):
                return None
            git_dir = os.path.join(here, pointer.removeprefix("gitdir: "))
        common = git_dir
        if os.path.isfile(os.path.join(git_dir, "commondir")):
            common = os.path.join(git_dir, _first_line(os.path.join(git_dir, "commondir")))
        head = _first_line(os.path.join(git_dir, "HEAD"))
        if not head.startswith("ref: "):
            return _object_id(head)
        ref = head.removeprefix("ref: ")
        for base in (git_dir, common):
            path = os.path.join(base, ref)
            if os.path.isfile(path):
                return _object_id(_first_line(path))
        packed = os.path.join(common, "packed-refs")
        if os.path.isfile(packed):
            with open(packed, encoding="utf-8") as f:
                for line in f:
                    value, _, name = line.rstrip("\n").partition(" ")
                    if name == ref and not line.startswith(("#", "^")):
                        return _object_id(value)
    except (OSError, UnicodeDecodeError):
        return None
    return None


GIT_LOCATION_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_NAMESPACE",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_PARAMETERS",
)
"""Environment variables with which ``git`` finds another repository, other refs or other settings
than the files :func:`read_head` reads: where one is set, ``git`` answers."""

_HEX = frozenset("0123456789abcdef")


def _object_id(text: str) -> str | None:
    """``text`` where it is a full SHA-1 or SHA-256 object id."""
    return text if len(text) in (40, 64) and set(text) <= _HEX else None


def _first_line(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.readline().strip()


def _rev_parse(directory: str) -> str | None:
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", directory, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


NVIDIA_DRIVER_PATHS = ("/dev/nvidiactl", "/proc/driver/nvidia", "/dev/dxg")
"""What an NVIDIA driver leaves on a Linux host: the control device, its /proc directory, or WSL2's
GPU paravirtualisation device. NVML cannot initialise where none of them exists."""


def nvidia_driver_visible(paths: tuple[str, ...] = NVIDIA_DRIVER_PATHS) -> bool:
    """Whether NVML could initialise here: always ``True`` off Linux (no cheap check there), else
    whether any of ``paths`` exists. Lets ``receipts run`` skip importing pynvml (~40 ms on a
    small machine) on hosts without a GPU."""
    if not os.path.isdir("/proc/self"):
        return True
    return any(os.path.exists(path) for path in paths)
