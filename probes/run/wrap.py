"""``receipts run``: run any command as a metered child process.

The run is written as ``running`` before the child starts and finalised after it ends:
``succeeded`` (exit 0), ``failed`` (non-zero exit, or a command that cannot start: 127 not found,
126 not executable) or ``killed`` (ended by a signal: the wrapper exits with 128 + the signal,
as shells do). SIGINT, SIGTERM and SIGHUP sent to the wrapper are forwarded to the child, which
runs in its own process group so that a terminal's Ctrl-C reaches it once, through the wrapper
(:mod:`probes.run.child`).

Every write goes through the store (:class:`~ledger.store.Ledger`, via
:class:`~probes.run.session.MeteredRun`): the ``running`` entry and its first heartbeat are durable
before the child starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from ledger.errors import error_line
from ledger.schema import RunStatus
from ledger.store import Ledger
from probes.gpu.meter import Clock, GpuMeter
from probes.gpu.nvml import open_meter
from probes.run.child import Child, Forwarding, SpawnError, end_note, spawn, status_of
from probes.run.cluster import ClusterContext, from_environ
from probes.run.proctree import job_tree
from probes.run.session import MeteredRun, RunSpec


def run_command(
    ledger: Ledger,
    spec: RunSpec,
    argv: list[str],
    *,
    meter: GpuMeter | None = None,
    clock: Clock | None = None,
    sample_interval_s: float = 1.0,
    heartbeat_s: float = 10.0,
    cluster: ClusterContext | None = None,
    on_start: Callable[[MeteredRun], None] | None = None,
) -> int:
    """Run ``argv`` metered; return the exit code the wrapper should exit with.

    On a node where another process meters (local rank > 0), the command runs unmetered and
    nothing is written.
    """
    cluster = cluster or from_environ()
    if not cluster.meters_node:
        return subprocess.call(argv)
    if meter is None:
        meter = open_meter()
    child: Child | None = None
    run = MeteredRun(
        ledger,
        spec,
        meter=meter,
        clock=clock,
        sample_interval_s=sample_interval_s,
        heartbeat_s=heartbeat_s,
        job_pids=lambda: job_tree(child.pid) if child is not None else {os.getpid()},
        cluster=cluster,
    )
    run.start()
    if on_start is not None:
        on_start(run)
    with Forwarding() as forwarding:
        try:
            child = spawn(argv)
        except SpawnError as exc:
            run.finish(RunStatus.FAILED, exc.exit_code, note=str(exc))
            print(error_line(exc), file=sys.stderr)
            return exc.exit_code
        forwarding.attach(child)
        returncode = child.wait()
    status, exit_code = status_of(returncode)
    run.finish(status, exit_code, note=end_note(returncode))
    return exit_code
