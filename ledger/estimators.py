"""Estimators: documented formulas that turn stated inputs into a usage with a low/high range.

Every estimator returns a :class:`~ledger.schema.Usage` with provenance ``estimated`` whose
:class:`~ledger.schema.Estimate` stores the formula and every input, so a reader can redo the
arithmetic. The central value uses the midpoint of each input range; the low end combines the
inputs that make the result smallest, the high end those that make it largest.

Formulas (units in the input names):

- ``pretraining_gpu_hours``: training compute ``C = 6 * params * tokens`` FLOP (Kaplan et al.
  2020, the dense-transformer rule), GPU-hours ``= C / (peak_flop_per_s * mfu) / 3600``, over a
  model-FLOP-utilisation range ``mfu_low..mfu_high``.
- ``api_tokens``: ``calls * tokens_per_call`` over ranges of calls and tokens per call.
- ``inference_gpu_hours``:
  ``items * passes * tokens_per_item / throughput_tok_per_s_per_gpu / 3600``
  over ranges of passes, tokens per item and per-GPU throughput.
- ``retrain_gpu_hours``: ``runs * gpu_hours_per_run`` over ranges of both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.errors import InputError
from ledger.schema import Estimate, Provenance, Unit, Usage

Bounds = tuple[float, float]


def _mid(bounds: Bounds) -> float:
    return (bounds[0] + bounds[1]) / 2


def _check(name: str, bounds: Bounds | float, positive: bool = True) -> Bounds:
    """A ``[low, high]`` range; a plain number (as a case file may give) is the range of one."""
    if isinstance(bounds, int | float):
        bounds = (bounds, bounds)
    low, high = float(bounds[0]), float(bounds[1])
    if not (low == low and high == high) or low > high or (positive and low <= 0) or low < 0:
        raise InputError(f"estimator input {name}: need 0 < low <= high, got {low}..{high}")
    return low, high


def _usage(
    id: str,
    run: str,
    resource: str,
    unit: Unit,
    central: float,
    low: float,
    high: float,
    formula: str,
    inputs: dict[str, Any],
    estimator: str,
    note: str | None,
) -> Usage:
    return Usage(
        id=id,
        run=run,
        resource=resource,
        unit=unit,
        quantity=central,
        quantity_low=low,
        quantity_high=high,
        provenance=Provenance.ESTIMATED,
        note=note,
        estimate=Estimate(formula=formula, inputs=inputs, estimator=estimator),
    )


def pretraining_gpu_hours(
    *,
    id: str,
    run: str,
    resource: str,
    params: float,
    tokens: float,
    peak_flop_per_s: float,
    mfu: Bounds,
    note: str | None = None,
) -> Usage:
    """GPU-hours to pretrain a dense transformer: ``6 * params * tokens / (peak * mfu) / 3600``."""
    mfu = _check("mfu", mfu)
    if mfu[1] > 1:
        raise InputError("estimator input mfu: a utilisation cannot exceed 1")
    flop = 6 * params * tokens

    def hours(u: float) -> float:
        return flop / (peak_flop_per_s * u) / 3600

    return _usage(
        id,
        run,
        resource,
        Unit.GPU_HOUR,
        hours(_mid(mfu)),
        hours(mfu[1]),
        hours(mfu[0]),
        "6 * params * tokens / (peak_flop_per_s * mfu) / 3600",
        {
            "params": params,
            "tokens": tokens,
            "training_flop": flop,
            "peak_flop_per_s": peak_flop_per_s,
            "mfu_low": mfu[0],
            "mfu_high": mfu[1],
        },
        "pretraining_gpu_hours",
        note,
    )


def api_tokens(
    *,
    id: str,
    run: str,
    resource: str,
    unit: Unit,
    calls: float | Bounds,
    tokens_per_call: Bounds,
    note: str | None = None,
) -> Usage:
    """Tokens sent to or received from an API: ``calls * tokens_per_call``.

    ``calls`` is a count, or a ``(low, high)`` range where the number of calls is itself estimated.
    """
    per_call = _check("tokens_per_call", tokens_per_call)
    n = _check("calls", calls if isinstance(calls, tuple) else (calls, calls))
    return _usage(
        id,
        run,
        resource,
        unit,
        _mid(n) * _mid(per_call),
        n[0] * per_call[0],
        n[1] * per_call[1],
        "calls * tokens_per_call",
        {
            "calls_low": n[0],
            "calls_high": n[1],
            "tokens_per_call_low": per_call[0],
            "tokens_per_call_high": per_call[1],
        },
        "api_tokens",
        note,
    )


def inference_gpu_hours(
    *,
    id: str,
    run: str,
    resource: str,
    items: float,
    passes: Bounds,
    tokens_per_item: Bounds,
    throughput_tok_per_s_per_gpu: Bounds,
    note: str | None = None,
) -> Usage:
    """GPU-hours to generate tokens: ``items * passes * tokens_per_item / throughput / 3600``."""
    passes = _check("passes", passes)
    per_item = _check("tokens_per_item", tokens_per_item)
    rate = _check("throughput_tok_per_s_per_gpu", throughput_tok_per_s_per_gpu)

    def hours(p: float, t: float, r: float) -> float:
        return items * p * t / r / 3600

    return _usage(
        id,
        run,
        resource,
        Unit.GPU_HOUR,
        hours(_mid(passes), _mid(per_item), _mid(rate)),
        hours(passes[0], per_item[0], rate[1]),
        hours(passes[1], per_item[1], rate[0]),
        "items * passes * tokens_per_item / throughput_tok_per_s_per_gpu / 3600",
        {
            "items": items,
            "passes_low": passes[0],
            "passes_high": passes[1],
            "tokens_per_item_low": per_item[0],
            "tokens_per_item_high": per_item[1],
            "throughput_tok_per_s_per_gpu_low": rate[0],
            "throughput_tok_per_s_per_gpu_high": rate[1],
        },
        "inference_gpu_hours",
        note,
    )


def retrain_gpu_hours(
    *,
    id: str,
    run: str,
    resource: str,
    runs: Bounds,
    gpu_hours_per_run: Bounds,
    note: str | None = None,
) -> Usage:
    """GPU-hours of repeated training runs: ``runs * gpu_hours_per_run``."""
    runs = _check("runs", runs)
    per_run = _check("gpu_hours_per_run", gpu_hours_per_run)
    return _usage(
        id,
        run,
        resource,
        Unit.GPU_HOUR,
        _mid(runs) * _mid(per_run),
        runs[0] * per_run[0],
        runs[1] * per_run[1],
        "runs * gpu_hours_per_run",
        {
            "runs_low": runs[0],
            "runs_high": runs[1],
            "gpu_hours_per_run_low": per_run[0],
            "gpu_hours_per_run_high": per_run[1],
        },
        "retrain_gpu_hours",
        note,
    )


ESTIMATORS: dict[str, Callable[..., Usage]] = {
    f.__name__: f
    for f in (pretraining_gpu_hours, api_tokens, inference_gpu_hours, retrain_gpu_hours)
}
"""Estimators by name, as case files refer to them."""
