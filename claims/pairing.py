"""Which two published scores a comparison uses: like-for-like where one table has both.

A comparison of two published aggregates is only as fair as their protocols. Where one table
scores both sides under one protocol (an independent re-evaluation of both models, or an authors'
table that ran both), that pair decides. Otherwise each side's preferred headline score is used,
typically from different tables: the fallback, flagged in the verdict. A claim may pin a table or
a protocol; the rules are in docs/claims.md ("Like-for-like scores").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from claims.registry import Registry
from claims.schema import Origin, Protocol, ProtocolKind, Score

_SAMPLED = (ProtocolKind.PASS_AT_1, ProtocolKind.CONS_AT_K)


@dataclass(frozen=True)
class Pair:
    """The subject's and the comparator's score on one benchmark, and how they were chosen."""

    subject: Score | None
    comparator: Score | None
    like_for_like: bool
    """Both from one table, both its own measurements (none copied), under one protocol."""

    @property
    def tables_differ(self) -> bool:
        """Whether the two scores come from different tables (the flagged fallback)."""
        return (
            self.subject is not None
            and self.comparator is not None
            and self.subject.table != self.comparator.table
        )


def _attempts(p: Protocol) -> int:
    """Answers that count per item: k for cons@k, one for every single-answer protocol."""
    if p.kind is ProtocolKind.CONS_AT_K:
        return p.samples_k or p.samples_k_max or 2
    return 1


def samples_agree(a: Protocol, b: Protocol) -> bool:
    """Whether two sample counts can be the same: equal, or a fixed k within the other's stated
    maximum ("over 64" and "over up to 64"), or two maxima (the actual k are unknown). A stated
    count against an unstated one is not known to agree."""
    if (a.samples_k, a.samples_k_max) == (b.samples_k, b.samples_k_max):
        return True
    if a.samples_k and b.samples_k:
        return a.samples_k == b.samples_k
    if a.samples_k and b.samples_k_max:
        return a.samples_k <= b.samples_k_max
    if b.samples_k and a.samples_k_max:
        return b.samples_k <= a.samples_k_max
    return bool(a.samples_k_max and b.samples_k_max)


def protocol_difference(
    subject: Protocol, comparator: Protocol
) -> tuple[bool, Literal["subject", "comparator"] | None]:
    """Whether the protocols differ, and which side gets more attempts per item.

    An unstated protocol is not a mismatch (nothing is known); greedy against pass@1 over k
    samples is one (flagged), but favours neither side: both score single answers. Sample
    counts that can be equal (:func:`samples_agree`) are no mismatch.
    """
    if ProtocolKind.UNKNOWN in (subject.kind, comparator.kind):
        return False, None
    mismatch = subject.kind is not comparator.kind or (
        subject.kind in _SAMPLED and not samples_agree(subject, comparator)
    )
    a, b = _attempts(subject), _attempts(comparator)
    favours: Literal["subject", "comparator"] | None = None
    if a != b:
        favours = "subject" if a > b else "comparator"
    return mismatch, favours


def one_protocol(a: Protocol, b: Protocol) -> bool:
    """Whether two scores of one table were produced under one protocol: the same kind (two
    unstated ones in one table count as the table's one protocol) and agreeing samples."""
    return a.kind is b.kind and not protocol_difference(a, b)[0]


def fits(protocol: Protocol, pin: Protocol) -> bool:
    """Whether a score's protocol is the pinned one: the same kind, and the samples,
    temperature and top_p where the pin states them."""
    if protocol.kind is not pin.kind:
        return False
    if (pin.samples_k or pin.samples_k_max) and not samples_agree(protocol, pin):
        return False
    return all(
        getattr(pin, f) is None or getattr(protocol, f) == getattr(pin, f)
        for f in ("temperature", "top_p")
    )


def _usable(score: Score, pin: Protocol | None) -> bool:
    return pin is None or fits(score.protocol, pin)


def _own(score: Score) -> bool:
    """A table's own measurement in its default configuration (not copied from elsewhere)."""
    return score.setting is None and score.origin is not Origin.CITED


def like_for_like(
    reg: Registry, subject: str, comparator: str, bench: str, pin: Protocol | None = None
) -> Pair | None:
    """The best pair of scores that one table gives both sides under one protocol, or ``None``.

    Preference: a table that published its own interval for the pair; single-answer protocols
    before cons@k; pairs measured by neither side's developer (independent re-evaluations)
    before the developers' own tables; then file order.
    """
    candidates = []
    for order, table in enumerate(reg.shared_tables(subject, comparator)):
        subs = [s for s in reg.scores_for(subject, bench, table) if _own(s) and _usable(s, pin)]
        comps = [s for s in reg.scores_for(comparator, bench, table) if _own(s) and _usable(s, pin)]
        pair = next(
            ((s, c) for s in subs for c in comps if one_protocol(s.protocol, c.protocol)), None
        )
        if pair is None:
            continue
        s, c = pair
        published = reg.difference(subject, comparator, bench, table) is not None
        votes = s.protocol.kind is ProtocolKind.CONS_AT_K
        developers = sum(x.origin is Origin.DEVELOPER for x in pair)
        candidates.append(((not published, votes, developers, order), s, c))
    if not candidates:
        return None
    _, s, c = min(candidates, key=lambda t: t[0])
    return Pair(subject=s, comparator=c, like_for_like=True)


def _headline(reg: Registry, model: str, bench: str, pin: Protocol | None) -> Score | None:
    if pin is None:
        return reg.headline(model, bench)
    found = [s for s in reg.scores_for(model, bench) if s.setting is None and fits(s.protocol, pin)]
    return found[0] if found else None


def choose_pair(
    reg: Registry,
    subject: str,
    comparator: str,
    bench: str,
    table: str | None = None,
    pin: Protocol | None = None,
) -> Pair:
    """The two scores a comparison on one benchmark uses.

    With ``table``, both come from that table (its first listed score of each side, any setting,
    as a data ablation needs). Otherwise a like-for-like pair where one exists, else each side's
    preferred default-setting score (the fallback). ``pin`` keeps only scores of that protocol.
    """
    if table is not None:
        s = next((x for x in reg.scores_for(subject, bench, table) if _usable(x, pin)), None)
        c = next((x for x in reg.scores_for(comparator, bench, table) if _usable(x, pin)), None)
        same = (
            s is not None
            and c is not None
            and Origin.CITED not in (s.origin, c.origin)
            and one_protocol(s.protocol, c.protocol)
        )
        return Pair(subject=s, comparator=c, like_for_like=same)
    found = like_for_like(reg, subject, comparator, bench, pin)
    if found is not None:
        return found
    return Pair(
        subject=_headline(reg, subject, bench, pin),
        comparator=_headline(reg, comparator, bench, pin),
        like_for_like=False,
    )
