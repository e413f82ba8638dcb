"""The bottom line: what a report states first, in two to four plain sentences.

Built from a finished result, never from the ledger's rows: :func:`audit_bottom_line` from a
case's :class:`~ledger.report.Audit` (which published figure covers which scope, what that scope
costs on hardware one owns and the energy and CO2e it drew, and what the wider scopes cost),
:func:`report_bottom_line` from a :class:`~ledger.report.CostReport` of a subject's own runs (its
total by category, what was measured against estimated, what has no price).
:func:`claims.bottom_line.bottom_line` adds one line per claim. Every renderer (the terminal, the
appendix) shows :class:`~ledger.report.BottomLine` as it is; the sentences are the same
everywhere. :func:`hardware_values` says what the GPUs cost whoever bought them (the price-bases
tables and the appendix print it too).

Rules: missing evidence is never $0 (a scope with nothing priced says so, and a total with gaps
says what it leaves out); amounts are rounded for reading (``$3,675``, ``$21k``, ``$3.9M``), the
tables below carry the exact ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal

from ledger.bases import Bases, ScopeBases
from ledger.money import usd_range, usd_rounded
from ledger.names import TOKEN_ROLES, category_name, unit_name
from ledger.report import (
    Audit,
    BottomLine,
    CostLine,
    CostReport,
    HeadlineCheck,
    QuietRun,
    ScopeCost,
    Unpriced,
)
from ledger.schema import Category, Provenance, Record, Unit, Usd

ZERO = Decimal(0)


MAX_SENTENCES = 4
"""The bottom line's sentences at most: the owned-basis sentence is left out (the price-bases
tables still carry it) where the other sentences already take four."""


def amount(value: float) -> str:
    """A quantity for reading: ``6.93``, ``477``, ``12,345``, ``1.97M``, ``3.1e+18``."""
    if value >= 1e12:
        return f"{value:.2g}"
    if value >= 1_000_000:
        return f"{value / 1_000_000:,.2f}M"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}"


def duration(seconds: float) -> str:
    """``26-minute``, ``3-hour``, ``4-day``, ``40-second``: an adjective for a run's length."""
    if seconds < 90:
        return f"{seconds:.0f}-second"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}-minute"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f}-hour"
    return f"{seconds / 86400:.0f}-day"


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def scope_cost(scope: ScopeCost) -> str:
    """What a scope costs in words: the priced range, and what it leaves out; never ``$0`` for
    a scope whose usage has no price."""
    gaps = scope.unpriced_lines + scope.unquantified
    gpu = f"{amount(scope.gpu_hours)} GPU-hours" if scope.gpu_hours else None
    if scope.cost_usd_high == ZERO:
        if gaps and gpu:
            return f"{gpu} that no price card prices"
        return "nothing priced" + (f" ({gaps} items without a price)" if gaps else "")
    text = usd_range(
        scope.cost_usd_low,
        scope.cost_usd_high,
        upper_bound_only=scope.upper_bound_only,
        rounded=True,
    )
    if gaps:
        text += f" (+{gaps} missing)"
    return text


def _figures_sentence(
    scope: ScopeCost, checks: Sequence[HeadlineCheck], walls: Mapping[str, float]
) -> str:
    amounts = list(dict.fromkeys(usd_rounded(c.usd) for c in checks))  # one amount said twice: once
    figures = _join(amounts)
    verb = "describes" if len(amounts) == 1 else "describe"
    noun = "figure" if len(amounts) == 1 else "figures"
    what = []
    if scope.scope in walls:
        what.append(f"a {duration(walls[scope.scope])} run")
    if scope.gpu_hours:
        what.append(f"{amount(scope.gpu_hours)} GPU-hours")
    text = f"The published {noun} {figures} {verb} this scope: {scope.label}"
    if what:
        text += f" ({', '.join(what)})"
    text += f", which costs {scope_cost(scope)} at the price cards"
    if scope.cost_usd_high > ZERO:
        positions = {usd_rounded(c.usd): c.position for c in checks}
        if len(amounts) == 1:
            text += f"; the figure is {positions[amounts[0]]} that range"
        elif len(set(positions.values())) == 1:
            text += f"; each is {checks[0].position} that range"
        else:
            off = [a for a in amounts if positions[a] != "within"]
            text += "; " + _join([f"{a} is {positions[a]} that range" for a in off])
    return text + "."


def _gaps_sentence(unpriced: Sequence[Unpriced], own: str) -> str | None:
    if not unpriced:
        return None
    counts = Counter(
        "not quantified" if u.quantity is None else "without a price card" for u in unpriced
    )
    parts = [f"{n} {what}" for what, n in sorted(counts.items())]
    resources = sorted({u.resource for u in unpriced})
    shown = ", ".join(resources[:4]) + (", …" if len(resources) > 4 else "")
    inherited = sum(1 for u in unpriced if u.subject != own)
    tail = f", {inherited} of them inherited" if inherited else ""
    return (
        f"Missing, not zero: {_join(parts)} ({shown}{tail}); a range that "
        "counts them is a lower bound."
    )


def audit_bottom_line(audit: Audit, walls: Mapping[str, float] | None = None) -> BottomLine:
    """The bottom line of a case's audit, without verdicts.

    Args:
        audit: the audit (:func:`ledger.audit.build_audit`).
        walls: wall time in seconds of scopes that are one run, by scope id
            (:func:`scope_walls`), to say "a 26-minute run".
    """
    walls = walls or {}
    scopes = {s.scope: s for s in audit.scopes}
    by_scope: dict[str, list[HeadlineCheck]] = {}
    for check in audit.headline_figures:
        by_scope.setdefault(check.scope, []).append(check)
    sentences = [
        _figures_sentence(scopes[scope], sorted(checks, key=lambda c: c.usd), walls)
        for scope, checks in by_scope.items()
        if scope in scopes
    ]
    after_figures = len(sentences)
    others = [s for s in audit.scopes if s.scope not in by_scope]
    if others:
        lead = "The other scopes" if sentences else f"{audit.subject} by scope"
        sentences.append(
            f"{lead}: " + "; ".join(f"{s.label}, {scope_cost(s)}" for s in others) + "."
        )
    if not audit.scopes:
        sentences.append(_categories_sentence(audit.subject, _all_lines(audit.categories)))
    gaps = _gaps_sentence(audit.unpriced, audit.subject)
    if gaps:
        sentences.append(gaps)
    if audit.bases is not None and len(sentences) < MAX_SENTENCES:
        named = set(by_scope) if after_figures == 1 else set()
        owned = bases_sentence(audit.bases, walls, named=named)
        if owned:
            sentences.insert(after_figures, owned)
    return BottomLine(sentences=sentences)


def _all_lines(groups: Iterable[object]) -> list[CostLine]:
    return [line for g in groups for line in getattr(g, "lines", [])]


def _categories_sentence(subject: str, lines: Sequence[CostLine]) -> str:
    own = [line for line in lines if not line.inherited]
    totals: dict[Category, list[Decimal]] = {}
    bounded: dict[Category, bool] = {}  # every priced line only a published upper bound
    for line in own:
        if line.cost_usd_low is not None and line.cost_usd_high is not None:
            pair = totals.setdefault(line.category, [ZERO, ZERO])
            pair[0] += line.cost_usd_low
            pair[1] += line.cost_usd_high
            bounded[line.category] = bounded.get(line.category, True) and line.upper_bound_only
    runs = len({line.run for line in own})
    if not totals:
        return f"{subject}: nothing of its own has a price" + (
            f" ({runs} runs recorded usage without a price card)." if runs else "."
        )
    low = sum((p[0] for p in totals.values()), ZERO)
    high = sum((p[1] for p in totals.values()), ZERO)
    parts = [
        f"{category_name(c)} " + usd_range(*totals[c], upper_bound_only=bounded[c], rounded=True)
        for c in Category
        if c in totals
    ]
    whole = usd_range(low, high, upper_bound_only=all(bounded.values()), rounded=True)
    text = f"{subject}'s own work costs {whole} at the price cards"
    text += f" over {runs} run{'s' if runs != 1 else ''}"
    if len(parts) > 1:
        text += f" ({'; '.join(parts)})"
    inherited = [line for line in lines if line.inherited and line.cost_usd_high is not None]
    if inherited:
        ancestors = _join(sorted({line.subject for line in inherited}))
        i_low = sum((line.cost_usd_low or ZERO for line in inherited), ZERO)
        i_high = sum((line.cost_usd_high or ZERO for line in inherited), ZERO)
        every = all(line.upper_bound_only for line in inherited)
        adds = usd_range(i_low, i_high, upper_bound_only=every, rounded=True)
        text += f"; the inherited {ancestors} adds {adds}"
    return text + "."


def _quantities_sentence(lines: Sequence[CostLine]) -> str | None:
    own = [line for line in lines if not line.inherited]
    sums: dict[tuple[Provenance, str], float] = {}
    for line in own:
        if line.unit is Unit.USD:
            continue
        what = unit_name(line.unit)
        if line.unit is Unit.TOKEN:
            what = f"{TOKEN_ROLES[line.category]} tokens"
        key = (line.provenance, what)
        sums[key] = sums.get(key, 0.0) + line.quantity
    if not sums:
        return None
    parts = []
    for provenance in Provenance:
        found = [f"{amount(q)} {what}" for (p, what), q in sums.items() if p is provenance]
        if found:
            parts.append(f"{provenance.value}: {', '.join(found)}")
    return _sentence("; ".join(parts))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _quiet_sentence(quiet: Sequence[QuietRun]) -> str | None:
    if not quiet:
        return None
    nothing = [q for q in quiet if q.recorded_nothing]
    no_gpu = [q for q in quiet if not q.recorded_nothing and q.parent_run is None]
    parts = []
    if nothing:
        why = sorted({q.why for q in nothing if q.why})
        parts.append(
            f"{len(nothing)} run{'s' if len(nothing) > 1 else ''} recorded nothing"
            + (f" ({'; '.join(why)})" if why else "")
        )
    if no_gpu:
        parts.append(f"{len(no_gpu)} recorded no GPU time")
    covered = [q for q in quiet if q.parent_run is not None and not q.recorded_nothing]
    if covered:
        parts.append(
            f"{len(covered)} ran inside a wrapped run whose GPU time covers it (counted once)"
        )
    return _sentence(_join(parts))


def report_bottom_line(report: CostReport) -> BottomLine:
    """The bottom line of a subject's own runs: its total by category (and what it inherits),
    what was measured, reported and estimated, what has no price, and runs that recorded nothing.
    Where the subject has named scopes, each scope's cost too."""
    lines = _all_lines(report.groups)
    sentences = [_categories_sentence(report.subject, lines)]
    if report.scopes:
        sentences.append(
            "By scope: " + "; ".join(f"{s.label}, {scope_cost(s)}" for s in report.scopes) + "."
        )
    for extra in (
        _quantities_sentence(lines),
        _gaps_sentence(report.unpriced, report.subject),
        _quiet_sentence(report.quiet_runs),
    ):
        if extra:
            sentences.append(extra)
    return BottomLine(sentences=sentences)


class HardwareValue(Record):
    """What the GPUs of one device model cost whoever bought them, from the purchase-price cards
    of the owned basis (:class:`ledger.bases.OwnedLine` estimates)."""

    resource: str
    """The GPU resource (``gpu/H100``)."""
    usd_per_device_low: Usd
    """Cheapest purchase price per GPU, with its share of the server (US dollars)."""
    usd_per_device_high: Usd
    """Dearest purchase price per GPU."""
    cards: list[str]
    """The purchase-price cards the range comes from."""
    scope: str | None = None
    """A scope that is one run on this device model, where one is: the devices below are its."""
    scope_label: str | None = None
    """That scope in words."""
    devices: int | None = None
    """GPUs the run held (its GPU-hours over its wall time), ``None`` where no scope is one run
    of known length."""
    usd_low: Usd | None = None
    """``devices`` times the cheapest price; ``None`` without a device count."""
    usd_high: Usd | None = None
    """``devices`` times the dearest price."""


def _devices(scope: ScopeBases, wall_s: float | None) -> int | None:
    """GPUs held by a one-run scope: allocated GPU-hours over wall hours, where that is a whole
    number (a reported run of 16 GPUs for 26 minutes gives 6.93 GPU-hours)."""
    if not wall_s or scope.gpu_hours_low is None or scope.gpu_hours_low != scope.gpu_hours_high:
        return None
    count = scope.gpu_hours_low / (wall_s / 3600)
    whole = round(count)
    return whole if whole >= 1 and abs(count - whole) <= 0.01 * whole else None


def hardware_values(bases: Bases, walls: Mapping[str, float] | None = None) -> list[HardwareValue]:
    """The purchase value of each GPU model the bases price on the owned basis, with the device
    count of the narrowest one-run scope that used it (``walls``: wall seconds by scope id,
    :func:`ledger.summary.scope_walls`). Empty where no owned line has a purchase price."""
    walls = walls or {}
    found: dict[str, HardwareValue] = {}
    for scope in bases.scopes:
        resources = {line.resource for line in scope.owned_lines}
        for line in scope.owned_lines:
            inputs = line.estimate.inputs
            low, high = (
                inputs.get("purchase_usd_per_gpu_low"),
                inputs.get("purchase_usd_per_gpu_high"),
            )
            if not isinstance(low, int | float) or not isinstance(high, int | float):
                continue
            known = found.get(line.resource)
            devices = _devices(scope, walls.get(scope.scope)) if len(resources) == 1 else None
            if known is not None and (known.devices is not None or devices is None):
                continue
            cards = str(inputs.get("purchase_cards", ""))
            value = HardwareValue(
                resource=line.resource,
                usd_per_device_low=Decimal(str(low)),
                usd_per_device_high=Decimal(str(high)),
                cards=sorted(c.strip() for c in cards.split(",") if c.strip()),
            )
            if devices is not None:
                value = value.model_copy(
                    update={
                        "scope": scope.scope,
                        "scope_label": scope.label,
                        "devices": devices,
                        "usd_low": devices * value.usd_per_device_low,
                        "usd_high": devices * value.usd_per_device_high,
                    }
                )
            found[line.resource] = value
    return list(found.values())


def device_name(resource: str) -> str:
    """``H100`` for ``gpu/H100``."""
    return resource.removeprefix("gpu/")


def hardware_sentence(values: Sequence[HardwareValue]) -> str | None:
    """What the GPUs cost their owner, in one sentence; ``None`` where nothing records it."""
    parts = []
    for v in values:
        name = device_name(v.resource)
        each = usd_range(v.usd_per_device_low, v.usd_per_device_high, rounded=True)
        text = (
            f"an {name} costs {each} to buy"
            if name[:1] in "AEFHILMNORSX"
            else (f"a {name} costs {each} to buy")
        )
        if v.devices is not None and v.usd_low is not None and v.usd_high is not None:
            text += (
                f", so the {v.devices} {name} of {v.scope_label} are worth "
                f"{usd_range(v.usd_low, v.usd_high, rounded=True)}"
            )
        parts.append(text)
    if not parts:
        return None
    return _sentence(
        "What the GPUs cost their owner: "
        + "; ".join(parts)
        + f" (purchase price with the GPU's share of its server; {_cards(values)})"
    )


def _cards(values: Sequence[HardwareValue]) -> str:
    count = len({card for v in values for card in v.cards})
    return f"{count} purchase-price card{'s' if count != 1 else ''}"


def scaled_range(
    low: float,
    high: float,
    unit: str,
    large_unit: str,
    digits: Callable[[float], str] = amount,
) -> str:
    """``7.29–14 kWh``; in ``large_unit`` (a thousand ``unit``) from 10,000 ``unit`` up
    (``2,073–6,620 MWh``); one figure where both ends read alike."""
    if high >= 10_000:
        low, high, unit = low / 1000, high / 1000, large_unit
    a, b = digits(low), digits(high)
    return f"{a if a == b else f'{a}–{b}'} {unit}"


def kg_co2e(low: float, high: float) -> str:
    """``2.69–5.16 kg CO2e``; tonnes from 10 t up (``766–2,446 t CO2e``)."""
    return scaled_range(low, high, "kg", "t") + " CO2e"


def kwh(low: float, high: float) -> str:
    """``7.29–14 kWh``; MWh from 10 MWh up."""
    return scaled_range(low, high, "kWh", "MWh")


def _cheapest(bases: Bases) -> ScopeBases | None:
    """The cheapest scope on the rental basis that has GPU energy and an owned price."""
    candidates = [
        s
        for s in bases.scopes
        if s.rental.cost_usd_high is not None
        and s.owned.cost_usd_low is not None
        and s.owned.cost_usd_high is not None
        and s.facility_kwh_low is not None
        and s.facility_kwh_high is not None
        and s.kg_co2e_low is not None
        and s.kg_co2e_high is not None
    ]
    return min(candidates, key=lambda s: s.rental.cost_usd_high or ZERO, default=None)


def bases_sentence(
    bases: Bases, walls: Mapping[str, float] | None = None, named: Iterable[str] = ()
) -> str | None:
    """The cheapest scope on the owned basis beside the rental one, with its energy and CO2e:
    "Owned rather than rented, the 16 H100 of that scope, worth $460k–$921k to their owner, cost
    $6.18–$19.28 amortised with electricity, against $13.80–$85.21 rented; they drew 7.29–14 kWh
    at the facility (estimated), 2.69–5.16 kg CO2e." ``named``: scopes the sentence before
    named ("that scope"). ``None`` where no scope has both bases and an energy figure."""
    scope = _cheapest(bases)
    if scope is None:
        return None
    assert scope.owned.cost_usd_low is not None and scope.owned.cost_usd_high is not None
    assert scope.rental.cost_usd_low is not None and scope.rental.cost_usd_high is not None
    assert scope.facility_kwh_low is not None and scope.facility_kwh_high is not None
    assert scope.kg_co2e_low is not None and scope.kg_co2e_high is not None
    where = "that scope" if scope.scope in set(named) else f"“{scope.label}”"
    resources = {line.resource for line in scope.owned_lines}
    value = next(
        (
            v
            for v in hardware_values(bases, walls)
            if v.scope == scope.scope and v.usd_low is not None and v.usd_high is not None
        ),
        None,
    )
    if value is not None and value.usd_low is not None and value.usd_high is not None:
        gpus = (
            f"the {value.devices} {device_name(value.resource)} of {where}, worth "
            f"{usd_range(value.usd_low, value.usd_high, rounded=True)} to their owner,"
        )
    elif len(resources) == 1:
        gpus = f"the {device_name(resources.pop())} GPUs of {where}"
    else:
        gpus = f"the GPUs of {where}"
    owned = usd_range(scope.owned.cost_usd_low, scope.owned.cost_usd_high, rounded=True)
    rented = usd_range(scope.rental.cost_usd_low, scope.rental.cost_usd_high, rounded=True)
    text = (
        f"Owned rather than rented, {gpus} cost {owned} amortised with electricity, against "
        f"{rented} rented"
    )
    if scope.owned.unpriced_gpu_lines:
        text += f" ({scope.owned.unpriced_gpu_lines} GPU line(s) without a purchase price left out)"
    how = " and ".join(p.value for p in scope.energy_provenance) or "estimated"
    text += (
        f"; they drew {kwh(scope.facility_kwh_low, scope.facility_kwh_high)} at the facility "
        f"({how}), {kg_co2e(scope.kg_co2e_low, scope.kg_co2e_high)}"
    )
    if scope.unmetered_gpu_lines:
        text += f", without {scope.unmetered_gpu_lines} GPU line(s) that have no power figure"
    return text + "."
