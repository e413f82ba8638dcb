"""The ``receipts`` command. The only module that knows every package; each package brings its own
commands, this module mounts them and adds the commands that combine packages (``audit``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from claims.cli import BaselinesOpt, ClaimsOpt
from claims.cli import register as register_claims
from ledger.cli import ErrorHandlingGroup, JsonOpt, LedgerOpt, console, print_json, register
from probes.cli import register as register_probes

if TYPE_CHECKING:
    from receipts.appendix import Appendix

FormatsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--format",
        help="md, tex, html, json or pdf (pdf needs the pdf extra); several as md,html,tex or "
        "by repeating the option. Default: a file's suffix, or for a directory md, tex, html "
        "and json.",
        show_default=False,
    ),
]

app = typer.Typer(
    name="receipts",
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    help="Cost-and-claims accounting for machine-learning work.",
)
register(app)
register_probes(app)
register_claims(app)


@app.command()
def audit(
    case: Annotated[str, typer.Argument(help="A bundled case (s1) or a case file.")] = "s1",
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject",
            help="Audit this subject of the case (a base model, a variant); default: the case's.",
            show_default=False,
        ),
    ] = None,
    claims_files: ClaimsOpt = None,
    baselines: BaselinesOpt = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also write the audit appendix into this directory (created where missing): "
            "report.md, report.tex (with report-body.tex), report.html and report.json, figures "
            "in report-figures/.",
            show_default=False,
        ),
    ] = None,
    formats: FormatsOpt = None,
) -> None:
    """Load a case into the ledger (idempotently); print the bottom line (which figure covers
    which scope, the wider scopes, each claim's verdict), then its cost audit and the verdicts of
    its bundled claims and of the claim files given."""
    if out is not None:
        from receipts.appendix import BUNDLE, check_formats, check_output

        check_output(out, directory=True)  # before the ledger is touched
        formats = check_formats(formats or list(BUNDLE), out)
    from claims.bottom_line import bottom_line
    from claims.cli import case_claims
    from claims.render import render_claims_summary
    from ledger.audit import build_audit
    from ledger.cases import load_case, record_case
    from ledger.errors import InputError
    from ledger.render import render_audit
    from ledger.store import Ledger
    from ledger.summary import scope_walls

    loaded = load_case(_audited_case(case))
    if subject is not None:
        known = [s.id for s in loaded.subjects]
        if subject not in known:
            raise InputError(
                f"{case}: field subject: {subject!r} is not a subject of the case "
                f"(subjects: {', '.join(known)})"
            )
        loaded = loaded.model_copy(update={"subject": subject})
    bundle: Appendix | None = None
    with Ledger(ledger) as store:
        record_case(store, loaded)
        result = build_audit(store, loaded)
        claims = case_claims(loaded.id, store, claims_files or [], baselines or [])
        bottom = bottom_line(result, claims, scope_walls(store, result))
        if out is not None:
            from ledger.progress import activity
            from receipts.appendix import build_appendix

            with activity("building the appendix (figures, tables)"):
                bundle = build_appendix(store, case=loaded, audit=result, claims=claims)
    if as_json:
        print_json(
            {
                **result.model_dump(mode="json"),
                "bottom_line": bottom.model_dump(mode="json"),
                "claims": [claim.model_dump(mode="json") for claim in claims],
            }
        )
    else:
        out_console = console()
        render_audit(out_console, result, bottom)
        render_claims_summary(out_console, claims)
    if bundle is not None and out is not None:
        _write_bundle(bundle, out, formats, err=True)


def _audited_case(case: str) -> str:
    """The case argument of ``audit``, refused with what to run instead where it names a bundled
    claim set that has no case (``qwq-32b``: claims about published scores, no costs to audit).

    Raises:
        NotFoundError: ``case`` is such a claim set.
    """
    from claims.files import bundled_claim_sets
    from ledger.cases import bundled_case_names
    from ledger.errors import NotFoundError

    if Path(case).exists() or case in bundled_case_names() or case not in bundled_claim_sets():
        return case
    raise NotFoundError(
        f"no case named {case!r}: {case} is a bundled claim set without a case (no runs or costs "
        f"to audit); check its claims with `receipts check {case}`"
    )


def _write_bundle(
    result: Appendix, out: Path, formats: list[str] | None = None, *, err: bool = False
) -> None:
    """Write ``report.<format>`` files into ``out`` and say what was written (one line a
    document, one for the figures, then the fingerprint), on stderr with ``err``."""
    from ledger.progress import activity
    from receipts.appendix import BUNDLE, write_bundle

    with activity(f"writing the appendix into {out}"):
        written = write_bundle(result, out, formats or BUNDLE)
    _say_written(written, err=err)
    typer.echo(_fingerprint_line(result), err=err)


def _say_written(written: list[Path], *, err: bool = False) -> None:
    figures = [p for p in written if p.parent.name.endswith("-figures")]
    for path in written:
        if path not in figures:
            typer.echo(f"wrote {path}", err=err)
    if figures:
        typer.echo(f"wrote {len(figures)} figure files in {figures[0].parent}", err=err)


def _fingerprint_line(result: Appendix) -> str:
    fp = result.fingerprint
    return f"fingerprint: ledger entry {fp.ledger_seq}, head {fp.ledger_head} ({fp.verify_command})"


@app.command()
def appendix(
    subject: Annotated[
        str, typer.Option("--subject", help="Subject id in the ledger, e.g. s1-32B.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="A file to write, in an existing directory (figures go to <stem>-figures/ "
            "beside it, and LaTeX also writes the \\input-able <stem>-body.tex); or a directory "
            "(one that exists, a path without a suffix, or any path with several formats), "
            "created where missing, that receives report.<format> for each format.",
        ),
    ],
    formats: FormatsOpt = None,
    claims_files: ClaimsOpt = None,
    baselines: BaselinesOpt = None,
    ledger: LedgerOpt = None,
) -> None:
    """Write the audit appendix of a subject: costs, runs, funnel, evals, claims, methods and a
    fingerprint to check it against the ledger, as Markdown, LaTeX, HTML, JSON or PDF (several
    in one call into a directory)."""
    from claims.cli import case_claims
    from ledger.store import Ledger
    from receipts.appendix import (
        BUNDLE,
        build_appendix,
        check_formats,
        check_output,
        write_appendix,
    )
    from receipts.appendix.build import case_for

    chosen = check_formats(formats, out) if formats else []
    into_directory = out.is_dir() or not out.suffix or len(chosen) > 1
    if into_directory:
        check_output(out, directory=True)
        chosen = chosen or list(BUNDLE)
    else:
        check_output(out)
        chosen = chosen or check_formats(None, out)
    from ledger.progress import activity

    with Ledger(ledger) as store, activity(f"building the appendix of {subject}"):
        case = case_for(store, subject)
        claims = case_claims(case.id, store, claims_files or [], baselines or [])
        result = build_appendix(store, subject, case=case, claims=claims)
    if into_directory:
        _write_bundle(result, out, chosen)
        return
    with activity(f"writing {out}"):
        written = write_appendix(result, chosen[0], out)
    _say_written(written)
    typer.echo(_fingerprint_line(result))


cases_app = typer.Typer(
    cls=ErrorHandlingGroup,
    no_args_is_help=True,
    help="The bundled case library: cases, their base models and their claim sets.",
)
app.add_typer(cases_app, name="cases")


@cases_app.command("list")
def cases_list(as_json: JsonOpt = False) -> None:
    """Every bundled case and claim set: the subject, what it inherits, and its claims."""
    from claims.files import bundled_claim_sets, bundled_claims
    from ledger.cases import ancestors, bundled_case_names, load_case

    rows: list[dict[str, str | list[str] | None]] = []
    for name in sorted({*bundled_case_names(), *bundled_claim_sets()}):
        case = load_case(name) if name in bundled_case_names() else None
        rows.append(
            {
                "name": name,
                "case": case.id if case else None,
                "title": case.title if case else None,
                "subject": case.subject if case else None,
                "inherits": ancestors(case) if case else [],
                "claims": [f"{name}/{e.name.rsplit('.', 1)[0]}" for e in bundled_claims(name)],
            }
        )
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table("name", "subject", "inherits", "claims", "title")
    for row in rows:
        inherits, claims = row["inherits"] or [], row["claims"] or []
        table.add_row(
            str(row["name"]),
            str(row["subject"] or "— (claims only)"),
            " <- ".join(inherits) or "—",
            str(len(claims)),
            str(row["title"] or f"claims only: receipts check {row['name']}"),
        )
    console().print(table)


def main() -> None:
    """Console-script entry point."""
    app()
