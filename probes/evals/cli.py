"""The eval commands: ``receipts eval run``, ``receipts eval show``, and the importers
``receipts import lm-eval`` and ``receipts import inspect-ai``. Thin: build typed inputs, call one
library function, render. Heavy imports (torch, transformers, vllm, math-verify, SQLAlchemy,
pydantic) happen inside the commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli import ErrorHandlingGroup, JsonOpt, LedgerOpt, console, print_json

if TYPE_CHECKING:
    from probes.evals.schema import EvalSummary, ImportedRun, ItemResult

SubjectOpt = Annotated[
    str, typer.Option("--subject", help="Subject id the eval run belongs to, e.g. s1-32B.")
]

eval_app = typer.Typer(
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    help="Budget-forced evals (s1's test-time method) recorded as metered runs.",
)


@eval_app.command("run")
def run_command(
    model: Annotated[
        str,
        typer.Option("--model", help="Model directory (served model name for --backend openai)."),
    ],
    data: Annotated[Path, typer.Option("--data", help="Benchmark items, JSONL.")],
    subject: SubjectOpt,
    backend: Annotated[
        str, typer.Option("--backend", help="transformers, vllm or openai.")
    ] = "transformers",
    benchmark: Annotated[
        str | None, typer.Option("--benchmark", help="Benchmark name (default: the file's stem).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first K items.")] = None,
    num_wait: Annotated[
        int, typer.Option("--num-wait", help="Times the end of thinking is suppressed.")
    ] = 0,
    wait_string: Annotated[
        str, typer.Option("--wait-string", help="Appended where thinking's end is suppressed.")
    ] = "Wait",
    max_thinking_tokens: Annotated[
        int, typer.Option("--max-thinking-tokens", help="One budget for all thinking rounds.")
    ] = 32000,
    max_answer_tokens: Annotated[
        int, typer.Option("--max-answer-tokens", help="Cap of the answer phase.")
    ] = 2048,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice.")] = 0,
    temperature: Annotated[float, typer.Option("--temperature", help="0 is greedy.")] = 0.0,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling (T > 0).")] = 1.0,
    samples: Annotated[
        int, typer.Option("--samples", help="Samples per item (pass@1 over k samples).")
    ] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Items per batch.")] = 8,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="ROLE=NAME: the JSONL field for id, question, answer or choices (repeatable).",
        ),
    ] = None,
    prompt_template: Annotated[
        str, typer.Option("--prompt-template", help="User turn, with {question}.")
    ] = "{question}",
    tokenizer: Annotated[
        str | None,
        typer.Option("--tokenizer", help="Tokenizer directory or qwen2.5 (default: the model's)."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or auto.")] = "auto",
    dtype: Annotated[str, typer.Option("--dtype", help="auto, bfloat16, float32...")] = "auto",
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="openai: the server's /v1 URL.")
    ] = None,
    max_model_len: Annotated[
        int | None, typer.Option("--max-model-len", help="vllm: context length.")
    ] = None,
    gpu_memory_utilization: Annotated[
        float, typer.Option("--gpu-memory-utilization", help="vllm: memory share to take.")
    ] = 0.9,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a budget-forced eval as a metered run; store per-item results and token usages."""
    import os

    from ledger.store import Ledger
    from probes.evals.backends import BackendOptions
    from probes.evals.data import parse_field_map
    from probes.evals.forcing import ForcingConfig
    from probes.evals.imports import check_subject
    from probes.evals.runner import EvalSpec, prepare, run_eval
    from probes.evals.show import summarize

    spec = EvalSpec(
        model=model,
        backend=backend,
        data=data,
        subject=check_subject(subject),
        forcing=ForcingConfig(max_thinking_tokens, max_answer_tokens, num_wait, wait_string),
        benchmark=benchmark,
        limit=limit,
        seed=seed,
        temperature=temperature,
        top_p=top_p,
        samples=samples,
        batch_size=batch_size,
        tokenizer=tokenizer,
        fields=parse_field_map(field),
        prompt_template=prompt_template,
        options=BackendOptions(
            device=device,
            dtype=dtype,
            seed=seed,
            base_url=base_url,
            api_key=os.environ.get("OPENAI_API_KEY"),
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
        ),
        command=["receipts", *sys.argv[1:]],
    )
    from ledger.progress import activity

    with activity(f"reading {data.name} and loading the tokenizer") as shown:
        prepared = prepare(spec)  # bad input fails here, before the ledger is touched
        with Ledger(ledger) as store:
            run = run_eval(store, prepared, progress=shown.advance, phase=shown.phase)
            shown.phase("summing up", None)
            summary = summarize(store, run.id)
    if as_json:
        typer.echo(summary.model_dump_json(indent=2))
    else:
        render_summary(summary)


@eval_app.command("show")
def show_command(
    run: Annotated[str, typer.Argument(help="Eval run id (or its unique suffix).")],
    items: Annotated[
        bool,
        typer.Option(
            "--items",
            help="Also list each item: correct, extracted answer, tokens, waits, forced end.",
        ),
    ] = False,
    failed: Annotated[
        bool,
        typer.Option(
            "--failed", help="List only the items judged wrong (implies --items; unjudged not)."
        ),
    ] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Accuracy with a Wilson 95% interval, tokens per item, forced-end rate, cost of the eval;
    with --items, each item's result too."""
    from ledger.store import Ledger
    from probes.evals.show import summarize

    with Ledger(ledger) as store:
        summary = summarize(store, run, per_item=items or failed, failed=failed)
    if as_json:
        typer.echo(summary.model_dump_json(indent=2))
        return
    render_summary(summary)
    if summary.per_item is not None:
        render_items(summary.per_item, failed=failed)


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def render_summary(s: EvalSummary) -> None:
    """The summary as a rich table."""
    from rich.table import Table

    from ledger.render import usd

    table = Table(title=f"Eval {s.run}", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value")
    acc = (
        "—"
        if s.accuracy is None
        else f"{s.accuracy:.1%} ({s.correct:g}/{s.items}), 95% CI "
        f"[{s.ci_low:.1%}, {s.ci_high:.1%}] (Wilson)"
    )
    cost = (
        "no priced usage"
        if s.cost_usd_low is None or s.cost_usd_high is None
        else f"{usd(s.cost_usd_low)} – {usd(s.cost_usd_high)}"
    )
    rows = [
        ("model", s.model or "—"),
        ("benchmark", f"{s.benchmark} ({s.protocol or 'protocol unknown'})"),
        ("status", s.status + (f", imported from {s.imported_from}" if s.imported_from else "")),
        ("metric", s.metric),
        ("accuracy", acc),
        ("unjudged", str(s.unjudged)),
        ("tokens / item (prompt, thinking, answer)",
         f"{_num(s.prompt_tokens_per_item)}, {_num(s.thinking_tokens_per_item)}, "
         f"{_num(s.answer_tokens_per_item)}"),
        ("waits / item", _num(s.waits_per_item, 2)),
        ("forced-end rate", "—" if s.forced_end_rate is None else f"{s.forced_end_rate:.1%}"),
        ("latency / item", f"{_num(s.latency_s_per_item, 2)} s"),
        ("wall time", f"{_num(s.wall_time_s, 1)} s"),
        ("GPU-hours (allocated)", _num(s.gpu_hours, 4)),
        ("energy", "—" if s.energy_kwh is None else f"{s.energy_kwh:.4f} kWh"),
        ("tokens", ", ".join(f"{k} {v:,.0f}" for k, v in s.tokens.items()) or "—"),
        ("cost", cost + (f" (cards: {', '.join(s.cards)})" if s.cards else "")),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, value)
    console().print(table)


def _yes_no(value: bool | None) -> str:
    return "—" if value is None else ("yes" if value else "no")


ANSWER_CHARS = 40
"""Extracted answers longer than this show their end (where the answer is) in the table."""


def _answer(text: str | None) -> str:
    from rich.markup import escape

    from ledger.printable import printable

    if text is None:
        return "—"
    line = printable(text, one_line=True)
    return escape(line if len(line) <= ANSWER_CHARS else "…" + line[-ANSWER_CHARS + 1 :])


def render_items(rows: list[ItemResult], *, failed: bool = False) -> None:
    """Each sample's result as a rich table: ids folded, never cut; a long extracted answer shows
    its last :data:`ANSWER_CHARS` characters on one line (``--json`` has it whole)."""
    from rich.markup import escape
    from rich.table import Table

    what = "judged wrong" if failed else "results"
    table = Table(title=f"Items {what} ({len(rows)})", title_justify="left")
    table.add_column("item", overflow="fold")
    samples = any(r.sample for r in rows)
    if samples:
        table.add_column("sample", justify="right")
    table.add_column("correct")
    table.add_column("extracted", overflow="fold")
    table.add_column("gold", overflow="fold")
    for name in ("prompt", "thinking", "answer", "waits"):
        table.add_column(name, justify="right")
    table.add_column("forced end")
    for r in rows:
        cells = [escape(r.item_id)] + ([str(r.sample)] if samples else [])
        cells += [
            _yes_no(r.correct),
            _answer(r.extracted_answer),
            _answer(r.gold_answer),
            *(_num(v, 0) for v in (r.prompt_tokens, r.thinking_tokens, r.answer_tokens)),
            _num(r.num_waits, 0),
            _yes_no(r.forced_end),
        ]
        table.add_row(*cells)
    if not rows:
        table.caption = "no item judged wrong" if failed else "no items recorded"
    console().print(table)


def _render_imported(found: list[ImportedRun], as_json: bool) -> None:
    if as_json:
        print_json([r.model_dump(mode="json") for r in found])
        return
    for r in found:
        acc = "—" if r.accuracy is None else f"{r.accuracy:.4f}"
        rep = "" if r.reported is None else f" (results file: {r.reported:.4f})"
        typer.echo(f"{r.run}: {r.items} items, metrics {', '.join(r.metrics) or 'none'}, "
                   f"accuracy {acc}{rep}")  # fmt: skip


def import_lm_eval_command(
    path: Annotated[Path, typer.Argument(help="lm-eval --output_path directory or results file.")],
    subject: SubjectOpt,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            "--tokenizer", help="Count thinking and answer tokens with it (qwen2.5 or a directory)."
        ),
    ] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import lm-evaluation-harness results (and --log_samples samples) as reported eval runs."""
    from ledger.progress import activity
    from ledger.store import Ledger
    from probes.evals.lm_eval import import_lm_eval, results_files

    results_files(path)  # a path without results fails before the ledger is opened
    with Ledger(ledger) as store, activity(f"reading {path.name}", unit="records") as shown:
        found = import_lm_eval(store, path, subject, tokenizer, shown)
    _render_imported(found, as_json)


def import_inspect_command(
    path: Annotated[
        Path, typer.Argument(help="inspect_ai eval log: a .json log or a .eval archive.")
    ],
    subject: SubjectOpt,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import an inspect_ai eval log (.json or .eval) as a reported eval run with items."""
    from ledger.progress import activity
    from ledger.store import Ledger
    from probes.evals.inspect_log import import_inspect

    # One JSON document (or archive) read whole: a spinner, no count to show.
    with Ledger(ledger) as store, activity(f"importing {path.name}"):
        found = import_inspect(store, path, subject)
    _render_imported(found, as_json)


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    """Mount ``eval`` on the top-level app and the importers on ``import``."""
    app.add_typer(eval_app, name="eval")
    import_app.command("lm-eval")(import_lm_eval_command)
    import_app.command("inspect-ai")(import_inspect_command)
