"""LLM-API usage: one call's tokens read from a provider's response, priced by dated cards.

Reads the usage block of OpenAI (chat completions and the Responses API), Anthropic (messages)
and Google Gemini (``usageMetadata``, REST camelCase or the Python SDK's snake_case) responses,
as dicts or as the SDKs' objects, and splits it into ledger units without double counting:

============================  ==========================================  =====================
provider                      input_token (uncached)                      cached_input_token
============================  ==========================================  =====================
OpenAI chat completions       prompt_tokens - cached - cache_write        cached_tokens
OpenAI Responses API          input_tokens - cached - cache_write         cached_tokens
Anthropic messages            input_tokens (excludes cache reads/writes)  cache_read_input_tokens
Gemini                        promptTokenCount - cachedContentTokenCount  cachedContentTokenCount
                              + toolUsePromptTokenCount
============================  ==========================================  =====================

(``cached`` and ``cache_write`` are ``cached_tokens`` and ``cache_write_tokens`` of OpenAI's
``prompt_tokens_details`` / ``input_tokens_details``: parts of the prompt, like the cached ones.)

Output: OpenAI's completion/output tokens *include* reasoning tokens, so ``output_token`` is
``completion - reasoning`` and ``thinking_token`` the reasoning; Gemini's ``candidatesTokenCount``
*excludes* thoughts, so ``output_token`` is the candidates and ``thinking_token`` the thoughts;
Anthropic reports no split, so all of ``output_tokens`` is ``output_token``. Anthropic's
``cache_creation_input_tokens`` and OpenAI's ``cache_write_tokens`` are ``cache_write_token``
(Anthropic's 1-hour writes, where the response splits them out, go to
``api/<model>/cache-write-1h``, which the 5-minute cards do not price).
A thinking token is priced by the output card where no thinking card exists
(:meth:`ledger.prices.PriceBook.range`), as every provider bills it.

A response without usage (a stream read without its final usage chunk) is still a call: it is
recorded as unquantified input and output tokens, listed by ``receipts report`` as not
quantified, never as 0. A model no card prices is recorded under its own ``api/<model>`` and
listed as unpriced. Importing a log of responses (``receipts import api-log``) is
:mod:`probes.api.log`; pricing and recording the calls is :mod:`probes.api.usage`. See
docs/api-and-labelling.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ledger.bounds import MAX_TOKENS_PER_CALL
from ledger.errors import InputError

# -- one call ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiCall:
    """The billed token counts of one API call, split so that no token is counted twice."""

    provider: str
    """``openai-chat``, ``openai-responses``, ``anthropic``, ``gemini``, ``openai-batch`` (a
    failed Batch API line, whose endpoint is not known) or ``unknown``."""
    model: str
    """Model as the response names it (the served snapshot), else as the caller named it."""
    has_usage: bool
    """Whether the response carried a usage block; without one every count below is unknown."""
    input_tokens: int = 0
    """Uncached input tokens (Gemini's tool-use prompt tokens included)."""
    cached_input_tokens: int = 0
    """Input tokens read from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """Input tokens written to the cache at the default (5-minute) rate."""
    cache_write_1h_tokens: int = 0
    """Input tokens written to Anthropic's 1-hour cache (a dearer rate)."""
    output_tokens: int = 0
    """Visible output tokens (reasoning excluded)."""
    thinking_tokens: int = 0
    """Reasoning/thinking tokens, billed as output."""
    unaccounted_tokens: int = 0
    """How far the response's own total exceeds the parts above (not priced; see the docs)."""
    response_id: str | None = None
    """The provider's id of the response, where it has one."""
    final: bool = True
    """False for an OpenAI background response logged before it finished (``status``
    ``queued`` or ``in_progress``): the same ``id`` is logged again when it ends."""
    others: tuple[ApiCall, ...] = ()
    """Tokens that another model spent within this call (Anthropic ``usage.iterations`` naming
    another model, e.g. an advisor sub-inference): priced under that model, not a call."""
    batch: bool = False
    """Run through OpenAI's Batch API (a line of a batch output file): priced by the batch
    cards of ``api/<model>/batch``, not the synchronous ones."""


def _field(obj: Any, *names: str) -> Any:
    """The first of ``names`` that ``obj`` has and that is not None (mapping key or attribute)."""
    for name in names:
        value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _count(obj: Any, path: str, where: str, *names: str, required: bool = False) -> int:
    value = _field(obj, *names)
    shown = f"{path}.{names[0]}" if path else names[0]
    if value is None:
        if required:
            raise InputError(f"{where}: field {shown}: missing")
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(
            f"{where}: field {shown}: expected a token count (a non-negative integer), "
            f"found {value!r}"
        )
    if value > MAX_TOKENS_PER_CALL:
        raise InputError(
            f"{where}: field {shown}: {value:g} tokens is above the plausible bound of "
            f"{MAX_TOKENS_PER_CALL:g} tokens per call"
        )
    return value


def _part(whole: int, part: int, where: str, what: str) -> int:
    if part > whole:
        raise InputError(f"{where}: {what}: the part ({part}) exceeds the whole ({whole})")
    return whole - part


def parse_response(
    response: Any, *, model: str | None = None, where: str = "response", strict: bool = True
) -> ApiCall:
    """The billed tokens of one response (a dict, or an SDK object with the same fields).

    Args:
        response: an OpenAI ``ChatCompletion`` or ``Response``, an Anthropic ``Message``, a
            Gemini ``GenerateContentResponse``, or any of them as a dict.
        model: the model to use where the response names none (the requested model).
        where: how errors name the response (``api.jsonl: line 3``).
        strict: raise on a response of no known shape; otherwise (the wrapper) count it as a
            call without usage of ``model``.

    Raises:
        InputError: a count is not a non-negative integer, a part exceeds its whole, no model
            is known, or (``strict``) the response has no known shape.
    """
    meta = _field(response, "usageMetadata", "usage_metadata")
    usage = _field(response, "usage")
    provider = _provider_without_usage(response)
    if meta is None and usage is None and provider == "unknown" and strict:
        raise InputError(
            f"{where}: not an OpenAI, Anthropic or Gemini response (no usage, usageMetadata, "
            "choices, output, content or candidates field)"
        )
    named = _field(response, "model", "modelVersion", "model_version")
    served = str(named) if named is not None else model
    if not served:
        raise InputError(f"{where}: names no model (no model or modelVersion field)")
    rid = _field(response, "id", "responseId", "response_id")
    rid = str(rid) if rid is not None else None
    status = _field(response, "status")
    final = status not in _NOT_FINAL
    if meta is not None:
        return _gemini(meta, served, rid, where)
    if usage is not None:
        call = _openai_or_anthropic(response, usage, served, rid, where)
        return call if final else replace(call, final=False)
    return ApiCall(provider=provider, model=served, has_usage=False, response_id=rid, final=final)


_NOT_FINAL = ("queued", "in_progress")
"""OpenAI Responses API statuses of a response not finished yet (a ``background: true``
request is returned ``queued`` and polled until ``completed``, ``failed``, ``cancelled`` or
``incomplete``; openai-python ``types/responses/response_status.py``)."""


def _provider_without_usage(response: Any) -> str:
    kind = _field(response, "object")
    if kind == "chat.completion" or _field(response, "choices") is not None:
        return "openai-chat"
    if kind == "response" or _field(response, "output") is not None:
        return "openai-responses"
    if _field(response, "type") == "message" or _field(response, "content") is not None:
        return "anthropic"
    if _field(response, "candidates") is not None:
        return "gemini"
    return "unknown"


def _openai_or_anthropic(
    response: Any, usage: Any, model: str, rid: str | None, where: str
) -> ApiCall:
    if _field(usage, "prompt_tokens", "completion_tokens") is not None:
        return _openai(
            "openai-chat", usage, model, rid, where,
            ("prompt_tokens", "completion_tokens", "completion"),
            ("prompt_tokens_details", "completion_tokens_details"),
        )  # fmt: skip
    if _field(usage, "input_tokens", "output_tokens") is None:
        raise InputError(
            f"{where}: field usage: none of the documented token counts (prompt_tokens, "
            "input_tokens, output_tokens)"
        )
    inp = _count(usage, "usage", where, "input_tokens", required=True)
    out = _count(usage, "usage", where, "output_tokens", required=True)
    anthropic = (
        _field(response, "type") == "message"
        or _field(usage, "cache_creation_input_tokens", "cache_read_input_tokens") is not None
    )
    if anthropic:
        iterations = _field(usage, "iterations")
        if iterations is not None and iterations != []:
            return _anthropic_iterations(usage, iterations, inp, out, model, rid, where)
        write, hour = _anthropic_writes(usage, "usage", where)
        return ApiCall(
            provider="anthropic",
            model=model,
            has_usage=True,
            input_tokens=inp,
            cached_input_tokens=_count(usage, "usage", where, "cache_read_input_tokens"),
            cache_write_tokens=write,
            cache_write_1h_tokens=hour,
            output_tokens=out,
            response_id=rid,
        )
    return _openai(
        "openai-responses", usage, model, rid, where,
        ("input_tokens", "output_tokens", "output_tokens"),
        ("input_tokens_details", "output_tokens_details"),
    )  # fmt: skip


def _anthropic_writes(usage: Any, path: str, where: str) -> tuple[int, int]:
    """Anthropic's 5-minute and 1-hour cache writes (the 1-hour ones are part of the whole)."""
    write = _count(usage, path, where, "cache_creation_input_tokens")
    hour = _count(
        _field(usage, "cache_creation"), f"{path}.cache_creation", where,
        "ephemeral_1h_input_tokens",
    )  # fmt: skip
    return _part(write, hour, where, "1-hour part of cache_creation"), hour


def _anthropic_iterations(
    usage: Any, iterations: Any, inp: int, out: int, model: str, rid: str | None, where: str
) -> ApiCall:
    """An Anthropic response with ``usage.iterations`` (server-side compaction, server tool
    loops, advisor sub-inferences): every iteration counted, the top-level figures not again.

    Anthropic's compaction docs ("Understanding usage",
    platform.claude.com/docs/en/build-with-claude/compaction): "The top-level input_tokens and
    output_tokens do not include compaction iteration usage. They reflect the sum of all
    non-compaction iterations. To calculate total tokens consumed and billed for a request, sum
    across all entries in the usage.iterations array." The SDK's ``BetaUsage.iterations``
    (anthropic-sdk-python ``types/beta/beta_usage.py``) lists ``message``, ``compaction``,
    ``advisor_message`` and ``fallback_message`` entries, each with input, output, cache-read
    and cache-creation counts, and (except compaction) the ``model`` that ran it. So the call's
    tokens are the sum over the iterations, and the top-level counts, a part of that sum, must
    not exceed it. An iteration naming another model is priced under that model.
    """
    if isinstance(iterations, Mapping) or not isinstance(iterations, list | tuple):
        raise InputError(
            f"{where}: field usage.iterations: expected a list of iterations, found "
            f"{type(iterations).__name__}"
        )
    sums: dict[str, dict[str, int]] = {}
    for i, item in enumerate(iterations):
        path = f"usage.iterations[{i}]"
        if item is None or isinstance(item, str | int | float | list):
            raise InputError(f"{where}: field {path}: expected an object, found {item!r}")
        named = _field(item, "model")
        key = str(named) if named is not None else model
        write, hour = _anthropic_writes(item, path, where)
        parts = {
            "input_tokens": _count(item, path, where, "input_tokens", required=True),
            "output_tokens": _count(item, path, where, "output_tokens", required=True),
            "cached_input_tokens": _count(item, path, where, "cache_read_input_tokens"),
            "cache_write_tokens": write,
            "cache_write_1h_tokens": hour,
        }
        into = sums.setdefault(key, dict.fromkeys(parts, 0))
        for name, value in parts.items():
            into[name] += value
    total = {
        name: sum(s[name] for s in sums.values()) for name in ("input_tokens", "output_tokens")
    }
    for name, top in (("input_tokens", inp), ("output_tokens", out)):
        if total[name] < top:
            raise InputError(
                f"{where}: field usage.iterations: the iterations' {name} ({total[name]}) are "
                f"fewer than the top-level usage.{name} ({top}), which is a part of them"
            )
    own = sums.pop(model, None) or {}
    others = tuple(_summed(name, parts) for name, parts in sums.items())
    return replace(_summed(model, own), response_id=rid, others=others)


def _summed(model: str, parts: Mapping[str, int]) -> ApiCall:
    return ApiCall(
        provider="anthropic",
        model=model,
        has_usage=True,
        input_tokens=parts.get("input_tokens", 0),
        cached_input_tokens=parts.get("cached_input_tokens", 0),
        cache_write_tokens=parts.get("cache_write_tokens", 0),
        cache_write_1h_tokens=parts.get("cache_write_1h_tokens", 0),
        output_tokens=parts.get("output_tokens", 0),
    )


def _openai(
    provider: str,
    usage: Any,
    model: str,
    rid: str | None,
    where: str,
    counts: tuple[str, str, str],
    details: tuple[str, str],
) -> ApiCall:
    """OpenAI's chat and Responses usage: the same arithmetic under different field names.

    ``counts`` names the prompt and completion fields (and how messages call the completion);
    ``details`` the objects holding cached/cache-write and reasoning tokens.
    """
    prompt_key, completion_key, completion_word = counts
    inputs, outputs = details
    prompt = _count(usage, "usage", where, prompt_key, required=True)
    completion = _count(usage, "usage", where, completion_key, required=True)
    cached = _count(_field(usage, inputs), f"usage.{inputs}", where, "cached_tokens")
    write = _count(_field(usage, inputs), f"usage.{inputs}", where, "cache_write_tokens")
    reasoning = _count(_field(usage, outputs), f"usage.{outputs}", where, "reasoning_tokens")
    total = _count(usage, "usage", where, "total_tokens")
    return ApiCall(
        provider=provider,
        model=model,
        has_usage=True,
        input_tokens=_part(
            prompt, cached + write, where, f"cached and cache_write_tokens of {prompt_key}"
        ),
        cached_input_tokens=cached,
        cache_write_tokens=write,
        output_tokens=_part(completion, reasoning, where, f"reasoning_tokens of {completion_word}"),
        thinking_tokens=reasoning,
        unaccounted_tokens=max(0, total - prompt - completion),
        response_id=rid,
    )


def _gemini(meta: Any, model: str, rid: str | None, where: str) -> ApiCall:
    # proto3 JSON leaves zero counts out: a count missing from a present usageMetadata is 0.
    path = "usageMetadata"

    def count(camel: str, snake: str) -> int:
        return _count(meta, path, where, camel, snake)

    prompt = count("promptTokenCount", "prompt_token_count")
    cached = count("cachedContentTokenCount", "cached_content_token_count")
    tool = count("toolUsePromptTokenCount", "tool_use_prompt_token_count")
    candidates = count("candidatesTokenCount", "candidates_token_count")
    thoughts = count("thoughtsTokenCount", "thoughts_token_count")
    total = count("totalTokenCount", "total_token_count")
    return ApiCall(
        provider="gemini",
        model=model,
        has_usage=True,
        input_tokens=_part(prompt, cached, where, "cachedContentTokenCount of promptTokenCount")
        + tool,
        cached_input_tokens=cached,
        output_tokens=candidates,
        thinking_tokens=thoughts,
        unaccounted_tokens=max(0, total - prompt - tool - candidates - thoughts),
        response_id=rid,
    )
