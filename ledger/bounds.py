"""Plausibility bounds: the largest value each kind of figure can truly have.

A value past its bound is not a big job but a typo, a unit mix-up or an attack (an sacct elapsed
time of 1e30 s, 1e30 API tokens), and it would swamp every total it joins, so the schema and the
importers refuse it. The bounds sit orders of magnitude above the largest real figures (the
largest training runs used about 1e26 FLOP, 3e7 GPU-hours and 1e14 tokens), so that no real input
ever meets them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ledger.enums import Unit

MAX_SECONDS = 1e10
"""No duration is above 1e10 seconds (about 317 years)."""

_TOKENS = 1e16

MAX_QUANTITY: dict[Unit, float] = {
    Unit.GPU_HOUR: 1e9,
    Unit.GPU_HOUR_BUSY: 1e9,
    Unit.INPUT_TOKEN: _TOKENS,
    Unit.OUTPUT_TOKEN: _TOKENS,
    Unit.THINKING_TOKEN: _TOKENS,
    Unit.CACHED_INPUT_TOKEN: _TOKENS,
    Unit.CACHE_WRITE_TOKEN: _TOKENS,
    Unit.TOKEN: _TOKENS,
    Unit.CALL: 1e13,
    Unit.PERSON_HOUR: 1e7,
    Unit.KWH: 1e11,
    Unit.FLOP: 1e30,
    Unit.DEVICE: 1e8,
    Unit.USD: 1e13,
}
"""The largest quantity one usage can have, per unit: a billion GPU-hours, 1e16 tokens, 1e13
calls, ten million person-hours, 1e11 kWh (100 TWh), 1e30 FLOP, 1e8 devices, $10 trillion."""

MAX_TOKENS_PER_CALL = 1e9
"""No API call reads or writes more than a billion tokens (context windows hold about 1e7)."""

FUTURE_SLACK = timedelta(days=2)
"""A date a file gives may lie at most this far after now (clock skew, time zones)."""


def check_quantity(unit: Unit, value: float | None, name: str = "quantity") -> None:
    """Raise ``ValueError`` where ``value`` is above the bound of ``unit``."""
    bound = MAX_QUANTITY[unit]
    if value is not None and value > bound:
        raise ValueError(
            f"{name} {value:g} {unit.value} is above the plausible bound of {bound:g} per usage"
        )


def check_seconds(value: float | None, name: str = "duration") -> None:
    """Raise ``ValueError`` where a duration in seconds is above :data:`MAX_SECONDS`."""
    if value is not None and value > MAX_SECONDS:
        raise ValueError(
            f"{name} {value:g} s is above the plausible bound of {MAX_SECONDS:g} s (317 years)"
        )


def check_not_future(value: datetime | date | None, name: str) -> None:
    """Raise ``ValueError`` where a date or time lies more than :data:`FUTURE_SLACK` after now."""
    if value is None:
        return
    now = datetime.now(UTC) + FUTURE_SLACK
    late = value > now if isinstance(value, datetime) else value > now.date()
    if late:
        raise ValueError(f"{name} {value.isoformat()} lies in the future")
