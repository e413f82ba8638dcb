"""Curation funnels: each step metered as a run, with the records it took in and let out.

Python API::

    funnel = Funnel(ledger, subject="my-model", name="executed")
    with funnel.step("quality-filter", records_in=len(items)) as step:
        kept = step.keep([item for item in items if "[asy]" not in item["problem"]])
    with funnel.step("difficulty-filter") as step:  # records_in: the previous step's output
        ...
        step.count("tokens/tiny-qwen2", Unit.TOKEN, generated, role="completion")
        kept = step.keep(hard)

Each step is one :class:`~probes.run.session.MeteredRun` (stage: the step's name, category ``data``)
and, when the step succeeds, one :class:`~ledger.schema.FunnelStep` (``measured``, with the run's
wall time). A step that raises, or that never says what it kept, is recorded as a ``failed`` run
with what it cost and adds no funnel step. A step's cost is the priced usage of its runs: GPU time
from the meter (nothing on a machine without one: missing, never zero) and whatever the step
counted (API calls and tokens, local generation tokens).

The report that reads the funnels back (``receipts funnel``) is :mod:`ledger.funnel`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sized
from contextlib import contextmanager
from typing import Any, TypeVar

from ledger.schema import (
    Category,
    FunnelStep,
    Provenance,
    Unit,
    Usage,
)
from ledger.store import Ledger
from probes.errors import ProbeError
from probes.gpu.meter import GpuMeter
from probes.ids import id_part
from probes.run.proctree import descendants
from probes.run.session import MeteredRun, metered_run

T = TypeVar("T", bound=Sized)
_UNSET: Any = object()


class FunnelError(ProbeError):
    """A funnel step was used wrongly (it never said how many records it kept)."""


def _slug(text: str) -> str:
    return id_part(text, fallback="step")[:80]


def _stage(name: str) -> str:
    """A run stage from a step name: lower case, words joined by ``-``, at most 40 characters."""
    words = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return words[:40].rstrip("-") or "curation"


class Step:
    """A funnel step being executed: set ``records_out`` (or call :meth:`keep`) before it ends."""

    def __init__(self, run: MeteredRun, records_in: int | None) -> None:
        self.run = run
        """The metered run executing the step."""
        self.records_in = records_in
        """Records entering the step, ``None`` where unknown."""
        self.records_out: int | None = None
        """Records leaving the step; must be set before the step ends."""
        self.note: str | None = None
        """Anything a reader must know about the step."""
        self._counts: dict[tuple[str, Unit, str | None], tuple[float, dict[str, Any]]] = {}

    @property
    def run_id(self) -> str:
        """Id of the run executing the step."""
        return self.run.run_id

    def keep(self, records: T) -> T:
        """Set ``records_out`` to ``len(records)`` and return them unchanged."""
        self.records_out = len(records)
        return records

    def count(
        self, resource: str, unit: Unit, quantity: float, *, role: str | None = None, **detail: Any
    ) -> None:
        """Add a measured quantity (tokens, API calls) to the step's usage.

        Repeated calls for the same resource, unit and role add up into one usage; the running
        total travels with the run's heartbeats, so a step that dies still shows what it
        consumed. ``role`` (``prompt``, ``completion``) and ``detail`` are stored with the usage.
        """
        key = (resource, unit, role)
        before, kept = self._counts.get(key, (0.0, {}))
        total = before + float(quantity)
        merged = {**kept, **detail, **({"role": role} if role else {})}
        self._counts[key] = (total, merged)
        suffix = f"/{_slug(role)}" if role else ""
        usage = Usage(
            id=f"{self.run_id}/{_slug(resource)}/{unit.value}{suffix}",
            run=self.run_id,
            resource=resource,
            unit=unit,
            quantity=total,
            provenance=Provenance.MEASURED,
            detail=merged or None,
        )
        self.run.set_usage(usage)

    def add_usage(self, usage: Usage) -> None:
        """Attach any usage (an API bill with its own provenance) to the step's run."""
        self.run.add_usage(usage)


class Funnel:
    """A curation funnel executed here, one metered run and one funnel step per step.

    Args:
        ledger: where runs and steps are written.
        subject: the subject whose data the funnel builds (created if the ledger lacks it).
        name: the funnel's name; steps are ``<subject>/funnel/<name>/<order>``, so executing the
            same funnel again supersedes its steps (the earlier runs stay, with their cost).
        category: cost category of the steps' runs.
        meter: makes one GPU meter per step (each run closes its own); by default NVML where it
            initialises, else no meter (no GPU usage recorded, never zeros).
        run_options: passed to :class:`~probes.run.session.MeteredRun` (``clock``,
            ``sample_interval_s``, ``heartbeat_s``, ``cluster``, ``background``).
    """

    def __init__(
        self,
        ledger: Ledger,
        subject: str,
        name: str,
        *,
        category: Category = Category.DATA,
        meter: Callable[[], GpuMeter | None] | None = None,
        **run_options: Any,
    ) -> None:
        self.ledger = ledger
        self.subject = subject
        self.name = name
        self.category = category
        self.meter = meter
        self.run_options = run_options
        self.steps: list[FunnelStep] = []
        """Steps completed so far, in order."""

    def _open_meter(self) -> GpuMeter | None:
        if self.meter is not None:
            return self.meter()
        from probes.gpu.nvml import open_meter  # imports pynvml lazily

        return open_meter()

    @contextmanager
    def step(
        self, name: str, records_in: int | None = _UNSET, *, stage: str | None = None
    ) -> Iterator[Step]:
        """Execute one step as a metered run; write its funnel step when it succeeds.

        Args:
            name: what the step does; also the run's stage (as a slug) unless ``stage`` is given.
            records_in: records entering; by default the previous step's ``records_out``
                (``None`` for a first step).
            stage: the run's stage, where it should differ from the name.

        Raises:
            FunnelError: the step ended without ``records_out``; its run is recorded ``failed``.
        """
        if records_in is _UNSET:
            records_in = self.steps[-1].records_out if self.steps else None
        order = len(self.steps) + 1
        options = {"job_pids": lambda: descendants(os.getpid()), **self.run_options}
        with metered_run(
            self.ledger,
            subject=self.subject,
            stage=stage or _stage(name),
            category=self.category,
            name=name,
            meter=self._open_meter(),
            **options,
        ) as run:
            handle = Step(run, records_in)
            yield handle
            if handle.records_out is None:
                raise FunnelError(
                    f"funnel step {name!r} ended without records_out: "
                    "set step.records_out or call step.keep(records)"
                )
            assert run.run is not None
            run.run = run.run.model_copy(
                update={
                    "detail": {
                        "funnel": self.name,
                        "order": order,
                        "records_in": records_in,
                        "records_out": handle.records_out,
                    }
                }
            )
        assert run.run is not None and handle.records_out is not None
        step = FunnelStep(
            id=f"{self.subject}/funnel/{_slug(self.name)}/{order}",
            subject=self.subject,
            funnel=self.name,
            order=order,
            name=name,
            records_in=records_in,
            records_out=handle.records_out,
            runs=[run.run_id],
            provenance=Provenance.MEASURED,
            wall_time_s=run.run.wall_time_s,
            note=handle.note,
        )
        self.ledger.record([step])
        self.steps.append(step)
