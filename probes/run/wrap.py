"""``receipts run``: run any command as a metered child process.

The run is written as ``running`` before the child starts and finalised after it ends:
``succeeded`` (exit 0), ``failed`` (non-zero exit, or a command that cannot start: 127 not found,
126 not executable) or ``killed`` (ended by a signal: the wrapper exits with 128 + the signal,
as shells do). SIGINT, SIGTERM and SIGHUP sent to the wrapper are forwarded to the child, which
runs in its own process group so that a terminal's Ctrl-C reaches it once, through the wrapper
(:mod:`probes.run.child`). When it ends, what it left running is ended and recorded in the run,
and on Linux the command dies with a wrapper killed by ``kill -9`` (:mod:`probes.run.leftovers`).

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
from probes.run.leftovers import (
    GRACE_S,
    Leftover,
    describe,
    die_with_parent,
    end_leftovers,
    exclusive,
    subreaper,
)
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
    grace_s: float = GRACE_S,
) -> int:
    """Run ``argv`` metered; return the exit code the wrapper should exit with.

    On a node where another process meters (local rank > 0), the command runs unmetered and
    nothing is written. When the command ends, what it left running is ended (SIGTERM, then
    SIGKILL after ``grace_s``) and recorded in the run (:mod:`probes.run.leftovers`).
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
    with Forwarding() as forwarding, subreaper(exclusive()) as reaping:
        # Exclusive: no other thread, so the command can be made to die with the wrapper; no
        # other child, so what is re-parented here (a subreaper) is the job's.

        def start_child() -> None:
            nonlocal child
            child = spawn(argv, preexec_fn=die_with_parent() if reaping else None)
            forwarding.attach(child)

        try:
            run.start(then=start_child)
        except SpawnError as exc:
            run.finish(RunStatus.FAILED, exc.exit_code, note=str(exc))
            print(error_line(exc), file=sys.stderr)
            return exc.exit_code
        if on_start is not None:
            on_start(run)
        assert child is not None
        started = child
        left: list[Leftover] = []

        def end_the_rest() -> None:
            left.extend(
                end_leftovers(started.pid, exclude=started.pid, tree=reaping, grace_s=grace_s)
            )

        returncode = started.wait(before_reap=end_the_rest)
    status, exit_code = status_of(returncode)
    note = end_note(returncode)
    detail: dict[str, object] | None = None
    if left:
        note = "; ".join(part for part in (note, describe(left)) if part)
        detail = {"left_behind": [p.as_detail() for p in left]}
    run.finish(status, exit_code, note=note, detail=detail)
    return exit_code
