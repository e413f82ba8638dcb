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
- ``gpu_energy_kwh``: ``gpu_hours * tdp_w * gpu_power_fraction / 1000``, the energy of GPUs
  nobody metered, over a range of average draw as a fraction of the board's TDP.
- ``owned_gpu_cost_usd``: the owned-hardware price of GPU-hours (Epoch AI's method),
  ``gpu_hours * purchase_usd_per_gpu / (lifetime_years * 8766 * utilisation)
  / (1 - interconnect_cost_fraction) + facility_kwh * usd_per_kwh``, where the purchase price
  includes the GPU's share of its server and ``facility_kwh`` is the GPUs' energy times the server
  power factor and PUE (:mod:`ledger.energy`).
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


HOURS_PER_YEAR = 24 * 365.25
"""Hours in a year of the amortisation period (Epoch AI's ``HOURS_PER_YEAR``)."""


def gpu_energy_kwh(
    *,
    id: str,
    run: str,
    gpu_hours: Bounds,
    tdp_w: float,
    gpu_power_fraction: Bounds,
    note: str | None = None,
) -> Usage:
    """Energy of GPUs nobody metered: ``gpu_hours * tdp_w * gpu_power_fraction / 1000`` kWh."""
    hours = _check("gpu_hours", gpu_hours, positive=False)
    fraction = _check("gpu_power_fraction", gpu_power_fraction)
    tdp = _check("tdp_w", tdp_w)[0]
    if fraction[1] > 1:
        raise InputError("estimator input gpu_power_fraction: a board cannot average above its TDP")

    def kwh(h: float, f: float) -> float:
        return h * tdp * f / 1000

    return _usage(
        id,
        run,
        "energy/gpu",
        Unit.KWH,
        kwh(_mid(hours), _mid(fraction)),
        kwh(hours[0], fraction[0]),
        kwh(hours[1], fraction[1]),
        "gpu_hours * tdp_w * gpu_power_fraction / 1000",
        {
            "gpu_hours_low": hours[0],
            "gpu_hours_high": hours[1],
            "tdp_w": tdp,
            "gpu_power_fraction_low": fraction[0],
            "gpu_power_fraction_high": fraction[1],
        },
        "gpu_energy_kwh",
        note,
    )


def owned_gpu_cost_usd(
    *,
    id: str,
    run: str,
    resource: str,
    gpu_hours: Bounds,
    purchase_usd_per_gpu: Bounds,
    lifetime_years: Bounds,
    utilisation: Bounds,
    interconnect_cost_fraction: Bounds | float,
    facility_kwh: Bounds,
    usd_per_kwh: Bounds,
    purchase_cards: str = "",
    note: str | None = None,
) -> Usage:
    """What GPU-hours cost on hardware one owns (Epoch AI's amortised hardware plus energy):
    ``gpu_hours * purchase_usd_per_gpu / (lifetime_years * 8766 * utilisation)
    / (1 - interconnect_cost_fraction) + facility_kwh * usd_per_kwh`` US dollars.

    ``purchase_usd_per_gpu`` includes the GPU's share of its server (an 8-GPU server's price / 8,
    or a board's price times the server cost overhead); ``facility_kwh`` is the GPUs' energy
    (measured or estimated) times the server power factor and PUE. The low end takes the low
    networking share, the high end the high one.
    """
    hours = _check("gpu_hours", gpu_hours, positive=False)
    price = _check("purchase_usd_per_gpu", purchase_usd_per_gpu)
    life = _check("lifetime_years", lifetime_years)
    util = _check("utilisation", utilisation)
    kwh = _check("facility_kwh", facility_kwh, positive=False)
    rate = _check("usd_per_kwh", usd_per_kwh)
    if util[1] > 1:
        raise InputError("estimator input utilisation: a share of hours cannot exceed 1")
    net = _check("interconnect_cost_fraction", interconnect_cost_fraction, positive=False)
    if net[1] >= 1:
        raise InputError("estimator input interconnect_cost_fraction: need 0 <= fraction < 1")

    def usd(h: float, p: float, y: float, u: float, n: float, e: float, r: float) -> float:
        return h * p / (y * HOURS_PER_YEAR * u) / (1 - n) + e * r

    return _usage(
        id,
        run,
        f"owned/{resource}",
        Unit.USD,
        usd(_mid(hours), _mid(price), _mid(life), _mid(util), _mid(net), _mid(kwh), _mid(rate)),
        usd(hours[0], price[0], life[1], util[1], net[0], kwh[0], rate[0]),
        usd(hours[1], price[1], life[0], util[0], net[1], kwh[1], rate[1]),
        "gpu_hours * purchase_usd_per_gpu / (lifetime_years * 8766 * utilisation)"
        " / (1 - interconnect_cost_fraction) + facility_kwh * usd_per_kwh",
        {
            "gpu_hours_low": hours[0],
            "gpu_hours_high": hours[1],
            "purchase_usd_per_gpu_low": price[0],
            "purchase_usd_per_gpu_high": price[1],
            "purchase_cards": purchase_cards,
            "lifetime_years_low": life[0],
            "lifetime_years_high": life[1],
            "utilisation_low": util[0],
            "utilisation_high": util[1],
            "interconnect_cost_fraction_low": net[0],
            "interconnect_cost_fraction_high": net[1],
            "facility_kwh_low": kwh[0],
            "facility_kwh_high": kwh[1],
            "usd_per_kwh_low": rate[0],
            "usd_per_kwh_high": rate[1],
        },
        "owned_gpu_cost_usd",
        note,
    )


ESTIMATORS: dict[str, Callable[..., Usage]] = {
    f.__name__: f
    for f in (
        pretraining_gpu_hours,
        api_tokens,
        inference_gpu_hours,
        retrain_gpu_hours,
    )
}
"""Estimators by name, as case files refer to them. The energy and owned-cost estimators are
not among them: :mod:`ledger.energy` calls them for every report and audit."""
