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
from pathlib import Path

from claims.card_cost import cost_sentences
from claims.report import AssertionVerdict, BenchmarkCheck, ClaimVerdict, ComparatorCheck, Verdict
from ledger.money import usd

__all__ = [
    "CARD_SUFFIXES",
    "VERDICT_WORDS",
    "article",
    "card_paths",
    "comparison_sentences",
    "cost_sentences",
    "deciding",
    "deciding_checks",
    "plain_paragraph",
    "points",
    "render_card_html",
    "render_card_png",
    "signed",
    "sources",
    "usd",
    "write_card",
]

VERDICT_WORDS = {
    Verdict.SUPPORTED: "Supported",
    Verdict.MISLEADING: "Misleading",
    Verdict.NOT_SUPPORTED: "Not supported",
    Verdict.INCONCLUSIVE: "Inconclusive",
    Verdict.UNVERIFIABLE: "Unverifiable",
}
CARD_SUFFIXES = (".html", ".htm", ".png")
"""What ``receipts check --out`` writes, by the file's suffix."""


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


def article(number: str) -> str:
    """``a`` or ``an`` before a number as it is read aloud in English: ``an`` before eight,
    eighteen, eighty-…, eight hundred…, eleven thousand… (a leading 8, or a leading group of
    thousands that is 11 or 18), ``a`` before every other (``a 12``, ``a 0.6``, ``a 110``)."""
    digits = number.lstrip("+-\u2212").split(".")[0].replace(",", "")
    if digits.startswith("8"):
        return "an"
    return "an" if len(digits) % 3 == 2 and digits[:2] in ("11", "18") else "a"


def named_comparators(a: AssertionVerdict) -> list[ComparatorCheck]:
    """The comparators the words name (else the first listed)."""
    return [c for c in a.comparators if c.role == "named"] or a.comparators[:1]


def deciding_checks(a: AssertionVerdict) -> list[BenchmarkCheck]:
    """The named comparators' benchmark checks that carry a difference test."""
    return [b for c in named_comparators(a) for b in c.benchmarks if b.test is not None]


def _benchmark_sentence(
    a: AssertionVerdict, b: BenchmarkCheck, where: str, subject: str, who: str
) -> str | None:
    """One benchmark's difference in words; ``where`` is "On AIME24" (with "against X" where
    the words name several comparators)."""
    t = b.test
    assert t is not None
    n = min(t.n_subject, t.n_comparator)
    lead = "lead" if t.estimate_points > 0 else "gap"
    span = f"the 95% range runs from {signed(t.ci_low_points)} to {signed(t.ci_high_points)}"
    if b.verdict is Verdict.INCONCLUSIVE:
        size = points(t.estimate_points)
        return (
            f"{where}, {_items(n)} are too few to tell {article(size)} {size}-point "
            f"{lead} from luck: {span} points."
        )
    if b.verdict is Verdict.NOT_SUPPORTED and t.ci_high_points < 0:
        return (
            f"{where} ({_items(n)}), {subject} is {points(t.estimate_points)} points behind "
            f"{who}, more than chance explains ({span})."
        )
    if b.verdict is Verdict.NOT_SUPPORTED:
        return (
            f"{where} ({_items(n)}) the published numbers show no such win over {who} "
            f"({signed(t.estimate_points)} points; {span})."
        )
    if b.verdict is not Verdict.SUPPORTED:
        return None
    if a.relation == "beats" and t.ci_low_points > (a.margin_points or 0.0):
        return (
            f"{where} ({_items(n)}), {subject} is {points(t.estimate_points)} points ahead of "
            f"{who}, more than chance explains ({span})."
        )
    return (
        f"{where} ({_items(n)}) the difference, {signed(t.estimate_points)} points ({span}), "
        "is within what the words allow."
    )


def comparison_sentences(
    a: AssertionVerdict, subject: str, names: Mapping[str, str] | None = None
) -> list[str]:
    """Plain sentences for a comparison or data-efficiency verdict, from its difference tests;
    ``names`` gives display names by registry id (:attr:`ClaimVerdict.names`). Where the words
    name several comparators, each sentence says which."""
    names = names or {}
    named = named_comparators(a)
    if not named:
        return [f"No published score can check this: {a.reason}."]
    subject = names.get(subject, subject)
    out: list[str] = []
    for c in named:
        who = names.get(c.comparator, c.comparator)
        for b in c.benchmarks:
            if b.test is None:
                continue
            bench = names.get(b.test.benchmark, b.test.benchmark)
            where = f"On {bench}" + (f" against {who}" if len(named) > 1 else "")
            if sentence := _benchmark_sentence(a, b, where, subject, who):
                out.append(sentence)
    missing = [b for c in named for b in c.benchmarks if b.test is None]
    if missing:
        out.append(
            f"{len(missing)} benchmark{'s have' if len(missing) > 1 else ' has'} no published "
            "score or size to test."
        )
    if any(b.protocol_mismatch for b in deciding_checks(a)):
        out.append("The two sides were not scored the same way, which the numbers cannot undo.")
    return out or [a.reason[0].upper() + a.reason[1:] + "."]


def plain_paragraph(claim: ClaimVerdict) -> str:
    """What decided the claim's verdict, in sentences a non-statistician can follow."""
    a = deciding(claim)
    if a is None:
        return "The claim has no assertion to check."
    lead = {
        Verdict.SUPPORTED: "The evidence backs the words.",
        Verdict.MISLEADING: "True only under another reading than the words suggest.",
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
    from ledger.files import write_atomic

    write_atomic(path, data)
