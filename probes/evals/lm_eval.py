"""``receipts import lm-eval``: lm-evaluation-harness output as reported eval runs with items.

lm-eval writes, under ``--output_path``, one directory per model holding ``results_<ts>.json``
(keys ``results``, ``configs``, ``versions``, ``n-samples``, ``config`` with ``model``,
``model_args`` and ``gen_kwargs``...) and, with ``--log_samples``, one
``samples_<task>_<ts>.jsonl`` per task whose rows carry ``doc_id``, ``doc``, ``target``,
``arguments``, ``resps``, ``filtered_resps``, ``filter`` and one field per metric
(``exact_match``...). Each task becomes one run (status ``reported``, the results file as its
citation) and each sample row one item per 0/1 metric.

A task with several filters (gsm8k's ``strict-match`` and ``flexible-extract``) has one sample row
per document and filter. Each filter's results are kept apart, under the metric name the results
file uses (``exact_match,strict-match``). Rows carry the filter in ``filter`` in recent harness
versions; older ones (and s1's fork) write the rows without it, filter after filter, in the order
the results file lists them: there the n-th row of a document belongs to the n-th filter. The
primary metric is the first per-item metric the results file reports for the task (the harness
lists them as it computed them: the first filter's first metric).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.errors import NotFoundError
from ledger.files import parse_json
from ledger.progress import Activity, Quiet
from ledger.schema import Category, EvalItem, Record, Run, RunStatus, Subject
from ledger.store import Ledger
from probes.evals.errors import EvalInputError
from probes.evals.imports import (
    binary,
    check_subject,
    parse_kwargs,
    protocol_of,
    safe_id,
    split_forced,
    utc_from_unix,
)
from probes.evals.schema import ImportedRun

PROGRESS_EVERY = 50
"""Samples read (and re-encoded) between two progress calls."""

_BOOKKEEPING = {
    "doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics",
    "doc_hash", "prompt_hash", "target_hash", "task_name",
}  # fmt: skip
_ID_FIELDS = ("id", "unique_id", "problem_id", "question_id", "idx")


def results_files(path: Path) -> list[Path]:
    """``results_*.json`` at ``path`` (a file) or anywhere under it (a directory).

    Raises:
        EvalInputError: nothing there, or no results file.
    """
    if not path.exists():
        raise EvalInputError(f"{path}: no such file or directory")
    if path.is_file():
        return [path]
    found = sorted(path.rglob("results_*.json"))
    if not found:
        raise EvalInputError(
            f"{path}: no lm-eval results (results_*.json) in this directory or below it"
        )
    return found


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = parse_json(path.read_text(encoding="utf-8-sig"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalInputError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise EvalInputError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise EvalInputError(f"{path}: not lm-eval results (no 'results' object)")
    _check_finite(data, f"{path}: ", ())
    return data


def _check_finite(value: Any, where: str, loc: tuple[str, ...]) -> None:
    """Refuse NaN and infinities (Python's json reads them): a NaN metric is no result, and
    dropped silently it would import a scored task as "0 items"."""
    if isinstance(value, float) and not math.isfinite(value):
        field = ".".join(loc) or "(top level)"
        raise EvalInputError(f"{where}field {field}: {value} is not a number")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, where, (*loc, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_finite(item, where, (*loc, str(index)))


def _samples(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, text in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            row = parse_json(text, f"{path}: line {number}")
        except json.JSONDecodeError as exc:
            raise EvalInputError(f"{path}: line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "doc_id" not in row:
            raise EvalInputError(f"{path}: line {number}: not an lm-eval sample (no doc_id)")
        _check_finite(row, f"{path}: line {number}: ", ())
        rows.append(row)
    return rows


def _stamp(results: Path) -> str:
    return results.stem.removeprefix("results_")


def _tasks(data: dict[str, Any]) -> list[str]:
    groups = {g for g, subs in (data.get("group_subtasks") or {}).items() if subs}
    named = data.get("n-samples") or data["results"]
    return [t for t in named if t not in groups]


def _model(data: dict[str, Any], model_args: dict[str, Any]) -> str:
    for key in ("pretrained", "model", "path", "engine", "peft", "delta"):
        if model_args.get(key):
            return str(model_args[key])
    return str(data.get("model_name") or (data.get("config") or {}).get("model") or "unknown")


def _metrics(row: dict[str, Any]) -> list[str]:
    names = row.get("metrics")
    if isinstance(names, list):
        return [str(n) for n in names if binary(row.get(n)) is not None]
    return [k for k, v in row.items() if k not in _BOOKKEEPING and binary(v) is not None]


def _item_id(row: dict[str, Any]) -> str:
    doc = row.get("doc")
    if isinstance(doc, dict):
        for key in _ID_FIELDS:
            if doc.get(key) is not None and not isinstance(doc[key], dict | list):
                return str(doc[key])
    return str(row["doc_id"])


def _response(row: dict[str, Any]) -> str | None:
    resps = row.get("resps")
    while isinstance(resps, list) and resps:
        resps = resps[0]
    return resps if isinstance(resps, str) else None


def _extracted(row: dict[str, Any]) -> str | None:
    filtered = row.get("filtered_resps")
    while isinstance(filtered, list) and filtered:
        filtered = filtered[0]
    return filtered if isinstance(filtered, str) and filtered.strip() else None


def _task_records(
    subject: str,
    results: Path,
    data: dict[str, Any],
    task: str,
    tokenizer: Any | None,
    shown: Activity,
) -> tuple[Run, list[EvalItem], ImportedRun]:
    config = data.get("config") or {}
    model_args = parse_kwargs(config.get("model_args"))
    task_config = (data.get("configs") or {}).get(task) or {}
    gen_kwargs = parse_kwargs(task_config.get("generation_kwargs")) | parse_kwargs(
        config.get("gen_kwargs")
    )
    model = _model(data, model_args)
    run_id = safe_id(f"{subject}/eval/lm-eval/{task}/{_stamp(results)}")
    samples_path = results.parent / f"samples_{task}_{_stamp(results)}.jsonl"
    shown.phase(f"{task}: reading the samples")
    rows = _samples(samples_path) if samples_path.is_file() else []
    reported = data["results"].get(task) or {}
    filters = _row_filters(rows, _filters(data, task), samples_path)
    shown.phase(f"{task}: " + ("counting tokens of" if tokenizer else "reading"), len(rows))
    items, metric_names = _items(run_id, task, rows, filters, reported, tokenizer, shown.advance)
    primary = metric_names[0] if metric_names else None
    effective = (data.get("n-samples") or {}).get(task, {}).get("effective")
    repeats = int(task_config.get("repeats") or 1)
    single_task = len(_tasks(data)) == 1
    total_s = data.get("total_evaluation_time_seconds")
    run = Run(
        id=run_id,
        subject=subject,
        stage="eval",
        category=Category.EVALUATION,
        name=f"lm-eval {task} {model}",
        status=RunStatus.REPORTED,
        started_at=utc_from_unix(data.get("date")),
        wall_time_s=float(total_s) if single_task and total_s is not None else None,
        citation=str(results),
        note=None if rows else "no samples file (run lm-eval with --log_samples): no items",
        detail={
            "model": model,
            "backend": config.get("model"),
            "benchmark": task,
            "n": effective if effective is not None else len({i.item_id for i in items}),
            "protocol": protocol_of(gen_kwargs, repeats),
            "num_wait": gen_kwargs.get("thinking_n_ignore"),
            "max_thinking_tokens": gen_kwargs.get("max_tokens_thinking"),
            "max_answer_tokens": gen_kwargs.get("max_gen_toks"),
            "wait_string": gen_kwargs.get("thinking_n_ignore_str"),
            "seed": config.get("random_seed"),
            "gen_kwargs": gen_kwargs,
            "imported_from": "lm-eval",
            "source_path": str(results),
            "samples_path": str(samples_path) if rows else None,
            "model_args": model_args,
            "primary_metric": primary,
            "reported_results": {k: v for k, v in reported.items() if k != "alias"},
            "lm_eval_version": data.get("lm_eval_version"),
            "total_evaluation_time_s": total_s,
        },
    )
    judged = [i for i in items if i.metric == primary and i.correct is not None]
    accuracy = sum(bool(i.correct) for i in judged) / len(judged) if judged else None
    value = reported.get(primary) if primary else None
    summary = ImportedRun(
        run=run_id,
        task=task,
        items=len(items),
        metrics=metric_names,
        accuracy=accuracy,
        reported=float(value) if isinstance(value, int | float) else None,
    )
    return run, items, summary


def _filters(data: dict[str, Any], task: str) -> list[str]:
    """The task's filters in the harness's order: as the results file lists its metrics, then
    any other the task's config names; ``none`` (no filter) where neither names one."""
    names: list[str] = []
    for key in data["results"].get(task) or {}:
        metric, comma, flt = str(key).partition(",")
        if comma and not metric.endswith("_stderr") and flt not in names:
            names.append(flt)
    config = (data.get("configs") or {}).get(task) or {}
    for entry in config.get("filter_list") or []:
        name = entry.get("name") if isinstance(entry, dict) else None
        if name and str(name) not in names:
            names.append(str(name))
    return names or ["none"]


def _row_filters(rows: list[dict[str, Any]], filters: list[str], path: Path) -> list[str]:
    """The filter of each sample row: its ``filter`` field, or, where the harness wrote none, the
    n-th of the task's filters for the n-th row of the same document.

    Raises:
        EvalInputError: a document has more rows without a filter than the task has filters.
    """
    seen: dict[str, int] = {}
    out = []
    for row in rows:
        if row.get("filter") is not None:
            out.append(str(row["filter"]))
            continue
        doc = str(row["doc_id"])
        nth = seen.get(doc, 0)
        seen[doc] = nth + 1
        if nth >= len(filters):
            raise EvalInputError(
                f"{path}: doc_id {doc} has {nth + 1} rows without a filter field, but the "
                f"results name {len(filters)} filter(s) ({', '.join(filters)})"
            )
        out.append(filters[nth])
    return out


def _items(
    run_id: str,
    task: str,
    rows: list[dict[str, Any]],
    filters: list[str],
    reported: dict[str, Any],
    tokenizer: Any | None,
    progress: Callable[[int, int], None],
) -> tuple[list[EvalItem], list[str]]:
    names: list[str] = []
    for row, flt in zip(rows, filters, strict=True):
        for metric in _metrics(row):
            name = f"{metric},{flt}"
            if name not in names:
                names.append(name)
    # The results file's own order decides the primary metric (lm-eval lists them as computed).
    order = [k for k in reported if k in names]
    names = order + [n for n in names if n not in order]
    items: list[EvalItem] = []
    for done, (row, flt) in enumerate(zip(rows, filters, strict=True)):
        if done % PROGRESS_EVERY == 0:
            progress(done, len(rows))
        item_id = _item_id(row)
        response = _response(row)
        split = split_forced(response) if response is not None else None
        counts = _counts(split, tokenizer)
        for metric in _metrics(row):
            name = f"{metric},{flt}"
            suffix = "" if name == names[0] else f"/{metric}@{flt}"
            items.append(
                EvalItem(
                    id=safe_id(f"{run_id}/{item_id}{suffix}"),
                    run=run_id,
                    benchmark=task,
                    item_id=item_id,
                    correct=binary(row[metric]),
                    metric=name,
                    extracted_answer=_extracted(row),
                    gold_answer=None if row.get("target") is None else str(row["target"]),
                    thinking_tokens=counts[0],
                    answer_tokens=counts[1],
                    forced_end=split[2] if split else None,
                    trace=response,
                )
            )
    progress(len(rows), len(rows))
    return items, names


def _counts(split: tuple[str, str, bool] | None, tokenizer: Any | None) -> tuple[int | None, ...]:
    if split is None or tokenizer is None:
        return (None, None)
    thinking, answer, _ = split
    return (
        len(tokenizer.encode(thinking, add_special_tokens=False)),
        len(tokenizer.encode(answer, add_special_tokens=False)),
    )


def import_lm_eval(
    ledger: Ledger,
    path: Path,
    subject: str,
    tokenizer: str | None = None,
    shown: Activity | None = None,
) -> list[ImportedRun]:
    """Record every task of every results file under ``path``; importing again adds nothing.

    With ``tokenizer`` (``qwen2.5`` or a directory), the thinking and answer parts of
    budget-forced responses are counted in tokens (re-encoded text: the log keeps no ids).
    ``shown`` hears each step (loading the tokenizer, each task's samples, recording).

    Raises:
        EvalInputError: no results file, or a malformed one; nothing is written then.
    """
    from pydantic import ValidationError

    shown = shown or Quiet()
    tok = None
    if tokenizer is not None:
        from probes.tokens.tokenizer import load_tokenizer

        shown.phase(f"loading the {Path(tokenizer).name or tokenizer} tokenizer")
        tok = load_tokenizer(tokenizer)
    records: list[Record] = []
    summaries: list[ImportedRun] = []
    check_subject(subject)
    try:
        ledger.subject(subject)
    except NotFoundError:
        records.append(Subject(id=subject, name=subject))
    for results in results_files(path):
        data = _load_json(results)
        for task in _tasks(data):
            try:
                run, items, summary = _task_records(subject, results, data, task, tok, shown)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise EvalInputError(f"{results}: task {task}: {where}: {first['msg']}") from None
            records += [run, *items]
            summaries.append(summary)
    if not summaries:
        raise EvalInputError(f"{path}: the results name no task")
    shown.phase(f"recording {len(records):,} records")
    ledger.record(records)
    return summaries
