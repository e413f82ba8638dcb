"""Shared pieces of the importers (and, for the token usages, of the runner): run ids, item ids,
the split of a budget-forced response, token counting of imported text, and the per-role token
usages of an eval run."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ledger.canonical import is_valid_id
from ledger.schema import Provenance, Unit, Usage
from probes.evals.errors import EvalInputError
from probes.evals.forcing import THINK_END, THINK_START

_UNSAFE = re.compile(r"[^A-Za-z0-9._:/@+-]")

ROLES = ("prompt", "thinking", "answer")
"""The roles an eval run's tokens are counted by."""


def role_token_usages(
    run_id: str,
    model: str,
    counts: Mapping[str, int],
    *,
    provenance: Provenance,
    citation: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> list[Usage]:
    """One token usage per role (:data:`ROLES`) of an eval run: ``RUN/tokens/ROLE``, resource
    ``tokens/MODEL``, with the role (and ``detail``) in its detail."""
    return [
        Usage(
            id=f"{run_id}/tokens/{role}",
            run=run_id,
            resource=f"tokens/{model}",
            unit=Unit.TOKEN,
            quantity=float(counts[role]),
            provenance=provenance,
            citation=citation,
            detail={"role": role, **(detail or {})},
        )
        for role in ROLES
    ]


def check_subject(subject: str) -> str:
    """``subject`` where it is a valid ledger id (:func:`ledger.canonical.is_valid_id`).

    Raises:
        EvalInputError: it is not (letters, digits and . _ : / @ + - only).
    """
    if not is_valid_id(subject):
        raise EvalInputError(
            f"--subject {subject!r}: not a valid id (letters, digits and . _ : / @ + - only, "
            "starting with a letter or digit)"
        )
    return subject


def safe_id(text: str) -> str:
    """``text`` with every character a ledger id does not allow replaced by ``_``."""
    cleaned = _UNSAFE.sub("_", text).strip("/")
    return cleaned if cleaned and cleaned[0].isalnum() else f"x{cleaned}"


def parse_kwargs(value: Any) -> dict[str, Any]:
    """lm-eval's ``key=value,key=value`` strings (``model_args``, ``gen_kwargs``) or dicts."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    out: dict[str, Any] = {}
    for part in str(value).split(","):
        key, sep, raw = part.partition("=")
        if not sep:
            continue
        out[key.strip()] = _scalar(raw.strip())
    return out


def _scalar(raw: str) -> Any:
    lowered = raw.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            continue
    return raw


def protocol_of(gen_kwargs: Mapping[str, Any], repeats: int = 1) -> str:
    """``greedy`` where sampling is off (temperature 0 or unset, no do_sample), else pass@1."""
    temperature = gen_kwargs.get("temperature", 0) or 0
    do_sample = bool(gen_kwargs.get("do_sample", False))
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        t = 0.0
    if t <= 0 and not do_sample and repeats <= 1:
        return "greedy"
    noun = "sample" if repeats == 1 else "samples"
    return f"pass@1 over {repeats} {noun} at temperature {t:g}"


def utc_from_unix(value: Any) -> datetime | None:
    """A UTC timestamp from unix seconds, where ``value`` is one."""
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


_FORCED_ANSWER = re.compile(r"(?:\r?\n|\\n)*Final Answer:")
"""An answer opened by ``Final Answer:``, after newlines, real or written as backslash-n."""


def split_forced(response: str) -> tuple[str, str, bool] | None:
    """A budget-forced response cut into (thinking, answer, forced end).

    ``None`` where the response has no ``<|im_start|>think`` ... ``<|im_start|>answer``
    structure. The end counts as forced when the answer begins with ``Final Answer:``, the text
    s1 inserts when the thinking budget runs out (a model that writes those words itself right
    after the delimiter is counted as forced too: the log does not tell them apart). The newline
    before it may be a real one or, where a harness wrote it escaped, the two characters
    backslash and ``n``.
    """
    start = response.find(THINK_START)
    end = response.find(THINK_END, start + len(THINK_START)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    thinking = response[start + len(THINK_START) : end]
    answer = response[end + len(THINK_END) :]
    return thinking, answer, _FORCED_ANSWER.match(answer) is not None


def binary(value: Any) -> bool | None:
    """A per-item metric value as correctness: 1/0, true/false; ``None`` for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    return None
