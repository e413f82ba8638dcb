"""Errors that must be one line (issue 14, items 4-6): deeply nested files, a full disk, a
malformed database URL, bad ``receipts run`` fields and options, passwords in URLs, and control
characters from input files kept away from the terminal and the appendix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import assert_bad_input
from typer.testing import CliRunner

from ledger import engine
from ledger.engine import safe_url
from ledger.errors import error_line
from ledger.files import MAX_DEPTH
from ledger.printable import printable
from ledger.store import Ledger
from receipts.cli import app

DATA = Path(__file__).parent / "data"
ESCAPES = "\x1b]0;pwned\x07\x1b[31mred\x9b2J\u202e"
"""A window title, a colour, a one-byte CSI clearing the screen and a bidi override."""


def invoke(runner: CliRunner, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def head(url: str) -> tuple[int, str]:
    with Ledger(url) as ledger:
        return ledger.head()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- deeply nested files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.yaml", f"schema_version: 1\nid: x\nmeta: {nested(3000)}\n"),
        ("deep.json", f'{{"schema_version": 1, "id": "x", "meta": {nested(100_000)}}}'),
        ("just-too-deep.json", f'{{"schema_version": 1, "meta": {nested(MAX_DEPTH)}}}'),
        ("alias.yaml", "schema_version: 1\nmeta: &loop [1, *loop]\n"),
    ],
)
@pytest.mark.parametrize("command", ["load", "check"])
def test_deeply_nested_files_are_one_line(
    runner: CliRunner, sqlite_url: str, tmp_path: Path, name: str, text: str, command: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    before = head(sqlite_url)
    result = invoke(runner, command, str(path), "--ledger", sqlite_url)
    assert_bad_input(result, name, "nested" if "deep" in name else "contains itself")
    assert head(sqlite_url) == before


def test_depth_limit_leaves_real_files_alone(tmp_path: Path) -> None:
    from ledger.files import load_structured

    path = tmp_path / "ok.json"
    path.write_text(json.dumps({"a": json.loads(nested(MAX_DEPTH - 1))}))
    assert load_structured(path)[0]["a"]


def test_deeply_nested_api_log_line_is_one_line(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    log.write_text('{"usage": ' + nested(100_000) + "}\n")
    before = head(sqlite_url)
    result = invoke(
        runner, "import", "api-log", str(log), "--subject", "x", "--create-subject",
        "--ledger", sqlite_url,
    )  # fmt: skip
    assert_bad_input(result, "calls.jsonl", "line 1", "nested")
    assert head(sqlite_url) == before


# -- a full disk and malformed URLs ---------------------------------------------------------


def test_disk_full_during_a_write_is_one_line(
    runner: CliRunner, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = head(sqlite_url)
    with Ledger(sqlite_url) as ledger, ledger.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    # SQLite itself refuses to grow the file: "database or disk is full", as on a full disk.
    monkeypatch.setattr(
        engine, "SQLITE_PRAGMAS", (*engine.SQLITE_PRAGMAS, f"max_page_count={pages}")
    )
    result = invoke(runner, "audit", "s1", "--ledger", sqlite_url)
    assert_bad_input(result, "ledger.db", "database or disk is full", no_stdout=True)
    monkeypatch.undo()
    assert head(sqlite_url) == before


@pytest.mark.parametrize(
    ("url", "needles", "secret"),
    [
        ("postgresql+psycopg://u@host:notaport/db", ["port 'notaport' is not a number"], None),
        ("postgresql+psycopg://u:hunter2@host:x/db", ["u:***@host", "port 'x'"], "hunter2"),
        ("postgresql+psycopg://u@host:x/db?password=hunter2", ["password=***"], "hunter2"),
    ],
)
def test_malformed_port_is_one_line_without_password(
    runner: CliRunner, url: str, needles: list[str], secret: str | None
) -> None:
    result = invoke(runner, "report", "--subject", "s1-32B", "--ledger", url)
    assert_bad_input(result, "ledger URL", *needles)
    assert secret is None or secret not in result.output


def test_password_in_query_is_masked_in_a_connection_error(runner: CliRunner) -> None:
    url = "postgresql+psycopg://u@127.0.0.1:1/db?password=hunter2&sslmode=disable"
    result = invoke(runner, "report", "--subject", "s1-32B", "--ledger", url)
    assert_bad_input(result, "password=***", "sslmode=disable")
    assert "hunter2" not in result.output


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://u:pw@h/db?password=pw2&sslpassword=k",
            "u:***@h/db?password=***&sslpassword=***",
        ),
        ("postgresql://u:p@ss@h:bad/db", "postgresql://u:***@h:bad/db"),
        ("sqlite:////tmp/ledger.db", "sqlite:////tmp/ledger.db"),
    ],
)
def test_safe_url_hides_every_password(url: str, shown: str) -> None:
    assert safe_url(url).endswith(shown)


# -- receipts run: fields and options -------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        (["--stage", "my stage"], ["--stage", "'my stage'"]),
        (["--subject", "../../etc"], ["--subject", "'../../etc'"]),
        (["--heartbeat", "-1"], ["run", "--heartbeat"]),
        (["--gpus", "-4", "--gpu-model", "H100"], ["run", "--gpus"]),
        (["--category", "nope"], ["run", "--category"]),
    ],
)
def test_bad_run_fields_start_nothing_and_write_nothing(
    runner: CliRunner, tmp_path: Path, options: list[str], needles: list[str]
) -> None:
    ledger_file = tmp_path / "ledger.db"
    marker = tmp_path / "started"
    given = {"--subject": "demo", "--stage": "sft", "--category": "fine_tuning"}
    args = ["run"]
    for option, value in given.items():
        if option not in options:
            args += [option, value]
    args += [*options, "--ledger", f"sqlite:///{ledger_file}", "--", "touch", str(marker)]
    assert_bad_input(invoke(runner, *args), *needles, no_stdout=True)
    assert not marker.exists() and not ledger_file.exists()


def test_run_without_a_command_is_one_line(runner: CliRunner, sqlite_url: str) -> None:
    result = invoke(
        runner, "run", "--subject", "demo", "--stage", "sft", "--category", "fine_tuning",
        "--ledger", sqlite_url,
    )  # fmt: skip
    assert_bad_input(result, "run", "Missing argument", "command")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--bogus"], ["No such option: --bogus"]),
        (["bogus"], ["No such command 'bogus'"]),
        (["prices", "list", "--bogus"], ["prices list", "--bogus"]),
        (["report"], ["report", "--subject"]),
    ],
)
def test_usage_errors_are_one_line_everywhere(
    runner: CliRunner, args: list[str], needles: list[str]
) -> None:
    assert_bad_input(invoke(runner, *args), *needles)


def test_no_arguments_still_print_the_help(runner: CliRunner) -> None:
    result = invoke(runner, "prices")
    assert "list" in result.output and "receipts: error" not in result.output


# -- control characters ---------------------------------------------------------------------


def test_printable_drops_controls_and_keeps_layout_whitespace() -> None:
    assert printable(f"a{ESCAPES}b\tc\nd") == "a]0;pwned[31mred2Jb\tc\nd"
    assert printable("a \n\t b", one_line=True) == "a b"
    assert error_line(f"bad\n{ESCAPES}") == "receipts: error: bad ]0;pwned[31mred2J"


def _case_with_escapes(tmp_path: Path) -> Path:
    text = (DATA / "case_ok.yaml").read_text()
    text = text.replace("title: A toy model", f"title: {json.dumps('Toy ' + ESCAPES)}")
    text = text.replace("name: SFT", f"name: {json.dumps('SFT ' + ESCAPES)}")
    text = text.replace('"lab notebook p. 3"', json.dumps("notebook [/bold] " + ESCAPES))
    path = tmp_path / "case.yaml"
    path.write_text(text)
    return path


def assert_no_controls(text: str) -> None:
    assert printable(text) == text, repr(text)


def test_terminal_output_carries_no_escape_sequences(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    case = _case_with_escapes(tmp_path)
    result = invoke(runner, "audit", str(case), "--ledger", sqlite_url)
    assert result.exit_code == 0, result.output
    assert "Toy ]0;pwned[31mred" in result.stdout  # shown, but inert
    assert_no_controls(result.stdout)
    for by in ("run", "stage"):
        result = invoke(runner, "report", "--subject", "toy", "--by", by, "--ledger", sqlite_url)
        assert result.exit_code == 0, result.output
        assert_no_controls(result.stdout)


def test_check_output_carries_no_escape_sequences(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    claims = DATA / "claims"
    text = (claims / "demo-claim.yaml").read_text()
    text = text.replace('"Demo A beats Demo B on AIME 2024"', json.dumps("Demo [/x] " + ESCAPES))
    path = tmp_path / "claim.yaml"
    path.write_text(text)
    result = invoke(
        runner, "check", str(path), "--baselines", str(claims / "demo-registry.yaml"),
        "--ledger", sqlite_url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Demo [/x] ]0;pwned" in result.stdout
    assert_no_controls(result.stdout)


def test_appendix_files_carry_no_control_characters(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    case = _case_with_escapes(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    result = invoke(runner, "audit", str(case), "--out", str(out), "--ledger", sqlite_url)
    assert result.exit_code == 0, result.output
    for name in ("report.md", "report.html", "report.tex"):
        text = (out / name).read_text()
        assert "]0;pwned" in text or name == "report.tex", name
        assert_no_controls(text)
