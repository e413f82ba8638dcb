"""Checks, app builders and drivers shared by the CLI tests (a helper module, not a test)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from ledger.cli import ErrorHandlingGroup


def assert_bad_input(result: Any, *needles: str, no_stdout: bool = False) -> None:
    """Bad input: exit 2, one ``receipts: error:`` line on stderr naming every needle, no
    traceback; with ``no_stdout``, nothing on stdout either."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("receipts: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in result.output
    if no_stdout:
        assert result.stdout == ""


def app_with_imports(mount: Callable[[typer.Typer, typer.Typer], None]) -> typer.Typer:
    """A top-level app with an ``import`` sub-app, as receipts/cli.py mounts them;
    ``mount(top, imports)`` registers the commands under test."""
    top = typer.Typer(cls=ErrorHandlingGroup, pretty_exceptions_show_locals=False)
    imports = typer.Typer(cls=ErrorHandlingGroup, no_args_is_help=True)
    top.add_typer(imports, name="import")
    mount(top, imports)
    return top
