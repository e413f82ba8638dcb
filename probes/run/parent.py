"""Which metered run a process runs inside: what ``receipts run`` tells its command through the
environment, and the one rule that decides whether a run inside it is linked to it.

``receipts run`` meters the devices of the node it runs on, and only those. It names its run
(``RECEIPTS_PARENT_RUN``), its ledger's id, never the URL (``RECEIPTS_PARENT_LEDGER``), its host
(``RECEIPTS_PARENT_HOST``) and, where a launcher gave one, its node rank and that launcher
(``RECEIPTS_PARENT_NODE_RANK``, ``RECEIPTS_PARENT_LAUNCHER``) to the command's processes.

Under ``receipts run -- srun ...`` or ``mpirun``, that environment reaches every node of the job.
A run inside it (a Trainer callback's, a nested ``receipts run``'s) is linked to the wrapper's
(``detail.parent_run``, metering no GPU of its own) only where the wrapper meters its devices: same
ledger, same host, same node rank where both took it from the same launcher (torchrun's group
ranks need not follow Slurm's node ids), and the wrapper's run still running. On another node the
inner run meters its own node's devices, which no wrapper meters.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from probes.run.cluster import ClusterContext, from_environ

if TYPE_CHECKING:
    from ledger.store import Ledger

logger = logging.getLogger(__name__)

PARENT_RUN_ENV = "RECEIPTS_PARENT_RUN"
"""Environment variable naming the wrapped run to the command's processes."""
PARENT_LEDGER_ENV = "RECEIPTS_PARENT_LEDGER"
"""Environment variable carrying the id (never the URL) of the ledger that run is in."""
PARENT_HOST_ENV = "RECEIPTS_PARENT_HOST"
"""Environment variable naming the host whose devices that run meters."""
PARENT_NODE_RANK_ENV = "RECEIPTS_PARENT_NODE_RANK"
"""Environment variable carrying that run's node rank, where a launcher gave one."""
PARENT_LAUNCHER_ENV = "RECEIPTS_PARENT_LAUNCHER"
"""Environment variable naming the launcher that node rank came from (``slurm``, ``torchrun``)."""


def parent_environment(run_id: str, ledger_id: str, cluster: ClusterContext) -> dict[str, str]:
    """What a metered run tells its command's processes about itself."""
    env = {
        PARENT_RUN_ENV: run_id,
        PARENT_LEDGER_ENV: ledger_id,
        PARENT_HOST_ENV: cluster.host,
    }
    if cluster.node_rank is not None and cluster.launcher is not None:
        env[PARENT_NODE_RANK_ENV] = str(cluster.node_rank)
        env[PARENT_LAUNCHER_ENV] = cluster.launcher
    return env


def without_parent(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` less every variable of :func:`parent_environment` (a run that is not linked
    names itself, never a run on another node, to its own command)."""
    names = (
        PARENT_RUN_ENV,
        PARENT_LEDGER_ENV,
        PARENT_HOST_ENV,
        PARENT_NODE_RANK_ENV,
        PARENT_LAUNCHER_ENV,
    )
    return {k: v for k, v in environ.items() if k not in names}


def same_node(environ: dict[str, str], cluster: ClusterContext) -> bool:
    """Whether the wrapper named in ``environ`` meters the node ``cluster`` describes: same host,
    and the same node rank where both come from the same launcher."""
    if environ.get(PARENT_HOST_ENV) != cluster.host:
        return False
    rank, launcher = environ.get(PARENT_NODE_RANK_ENV), environ.get(PARENT_LAUNCHER_ENV)
    if rank is None or cluster.node_rank is None or launcher != cluster.launcher:
        return True
    return rank == str(cluster.node_rank)


def wrapping_run(
    store: Ledger,
    environ: dict[str, str] | None = None,
    cluster: ClusterContext | None = None,
) -> str | None:
    """The ``receipts run`` that meters this process's devices, where it writes to ``store`` and
    is still running (see the module's rule); else ``None``: the caller meters on its own."""
    environ = dict(os.environ) if environ is None else environ
    run_id, ledger_id = environ.get(PARENT_RUN_ENV), environ.get(PARENT_LEDGER_ENV)
    if not run_id or not ledger_id or ledger_id != store.ledger_id:
        return None
    cluster = cluster or from_environ(environ)
    if PARENT_HOST_ENV not in environ:
        logger.warning(
            "receipts: %s=%s does not name its host (%s unset); metering alone",
            PARENT_RUN_ENV,
            run_id,
            PARENT_HOST_ENV,
        )
        return None
    if not same_node(environ, cluster):
        # srun/mpirun carried the wrapper's environment to another node: that node's devices are
        # metered by nobody else.
        logger.info(
            "receipts: %s=%s meters %s, not this node (%s); metering this node",
            PARENT_RUN_ENV,
            run_id,
            environ.get(PARENT_HOST_ENV),
            cluster.host,
        )
        return None
    if not any(run.id == run_id for run in store.running_runs()):
        logger.warning("receipts: %s=%s is not running; metering alone", PARENT_RUN_ENV, run_id)
        return None
    return run_id
