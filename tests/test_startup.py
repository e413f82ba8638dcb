"""`receipts --help` must not pay for heavy imports: the commands that need them import them."""

from __future__ import annotations

import re
import subprocess
import sys

HEAVY = ["sqlalchemy", "pydantic", "torch", "transformers", "pandas", "matplotlib", "pynvml"]


def test_the_cli_imports_no_heavy_module_until_a_command_needs_it() -> None:
    code = f"import sys, receipts.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def _listed_commands(help_text: str) -> set[str]:
    """The command names in the help's Commands panel: the first word of each row that starts
    one (``│ run        Run a command ...``), not the words of wrapped descriptions."""
    panel = help_text.split("Commands", 1)[1]
    return set(re.findall(r"^│ ([a-z][a-z-]*) ", panel, flags=re.MULTILINE))


def test_help_lists_every_command() -> None:
    import typer.main

    from receipts.cli import app

    done = subprocess.run([sys.executable, "-m", "receipts", "--help"], capture_output=True,
                          text=True, check=True)  # fmt: skip
    listed = _listed_commands(done.stdout)
    group = typer.main.get_group(app)
    assert listed == set(group.commands)  # each by its own name: "runs" is not "run"
    expected = {"audit", "report", "verify", "prices", "run", "runs", "ledger", "import",
                "reconcile", "label"}  # fmt: skip
    assert expected <= listed
