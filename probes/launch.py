"""``receipts run`` without the start-up cost.

Through the typer command, ``receipts run`` imports typer, SQLAlchemy and pydantic before its
child starts: about 0.6 s on a 2-core machine, 6 % of a 10 s job (``benchmarks/README.md``). The
console script therefore hands ``receipts run ...`` to :func:`main` first. It parses the command
line itself, writes the ``running`` run and its first heartbeat with the standard library
(:mod:`ledger.lite`), opens the meter, starts sampling and the child, heartbeats with the usage
metered so far while the child runs, and finishes the run with its usages when the child ends:
the entries :class:`probes.session.MeteredRun` writes, hashed by the same rules, from the same
usage rule (:mod:`probes.gpu_usage`), without importing pydantic or SQLAlchemy at all.

Anything out of the ordinary returns ``None`` before anything is written, and the typer command
(:func:`probes.cli.run`) handles the invocation instead: ``--help``; an option this parser does not
know or a value it does not accept (typer prints its own message); a ledger that is not an
existing SQLite file at the current schema; a subject the ledger does not have yet; a run whose
wrapper died, to be reaped first; a rank of a multi-node job that does not meter its node. A test
checks that this parser reads every invocation it accepts exactly as typer does.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ledger.canonical import is_valid_id
from ledger.enums import Category, RunStatus
from ledger.errors import error_line
from ledger.lite import LiteLedger, RunKey, resolve_url, run_body
from probes.child import Child, Forwarding, SpawnError, end_note, spawn, status_of
from probes.cluster import from_environ, git_commit, new_run_id, nvidia_driver_visible

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ledger.lite)
if TYPE_CHECKING:
    import threading
    from typing import Any

    from probes.cluster import ClusterContext
    from probes.meter import GpuMeter, Sampler


class RunArgs:
    """A ``receipts run`` command line, as :func:`parse` read it. (A plain class rather than a
    ``NamedTuple``, so that this path never imports :mod:`typing`.)"""

    __slots__ = (
        "category",
        "command",
        "gpu_model",
        "gpus",
        "heartbeat",
        "ledger",
        "name",
        "sample_interval",
        "stage",
        "subject",
    )

    def __init__(
        self,
        command: list[str],
        subject: str,
        stage: str,
        category: Category,
        name: str | None = None,
        gpus: int | None = None,
        gpu_model: str | None = None,
        sample_interval: float = 1.0,
        heartbeat: float = 10.0,
        ledger: str | None = None,
    ) -> None:
        self.command = command
        self.subject = subject
        self.stage = stage
        self.category = category
        self.name = name
        self.gpus = gpus
        self.gpu_model = gpu_model
        self.sample_interval = sample_interval
        self.heartbeat = heartbeat
        self.ledger = ledger

    def as_dict(self) -> dict[str, object]:
        """Every field by name."""
        return {name: getattr(self, name) for name in self.__slots__}


OPTIONS = {
    "--subject": "subject",
    "--stage": "stage",
    "--category": "category",
    "--name": "name",
    "--gpus": "gpus",
    "--gpu-model": "gpu_model",
    "--sample-interval": "sample_interval",
    "--heartbeat": "heartbeat",
    "--ledger": "ledger",
}
"""The typer command's options (a test checks that they are the same), by the field they fill."""

_DIGITS = frozenset("0123456789")


def _number(text: str, minimum: float) -> float | None:
    """A plain decimal (``10``, ``0.5``) at least ``minimum``; ``None`` for anything else."""
    whole, _, fraction = text.partition(".")
    if not whole or not set(whole + fraction) <= _DIGITS:
        return None
    value = float(text)
    return value if value >= minimum else None


def parse(args: list[str]) -> RunArgs | None:
    """Read the arguments after ``run``; ``None`` for anything the typer command should handle.

    Accepts ``--option value`` and ``--option=value``, each option at most once, then the command
    after ``--`` or from the first argument that is not an option. Values starting with ``-``,
    repeated options, non-decimal numbers and unknown categories are left to typer.
    """
    values: dict[str, str] = {}
    command: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            command = args[i + 1 :]
            break
        if not arg.startswith("-"):
            command = args[i:]
            break
        option, equals, value = arg.partition("=")
        field = OPTIONS.get(option)
        if field is None or field in values:
            return None
        if not equals:
            if i + 1 == len(args):
                return None
            value = args[i + 1]
            i += 1
        if value.startswith("-"):
            return None
        values[field] = value
        i += 1
    if not command or not {"subject", "stage", "category"} <= set(values):
        return None
    if values["category"] not in {c.value for c in Category}:
        return None
    if ("gpus" in values) != ("gpu_model" in values):
        return None
    gpus = None
    if "gpus" in values:
        if not values["gpus"] or not set(values["gpus"]) <= _DIGITS or int(values["gpus"]) < 1:
            return None
        gpus = int(values["gpus"])
    sample_interval = _number(values.get("sample_interval", "1.0"), 0.01)
    heartbeat = _number(values.get("heartbeat", "10.0"), 0.1)
    if sample_interval is None or heartbeat is None:
        return None
    return RunArgs(
        command=command,
        subject=values["subject"],
        stage=values["stage"],
        category=Category(values["category"]),
        name=values.get("name"),
        gpus=gpus,
        gpu_model=values.get("gpu_model"),
        sample_interval=sample_interval,
        heartbeat=heartbeat,
        ledger=values.get("ledger"),
    )


def default_meter() -> GpuMeter | None:
    """NVML where a driver is visible and NVML initialises, else ``None`` (the null meter, which
    the session makes later: nothing to sample, so nothing to start before the child)."""
    if not nvidia_driver_visible():
        return None
    from probes.nvml import open_meter

    return open_meter()


def main(args: list[str]) -> int | None:
    """``receipts run ARGS`` on the fast path: the exit code, or ``None`` (nothing written) where
    the typer command must handle the invocation."""
    parsed = parse(args)
    if parsed is None:
        return None
    return launch(parsed)


def launch(
    args: RunArgs, *, meter_factory: Callable[[], GpuMeter | None] = default_meter
) -> int | None:
    """Run ``args.command`` metered, writing the run first through :mod:`ledger.lite`; the
    wrapper's exit code, or ``None`` (nothing written, nothing started) where this path does not
    apply. ``meter_factory`` gives the meter (``None``: no devices), as ``probes.wrap`` takes one.

    The run is heartbeated and finished through :mod:`ledger.lite` too (:class:`_ChildRun`), so
    SQLAlchemy and pydantic are never imported.
    """
    cluster = from_environ()
    if not cluster.meters_node:
        return None
    url = resolve_url(args.ledger)
    lite = LiteLedger.open(url)
    if lite is None:
        return None
    try:
        try:
            if not lite.has_subject(args.subject) or lite.stale_runs(cluster.host):
                return None  # the full path creates the subject, or reaps the dead runs first
        except (sqlite3.Error, ValueError):
            return None  # a damaged ledger or heartbeat: the full path says what is wrong
        meter = meter_factory()
        started = _write_running(lite, args, cluster)
        if started is None:
            if meter is not None:
                meter.close()
            return None
        run_id, fields = started
        return _ChildRun(lite, url, args, cluster, run_id, fields, meter).run()
    finally:
        lite.close()


def _write_running(
    lite: LiteLedger, args: RunArgs, cluster: ClusterContext
) -> tuple[str, dict[str, Any]] | None:
    """Write the ``running`` run; its id and fields, or ``None`` where SQLite refused."""
    run_id = new_run_id(args.subject, args.stage, cluster.node_rank)
    if not is_valid_id(run_id):
        return None  # the full path says why (a stage with spaces, say)
    working_dir = os.getcwd()
    fields: dict[str, Any] = {
        "id": run_id,
        "subject": args.subject,
        "stage": args.stage,
        "category": args.category.value,
        "name": args.name or args.stage,
        "status": RunStatus.RUNNING.value,
        "started_at": datetime.now(UTC),
        "host": cluster.host,
        "node_rank": cluster.node_rank,
        "job_id": cluster.job_id,
        "command": args.command,
        "working_dir": working_dir,
        "git_commit": git_commit(working_dir),
    }
    written = lite.start_run(
        _key(args, run_id),
        run_body(fields),
        host=cluster.host,
        pid=os.getpid(),
        heartbeat_s=args.heartbeat,
    )
    return (run_id, fields) if written else None


def _final_body(
    fields: dict[str, Any], status: RunStatus, exit_code: int, note: str | None, wall: float
) -> str:
    """The finished run's body, as :meth:`probes.session.MeteredRun.finish` writes it."""
    return run_body(
        {
            **fields,
            "status": status.value,
            "ended_at": fields["started_at"] + timedelta(seconds=wall),
            "wall_time_s": wall,
            "exit_code": exit_code,
            "note": note,
        }
    )


def _key(args: RunArgs, run_id: str) -> RunKey:
    return RunKey(run_id, args.subject, args.stage, args.category.value)


def _heartbeats(run: _ChildRun, stop: threading.Event) -> None:
    """Beat every heartbeat interval until ``stop``, with the usage metered so far, on a
    connection of this thread's own."""
    lite = LiteLedger.open(run.url)
    if lite is None:
        return
    key = _key(run.args, run.run_id)
    host, pid, interval = run.cluster.host, os.getpid(), run.args.heartbeat
    try:
        while not stop.wait(interval):
            # A busy ledger, a meter error: the next beat will do (the store's heartbeats, in
            # probes.session, go on the same way); a reading the ledger cannot take (ValueError):
            # alive, without usage.
            with contextlib.suppress(Exception):
                wall = time.monotonic() - run.t0
                try:
                    usages = run.usages(wall, final=False)
                    lite.beat(key, wall, usages, host=host, pid=pid, heartbeat_s=interval)
                except ValueError:
                    lite.beat(key, wall, host=host, pid=pid, heartbeat_s=interval)
    finally:
        lite.close()


class _ChildRun:
    """The child's life after the ``running`` entry: start the meter and the child, heartbeat
    while it runs, and record its end with its usage, all through :mod:`ledger.lite`, as
    :class:`~probes.session.MeteredRun` writes them (the usages come from the same rule,
    :mod:`probes.gpu_usage`). If the ledger refuses the usages (a reading that is not finite,
    say), the run is still finished, with its status and exit code and a note saying why its
    usage is missing, a warning says so, and the wrapper still exits with the child's code.
    """

    def __init__(
        self,
        lite: LiteLedger,
        url: str,
        args: RunArgs,
        cluster: ClusterContext,
        run_id: str,
        fields: dict[str, Any],
        meter: GpuMeter | None,
    ) -> None:
        self.lite, self.url, self.args, self.cluster = lite, url, args, cluster
        self.run_id, self.fields, self.meter = run_id, fields, meter
        self.child: Child | None = None
        self.sampler: Sampler | None = None
        self.t0 = 0.0

    def run(self) -> int:
        self.t0 = time.monotonic()
        if self.meter is not None:
            from probes.meter import Sampler
            from probes.proctree import job_tree

            self.sampler = Sampler(
                self.meter,
                interval_s=self.args.sample_interval,
                job_pids=lambda: job_tree(self.child.pid) if self.child else {os.getpid()},
            )
            self.sampler.start(background=False)  # the counters and the first sample, now
        with Forwarding() as forwarding:  # from before the child starts: no signal is lost
            try:
                self.child = spawn(self.args.command)
            except SpawnError as exc:
                self._end(RunStatus.FAILED, exc.exit_code, str(exc), self._end_window())
                print(error_line(exc), file=sys.stderr)
                return exc.exit_code
            forwarding.attach(self.child)
            # Only now, with the child running, what the rest needs: off its critical path.
            import threading

            if self.sampler is not None:
                self.sampler.sample_in_background()
            if self.sampler is not None or self.args.gpus is not None:
                import probes.gpu_usage  # noqa: F401  (the usages, at each heartbeat and at the end)

            stop = threading.Event()
            beats = threading.Thread(target=_heartbeats, args=(self, stop), daemon=True)
            beats.start()
            returncode = self.child.wait()
        wall = self._end_window()
        stop.set()
        beats.join()
        status, exit_code = status_of(returncode)
        self._end(status, exit_code, end_note(returncode), wall)
        return exit_code

    def _end_window(self) -> float:
        """End the metered window now: its wall time."""
        wall = time.monotonic() - self.t0
        if self.sampler is not None:
            self.sampler.stop()
        return wall

    def usages(self, wall: float, *, final: bool) -> list[dict[str, Any]]:
        """The usage so far (a heartbeat's) or in all (``final``), as ``Usage`` fields: the
        session's rule (:func:`probes.gpu_usage.window_usage_fields`)."""
        if self.sampler is None and self.args.gpus is None:
            return []
        from probes.gpu_usage import window_usage_fields

        devices, samples = [], []
        if self.sampler is not None:
            devices = self.sampler.stop() if final else self.sampler.snapshot()
            samples = self.sampler.samples() if final else []
        return window_usage_fields(
            self.run_id, devices, samples, self.args.gpus, self.args.gpu_model, wall
        )

    def _end(self, status: RunStatus, exit_code: int, note: str | None, wall: float) -> None:
        """Record the end with the run's usages, or, where the ledger refuses them, without."""
        if self.meter is not None:
            self.meter.close()
        key = _key(self.args, self.run_id)
        body = _final_body(self.fields, status, exit_code, note, wall)
        try:
            self.lite.finish_run(key, body, self.usages(wall, final=True))
        except ValueError as exc:
            lost = f"usage not recorded: {exc}"
            body = _final_body(
                self.fields, status, exit_code, f"{note}; {lost}" if note else lost, wall
            )
            self.lite.finish_run(key, body)
            print(
                f"receipts: warning: {self.run_id} recorded without its usage; {lost}",
                file=sys.stderr,
            )
