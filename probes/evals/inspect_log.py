"""``receipts import inspect-ai``: inspect_ai eval logs (``.json``) as reported eval runs.

An inspect log fits the same model as an lm-eval task: one eval (task, model, generate config,
dataset) is one run, each sample one item per scorer, each epoch a sample index. Scores ``C``
and ``I`` (or 1/0, true/false) are correct and wrong; ``N`` (no answer) is wrong; partial
credit (``P``, fractions) is left unjudged. Token usage comes from the log's own counts
(``model_usage``): ``input_tokens`` as prompt, ``reasoning_tokens`` as thinking and the rest of
``output_tokens`` as answer (inspect counts reasoning inside output), recorded as ``reported``
with the log as citation. Only the JSON log format is read (``--log-format json``); ``.eval``
archives can be converted with ``inspect log convert --to json``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.errors import NotFoundError
from ledger.files import parse_json
from ledger.schema import (
    Category,
    EvalItem,
    Provenance,
    Record,
    Run,
    RunStatus,
    Subject,
)
from ledger.store import Ledger
from probes.evals.errors import EvalInputError
from probes.evals.imports import binary, check_subject, protocol_of, role_token_usages, safe_id
from probes.evals.schema import ImportedRun

_SCORE = {"C": True, "I": False, "N": False}


def _score(value: Any) -> bool | None:
    if isinstance(value, str):
        return _SCORE.get(value.upper())
    return binary(value)


def _usage(usages: Any) -> dict[str, int]:
    """Prompt, thinking and answer tokens summed over the models of a usage map."""
    out = {"prompt": 0, "thinking": 0, "answer": 0}
    for usage in (usages or {}).values():
        if not isinstance(usage, dict):
            continue
        reasoning = int(usage.get("reasoning_tokens") or 0)
        out["prompt"] += int(usage.get("input_tokens") or 0)
        out["prompt"] += int(usage.get("input_tokens_cache_read") or 0)
        out["thinking"] += reasoning
        out["answer"] += max(int(usage.get("output_tokens") or 0) - reasoning, 0)
    return out


def _text(sample: dict[str, Any]) -> str | None:
    choices = (sample.get("output") or {}).get("choices") or []
    if not choices:
        return None
    content = (choices[0].get("message") or {}).get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") or p.get("reasoning") or "" for p in content if isinstance(p, dict)]
        return "\n".join(p for p in parts if p) or None
    return None


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise EvalInputError(f"{path}: no such file")
    if path.suffix != ".json":
        raise EvalInputError(
            f"{path}: only JSON inspect logs are read (inspect log convert --to json)"
        )
    try:
        data = parse_json(path.read_text(encoding="utf-8-sig"), str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalInputError(f"{path}: not a readable JSON log ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("eval"), dict):
        raise EvalInputError(f"{path}: not an inspect_ai eval log (no 'eval' object)")
    return data


def import_inspect(ledger: Ledger, path: Path, subject: str) -> list[ImportedRun]:
    """Record one inspect_ai eval log as a reported run with items and token usages.

    Raises:
        EvalInputError: not a JSON inspect log; nothing is written then.
    """
    from pydantic import ValidationError

    check_subject(subject)
    data = _load(path)
    try:
        return _import(ledger, path, subject, data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "stats"
        message = first["msg"].removeprefix("Value error, ")
        raise EvalInputError(f"{path}: field {where}: {message}") from None


def _import(ledger: Ledger, path: Path, subject: str, data: dict[str, Any]) -> list[ImportedRun]:
    spec = data["eval"]
    task = str(spec.get("task") or "task")
    model = str(spec.get("model") or "unknown")
    run_id = safe_id(f"{subject}/eval/inspect/{task}/{spec.get('eval_id') or spec.get('run_id')}")
    config = (data.get("plan") or {}).get("config") or spec.get("model_generate_config") or {}
    scorers = [s.get("name") for s in (data.get("results") or {}).get("scores") or []]
    samples = data.get("samples") or []
    items: list[EvalItem] = []
    totals = {"prompt": 0, "thinking": 0, "answer": 0}
    for sample in samples:
        counts = _usage(sample.get("model_usage"))
        for role in totals:
            totals[role] += counts[role]
        for name, score in (sample.get("scores") or {}).items():
            if name not in scorers:
                scorers.append(name)
            primary = name == scorers[0]
            item_id = str(sample.get("id"))
            epoch = int(sample.get("epoch") or 1)
            target = sample.get("target")
            items.append(
                EvalItem(
                    id=safe_id(
                        f"{run_id}/{item_id}"
                        + ("" if primary else f"/{name}")
                        + (f"/s{epoch - 1}" if epoch > 1 else "")
                    ),
                    run=run_id,
                    benchmark=task,
                    item_id=item_id,
                    correct=_score((score or {}).get("value")),
                    metric=str(name),
                    extracted_answer=(score or {}).get("answer"),
                    gold_answer=", ".join(target) if isinstance(target, list) else target,
                    prompt_tokens=counts["prompt"] or None,
                    thinking_tokens=counts["thinking"] or None,
                    answer_tokens=counts["answer"] or None,
                    latency_s=sample.get("total_time"),
                    trace=_text(sample),
                    sample=epoch - 1,
                )
            )
    epochs = int((spec.get("config") or {}).get("epochs") or 1)
    started = _when((data.get("stats") or {}).get("started_at"))
    ended = _when((data.get("stats") or {}).get("completed_at"))
    if started is not None and ended is not None and ended < started:
        raise EvalInputError(
            f"{path}: field stats.completed_at: {ended.isoformat()} is before stats.started_at "
            f"{started.isoformat()}"
        )
    run = Run(
        id=run_id,
        subject=subject,
        stage="eval",
        category=Category.EVALUATION,
        name=f"inspect_ai {task} {model}",
        status=RunStatus.REPORTED,
        started_at=started,
        ended_at=ended,
        citation=str(path),
        note=None if data.get("status") == "success" else f"log status {data.get('status')}",
        detail={
            "model": model,
            "backend": None,
            "benchmark": task,
            "n": (spec.get("dataset") or {}).get("samples") or len({i.item_id for i in items}),
            "protocol": protocol_of(config, epochs),
            "num_wait": None,
            "max_thinking_tokens": config.get("reasoning_tokens"),
            "max_answer_tokens": config.get("max_tokens"),
            "wait_string": None,
            "seed": config.get("seed"),
            "gen_kwargs": config,
            "imported_from": "inspect_ai",
            "source_path": str(path),
            "primary_metric": scorers[0] if scorers else None,
            "reported_results": (data.get("results") or {}).get("scores"),
        },
    )
    if not totals["prompt"] and not totals["answer"]:
        totals = _usage((data.get("stats") or {}).get("model_usage"))
    usages = (
        role_token_usages(run_id, model, totals, provenance=Provenance.REPORTED, citation=str(path))
        if totals["prompt"] or totals["answer"]
        else []
    )
    records: list[Record] = []
    try:
        ledger.subject(subject)
    except NotFoundError:
        records.append(Subject(id=subject, name=subject))
    ledger.record([*records, run, *items, *usages])
    judged = [i for i in items if i.metric == (scorers[0] if scorers else None)]
    known = [i for i in judged if i.correct is not None]
    accuracy = sum(bool(i.correct) for i in known) / len(known) if known else None
    return [
        ImportedRun(
            run=run_id,
            task=task,
            items=len(items),
            metrics=[str(s) for s in scorers],
            accuracy=accuracy,
            reported=_reported_accuracy(data, scorers[0] if scorers else None),
        )
    ]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _reported_accuracy(data: dict[str, Any], scorer: str | None) -> float | None:
    for score in (data.get("results") or {}).get("scores") or []:
        if score.get("name") == scorer:
            metric = (score.get("metrics") or {}).get("accuracy") or {}
            value = metric.get("value")
            return float(value) if isinstance(value, int | float) else None
    return None
