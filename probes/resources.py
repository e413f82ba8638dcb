"""Which ledger resource, and so which dated price cards, an LLM-API model string is billed under.

Shared by the API probes (:mod:`probes.api`) and the eval imports that price an API model's
tokens (:mod:`probes.evals.inspect_log`), which may not import each other.
"""

from __future__ import annotations

import re

from ledger.prices import PriceBook

_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{2}-\d{2}|\d{3,4}|latest)$")


def resolve_resource(model: str, book: PriceBook) -> tuple[str, str]:
    """The ledger resource of a provider's model string, and how it matched a card.

    Rule: ``api/<model>`` where a card prices that exact id; else ``api/<base>`` where the model
    is a dated or numbered snapshot (``-2024-07-18``, ``-20241022``, ``-01-21``, ``-1219``,
    ``-001``, ``-latest``) and a card prices the base id; else ``api/<model>``, which no card
    prices (listed as unpriced). A ``models/`` prefix (Gemini) is dropped first.

    Returns:
        ``(resource, match)`` with match ``exact``, ``snapshot`` or ``no card``.
    """
    name = model.strip().removeprefix("models/")
    priced = {card.resource for card in book.cards}
    exact = f"api/{name}"
    if exact in priced:
        return exact, "exact"
    base = _SNAPSHOT.sub("", name)
    if base != name and f"api/{base}" in priced:
        return f"api/{base}", "snapshot"
    return exact, "no card"
