"""Cluster metering from Prometheus: the series of NVIDIA's DCGM exporter over a job's window,
recorded per physical GPU as ``receipts run`` records them (``receipts import prometheus``).

The method (the contract the tests hold; docs/cluster.md explains it for operators):

- **Raw samples.** Each metric is read as a range vector (``metric{...}[d]`` evaluated at the end
  of the window, in pieces of six hours), never through ``increase()`` (which extrapolates to the
  window's edges) nor ``query_range`` (which resamples at a step). Samples are cut to
  ``start <= t <= end``.
- **Energy** (``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION``, millijoules since the driver loaded): the
  sum of the differences between consecutive samples. Where the counter went down, it restarted
  at 0 (driver reload, reboot) and the step counts its new value; the energy between the last
  sample before the restart and the restart is not seen. Only the span between the first and the
  last sample in the window is measured: what the GPU used between the window's start and the
  first scrape, and between the last scrape and the end (at most a scrape interval each), is
  not in the figure, and ``energy_span_s`` in the usage's detail says what is. Without the
  counter (GPUs older than Volta, or the field disabled), the power gauge
  ``DCGM_FI_DEV_POWER_USAGE`` is integrated (trapezoids, same span) and the method says so.
- **Allocated GPU-seconds** are the window's length for every GPU with samples in it (a
  scheduler allocates devices for the whole job); **busy GPU-seconds** integrate
  ``DCGM_FI_DEV_GPU_UTIL`` / 100 over the window (trapezoids between samples, the first and last
  values held to the edges, as the NVML meter holds its last sample).
- **One run per node**, id ``prometheus/<job>/<host>/<start>``, tagged with the job id and the
  host, its usages per GPU as :func:`probes.gpu.usage.device_usage_fields` builds them for
  ``receipts run``, all ``measured``; the GPU's model comes from the ``modelName`` label.
  Importing again adds nothing; a window overlapping an imported run of the same job and node
  under another start is refused (never counted twice), and so is a node whose GPUs a run of the
  same job already metered over the window (``receipts run``, a callback metering alone, or one
  still running): ``--compare`` (:mod:`~probes.prometheus.compare`) sets the two side by side and
  records nothing.
- **Series selection**: the job label (``hpc_job`` from the exporter's HPC job mapping on Slurm,
  ``pod`` on Kubernetes, or none), further matchers, hosts and GPU indices. Series of one GPU are
  merged (a driver reload may change the driver-version label); two that disagree at one
  timestamp are refused as ambiguous. Values that are not finite and non-negative are dropped
  and counted.

Modules: :mod:`~probes.prometheus.method` (the arithmetic), :mod:`~probes.prometheus.query` (the
HTTP API via ``prometheus-api-client``, lazily), :mod:`~probes.prometheus.meter` (series to
devices), :mod:`~probes.prometheus.importer` (runs and usages), :mod:`~probes.prometheus.schema`,
:mod:`~probes.prometheus.cli`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probes.lazy import lazy_exports

if TYPE_CHECKING:
    from probes.prometheus.compare import compare_prometheus
    from probes.prometheus.errors import PrometheusError
    from probes.prometheus.importer import RUN_PREFIX, import_prometheus, job_window, plan_runs
    from probes.prometheus.meter import Selection, meter_job
    from probes.prometheus.method import counter_energy, held_integral, trapezoid, within
    from probes.prometheus.query import (
        Matcher,
        PrometheusSource,
        check_label,
        parse_matcher,
        shown_url,
    )
    from probes.prometheus.schema import (
        Comparison,
        ImportedGpu,
        ImportedNode,
        ImportResult,
        NodeComparison,
    )

_WHERE = {
    "compare_prometheus": "compare",
    "PrometheusError": "errors",
    "RUN_PREFIX": "importer",
    "import_prometheus": "importer",
    "job_window": "importer",
    "plan_runs": "importer",
    "Selection": "meter",
    "meter_job": "meter",
    "counter_energy": "method",
    "held_integral": "method",
    "trapezoid": "method",
    "within": "method",
    "Matcher": "query",
    "PrometheusSource": "query",
    "check_label": "query",
    "parse_matcher": "query",
    "shown_url": "query",
    "ImportedGpu": "schema",
    "ImportedNode": "schema",
    "ImportResult": "schema",
    "Comparison": "schema",
    "NodeComparison": "schema",
}

__all__ = [
    "RUN_PREFIX",
    "Comparison",
    "ImportResult",
    "ImportedGpu",
    "ImportedNode",
    "Matcher",
    "NodeComparison",
    "PrometheusError",
    "PrometheusSource",
    "Selection",
    "check_label",
    "compare_prometheus",
    "counter_energy",
    "held_integral",
    "import_prometheus",
    "job_window",
    "meter_job",
    "parse_matcher",
    "plan_runs",
    "shown_url",
    "trapezoid",
    "within",
]

__getattr__ = lazy_exports(__name__, _WHERE)
