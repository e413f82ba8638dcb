"""Progress on stderr (:mod:`ledger.progress`): drawn on a terminal, never into a pipe, never on
stdout. The commands run as real processes whose stderr is a pseudo-terminal (or a pipe); no
timing is asserted, only what was written where."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.progress import Quiet, activity, shown_on

DATA = Path(__file__).parent / "data"
RECEIPTS = [sys.executable, "-m", "receipts"]


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[str, bytes, int]:
    """Run ``receipts ARGS`` with stderr on a pseudo-terminal and stdout on a pipe: (stdout, what
    the terminal received, exit code)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    with subprocess.Popen(
        [*RECEIPTS, *args], stdout=subprocess.PIPE, stderr=follower, cwd=cwd, env=env
    ) as process:
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closes when the process ends
                break
            if not chunk:
                break
            seen += chunk
        stdout = process.stdout.read().decode() if process.stdout else ""
        code = process.wait()
    os.close(leader)
    return stdout, seen, code


def _piped(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TERM": "xterm"}
    return subprocess.run(
        [*RECEIPTS, *args], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )


def _jsonl(tmp_path: Path) -> Path:
    data = tmp_path / "data.jsonl"
    data.write_text(
        "".join(json.dumps({"q": f"question {i} " * 20}) + "\n" for i in range(200)),
        encoding="utf-8",
    )
    return data


def test_tokens_count_shows_the_tokenizer_build_on_a_terminal_and_keeps_stdout_clean(
    tmp_path: Path,
) -> None:
    data = _jsonl(tmp_path)
    stdout, seen, code = _on_a_terminal(
        ["tokens", "count", str(data), "--field", "q", "--json"], tmp_path
    )
    assert code == 0, seen.decode(errors="replace")
    assert b"building the qwen2.5 tokenizer" in seen
    assert b"counting tokens" in seen
    assert json.loads(stdout)["files"][0]["records"] == 200  # nothing but the JSON on stdout


def test_tokens_count_into_a_pipe_writes_no_progress(tmp_path: Path) -> None:
    data = _jsonl(tmp_path)
    done = _piped(["tokens", "count", str(data), "--field", "q", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout)["files"][0]["records"] == 200


def test_an_import_shows_what_it_reads_on_a_terminal_only(tmp_path: Path) -> None:
    export = DATA / "labelstudio" / "export.json"
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    args = ["import", "label-studio", str(export), "--subject", "toy", "--create-subject",
            "--ledger", url, "--json"]  # fmt: skip
    stdout, seen, code = _on_a_terminal(args, tmp_path)
    assert code == 0, seen.decode(errors="replace")
    assert b"reading export.json" in seen
    assert json.loads(stdout)["tasks"] > 0
    again = _piped(args, tmp_path)  # the same import again: adds nothing, says nothing on stderr
    assert again.returncode == 0 and again.stderr == ""


def test_an_activity_on_a_stream_that_is_not_a_terminal_is_quiet_and_writes_nothing() -> None:
    stream = io.StringIO()
    assert not shown_on(stream)
    with activity("building", total=3, stream=stream) as shown:
        assert isinstance(shown, Quiet)
        shown.phase("counting", 10)
        shown.advance(5)
    assert stream.getvalue() == ""


def test_an_activity_on_a_terminal_draws_its_phases_and_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm")
    leader, follower = pty.openpty()
    with os.fdopen(follower, "w", encoding="utf-8") as terminal:
        assert shown_on(terminal)
        title = "building \x1b]0;title\x07the index"  # an escape sequence from a file name
        with activity(title, stream=terminal, unit="records", threads=False) as a:
            a.phase("counting records", 4)
            for done in range(1, 5):
                a.advance(done)
        terminal.flush()
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert b"building ]0;titlethe index" in seen  # shown, its control characters dropped
    assert b"counting records" in seen and b"4/4 records" in seen
    assert b"\x1b]0;" not in seen


def test_a_sacct_import_shows_its_steps_on_a_terminal_only(tmp_path: Path) -> None:
    export = DATA / "sacct" / "sacct_duplicates.txt"
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    args = ["import", "sacct", str(export), "--subject", "toy", "--create-subject",
            "--stage", "sft", "--category", "fine_tuning", "--ledger", url, "--json"]  # fmt: skip
    stdout, seen, code = _on_a_terminal(args, tmp_path)
    assert code == 0, seen.decode(errors="replace")
    assert b"reading sacct_duplicates.txt" in seen
    assert json.loads(stdout)
    again = _piped(args, tmp_path)
    assert again.returncode == 0 and again.stderr == ""
