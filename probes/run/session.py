"""A metered run: written as ``running`` before the work starts, heartbeating while it runs, and
finalised with its status and usages when it ends, however it ends.

Python API::

    with metered_run(ledger, subject="s1-32B", stage="sft", category="fine_tuning") as run:
        train()
        run.add_usage(...)  # e.g. tokens counted by the caller

GPU usage is recorded per device: allocated GPU-hours (``gpu_hour``, what a cloud bills), busy
GPU-hours (``gpu_hour_busy``) and energy (``kwh``), all ``measured``, with the device, the energy
method and the shared flag in ``detail``. Without a meter nothing is fabricated; a declared
allocation (``declared_gpus``) is recorded as ``declared``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import ValidationError
from sqlalchemy import Connection

from ledger.canonical import is_valid_id
from ledger.errors import NotFoundError
from ledger.liveness import beat, finish, forget
from ledger.schema import Category, Run, RunStatus, Subject, Usage, utcnow
from ledger.store import Ledger
from probes.errors import WrapperInputError
from probes.gpu.meter import Clock, GpuMeter, NullMeter, Sampler, SystemClock
from probes.gpu.names import gpu_model_name
from probes.gpu.schema import DeviceUsage, GpuSample
from probes.gpu.usage import device_usage_fields, window_usage_fields
from probes.run.cluster import ClusterContext, from_environ, git_commit, new_run_id


def gpu_model(name: str) -> str:
    """``H100`` from ``NVIDIA H100 80GB HBM3``: :func:`probes.gpu.names.gpu_model_name`, the rule
    the Slurm import uses too (an unknown name is upper-cased: ``NVIDIA-GEFORCE-RTX-4090``)."""
    return gpu_model_name(name)


def device_usages(
    run_id: str,
    devices: list[DeviceUsage],
    note: str | None = None,
    samples: Sequence[GpuSample] = (),
) -> list[Usage]:
    """Allocated, busy and energy usages of each metered device
    (:func:`probes.gpu.usage.device_usage_fields`); with ``samples``, each device's thinned power
    and utilisation series in the detail of its allocated usage."""
    return [Usage(**fields) for fields in device_usage_fields(run_id, devices, note, samples)]


@dataclass
class RunSpec:
    """What to record about a run before it starts."""

    subject: str
    stage: str
    category: Category
    name: str | None = None
    command: list[str] | None = None
    working_dir: str | None = None
    declared_gpus: int | None = None
    declared_gpu_model: str | None = None
    usages: list[Usage] = field(default_factory=list)
    detail: dict[str, object] | None = None
    """What is known about the run before it starts (an eval's model and settings): written with
    the ``running`` entry; ``finish(detail=...)`` adds what is known only at the end."""

    def __post_init__(self) -> None:
        """Refuse what the run could not be recorded with, before anything is written or the
        command started (a run id is ``SUBJECT/STAGE/...``, so both must be fit for one).

        Raises:
            RunFieldError: naming the field.
        """
        for field_name in ("subject", "stage"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not is_valid_id(value):
                raise RunFieldError(
                    field_name,
                    f"{value!r} cannot be part of a run id (letters, digits and . _ : / @ + - "
                    "only, starting with a letter or digit)",
                )
        if self.declared_gpus is not None and self.declared_gpus < 1:
            raise RunFieldError("declared_gpus", f"{self.declared_gpus} is not a positive count")
        try:
            Run(
                id=f"{self.subject}/{self.stage}/0",
                subject=self.subject,
                stage=self.stage,
                category=self.category,
                name=self.name or self.stage,
                status=RunStatus.RUNNING,
                command=self.command,
                working_dir=self.working_dir,
                detail=self.detail,
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "run"
            raise RunFieldError(where, error["msg"].removeprefix("Value error, ")) from None


class RunFieldError(WrapperInputError):
    """A field of a :class:`RunSpec` the run could not be recorded with."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"run field {field}: {problem}")
        self.field = field
        self.problem = problem


class MeteredRun:
    """One run being metered. Use :func:`metered_run`, or ``start()`` / ``finish()`` yourself."""

    def __init__(
        self,
        ledger: Ledger,
        spec: RunSpec,
        *,
        meter: GpuMeter | None = None,
        clock: Clock | None = None,
        sample_interval_s: float = 1.0,
        heartbeat_s: float = 10.0,
        job_pids: Callable[[], set[int]] = set,
        cluster: ClusterContext | None = None,
        background: bool = True,
        check: Callable[[Connection, Run], None] | None = None,
    ) -> None:
        """``check``, where given, is called with the write transaction that records the run
        as ``running`` and the run (:meth:`Ledger.record`'s ``check``): should it raise, the run
        is not written, the meter is closed and the error raised from :meth:`start`."""
        self.ledger = ledger
        self.check = check
        self.spec = spec
        self.meter = meter or NullMeter()
        self.clock = clock or SystemClock()
        self.cluster = cluster or from_environ()
        self.heartbeat_s = heartbeat_s
        self.background = background
        self.sampler = Sampler(
            self.meter, clock=self.clock, interval_s=sample_interval_s, job_pids=job_pids
        )
        self.run_id = new_run_id(spec.subject, spec.stage, self.cluster.node_rank)
        self.extra: list[Usage] = list(spec.usages)
        self.run: Run | None = None
        self._t0 = 0.0
        self._stop = threading.Event()
        self._beats: threading.Thread | None = None

    def start(self, then: Callable[[], object] | None = None) -> Run:
        """Write the run as ``running`` and start sampling and heartbeating.

        The first heartbeat is written before the run, so that from the moment the run is in the
        ledger it can be reaped should this process die (a run without a heartbeat never is).
        Should the meter fail to start, the run is finished as ``failed`` and the error raised.
        ``then`` runs once the run is written and the meter took its first sample, before the
        sampling and heartbeat threads start (``receipts run`` starts its command there, while
        the process has a single thread); should it raise, no thread starts.
        """
        try:
            self.ledger.subject(self.spec.subject)
            subject: list[Subject] = []
        except NotFoundError:
            subject = [Subject(id=self.spec.subject, name=self.spec.subject)]
        run = Run(
            id=self.run_id,
            subject=self.spec.subject,
            stage=self.spec.stage,
            category=self.spec.category,
            name=self.spec.name or self.spec.stage,
            status=RunStatus.RUNNING,
            started_at=utcnow(),
            host=self.cluster.host,
            node_rank=self.cluster.node_rank,
            job_id=self.cluster.job_id,
            command=self.spec.command,
            working_dir=self.spec.working_dir,
            git_commit=git_commit(self.spec.working_dir) if self.spec.working_dir else None,
            detail=self.spec.detail,
        )
        beat(self.ledger, self.run_id, wall_time_s=0.0, interval_s=self.heartbeat_s, usages=[])
        check = self.check
        try:
            self.ledger.record(
                [*subject, run], check=None if check is None else lambda conn: check(conn, run)
            )
        except BaseException:
            forget(self.ledger, self.run_id)
            self.meter.close()
            raise
        self.run = run
        self._t0 = self.clock.monotonic()
        try:
            self.sampler.start(background=False)
        except BaseException as exc:
            note = f"the meter failed to start: {type(exc).__name__}: {exc}"
            self._finish(RunStatus.FAILED, None, note, None, metered=False)
            raise
        if then is not None:
            then()
        if self.background:
            self.sampler.start_thread()
            self._beats = threading.Thread(
                target=self._heartbeat, name="receipts-heartbeat", daemon=True
            )
            self._beats.start()
        return run

    def add_usage(self, usage: Usage) -> None:
        """Attach a usage (tokens, API calls) to this run; it is written when the run ends."""
        self.extra.append(usage.model_copy(update={"run": self.run_id}))

    def set_usage(self, usage: Usage) -> None:
        """Attach ``usage`` in place of the one with its id, where there is one (a running total
        updated as the work goes on), else as :meth:`add_usage` does; written when the run ends."""
        usage = usage.model_copy(update={"run": self.run_id})
        for index, existing in enumerate(self.extra):
            if existing.id == usage.id:
                self.extra[index] = usage  # one atomic swap: a heartbeat may be reading the list
                return
        self.extra.append(usage)

    def wall_s(self) -> float:
        """Seconds since the run started (monotonic)."""
        return self.clock.monotonic() - self._t0

    def usages_so_far(self) -> list[Usage]:
        """What a heartbeat carries: the metered usage up to now, and the usages added."""
        return self._gpu_usages(self.sampler.snapshot(), self.wall_s()) + self.extra

    def beat(self) -> None:
        """Write one heartbeat now."""
        beat(
            self.ledger,
            self.run_id,
            wall_time_s=self.wall_s(),
            interval_s=self.heartbeat_s,
            usages=self.usages_so_far(),
        )

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.beat()
            except Exception:
                continue

    def _gpu_usages(
        self, devices: list[DeviceUsage], wall_s: float, samples: Sequence[GpuSample] = ()
    ) -> list[Usage]:
        spec = self.spec
        fields = window_usage_fields(
            self.run_id, devices, samples, spec.declared_gpus, spec.declared_gpu_model, wall_s
        )
        return [Usage(**f) for f in fields]

    def finish(
        self,
        status: RunStatus,
        exit_code: int | None = None,
        note: str | None = None,
        detail: dict[str, object] | None = None,
    ) -> Run:
        """Stop metering and write the run's final state with its usages, in one transaction.

        ``detail`` is merged into the run's detail (steps and epochs of a training, say).
        """
        return self._finish(status, exit_code, note, detail, metered=True)

    def _finish(
        self,
        status: RunStatus,
        exit_code: int | None,
        note: str | None,
        detail: dict[str, object] | None,
        *,
        metered: bool,
    ) -> Run:
        assert self.run is not None, "start() first"
        self._stop.set()
        if self._beats is not None:
            self._beats.join()
        try:
            devices = self.sampler.stop() if metered else []
        finally:
            self.meter.close()
        wall = self.wall_s()
        final = Run.model_validate(
            {
                **self.run.model_dump(),
                "status": status,
                "ended_at": self.run.started_at + timedelta(seconds=wall)
                if self.run.started_at
                else None,
                "wall_time_s": wall,
                "exit_code": exit_code,
                "note": note,
                "detail": {**(self.run.detail or {}), **(detail or {})} or None,
            }
        )
        samples = self.sampler.samples() if metered else []
        usages = self._gpu_usages(devices, wall, samples)
        finish(self.ledger, final, usages + self.extra)
        self.run = final
        return final


@contextmanager
def metered_run(
    ledger: Ledger,
    *,
    subject: str,
    stage: str,
    category: Category | str,
    name: str | None = None,
    **options: object,
) -> Iterator[MeteredRun]:
    """Meter a block of code as one run: ``succeeded``, ``failed`` on an exception, ``killed`` on
    Ctrl-C. The exception is re-raised after the run is recorded."""
    spec = RunSpec(subject=subject, stage=stage, category=Category(category), name=name)
    run = MeteredRun(ledger, spec, **options)  # type: ignore[arg-type]
    run.start()
    try:
        yield run
    except KeyboardInterrupt:
        run.finish(RunStatus.KILLED, note="interrupted by Ctrl-C")
        raise
    except BaseException as exc:
        run.finish(RunStatus.FAILED, note=f"{type(exc).__name__}: {exc}"[:500])
        raise
    else:
        run.finish(RunStatus.SUCCEEDED)
