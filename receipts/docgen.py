"""Generate docs/schema.md (from the pydantic models) and docs/cli.md (from the typer app).

Run ``python -m receipts.docgen`` after changing a model or a command; a test fails while the
committed files differ from what this module produces.
"""

from __future__ import annotations

import inspect
import sys
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any

import typer
import typer.main
from pydantic import BaseModel

from claims import report as claims_report
from claims import schema as claims_schema
from ledger import cases, formats, prices, report, schema
from ledger.bounds import FUTURE_SLACK, MAX_QUANTITY, MAX_SECONDS, MAX_TOKENS_PER_CALL
from receipts.appendix import schema as appendix_schema

DOCS = Path(__file__).resolve().parent.parent / "docs"

_MODELS: list[tuple[str, list[type[BaseModel]]]] = [
    (
        "Ledger records (`ledger/schema.py`)",
        [
            schema.Subject,
            schema.Run,
            schema.Usage,
            schema.Estimate,
            schema.PriceCard,
            schema.Scope,
            schema.Source,
            schema.HeadlineFigure,
            schema.FunnelStep,
            schema.EvalItem,
            schema.Entry,
        ],
    ),
    (
        "Files (`ledger/cases.py`, `ledger/prices.py`)",
        [
            cases.CaseFile,
            cases.EstimateSpec,
            cases.MoneySpec,
            cases.ReportedUsd,
            prices.PriceCardFile,
        ],
    ),
    (
        "Reports (`ledger/report.py`), as printed by `--json`",
        [
            report.Audit,
            report.CostReport,
            report.CostGroup,
            report.CostLine,
            report.ScopeCost,
            report.Unpriced,
            report.HeadlineCheck,
        ],
    ),
    (
        "The audit appendix (`receipts/appendix/schema.py`), as written to report.json",
        [
            appendix_schema.Appendix,
            appendix_schema.RunRow,
            appendix_schema.CostContrast,
            appendix_schema.PublishedScore,
            appendix_schema.EstimateNote,
            appendix_schema.GpuTrace,
            appendix_schema.Methods,
            appendix_schema.Fingerprint,
        ],
    ),
    (
        "Claim files (`claims/schema.py`), see docs/claims.md",
        [
            claims_schema.ClaimFile,
            claims_schema.ClaimSource,
            claims_schema.CostAssertion,
            claims_schema.ComparisonAssertion,
            claims_schema.DataEfficiencyAssertion,
            claims_schema.RelativeQualityAssertion,
            claims_schema.Gain,
        ],
    ),
    (
        "Baseline registry and per-item results (`claims/schema.py`)",
        [
            claims_schema.RegistryFile,
            claims_schema.Benchmark,
            claims_schema.BenchmarkOverride,
            claims_schema.ModelEntry,
            claims_schema.TrainingSet,
            claims_schema.ScoreTable,
            claims_schema.ScoreRow,
            claims_schema.Protocol,
            claims_schema.PublishedDifference,
            claims_schema.ReportedWin,
            claims_schema.Score,
            claims_schema.ItemResultsFile,
            claims_schema.ItemResults,
        ],
    ),
    (
        "Verdicts (`claims/report.py`), as printed by `receipts check --json`",
        [
            claims_report.CheckReport,
            claims_report.ClaimVerdict,
            claims_report.AssertionVerdict,
            claims_report.ComparatorCheck,
            claims_report.BenchmarkCheck,
            claims_report.DifferenceTest,
            claims_report.AlternativeValue,
            claims_report.ScopeCheck,
            claims_report.BaselineRow,
        ],
    ),
]
_ENUMS: list[type[Enum]] = [
    schema.Category,
    schema.Provenance,
    schema.RunStatus,
    schema.Unit,
    schema.Tier,
    schema.Term,
    claims_schema.Relation,
    claims_schema.CostBound,
    claims_schema.Area,
    claims_schema.ProtocolKind,
    claims_schema.Origin,
    claims_schema.JudgeKind,
    claims_report.Verdict,
    claims_report.IntervalMethod,
]


def _type_name(annotation: Any) -> str:
    """A readable type: validators stripped, unions joined with ``|``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin is not None:
        return (
            f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
        )
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def schema_markdown() -> str:
    """The data model as Markdown: one table per model, one section per enum."""
    out = [
        "# Data model",
        "",
        "Generated by `python -m receipts.docgen` from the pydantic models; do not edit by hand.",
        f"Stored formats carry `schema_version` (currently {schema.SCHEMA_VERSION}). Every model "
        "rejects unknown fields. Money is a decimal number of US dollars; timestamps are UTC.",
        "",
        "## Ledger entries and their format version",
        "",
        "Every ledger entry records the entry format it was written in (the `format` column, "
        f"currently {formats.ENTRY_FORMAT}), hashed with the entry's other columns. Entries are "
        "never rewritten (the hash chain forbids it), so every read brings an entry to today's "
        "models before validating it: an entry without a format, written before formats "
        "existed, is format 1; an older format is upgraded one version at a time by the steps "
        "in `ledger/formats.py`, on read only; a format newer than the installed receipts "
        "is refused with a message to upgrade. Heartbeat snapshots carry the format too. A "
        "change that renames or removes a stored field raises the format and adds its upgrade "
        "step; the golden ledgers in `tests/golden/` (one per format, and one from before "
        "formats) must still open, report and verify.",
        "",
        "## Ids and corrections",
        "",
        "Records are matched on their kind and id. A record whose id the ledger already holds "
        "with other content is a correction: it supersedes that entry, and it must keep the "
        "entry's subject; a usage or an eval item must also keep its run, or move to a run of "
        "the same subject, stage and category (an annotation moving from a Label Studio "
        "import's skipped run to its submitted run). Any other collision (a usage id that "
        "belongs to another subject's or another stage's usage) is refused and nothing is "
        "written: give the record another id. One write, one case file and one import may not "
        "give an id twice (a case file's duplicate is named by file and field; a Label Studio "
        "export that repeats an annotation id is refused).",
        "",
        "## Plausibility bounds",
        "",
        "A value no real work can have is a typo, a unit mix-up or an attack, and it would "
        "swamp every total it joins, so it is refused (one line naming the file, line and "
        "field) wherever a file or a caller gives it. The bounds (`ledger/bounds.py`) lie "
        "orders of magnitude above the largest real figures:",
        "",
        "| figure | at most |",
        "|---|---|",
        *[f"| one usage in `{unit.value}` | {bound:g} |" for unit, bound in MAX_QUANTITY.items()],
        f"| any duration in seconds (`wall_time_s`, `latency_s`, sacct `ElapsedRaw`, Label "
        f"Studio `lead_time`) | {MAX_SECONDS:g} |",
        f"| tokens of one API call | {MAX_TOKENS_PER_CALL:g} |",
        f"| any amount of money (USD) | {schema.MAX_USD:g} |",
        "",
        "A run may not end before it starts; a run's `started_at` and `ended_at`, a price "
        f"card's `date` and sacct's Start and End may lie at most {FUTURE_SLACK.days} days "
        "after now. NaN and infinite numbers are refused everywhere (an lm-eval results or "
        "samples file with a NaN metric names the field), and a CSV row with more cells than "
        "its header is refused with its line. A UTF-8 byte-order mark at the start of a "
        "file is accepted.",
        "",
    ]
    for title, models in _MODELS:
        out += [f"## {title}", ""]
        for model in models:
            doc = inspect.getdoc(model) or ""
            out += [f"### `{model.__name__}`", "", doc.splitlines()[0] if doc else "", ""]
            out += ["| field | type | required | description |", "|---|---|---|---|"]
            for name, field in model.model_fields.items():
                required = "yes" if field.is_required() else f"no (`{field.default!r}`)"
                desc = (field.description or "").replace("\n", " ").replace("|", "\\|")
                type_text = _type_name(field.annotation).replace("|", "\\|")
                out.append(f"| `{name}` | `{type_text}` | {required} | {desc} |")
            out.append("")
    out += ["## Enumerations", ""]
    for enum in _ENUMS:
        values = ", ".join(f"`{member.value}`" for member in enum)
        out += [f"- `{enum.__name__}`: {values}. {(inspect.getdoc(enum) or '').splitlines()[0]}"]
    return "\n".join(out).rstrip() + "\n"


def cli_markdown(app: typer.Typer) -> str:
    """Every command's help text as Markdown."""
    command = typer.main.get_command(app)
    out = [
        "# Command-line reference",
        "",
        "Generated by `python -m receipts.docgen` from the typer app; do not edit by hand.",
        "Bad input exits with code 2 and one line on stderr; `receipts verify` exits 1 on a "
        "broken ledger.",
        "",
    ]
    _walk(command, ["receipts"], out)
    return "\n".join(out).rstrip() + "\n"


def _type_label(param: Any) -> str:
    annotation = param.type_descriptor.annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "\\|".join(str(m.value) for m in annotation)
    if getattr(param, "is_flag", False) or annotation is bool:
        return "flag"
    return _type_name(annotation)


def _default_label(param: Any) -> str:
    if param.required:
        return "required"
    value = param.default
    if value is None or value is False:
        return ""
    return f"`{value.value if isinstance(value, Enum) else value}`"


def _walk(command: Any, path: list[str], out: list[str]) -> None:
    ctx = typer.Context(command, info_name=" ".join(path))
    params = [p for p in command.params if p.name != "help"]
    arguments = [p.name.upper() for p in params if p.param_type_name == "argument"]
    usage = " ".join([*path, "[OPTIONS]", *arguments])
    if hasattr(command, "list_commands"):
        usage += " COMMAND"
    out += [f"## `{' '.join(path)}`", "", inspect.cleandoc(command.help or ""), ""]
    out += [f"Usage: `{usage}`", ""]
    if params:
        out += ["| argument or option | type | default | description |", "|---|---|---|---|"]
        for param in params:
            if param.param_type_name == "option":
                names = ", ".join(f"`{o}`" for o in param.opts)
            else:
                names = f"`{param.name.upper()}`"
            helptext = (param.help or "").replace("|", "\\|")
            out.append(f"| {names} | {_type_label(param)} | {_default_label(param)} | {helptext} |")
        out.append("")
    if hasattr(command, "list_commands"):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                _walk(sub, [*path, name], out)


def generate() -> dict[Path, str]:
    """Each generated file's path and its content."""
    from receipts.cli import app

    return {DOCS / "schema.md": schema_markdown(), DOCS / "cli.md": cli_markdown(app)}


def main() -> None:
    """Write the generated files."""
    for path, text in generate().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
