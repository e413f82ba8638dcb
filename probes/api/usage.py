"""LLM-API usage priced and recorded: a provider's model string matched to a dated card, calls
summed per model into ledger usages, and live calls recorded one by one (:func:`record_call`) or
counted inside a metered run (:class:`ApiMeter`).

Each call's tokens are read by :func:`probes.api.response.parse_response` (which says how each
provider's usage block is split without double counting). A model no card prices is recorded
under its own ``api/<model>`` and listed as unpriced. Importing a log of responses (``receipts
import api-log``) is :mod:`probes.api.log`. See docs/api-and-labelling.md.
"""

from __future__ import annotations

import functools
import inspect
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict

from ledger.prices import PriceBook
from ledger.schema import Provenance, Unit, Usage
from ledger.store import Ledger
from probes.api.response import ApiCall, parse_response
from probes.ids import id_part
from probes.resources import resolve_resource

if TYPE_CHECKING:
    from probes.run.session import MeteredRun

P = ParamSpec("P")
R = TypeVar("R")

# -- model ids and price cards ----------------------------------------------------------------


_COUNTS = (
    "input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
    "output_tokens", "thinking_tokens", "unaccounted_tokens",
)  # fmt: skip


class ModelTally(BaseModel):
    """Calls and tokens of one resource, summed (the rows of an import's result)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    resource: str
    """``api/<model id>`` as priced (see :func:`resolve_resource`)."""
    price_match: str
    """``exact``, ``snapshot`` (priced by its base id's cards) or ``no card`` (unpriced)."""
    models: list[str] = []
    """Model strings the responses gave."""
    providers: list[str] = []
    """Response shapes seen (``openai-chat``, ``openai-responses``, ``anthropic``, ``gemini``)."""
    calls: int = 0
    """Calls."""
    calls_without_usage: int = 0
    """Calls whose response carried no usage: recorded as unquantified tokens."""
    sub_inferences: int = 0
    """Iterations of other models' calls run by this model (Anthropic advisor iterations):
    their tokens are counted here, but they are not calls."""
    input_tokens: int = 0
    """Uncached input tokens."""
    cached_input_tokens: int = 0
    """Input tokens read from the prompt cache."""
    cache_write_tokens: int = 0
    """Input tokens written to the prompt cache (5-minute rate)."""
    cache_write_1h_tokens: int = 0
    """Input tokens written to Anthropic's 1-hour cache."""
    output_tokens: int = 0
    """Visible output tokens."""
    thinking_tokens: int = 0
    """Reasoning tokens (priced as output)."""
    unaccounted_tokens: int = 0
    """Tokens in the responses' own totals beyond the parts above (not priced)."""

    def add(self, call: ApiCall, *, sign: int = 1, as_call: bool = True) -> None:
        """Count one call (``sign`` -1 takes it back out; ``as_call`` False: tokens only)."""
        for names, value in ((self.models, call.model), (self.providers, call.provider)):
            if value not in names:
                names.append(value)
        if as_call:
            self.calls += sign
        else:
            self.sub_inferences += sign
        if not call.has_usage:
            self.calls_without_usage += sign
            return
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + sign * getattr(call, name))

    def usages(
        self,
        run_id: str,
        provenance: Provenance,
        citation: str | None = None,
        prefix: str | None = None,
    ) -> list[Usage]:
        """The tally as usages of ``run_id``, ids ``<prefix or run>/<resource>/<unit>``."""
        detail: dict[str, Any] = {
            "models": sorted(self.models),
            "providers": sorted(self.providers),
            "calls": self.calls,
            "price_match": self.price_match,
        }
        key = f"{prefix or run_id}/{id_part(self.resource)}"
        with_usage = self.calls - self.calls_without_usage + self.sub_inferences
        rows: list[tuple[str, str, Unit, float | None, str | None]] = [
            ("call", self.resource, Unit.CALL, float(self.calls), None)
        ]
        if with_usage:
            rows += [
                ("input", self.resource, Unit.INPUT_TOKEN, self.input_tokens, None),
                ("output", self.resource, Unit.OUTPUT_TOKEN, self.output_tokens, None),
            ]
        extra = (
            ("cached-input", self.resource, Unit.CACHED_INPUT_TOKEN, self.cached_input_tokens),
            ("cache-write", self.resource, Unit.CACHE_WRITE_TOKEN, self.cache_write_tokens),
            ("thinking", self.resource, Unit.THINKING_TOKEN, self.thinking_tokens),
            (
                "cache-write-1h",
                f"{self.resource}/cache-write-1h",
                Unit.CACHE_WRITE_TOKEN,
                self.cache_write_1h_tokens,
            ),
        )
        rows += [(s, res, unit, q, None) for s, res, unit, q in extra if q]
        if self.calls_without_usage:
            cause = (
                "Batch API error lines: failed or expired requests"
                if self.resource.endswith("/batch")
                else "a stream read without its usage chunk?"
            )
            why = (
                f"{self.calls_without_usage} of {self.calls} calls returned no usage ({cause}): "
                "their tokens are unknown, not zero"
            )
            rows += [
                ("no-usage-input", self.resource, Unit.INPUT_TOKEN, None, why),
                ("no-usage-output", self.resource, Unit.OUTPUT_TOKEN, None, why),
            ]
        if self.unaccounted_tokens:
            detail["unaccounted_tokens"] = self.unaccounted_tokens
        return [
            Usage(
                id=f"{key}/{suffix}",
                run=run_id,
                resource=resource,
                unit=unit,
                quantity=None if quantity is None else float(quantity),
                provenance=provenance,
                citation=citation,
                note=note or self._note(unit),
                detail=detail,
            )
            for suffix, resource, unit, quantity, note in rows
        ]

    def _note(self, unit: Unit) -> str | None:
        if unit is Unit.CALL and self.unaccounted_tokens:
            return (
                f"the responses' own totals exceed the counted parts by {self.unaccounted_tokens} "
                "tokens, which are not priced"
            )
        return None


class Tally:
    """Calls summed per resource, with each model resolved against a price book once.

    A response id seen again replaces the call counted under it (an OpenAI background response
    is logged ``queued``, then ``completed``, under one ``id``): one call, in its final state,
    where it reached one; a finished call is never replaced by an unfinished one.
    """

    def __init__(self, book: PriceBook) -> None:
        self.book = book
        self.models: dict[str, ModelTally] = {}
        self._resolved: dict[str, tuple[str, str]] = {}
        self._by_id: dict[tuple[str, str], ApiCall] = {}
        self.replaced = 0
        """Calls that replaced an earlier line with the same response id."""

    def _tally(self, model: str, batch: bool = False) -> ModelTally:
        if model not in self._resolved:
            self._resolved[model] = resolve_resource(model, self.book)
        resource, match = self._resolved[model]
        if batch:  # the Batch API's discounted cards: api/<model>/batch
            resource = f"{resource}/batch"
            if not any(card.resource == resource for card in self.book.cards):
                match = "no card"
        return self.models.setdefault(resource, ModelTally(resource=resource, price_match=match))

    def _count(self, call: ApiCall, sign: int) -> ModelTally:
        tally = self._tally(call.model, call.batch)
        tally.add(call, sign=sign)
        for other in call.others:
            self._tally(other.model).add(other, sign=sign, as_call=False)
        return tally

    def add(self, call: ApiCall) -> ModelTally:
        """Count one call under its resource; returns that resource's tally."""
        key = (call.provider, call.response_id) if call.response_id else None
        if key is not None and key in self._by_id:
            earlier = self._by_id[key]
            if earlier.final and not call.final:
                return self._tally(earlier.model, earlier.batch)
            self._count(earlier, -1)
            self.replaced += 1
        if key is not None:
            self._by_id[key] = call
        return self._count(call, 1)

    def usages(
        self,
        run_id: str,
        provenance: Provenance,
        citation: str | None = None,
        prefix: str | None = None,
    ) -> list[Usage]:
        """Every resource's usages."""
        return [
            u for t in self.models.values() for u in t.usages(run_id, provenance, citation, prefix)
        ]


def _book(ledger: Ledger) -> PriceBook:
    from ledger.audit import price_book

    return price_book(ledger)


# -- recording live calls ---------------------------------------------------------------------


def record_call(
    ledger: Ledger,
    run_id: str,
    response: Any,
    *,
    model: str | None = None,
    book: PriceBook | None = None,
) -> ApiCall:
    """Record one API call of an existing run now, as measured usages (one call: one write).

    Usage ids are ``<run>/call-<response id>/...`` (a random id where the response has none),
    so recording the same response twice adds nothing. For many calls, use :class:`ApiMeter`,
    which sums them into a few usages per model.

    Raises:
        InputError: the response has no known shape or no model, or the run does not exist.
    """
    call = parse_response(response, model=model)
    tally = Tally(book or _book(ledger))
    tally.add(call)
    key = f"{run_id}/call-{id_part(call.response_id or uuid.uuid4().hex)}"
    ledger.record(tally.usages(run_id, Provenance.MEASURED, prefix=key))
    return call


class ApiMeter:
    """Counts the API calls made inside a :class:`~probes.run.session.MeteredRun`.

    Every response observed updates a handful of usages per model on the run (calls, input,
    cached input, cache writes, output, thinking), written when the run finishes and carried
    by its heartbeats meanwhile. Thread-safe.

    Example::

        with metered_run(ledger, subject="s1-32B", stage="traces", category="data") as run:
            api = ApiMeter(run)
            create = api.wrap(client.chat.completions.create)
            answer = create(model="gpt-4o-mini", messages=[...])
    """

    def __init__(self, run: MeteredRun, *, book: PriceBook | None = None) -> None:
        self.run = run
        self.tally = Tally(book or _book(run.ledger))
        self._lock = threading.Lock()

    def observe(self, response: Any, *, model: str | None = None) -> ApiCall:
        """Count one response; ``model`` names the model where the response does not.

        A response of no known shape (a stream object) counts as a call without usage.
        """
        call = parse_response(response, model=model, strict=False)
        with self._lock:
            tally = self.tally.add(call)
            for usage in tally.usages(self.run.run_id, Provenance.MEASURED):
                self.run.set_usage(usage)  # the running total replaces the last one
        return call

    def wrap(self, fn: Callable[P, R]) -> Callable[P, R]:
        """``fn`` (sync or async), counting each response it returns; its ``model`` keyword
        names the model where the response does not. Failed calls raise and count nothing."""
        if inspect.iscoroutinefunction(fn):

            async def waiting(*args: P.args, **kwargs: P.kwargs) -> Any:
                response = await fn(*args, **kwargs)
                self.observe(response, model=_model_kw(kwargs))
                return response

            return functools.wraps(fn)(waiting)  # type: ignore[return-value]

        def calling(*args: P.args, **kwargs: P.kwargs) -> R:
            response = fn(*args, **kwargs)
            self.observe(response, model=_model_kw(kwargs))
            return response

        return functools.wraps(fn)(calling)


def _model_kw(kwargs: Mapping[str, Any]) -> str | None:
    model = kwargs.get("model")
    return model if isinstance(model, str) else None
