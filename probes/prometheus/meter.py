"""A job's GPUs metered from the DCGM exporter's series in Prometheus: the series selected, grouped
by physical GPU, and turned into the :class:`~probes.gpu.schema.DeviceUsage` that ``receipts
run``'s meter produces, with the samples for the power and utilisation plots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from probes.gpu.schema import DeviceUsage, EnergyMethod, GpuDevice, GpuSample
from probes.prometheus.errors import PrometheusError
from probes.prometheus.method import (
    Coverage,
    Sample,
    counter_energy,
    coverage,
    held_integral,
    scrape_interval,
    trapezoid,
    within,
)
from probes.prometheus.query import Matcher, PrometheusSource, Series, selector

UNSAMPLED_NOTE = (
    "not measured: fewer than two samples of any DCGM series of this GPU in the window, so no "
    "time was observed"
)
"""The note of a GPU's allocated and busy time where no series has two samples in the window."""

ENERGY = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
"""Energy since the driver loaded, in millijoules (a counter; Volta and newer)."""
POWER = "DCGM_FI_DEV_POWER_USAGE"
"""Board power draw, in watts (a gauge)."""
UTIL = "DCGM_FI_DEV_GPU_UTIL"
"""Share of the sample period in which a kernel ran, in percent (a gauge)."""
METRICS = (ENERGY, POWER, UTIL)

HOST_LABELS = ("Hostname", "hostname", "instance")
"""Where a series names its node, in order: dcgm-exporter's ``Hostname`` (``hostname`` since
4.5), else the scrape target Prometheus adds."""


@dataclass(frozen=True)
class Selection:
    """Which series belong to the job."""

    job_id: str
    """The job's id: recorded on every run, and matched on ``job_label`` where there is one."""
    job_label: str | None = "hpc_job"
    """Label carrying the job id (``hpc_job`` from the exporter's HPC job mapping, ``pod`` on
    Kubernetes); ``None`` to select by the other matchers and the window only."""
    matchers: tuple[Matcher, ...] = ()
    """Further label matchers (``namespace="ml"``, ``cluster="a"``)."""
    hosts: tuple[str, ...] = ()
    """Only these nodes (any of :data:`HOST_LABELS`), where given."""
    gpus: tuple[int, ...] = ()
    """Only these GPU indices, where given."""

    def promql_matchers(self) -> list[Matcher]:
        """The matchers sent to Prometheus."""
        job = [Matcher(self.job_label, "=", self.job_id)] if self.job_label else []
        return [*job, *self.matchers]

    def shown(self) -> str:
        """The selection as a PromQL selector (without a metric) plus the host and GPU filters."""
        text = selector("", self.promql_matchers())
        if self.hosts:
            text += f" hosts {','.join(self.hosts)}"
        if self.gpus:
            text += f" gpus {','.join(map(str, self.gpus))}"
        return text


@dataclass
class GpuMeasure:
    """One GPU's usage over the window, and what the import writes beside it."""

    host: str
    usage: DeviceUsage
    samples: list[GpuSample]
    counter_resets: int = 0
    energy_span_s: float | None = None
    dropped: int = 0
    series: list[dict[str, str]] = field(default_factory=list)
    coverage: Coverage | None = None
    uuid_label: bool = True
    """Whether the series name the GPU's UUID (else its id is ``HOST/gpuN``, which no wrapper's
    NVML UUID matches)."""

    @property
    def unsampled(self) -> bool:
        """Whether no series has two samples: the GPU's allocated and busy time are not
        measured (:data:`UNSAMPLED_NOTE`)."""
        return self.coverage is not None and self.coverage.covered_s is None

    def coverage_detail(self) -> dict[str, object]:
        """What the usage's detail says of the samples against the window."""
        c = self.coverage
        if c is None:
            return {}
        return {
            "window_s": c.wall_s,
            "sample_span_s": c.span_s,
            "scrape_interval_s": c.interval_s,
            "covered_s": c.covered_s,
            "allocated_from": allocated_from(c),
        }


def allocated_from(c: Coverage) -> str | None:
    """``window``, ``samples``, or ``None`` where nothing was covered (not measured)."""
    if c.covered_s is None:
        return None
    return "window" if c.sampled_window else "samples"


def host_of(labels: dict[str, str]) -> str | None:
    """The node a series comes from (see :data:`HOST_LABELS`)."""
    for name in HOST_LABELS:
        if labels.get(name):
            return labels[name]
    return None


def meter_job(
    source: PrometheusSource,
    selection: Selection,
    start_s: float,
    end_s: float,
    wall_s: float | None = None,
) -> list[GpuMeasure]:
    """Every selected GPU's usage over ``[start_s, end_s]`` (unix seconds), by host and index.

    ``wall_s``, the window's length as the run records it (from the datetimes, to the
    microsecond), is each GPU's allocated time; ``end_s - start_s`` where not given.

    Raises:
        PrometheusError: nothing matches, a series lacks its GPU labels, or two series of one GPU
            disagree (the selection is ambiguous).
    """
    matchers = selection.promql_matchers()
    if not matchers and not selection.hosts:
        raise PrometheusError(
            "--job-label none selects every GPU Prometheus has: give --host or --match too"
        )
    found: dict[tuple[str, str], dict[str, list[Series]]] = {}
    for metric in METRICS:
        for series in source.samples(metric, matchers, start_s, end_s):
            key = _gpu_key(series, selection)
            if key is not None:
                found.setdefault(key, {}).setdefault(metric, []).append(series)
    if not found:
        raise PrometheusError(
            f"no DCGM series match {selection.shown()} between {start_s:.3f} and {end_s:.3f} "
            f"(unix seconds): check --job/--job-label, --match, --host and the window"
        )
    wall = end_s - start_s if wall_s is None else wall_s
    return [
        _measure(key[0], by_metric, start_s, end_s, wall)
        for key, by_metric in sorted(found.items())
    ]


def _gpu_key(series: Series, selection: Selection) -> tuple[str, str] | None:
    labels = series.labels
    host = host_of(labels)
    index = labels.get("gpu", "")
    if host is None or not index.isdigit():
        raise PrometheusError(
            f"series {series.metric}{{{', '.join(f'{k}={v!r}' for k, v in labels.items())}}} "
            "has no gpu index or host label: is this dcgm-exporter's output?"
        )
    if selection.hosts and not any(labels.get(n) in selection.hosts for n in HOST_LABELS):
        return None
    if selection.gpus and int(index) not in selection.gpus:
        return None
    return host, f"{int(index):06d}"


def _merged(
    host: str, metric: str, series: Sequence[Series], start_s: float, end_s: float
) -> list[Sample]:
    samples = [s for one in series for s in one.samples]
    try:
        return within(samples, start_s, end_s)
    except ValueError as exc:
        raise PrometheusError(
            f"{metric} of {host}: {exc}: several series of one GPU match; narrow the selection "
            "with --match"
        ) from None


def _measure(
    host: str, by_metric: dict[str, list[Series]], start_s: float, end_s: float, wall: float
) -> GpuMeasure:
    every = [s for group in by_metric.values() for s in group]
    labels = every[0].labels
    index = int(labels["gpu"])
    named = labels.get("UUID") or labels.get("uuid")
    uuid = named or f"{host}/gpu{index}"
    name = labels.get("modelName") or labels.get("model_name") or "unknown"
    energy_s, power_s, util_s = (
        _merged(host, m, by_metric.get(m, []), start_s, end_s) for m in METRICS
    )
    counter = counter_energy(energy_s)
    energy_j: float | None
    method: EnergyMethod | None
    span: float | None
    if counter is not None:
        energy_j, method, span = counter.energy_j, "counter", counter.last_s - counter.first_s
    else:
        energy_j = trapezoid(power_s)
        method = "integrated_power" if energy_j is not None else None
        span = power_s[-1][0] - power_s[0][0] if energy_j is not None else None
    stamps = sorted({t for t, _ in [*energy_s, *power_s, *util_s]})
    cover = coverage([[t for t, _ in one] for one in (energy_s, power_s, util_s)], start_s, wall)
    busy = None
    if cover.covered_s is not None:  # a lone sample says nothing of any stretch of time
        hold = scrape_interval([t for t, _ in util_s]) or cover.interval_s
        busy = held_integral(util_s, start_s, wall, hold)
    device = GpuDevice(index=index, uuid=uuid, name=name, memory_total_bytes=None)
    usage = DeviceUsage(
        device=device,
        wall_s=wall,
        # A GPU scraped over (nearly) all the window was the job's for all of it; one scraped
        # over a part only (a generous --end, a node that joined late) for that part.
        allocated_gpu_s=wall if cover.sampled_window else cover.covered_s,  # None: unsampled
        busy_gpu_s=None if busy is None else busy / 100.0,
        energy_j=energy_j,
        energy_method=method,
        samples=len(stamps),
        peak_memory_used_bytes=None,
        shared=False,
    )
    return GpuMeasure(
        host=host,
        usage=usage,
        samples=_samples(uuid, power_s, util_s, start_s),
        counter_resets=counter.resets if counter is not None else 0,
        energy_span_s=span,
        dropped=sum(s.dropped for s in every),
        series=_distinct(s.labels for s in every),
        coverage=cover,
        uuid_label=named is not None,
    )


def _samples(uuid: str, power: list[Sample], util: list[Sample], start_s: float) -> list[GpuSample]:
    watts, percent = dict(power), dict(util)
    return [
        GpuSample(
            t_s=t - start_s,
            device_uuid=uuid,
            power_w=watts.get(t),
            sm_util_pct=percent.get(t),
            memory_used_bytes=None,
        )
        for t in sorted(set(watts) | set(percent))
        if math.isfinite(t)
    ]


def _distinct(label_sets: object) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for labels in label_sets:  # type: ignore[attr-defined]
        if labels not in out:
            out.append(labels)
    return out
