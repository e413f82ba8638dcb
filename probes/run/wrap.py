"""``receipts run``: run any command as a metered child process.

The run is written as ``running`` before the child starts and finalised after it ends:
``succeeded`` (exit 0), ``failed`` (non-zero exit, or a command that cannot start: 127 not found,
126 not executable) or ``killed`` (ended by a signal: the wrapper exits with 128 + the signal,
as shells do). SIGINT, SIGTERM and SIGHUP sent to the wrapper are forwarded to the child, which
runs in its own process group so that a terminal's Ctrl-C reaches it once, through the wrapper
(:mod:`probes.run.child`). When it ends, what it left running is ended and recorded in the run,
and on Linux the command dies with a wrapper killed by ``kill -9`` (:mod:`probes.run.leftovers`).

The child learns the run it belongs to, the ledger's id and the host (and node rank) whose
devices the run meters from ``RECEIPTS_PARENT_*`` (:mod:`probes.run.parent`): a Trainer callback
inside the job on the same node records its run as part of this one, metering no GPU of its own
(the wrapper meters them), so that a report counts the job's GPU time once
(:mod:`probes.training.callback`). A ``receipts run`` nested inside another on the same node and
ledger does the same: its run is recorded, linked (``detail.parent_run``), and meters nothing, as
the outer run already meters every device of the node. On another node (``receipts run -- srun
receipts run ...``) the inner wrapper meters its own node.

A run that recorded no GPU time (no NVML, no GPU visible) says so on stderr when it ends, and
keeps the reason in its detail (``gpu_unmetered``), which ``receipts report`` shows.

A wrapper that would meter the GPUs of a job on a node where another run of the job already
measures them from now on (a Prometheus import whose ``--end`` lies past now, a wrapper of the
job still running there that is not its outer one) refuses to start, exit 2, before anything is
written (:mod:`ledger.metered`, the rule imports and merges follow too); ``--no-meter`` runs the
command recorded with no GPU time of its own.

Every write goes through the store (:class:`~ledger.store.Ledger`, via
:class:`~probes.run.session.MeteredRun`): the ``running`` entry and its first heartbeat are durable
before the child starts.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable

from sqlalchemy import Connection

from ledger.errors import error_line
from ledger.metered import GPU_DEVICES, already_metered_in
from ledger.schema import GPU_UNMETERED, PARENT_RUN, Run, RunStatus, utcnow
from ledger.store import Ledger
from probes.errors import WrapperInputError
from probes.gpu.errors import MeterError, MeterUnavailable
from probes.gpu.meter import Clock, GpuMeter
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
from probes.run.parent import parent_environment, without_parent, wrapping_run
from probes.run.proctree import job_tree
from probes.run.session import MeteredRun, RunSpec


def open_nvml() -> tuple[GpuMeter | None, str | None]:
    """The NVML meter, or ``None`` and why not (NVML missing or failing to initialise)."""
    from probes.gpu.nvml import NvmlMeter  # imports pynvml lazily

    try:
        return NvmlMeter(), None
    except MeterUnavailable as exc:
        return None, f"no GPU meter ({exc})"


def why_no_gpu(meter: GpuMeter | None, why: str | None) -> str | None:
    """Why a run will record no GPU time: no meter (``why``), or a meter that sees no device;
    ``None`` where it sees one."""
    if meter is None:
        return why or "no GPU meter"
    try:
        devices = meter.devices()
    except MeterError as exc:
        return f"the GPU meter failed to list devices ({exc})"
    if devices:
        return None
    hidden = [
        f"{name}={os.environ[name]!r}"
        for name in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES")
        if name in os.environ
    ]
    return "the GPU meter sees no device" + (f" ({', '.join(hidden)})" if hidden else "")


NO_METER = "not metered (--no-meter): the node's GPUs are metered by another run or import"
"""``detail.gpu_unmetered`` of a run started with ``--no-meter``."""


class AlreadyMetered(WrapperInputError):
    """The job's GPUs on this node are measured by another run over the time from now."""


def refuse_metered_twice(conn: Connection, run: Run) -> None:
    """Refuse to write ``run``, a run that would measure GPUs of its job on this node, where a
    run in the ledger (read over ``conn``) measures the same GPUs from now on
    (:mod:`ledger.metered`: an import whose window reaches past now, a wrapper still running),
    so that the job is not metered twice. Called before anything starts, and again in the
    transaction that writes the run as ``running``, so that two wrappers starting together do
    not both pass.

    Raises:
        AlreadyMetered: naming that run, ``--no-meter`` and how to compare the two.
    """
    for clash in already_metered_in(conn, [run]):
        raise AlreadyMetered(
            f"job {clash.job_id} on {clash.host}: {clash.old_run()} measures its GPUs from now "
            "on: metering them here too would count them twice; nothing started; add "
            "--no-meter to run the command recorded without GPU time, or, after it, "
            f"`receipts import prometheus --job {clash.job_id} --compare` to set Prometheus "
            "beside the run that metered it"
        )


def starting_run(spec: RunSpec, cluster: ClusterContext) -> Run:
    """The run a wrapper is about to write, as the check before it starts sees it."""
    return Run(
        id=f"{spec.subject}/{spec.stage}/starting",
        subject=spec.subject,
        stage=spec.stage,
        category=spec.category,
        name=spec.name or spec.stage,
        status=RunStatus.RUNNING,
        started_at=utcnow(),
        host=cluster.host,
        job_id=cluster.job_id,
        detail=spec.detail,
    )


def child_environment(run: MeteredRun) -> dict[str, str]:
    """The command's environment: the wrapper's, with the run, the ledger's id and the node it
    meters (:func:`probes.run.parent.parent_environment`) in place of any outer wrapper's."""
    return {
        **without_parent(dict(os.environ)),
        **parent_environment(run.run_id, run.ledger.ledger_id, run.cluster),
    }


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
    meter_gpus: bool = True,
) -> int:
    """Run ``argv`` metered; return the exit code the wrapper should exit with.

    On a node where another process meters (local rank > 0), the command runs unmetered and
    nothing is written. When the command ends, what it left running is ended (SIGTERM, then
    SIGKILL after ``grace_s``) and recorded in the run (:mod:`probes.run.leftovers`).

    A wrapper that would measure GPU time of a job on a node where another run already measures
    or measured it over the time from now (a Prometheus import reaching past now, a wrapper still
    running) refuses to start, before anything is written or the command started; with
    ``meter_gpus`` off (``--no-meter``) the run is recorded with no GPU time of its own.

    Raises:
        AlreadyMetered: the job's GPUs on this node are metered already.
    """
    cluster = cluster or from_environ()
    if not cluster.meters_node:
        return subprocess.call(argv)
    outer = wrapping_run(ledger, cluster=cluster)
    no_gpu: str | None = None
    check: Callable[[Connection, Run], None] | None = None
    if outer is not None:
        # The outer wrapper meters every device of this node: metering (or declaring) them here
        # too would count them twice. The run is recorded, linked, with what it ran.
        spec = dataclasses.replace(
            spec,
            declared_gpus=None,
            declared_gpu_model=None,
            detail={**(spec.detail or {}), PARENT_RUN: outer},
        )
        meter = None
        print(
            f"receipts: inside run {outer}, which meters this node's GPUs: this run is linked "
            "to it and meters none",
            file=sys.stderr,
        )
    elif not meter_gpus:
        meter = None
        no_gpu = NO_METER
    else:
        meter_why = None
        if meter is None:
            meter, meter_why = open_nvml()
        sees = why_no_gpu(meter, meter_why)
        no_gpu = None if spec.declared_gpus else sees
        if sees is None:  # it will measure GPU time: not where another run measures it
            assert meter is not None
            try:
                # The GPUs it meters (CUDA_VISIBLE_DEVICES applies): a step of the job on
                # other GPUs of the node is no second measurement of these.
                uuids = sorted(d.uuid for d in meter.devices())
                spec = dataclasses.replace(spec, detail={**(spec.detail or {}), GPU_DEVICES: uuids})
                with ledger.connect() as conn:
                    refuse_metered_twice(conn, starting_run(spec, cluster))
            except BaseException:
                meter.close()
                raise
            check = refuse_metered_twice
    if no_gpu:  # said from the start, so that a running run metering nothing blocks no other
        spec = dataclasses.replace(spec, detail={**(spec.detail or {}), GPU_UNMETERED: no_gpu})
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
        check=check,
    )
    with Forwarding() as forwarding, subreaper(exclusive()) as reaping:
        # Exclusive: no other thread, so the command can be made to die with the wrapper; no
        # other child, so what is re-parented here (a subreaper) is the job's.

        def start_child() -> None:
            nonlocal child
            child = spawn(
                argv,
                preexec_fn=die_with_parent() if reaping else None,
                env=child_environment(run),
            )
            forwarding.attach(child)

        try:
            run.start(then=start_child)
        except SpawnError as exc:
            unmetered: dict[str, object] | None = {GPU_UNMETERED: no_gpu} if no_gpu else None
            run.finish(RunStatus.FAILED, exc.exit_code, note=str(exc), detail=unmetered)
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
    detail: dict[str, object] = {}
    if left:
        note = "; ".join(part for part in (note, describe(left)) if part)
        detail["left_behind"] = [p.as_detail() for p in left]
    if no_gpu:
        detail[GPU_UNMETERED] = no_gpu
    run.finish(status, exit_code, note=note, detail=detail or None)
    if no_gpu:
        print(f"receipts: run {run.run_id} recorded no GPU usage: {no_gpu}", file=sys.stderr)
    return exit_code
