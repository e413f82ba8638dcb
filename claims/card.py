"""The verdict card: one claim, for a reader who is not a statistician, as one shareable file.

A card holds the quote, the verdict, a plain-language paragraph, the chart that decided it and
the sources. :func:`plain_paragraph` writes the paragraph from the verdict's structured evidence
by general rules (docs/claims.md, "Verdict cards"): the sample size against the width of a
difference's interval, a cost scope narrower than the words, a figure that holds only at the
cheap end of the prices, and money nobody priced. :func:`render_card_html` makes one
self-contained HTML page (inline CSS, the chart as an inline SVG data URI, nothing fetched);
:func:`render_card_png` draws the same card as a PNG (:mod:`claims.card_chart`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from claims.report import AssertionVerdict, BenchmarkCheck, ClaimVerdict, ScopeCheck, Verdict

VERDICT_WORDS = {
    Verdict.SUPPORTED: "Supported",
    Verdict.MISLEADING: "Misleading",
    Verdict.NOT_SUPPORTED: "Not supported",
    Verdict.INCONCLUSIVE: "Inconclusive",
    Verdict.UNVERIFIABLE: "Unverifiable",
}
CARD_SUFFIXES = (".html", ".htm", ".png")
"""What ``receipts check --out`` writes, by the file's suffix."""


def usd(value: Decimal | float) -> str:
    """``$27.66``, ``$3,675``, ``$5.58M``."""
    v = float(value)
    if v >= 1e6:
        return f"${v / 1e6:,.2f}M"
    if v >= 1000:
        return f"${v:,.0f}"
    return f"${v:,.2f}"


def points(value: float) -> str:
    """``12``, ``3.3``: a size in points, no sign."""
    size = abs(value)
    return f"{size:.0f}" if size >= 10 else f"{size:.1f}"


def signed(value: float) -> str:
    """``+12.1``, ``−3.3`` with a true minus sign."""
    text = f"{value:+.1f}"
    return text.replace("-", "\u2212") if float(text) else "0.0"


def deciding(claim: ClaimVerdict) -> AssertionVerdict | None:
    """The assertion whose verdict is the claim's (the first, in the claim's order)."""
    return next((a for a in claim.assertions if a.verdict is claim.verdict), None)


def _items(n: int) -> str:
    return f"{n:,} question{'s' if n != 1 else ''}"


def deciding_checks(a: AssertionVerdict) -> list[BenchmarkCheck]:
    """The named comparator's benchmark checks that carry a difference test."""
    named = [c for c in a.comparators if c.role == "named"] or a.comparators[:1]
    return [b for c in named for b in c.benchmarks if b.test is not None]


def comparison_sentences(
    a: AssertionVerdict, subject: str, names: Mapping[str, str] | None = None
) -> list[str]:
    """Plain sentences for a comparison or data-efficiency verdict, from its difference tests;
    ``names`` gives display names by registry id (:attr:`ClaimVerdict.names`)."""
    names = names or {}
    named = [c for c in a.comparators if c.role == "named"] or a.comparators[:1]
    if not named:
        return [f"No published score can check this: {a.reason}."]
    who = names.get(named[0].comparator, named[0].comparator)
    subject = names.get(subject, subject)
    out: list[str] = []
    for b in deciding_checks(a):
        t = b.test
        assert t is not None
        bench = names.get(t.benchmark, t.benchmark)
        n = min(t.n_subject, t.n_comparator)
        lead = "lead" if t.estimate_points > 0 else "gap"
        span = f"the 95% range runs from {signed(t.ci_low_points)} to {signed(t.ci_high_points)}"
        if b.verdict is Verdict.INCONCLUSIVE:
            size = points(t.estimate_points)
            article = "an" if size.startswith("8") or size.split(".")[0] in ("11", "18") else "a"
            out.append(
                f"On {bench}, {_items(n)} are too few to tell {article} {size}-point "
                f"{lead} from luck: {span} points."
            )
        elif b.verdict is Verdict.NOT_SUPPORTED and t.ci_high_points < 0:
            out.append(
                f"On {bench} ({_items(n)}), {subject} is {points(t.estimate_points)} "
                f"points behind {who}, more than chance explains ({span})."
            )
        elif b.verdict is Verdict.NOT_SUPPORTED:
            out.append(
                f"On {bench} ({_items(n)}) the published numbers show no such win over "
                f"{who} ({signed(t.estimate_points)} points; {span})."
            )
        elif b.verdict is Verdict.SUPPORTED:
            out.append(
                f"On {bench} ({_items(n)}) the difference, {signed(t.estimate_points)} "
                f"points ({span}), is within what the words allow."
            )
    missing = [b for c in named for b in c.benchmarks if b.test is None]
    if missing:
        out.append(
            f"{len(missing)} benchmark{'s have' if len(missing) > 1 else ' has'} no published "
            "score or size to test."
        )
    if any(b.protocol_mismatch for b in deciding_checks(a)):
        out.append("The two sides were not scored the same way, which the numbers cannot undo.")
    return out or [a.reason[0].upper() + a.reason[1:] + "."]


def _scope(a: AssertionVerdict, *readings: str) -> ScopeCheck | None:
    return next((s for s in a.scopes if s.reading in readings), None)


def cost_sentences(a: AssertionVerdict) -> list[str]:
    """Plain sentences for a cost verdict: the scope the words imply against the one the
    figure covers, the price it needs, and what nobody priced."""
    out: list[str] = []
    covered = _scope(a, "narrower", "stated", "other_subject")
    implied = _scope(a, "implied")
    if covered is not None and covered.reading == "narrower" and implied is not None:
        out.append(
            f"The figure covers only the {covered.label} "
            f"({usd(covered.cost_usd_low)}\u2013{usd(covered.cost_usd_high)}); what the words "
            f"describe, {implied.label}, cost {usd(implied.cost_usd_low)}\u2013"
            f"{usd(implied.cost_usd_high)}."
        )
    elif covered is not None:
        out.append(
            f"What the figure covers, the {covered.label}, cost {usd(covered.cost_usd_low)}"
            f"\u2013{usd(covered.cost_usd_high)} across the prices of the time."
        )
    rated = covered or implied
    if rated is not None and rated.implied_usd_per_gpu_hour is not None:
        rate = rated.implied_usd_per_gpu_hour
        typical = rated.representative_usd_per_gpu_hour
        low = rated.card_usd_per_gpu_hour_low
        within, total = rated.cards_within, rated.cards_total
        if low is not None and rate < low and not within:
            out.append(
                f"It needs {usd(rate)} per GPU-hour, cheaper than every one of the {total} "
                f"price cards of the time (the cheapest: {usd(low)})."
            )
        elif typical is not None and within is not None and total and within < total:
            out.append(
                f"It needs {usd(rate)} per GPU-hour; the typical price was {usd(typical)}, and "
                f"the figure holds at only {within} of the {total} price cards of the time."
            )
    gaps = sorted({g for s in a.scopes if s.reading in ("implied", "stated") for g in s.gaps})
    if gaps:
        out.append(
            f"{len(gaps)} cost{'s' if len(gaps) > 1 else ''} nobody priced "
            f"({gaps[0]}{', …' if len(gaps) > 1 else ''}) would only add to the total."
        )
    return out or [a.reason[0].upper() + a.reason[1:] + "."]


def plain_paragraph(claim: ClaimVerdict) -> str:
    """What decided the claim's verdict, in sentences a non-statistician can follow."""
    a = deciding(claim)
    if a is None:
        return "The claim has no assertion to check."
    lead = {
        Verdict.SUPPORTED: "The evidence backs the words.",
        Verdict.MISLEADING: "True only under a narrower reading than the words suggest.",
        Verdict.NOT_SUPPORTED: "The evidence contradicts the words.",
        Verdict.INCONCLUSIVE: "There is evidence, but too little to decide.",
        Verdict.UNVERIFIABLE: "Nothing published can check the words.",
    }[claim.verdict]
    if a.kind == "cost":
        body = cost_sentences(a)
    elif a.kind in ("comparison", "data_efficiency") and a.comparators:
        body = comparison_sentences(a, claim.subject, claim.names)
    else:
        body = [a.reason[0].upper() + a.reason[1:] + "."]
    others = [
        f"Also checked: \u201c{o.text}\u201d, {VERDICT_WORDS[o.verdict].lower()}."
        for o in claim.assertions
        if o is not a
    ]
    return " ".join([lead, *body[:4], *others[:3]])


def sources(claim: ClaimVerdict) -> list[str]:
    """The quote's source, then every citation of the deciding differences."""
    s = claim.source
    first = ", ".join(x for x in (s.outlet, s.author, str(s.date) if s.date else None) if x)
    out = [first + (f" ({s.url})" if s.url else "")]
    a = deciding(claim)
    if a is not None:
        for b in deciding_checks(a):
            assert b.test is not None
            out.append(f"{claim.names.get(b.test.benchmark, b.test.benchmark)}: {b.test.citation}")
    return list(dict.fromkeys(out))


def _href(url: str | None) -> str | None:
    return url if url and url.lower().startswith(("https://", "http://")) else None


def render_card_html(claim: ClaimVerdict) -> str:
    """The card as one self-contained HTML page (no script, nothing fetched)."""
    import jinja2

    from claims.card_chart import chart_svg
    from ledger.printable import printable

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("claims", "data/card"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    svg = chart_svg(claim)
    chart = None if svg is None else base64.b64encode(svg[0]).decode("ascii")
    return printable(
        env.get_template("card.html.j2").render(
            c=claim,
            verdict=VERDICT_WORDS[claim.verdict],
            paragraph=plain_paragraph(claim),
            chart=chart,
            chart_caption=svg[1] if svg else None,
            sources=sources(claim),
            url=_href(claim.source.url),
            versions=claim.versions,
        )
    )


def render_card_png(claim: ClaimVerdict) -> bytes:
    """The card as a PNG (1200 pixels wide): quote, verdict, paragraph, chart, sources."""
    from claims.card_chart import card_png

    return card_png(claim, VERDICT_WORDS[claim.verdict], plain_paragraph(claim), sources(claim))


def card_paths(out: Path, claims: Sequence[ClaimVerdict]) -> list[tuple[Path, ClaimVerdict]]:
    """Where each claim's card goes: ``out`` for one claim; ``<stem>-<claim>.<suffix>`` beside
    it for several (the claim id's ``/`` as ``-``)."""
    if len(claims) == 1:
        return [(out, claims[0])]
    return [(out.with_name(f"{out.stem}-{c.id.replace('/', '-')}{out.suffix}"), c) for c in claims]


def write_card(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and move it into place.

    Raises:
        LedgerError: the file cannot be written (the temporary file is removed).
    """
    import os
    import tempfile

    from ledger.errors import LedgerError

    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except OSError as exc:
        raise LedgerError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
