"""Reading raw samples from Prometheus's HTTP API through ``prometheus-api-client`` (the
``prometheus`` extra), imported lazily.

Raw samples, not ``increase()`` or ``query_range``: a range-vector selector ``metric{...}[d]``
evaluated at the end of each piece of the window returns every stored sample in it, with the
timestamps of the scrapes, so that the arithmetic of :mod:`probes.prometheus.method` sees what the
exporter served, neither extrapolated (as ``increase()`` does) nor resampled at a step (as
``query_range`` does). Long windows are read in pieces of :data:`CHUNK_S`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from probes.prometheus.errors import PrometheusError
from probes.prometheus.method import Sample

CHUNK_S = 6 * 3600
"""Seconds of samples asked for in one query (a day of 1 s scrapes of 8 GPUs is 700k samples)."""

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    """One label matcher of a PromQL selector: ``hpc_job="4242"``, ``Hostname=~"gpu-0[12]"``."""

    label: str
    op: str
    value: str

    def promql(self) -> str:
        """The matcher in PromQL, its value quoted and escaped."""
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.label}{self.op}"{escaped}"'


def parse_matcher(text: str, option: str = "--match") -> Matcher:
    """A matcher from ``label=value``, ``label!=value``, ``label=~regex`` or ``label!~regex``
    (quotes around the value are optional).

    Raises:
        PrometheusError: naming ``option`` and the text.
    """
    match = _MATCHER.match(text)
    if match is None:
        raise PrometheusError(
            f"{option} {text!r}: expected LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or "
            "LABEL!~REGEX (a label name is letters, digits and _)"
        )
    label, op, value = match.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return Matcher(label, op, value)


def check_label(name: str, option: str) -> str:
    """``name`` where it is a Prometheus label name; else :class:`PrometheusError`."""
    if not _LABEL.match(name):
        raise PrometheusError(f"{option} {name!r}: not a Prometheus label name")
    return name


def selector(metric: str, matchers: Sequence[Matcher]) -> str:
    """``metric{m1,m2,...}``."""
    return f"{metric}{{{','.join(m.promql() for m in matchers)}}}"


def shown_url(url: str) -> str:
    """``url`` without a user name or password, for messages and the ledger."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class Series:
    """One stored series: its labels and its samples in the asked window."""

    metric: str
    labels: dict[str, str]
    samples: list[Sample]
    dropped: int = 0
    """Samples that were not a finite, non-negative number (NaN, a negative power)."""


class PrometheusSource:
    """A Prometheus server's query API."""

    def __init__(self, url: str, *, timeout_s: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PrometheusError(
                f"--url {shown_url(url)!r}: not an http(s) URL of a Prometheus server "
                "(http://prometheus.example.org:9090)"
            )
        try:
            from prometheus_api_client import PrometheusConnect
            from urllib3.util.retry import Retry
        except ImportError:
            raise PrometheusError(
                "receipts import prometheus needs prometheus-api-client: "
                "pip install 'receipts[prometheus]'"
            ) from None
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        retry = Retry(total=2, backoff_factor=0.2, status_forcelist=[502, 503, 504])
        self._client = PrometheusConnect(url=self.url, retry=retry, timeout=timeout_s)

    def close(self) -> None:
        """Release the HTTP session."""
        self._client.close()

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def samples(
        self, metric: str, matchers: Sequence[Matcher], start_s: float, end_s: float
    ) -> list[Series]:
        """Every stored sample of the selected series with ``start_s <= t <= end_s``, by series.

        Raises:
            PrometheusError: the server cannot be reached, refuses the query or answers
                something that is not a Prometheus matrix.
        """
        query = selector(metric, matchers)
        found: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[Sample], int]] = {}
        piece_end = end_s
        while True:
            piece_start = max(start_s, piece_end - CHUNK_S)
            # One second more than the piece: range selectors are closed on the left before
            # Prometheus 3.0 and open after; the window is cut exactly below.
            span_ms = math.ceil((piece_end - piece_start) * 1000) + 1000
            for item in self._query(f"{query}[{span_ms}ms]", piece_end):
                labels, values = _series(item, query)
                key = tuple(sorted(labels.items()))
                _, kept, dropped = found.setdefault(key, (labels, [], 0))
                bad = 0
                for t, v in values:
                    if not start_s <= t <= end_s:
                        continue
                    if math.isfinite(v) and v >= 0:
                        kept.append((t, v))
                    else:
                        bad += 1
                found[key] = (labels, kept, dropped + bad)
            if piece_start <= start_s:
                break
            piece_end = piece_start
        return [
            Series(metric, labels, sorted(set(kept)), dropped)
            for labels, kept, dropped in found.values()
        ]

    def _query(self, promql: str, at_s: float) -> list[Any]:
        import requests
        from prometheus_api_client import PrometheusApiClientException

        where = f"--url {shown_url(self.url)}"
        try:
            data = self._client.custom_query(query=promql, params={"time": f"{at_s:.3f}"})
        except PrometheusApiClientException as exc:
            raise PrometheusError(
                f"{where}: Prometheus refused {promql!r}: {_reason(exc)}"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise PrometheusError(
                f"{where}: cannot reach Prometheus ({type(exc).__name__}); check the URL and "
                "that the server is up"
            ) from None
        except ValueError:
            raise PrometheusError(f"{where}: the answer to {promql!r} is not JSON") from None
        if not isinstance(data, list):
            raise PrometheusError(f"{where}: the answer to {promql!r} is not a list of series")
        return data


def _reason(exc: Exception) -> str:
    text = str(exc)
    match = re.search(r'"error":"((?:[^"\\]|\\.)*)"', text)
    return match.group(1) if match else text[:200]


def _series(item: Any, query: str) -> tuple[dict[str, str], list[Sample]]:
    if not isinstance(item, dict) or not isinstance(item.get("values"), list):
        raise PrometheusError(f"the answer to {query!r} is not a range vector (no values)")
    labels = item.get("metric") or {}
    if not isinstance(labels, dict):
        raise PrometheusError(f"the answer to {query!r} has a series without labels")
    values: list[Sample] = []
    for pair in item["values"]:
        try:
            t, v = float(pair[0]), float(pair[1])
        except (TypeError, ValueError, IndexError):
            raise PrometheusError(
                f"the answer to {query!r} has a malformed sample {pair!r}"
            ) from None
        values.append((t, v))
    return {str(k): str(v) for k, v in labels.items() if k != "__name__"}, values
