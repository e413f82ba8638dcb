"""The bottom line of an audit with its claims: the audit's sentences
(:func:`ledger.bottom_line.audit_bottom_line`) and one line per claim with its verdict and each
assertion's.

Public API, for every renderer (``receipts audit``, the appendix)::

    line = bottom_line(audit, claims, walls=scope_walls(store, audit))
    line.sentences  # two or three plain sentences with the deciding numbers
    line.verdicts   # one VerdictLine per claim
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from claims.report import ClaimVerdict, Verdict
from ledger.bottom_line import audit_bottom_line
from ledger.report import Audit, BottomLine, VerdictLine


def verdict_words(verdict: Verdict) -> str:
    """``not supported`` for ``not_supported``."""
    return verdict.value.replace("_", " ")


def verdict_line(claim: ClaimVerdict) -> VerdictLine:
    """``s1/techcrunch: not supported — under $50 misleading, rivals OpenAI o1 not supported``;
    a claim of one assertion names it, and its verdict only where it differs from the claim's.
    Each assertion reads as its label (what it checks), else its id."""
    text = f"{claim.id}: {verdict_words(claim.verdict)}"
    parts = [f"{a.label or a.id} {verdict_words(a.verdict)}" for a in claim.assertions]
    if len(claim.assertions) > 1 or any(a.verdict is not claim.verdict for a in claim.assertions):
        text += " — " + ", ".join(parts)
    elif claim.assertions:
        text += f" ({claim.assertions[0].label or claim.assertions[0].id})"
    return VerdictLine(claim=claim.id, verdict=claim.verdict.value, text=text)


def bottom_line(
    audit: Audit, claims: Sequence[ClaimVerdict], walls: Mapping[str, float] | None = None
) -> BottomLine:
    """The audit's bottom line with one verdict line per claim.

    Args:
        audit: the case's audit (:func:`ledger.audit.build_audit`).
        claims: the verdicts checked with it (bundled and given claim files).
        walls: wall time of one-run scopes by scope id (:func:`ledger.summary.scope_walls`).
    """
    line = audit_bottom_line(audit, walls)
    return line.model_copy(update={"verdicts": [verdict_line(c) for c in claims]})
