"""``receipts import inspect-ai``: inspect_ai eval logs (``.json``) as reported eval runs.

An inspect log fits the same model as an lm-eval task: one eval (task, model, generate config,
dataset) is one run, each sample one item per scorer, each epoch a sample index. Scores ``C``
and ``I`` (or 1/0, true/false) are correct and wrong; ``N`` (no answer) is wrong; partial
credit (``P``, fractions) is left unjudged. Token usage comes from the log's own counts
(``stats.model_usage``), recorded as ``reported`` with the log as citation: a model run here
(``vllm/...``, ``hf/...``) as informational tokens by role (``input_tokens`` as prompt,
``reasoning_tokens`` as thinking and the rest of ``output_tokens`` as answer: inspect counts
reasoning inside output), a hosted API model (``openai/...``, ``anthropic/...``) priced as API
usage under ``api/<model>`` (:func:`_api_usages`), thinking unknown where not reported.
Both log formats are read: JSON logs (``--log-format json``) and ``.eval`` archives (inspect's
default), the latter with the standard library's :mod:`zipfile` following the layout inspect_ai's
own recorder writes (``log/_recorders/eval.py``), so inspect_ai is not needed to import them.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.audit import price_book
from ledger.errors import NotFoundError
from ledger.files import parse_json
from ledger.prices import PriceBook
from ledger.schema import (
    Category,
    EvalItem,
    Provenance,
    Record,
    Run,
    RunStatus,
    Subject,
    Unit,
    Usage,
)
from ledger.store import Ledger
from probes.evals.errors import EvalInputError
from probes.evals.imports import binary, check_subject, protocol_of, role_token_usages, safe_id
from probes.evals.schema import ImportedRun
from probes.ids import id_part
from probes.resources import resolve_resource

_SCORE = {"C": True, "I": False, "N": False}


def _score(value: Any) -> bool | None:
    if isinstance(value, str):
        return _SCORE.get(value.upper())
    return binary(value)


def _usage(usages: Any) -> dict[str, int | None]:
    """Prompt, thinking and answer tokens summed over the models of a usage map; thinking is
    ``None`` (unknown, not 0) where no model's usage reports ``reasoning_tokens``."""
    out: dict[str, int | None] = {"prompt": 0, "thinking": None, "answer": 0}
    prompt = answer = 0
    for usage in (usages or {}).values():
        if not isinstance(usage, dict):
            continue
        reported = usage.get("reasoning_tokens")
        reasoning = int(reported or 0)
        prompt += int(usage.get("input_tokens") or 0)
        prompt += int(usage.get("input_tokens_cache_read") or 0)
        prompt += int(usage.get("input_tokens_cache_write") or 0)
        if reported is not None:
            out["thinking"] = (out["thinking"] or 0) + reasoning
        answer += max(int(usage.get("output_tokens") or 0) - reasoning, 0)
    out["prompt"], out["answer"] = prompt, answer
    return out


_LOCAL = frozenset(
    {"hf", "vllm", "sglang", "ollama", "llama-cpp-python", "transformer_lens", "mockllm", "none"}
)
"""inspect_ai model providers that run the model here (its tokens are informational, priced by
the GPU time they took): any other ``provider/model`` is a hosted API, billed per token."""

_FIELDS = (
    "input_tokens", "output_tokens", "input_tokens_cache_read", "input_tokens_cache_write",
    "reasoning_tokens",
)  # fmt: skip


def _api_model(key: str) -> str | None:
    """The API model of an inspect model key (``openai/gpt-4o`` -> ``gpt-4o``), else None."""
    provider, _, name = key.partition("/")
    return name if name and provider not in _LOCAL else None


def _api_usages(
    book: PriceBook, run_id: str, usages: dict[str, Any], path: Path
) -> tuple[list[Usage], list[str]]:
    """An API model's tokens as priced usages, as ``receipts import api-log`` records them.

    inspect_ai's ``ModelUsage`` (``model/_model_output.py``): ``input_tokens`` is the fresh
    (uncached) input, ``input_tokens_cache_read`` and ``input_tokens_cache_write`` the cached
    parts, ``output_tokens`` includes ``reasoning_tokens`` (except the ``google`` provider,
    whose ``output_tokens`` is Gemini's ``candidates_token_count``, thoughts excluded), and
    ``reasoning_tokens`` is ``None`` where the provider reports none: then the thinking tokens
    are unknown (priced inside the output, recorded as unknown, never as 0).
    """
    rows: list[Usage] = []
    models: list[str] = []
    for key, usage in usages.items():
        name = _api_model(str(key))
        if name is None:
            continue
        where = f"{path}: field stats.model_usage.{key}"
        if not isinstance(usage, dict):
            raise EvalInputError(f"{where}: expected an object, found {type(usage).__name__}")
        counts: dict[str, int | None] = {}
        for field in _FIELDS:
            value = usage.get(field)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):  # fmt: skip
                raise EvalInputError(
                    f"{where}.{field}: expected a token count (a non-negative integer), "
                    f"found {value!r}"
                )
            counts[field] = value
        output = counts["output_tokens"] or 0
        reasoning = counts["reasoning_tokens"]
        if reasoning is not None and not key.startswith("google/"):
            if reasoning > output:
                raise EvalInputError(
                    f"{where}.reasoning_tokens: {reasoning} exceeds output_tokens ({output}), "
                    "which include them"
                )
            output -= reasoning
        resource, match = resolve_resource(name, book)
        models.append(resource)
        detail = {"model": key, "price_match": match, "thinking_tokens": reasoning}
        note = (
            None
            if reasoning is not None
            else "thinking tokens not reported apart by the log: unknown, priced inside output"
        )
        for suffix, unit, quantity, why in (
            ("input", Unit.INPUT_TOKEN, counts["input_tokens"] or 0, None),
            ("cached-input", Unit.CACHED_INPUT_TOKEN, counts["input_tokens_cache_read"], None),
            ("cache-write", Unit.CACHE_WRITE_TOKEN, counts["input_tokens_cache_write"], None),
            ("output", Unit.OUTPUT_TOKEN, output, note),
            ("thinking", Unit.THINKING_TOKEN, reasoning, None),
        ):
            if quantity is None or (quantity == 0 and suffix not in ("input", "output")):
                continue
            rows.append(
                Usage(
                    id=f"{run_id}/{id_part(resource)}/{suffix}",
                    run=run_id,
                    resource=resource,
                    unit=unit,
                    quantity=float(quantity),
                    provenance=Provenance.REPORTED,
                    citation=str(path),
                    note=why,
                    detail=detail,
                )
            )
    return rows, models


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
    if path.suffix == ".eval" or (path.suffix != ".json" and _is_zip(path)):
        return _load_archive(path)
    if path.suffix != ".json":
        raise EvalInputError(
            f"{path}: not an inspect_ai log: expected a JSON log (.json) or a .eval archive"
        )
    try:
        data = parse_json(path.read_text(encoding="utf-8-sig"), str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalInputError(f"{path}: not a readable JSON log ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("eval"), dict):
        raise EvalInputError(f"{path}: not an inspect_ai eval log (no 'eval' object)")
    samples = data.get("samples")
    if samples is not None and not isinstance(samples, list):
        raise EvalInputError(f"{path}: field samples: expected a list")
    for index, sample in enumerate(samples or []):
        _check_sample(sample, f"{path}: field samples[{index}]", ".")
    return data


def _is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"PK\x03\x04"
    except OSError:
        return False


_HEADER = "header.json"
_START = "_journal/start.json"
_SAMPLES = "samples/"
_MEMBER_MAX = 1 << 30
"""The largest member (uncompressed) read from a ``.eval`` archive: a sample with a long
transcript is megabytes; a member declaring more is refused rather than inflated."""


def _load_archive(path: Path) -> dict[str, Any]:
    """A ``.eval`` archive as the JSON log it is equivalent to.

    inspect_ai's ``EvalRecorder`` writes a zip: ``_journal/start.json`` (version, eval, plan) when
    the eval starts, ``samples/<id>_epoch_<n>.json`` (one ``EvalSample`` each, as in a JSON log's
    ``samples``) and ``_journal/summaries/<k>.json`` as samples finish, and at the end
    ``summaries.json``, ``reductions.json`` and ``header.json`` (the whole ``EvalLog`` but its
    samples: version, status, eval, plan, results, stats with ``model_usage``, error). A sample
    logged again is a second member of the same name and the last one counts (as inspect reads
    it); samples are ordered by epoch, then id, as inspect's ``sort_samples`` does.

    Raises:
        EvalInputError: not a zip, no ``header.json`` (a run that did not finish), a member
            that is not JSON, or a sample without its scores; naming the file and member.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise EvalInputError(
            f"{path}: not a .eval archive (not a readable zip file: {exc})"
        ) from None
    with archive:
        names = list(dict.fromkeys(archive.namelist()))
        if _HEADER not in names:
            why = (
                f" (only {_START}: the eval did not finish; inspect writes the header at the end)"
                if _START in names
                else " (not an inspect_ai .eval archive)"
            )
            raise EvalInputError(f"{path}: member {_HEADER}: missing{why}")
        header = _member(archive, path, _HEADER)
        if not isinstance(header, dict) or not isinstance(header.get("eval"), dict):
            raise EvalInputError(
                f"{path}: member {_HEADER}: not an inspect_ai eval log header (no 'eval' object)"
            )
        samples: list[dict[str, Any]] = []
        for name in names:
            if not (name.startswith(_SAMPLES) and name.endswith(".json")):
                continue
            sample = _member(archive, path, name)
            _check_sample(sample, f"{path}: member {name}", ": field ")
            samples.append(sample)
    samples.sort(key=_order)
    return {**header, "samples": samples}


def _order(sample: dict[str, Any]) -> tuple[int, str]:
    """inspect's ``sort_samples`` key: epoch, then the id (an integer id zero-filled)."""
    sample_id = sample["id"]
    return int(sample.get("epoch", 1)), (
        sample_id if isinstance(sample_id, str) else str(sample_id).zfill(20)
    )


def _member(archive: zipfile.ZipFile, path: Path, name: str) -> Any:
    """One JSON member of an archive, or an :class:`EvalInputError` naming the file and member."""
    where = f"{path}: member {name}"
    info = archive.getinfo(name)
    if info.file_size > _MEMBER_MAX:
        raise EvalInputError(
            f"{where}: {info.file_size} bytes uncompressed, more than {_MEMBER_MAX}"
        )
    try:
        raw = archive.read(info)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError,
            EOFError) as exc:  # fmt: skip
        raise EvalInputError(f"{where}: cannot be read from the archive ({exc})") from None
    try:
        return parse_json(raw.decode("utf-8-sig"), where)
    except UnicodeDecodeError:
        raise EvalInputError(f"{where}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise EvalInputError(f"{where}: not valid JSON ({exc})") from None


def _check_sample(sample: Any, at: str, join: str) -> None:
    """A sample (``at``, its fields named ``at + join + field``) has an id, a whole epoch from 1,
    and scores (an object of score objects) unless it failed (inspect keeps an errored sample,
    with its ``error`` and no scores)."""
    if not isinstance(sample, dict):
        raise EvalInputError(f"{at}: expected a sample object, found {type(sample).__name__}")

    def where(field: str) -> str:
        return at + join + field

    sample_id = sample.get("id")
    if isinstance(sample_id, bool) or not isinstance(sample_id, int | str):
        raise EvalInputError(f"{where('id')}: expected a string or an integer, found {sample_id!r}")
    epoch = sample.get("epoch", 1)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise EvalInputError(f"{where('epoch')}: expected a whole number from 1, found {epoch!r}")
    scores = sample.get("scores")
    if scores is None:
        if sample.get("error") is None:
            raise EvalInputError(
                f"{where('scores')}: missing (the sample has no score and no error)"
            )
        return
    if not isinstance(scores, dict):
        raise EvalInputError(
            f"{where('scores')}: expected an object, found {type(scores).__name__}"
        )
    for name, score in scores.items():
        if not isinstance(score, dict):
            raise EvalInputError(f"{where('scores.' + str(name))}: expected a score object")


def import_inspect(ledger: Ledger, path: Path, subject: str) -> list[ImportedRun]:
    """Record one inspect_ai eval log as a reported run with items and token usages.

    Raises:
        EvalInputError: not an inspect log (JSON or ``.eval``); nothing is written then.
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
    for sample in samples:
        counts = _usage(sample.get("model_usage"))
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
                    thinking_tokens=counts["thinking"],
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
    stats_usage = (data.get("stats") or {}).get("model_usage")
    if not isinstance(stats_usage, dict) or not stats_usage:
        stats_usage = _summed(samples)
    usages, priced = _api_usages(price_book(ledger), run_id, stats_usage, path)
    local = {k: v for k, v in stats_usage.items() if _api_model(str(k)) is None}
    totals = _usage(local)
    if totals["prompt"] or totals["answer"]:
        roles: dict[str, int] = {role: value or 0 for role, value in totals.items()}
        usages += role_token_usages(
            run_id, model, roles, provenance=Provenance.REPORTED, citation=str(path)
        )
    run.detail["priced_as_api"] = priced  # type: ignore[index]
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


def _summed(samples: list[Any]) -> dict[str, Any]:
    """The samples' ``model_usage`` maps summed per model (logs without ``stats.model_usage``)."""
    out: dict[str, dict[str, int]] = {}
    for sample in samples:
        for key, usage in ((sample or {}).get("model_usage") or {}).items():
            if not isinstance(usage, dict):
                continue
            into = out.setdefault(str(key), {})
            for field in _FIELDS:
                value = usage.get(field)
                if isinstance(value, int) and not isinstance(value, bool):
                    into[field] = into.get(field, 0) + value
    return out


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
