"""Building the appendix: one call that reads the ledger once and composes every result.

:func:`build_appendix` is the one entry point the commands call. It reuses the other packages'
builders (the cost audit, the funnel report, the eval summaries, the claims engine) and does the
little arithmetic of its own (runs, contrast, intervals, fingerprint) before any renderer runs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence

from claims.report import ClaimVerdict
from ledger.audit import build_audit, price_book
from ledger.bases import Bases
from ledger.cases import bundled_case_names, load_case
from ledger.enums import Unit
from ledger.errors import NotFoundError
from ledger.prices import PriceBook
from ledger.report import Audit
from ledger.schema import Case, PriceCard, Usage, utcnow
from ledger.store import Ledger
from receipts.appendix.methods import gpu_traces, gpu_traces_note, methods, usage_units
from receipts.appendix.runs import METERED_UNITS, contrast, run_rows
from receipts.appendix.schema import Appendix, EnergyRow, Fingerprint
from receipts.appendix.scores import eval_summaries, published_scores


def case_for(ledger: Ledger, subject: str) -> Case:
    """The bundled case that audits ``subject``, else a bare case named after the subject.

    Raises:
        NotFoundError: the ledger has no such subject (the message says how to load one).
    """
    bundled = [name for name in bundled_case_names() if load_case(name).subject == subject]
    try:
        found = ledger.subject(subject)
    except NotFoundError as exc:
        hint = (
            f"`receipts audit {bundled[0]}` loads the bundled case that has it"
            if bundled
            else "load its case first (`receipts load FILE`)"
        )
        raise NotFoundError(f"{exc}; {hint}") from None
    if bundled:
        return load_case(bundled[0])
    title = found.name + (f": {found.description}" if found.description else "")
    return Case(
        schema_version=1,
        id=subject,
        title=title,
        subject=subject,
        subjects=[found],
        runs=[],
        usages=[],
    )


def fingerprint(ledger: Ledger, cards: Sequence[PriceCard], workdir: str | None) -> Fingerprint:
    """The ledger's head, the version, the cards used and the commit of ``workdir``."""
    from probes.run.session import git_commit
    from receipts import version

    seq, head = ledger.head()
    lines = "\n".join(card.model_dump_json() for card in sorted(cards, key=lambda c: c.id))
    return Fingerprint(
        ledger_seq=seq,
        ledger_head=head,
        package_version=version(),
        git_commit=git_commit(workdir or os.getcwd()),
        price_cards=sorted(card.id for card in cards),
        price_cards_sha256=hashlib.sha256(lines.encode()).hexdigest(),
        generated_at=utcnow(),
        verify_command=f"receipts verify --head {head}",
    )


def energy_rows(bases: Bases | None, inherited: Iterable[str]) -> list[EnergyRow]:
    """Each run's energy, emissions and owned cost per GPU model, once whichever scopes count
    it; the ancestors' runs (``inherited``: their ids) first."""
    ancestors = set(inherited)
    if bases is None:
        return []
    rows: dict[tuple[str, str], EnergyRow] = {}
    for scope in bases.scopes:
        owned = {(o.run, o.resource): o for o in scope.owned_lines}
        for e in scope.energy_lines:
            if (e.run, e.resource) in rows:
                continue
            o = owned.get((e.run, e.resource))
            rows[(e.run, e.resource)] = EnergyRow(
                run=e.run,
                resource=e.resource,
                inherited=e.run in ancestors,
                provenance=e.provenance,
                gpu_kwh_low=e.gpu_kwh_low,
                gpu_kwh_high=e.gpu_kwh_high,
                facility_kwh_low=e.facility_kwh_low,
                facility_kwh_high=e.facility_kwh_high,
                kg_co2e_low=e.kg_co2e_low,
                kg_co2e_high=e.kg_co2e_high,
                owned_usd_low=o.cost_usd_low if o else None,
                owned_usd_high=o.cost_usd_high if o else None,
            )
    return sorted(rows.values(), key=lambda r: not r.inherited)


def build_appendix(
    ledger: Ledger,
    subject: str | None = None,
    *,
    case: Case | None = None,
    audit: Audit | None = None,
    claims: Sequence[ClaimVerdict] | None = None,
    book: PriceBook | None = None,
    workdir: str | None = None,
) -> Appendix:
    """The audit appendix of a subject already in the ledger: its bottom line, costs and price
    bases, runs, funnel, evals, claims, methods and fingerprint. The price cards it lists and
    fingerprints are those that priced a line plus the owned basis' purchase-price and
    electricity cards.

    Args:
        subject: the subject; by default the case's.
        case: the case it belongs to (title, claim set); found from the subject where not given.
        audit: the case's cost audit, where the caller has built it already.
        claims: verdicts on the case's claims, where the caller has checked them already.
        book: the price book; the bundled cards plus the ledger's by default.
        workdir: the directory whose git commit goes into the fingerprint (the current one).

    Raises:
        NotFoundError: the subject is not in the ledger.
    """
    from claims.bottom_line import bottom_line
    from claims.cli import case_claims
    from claims.registry import load_registry
    from ledger.bottom_line import hardware_values
    from ledger.funnel import funnel_report
    from ledger.summary import scope_walls

    if case is None:
        if subject is None:
            raise NotFoundError("name a subject or a case")
        case = case_for(ledger, subject)
    subject = subject or case.subject
    if case.subject != subject:
        case = case.model_copy(update={"subject": subject})
    book = book or price_book(ledger)
    audit = audit or build_audit(ledger, case, book)
    verdicts = list(case_claims(case.id, ledger) if claims is None else claims)
    walls = scope_walls(ledger, audit)
    lineage = audit.lineage
    runs = [run for s in reversed(lineage) for run in ledger.runs(s)]
    usages: list[Usage] = [u for s in reversed(lineage) for u in ledger.usages(s)]
    lines = [line for group in audit.categories for line in group.lines]
    measured = usage_units(usages, METERED_UNITS)
    rows = run_rows(runs, subject, lines, measured, audit.unpriced)
    evals = eval_summaries(ledger, [r for r in runs if r.subject == subject])
    try:
        funnel = funnel_report(ledger, subject, book=book)
    except NotFoundError:
        funnel = None
    traces = gpu_traces(measured)
    found = ledger.subject(subject)
    hardware = hardware_values(audit.bases, walls) if audit.bases is not None else []
    card_ids = set(audit.price_cards) | {card for h in hardware for card in h.cards}
    if audit.bases is not None:
        card_ids |= set(audit.bases.electricity_cards)
    cards = [card for card in book.cards if card.id in card_ids]
    gpus = {
        line.resource
        for line in lines
        if not line.inherited and line.unit is Unit.GPU_HOUR and line.resource.startswith("gpu/")
    }
    gpu_prices = sorted(
        (card for card in book.cards if card.resource in gpus and card.unit is Unit.GPU_HOUR),
        key=lambda card: (card.resource, card.date, card.price_usd / card.per, card.id),
    )
    return Appendix(
        case=case.id,
        title=case.title,
        subject=subject,
        subject_name=found.name,
        subject_description=found.description,
        lineage=lineage,
        bottom_line=bottom_line(audit, verdicts, walls),
        audit=audit,
        hardware=hardware,
        energy=energy_rows(audit.bases, [r.id for r in rows if r.inherited]),
        contrast=contrast(audit.categories),
        runs=rows,
        funnel=funnel,
        evals=evals,
        published_scores=published_scores(load_registry(), subject, verdicts, evals),
        claims=verdicts,
        gpu_traces=traces,
        gpu_traces_note=gpu_traces_note(traces, rows),
        methods=methods(rows, usages, book, sorted(card_ids)),
        gpu_prices=gpu_prices,
        fingerprint=fingerprint(ledger, cards, workdir),
    )
