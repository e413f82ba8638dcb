"""``receipts baselines list``: grouped by model (a table headed by each model), filterable by
model, benchmark and origin, and never cutting a name, even piped at 80 columns."""

from __future__ import annotations

import json

from cli_helpers import assert_bad_input
from typer.testing import CliRunner

from receipts.cli import app


def _list(runner: CliRunner, *args: str, columns: int = 80) -> str:
    done = runner.invoke(app, ["baselines", "list", *args], env={"COLUMNS": str(columns)})
    assert done.exit_code == 0, done.output
    return done.stdout


def test_at_80_columns_piped_every_line_fits_and_nothing_is_cut(runner: CliRunner) -> None:
    out = _list(runner)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out  # folded onto the next line, never ellipsised
    # A long source location is whole once its folded pieces are joined.
    assert "visuals/s11/s11_table.png" in out.replace("│", "").replace("\n", "").replace(" ", "")


def test_each_model_has_one_heading_and_its_scores_under_it(runner: CliRunner) -> None:
    rows = json.loads(_list(runner, "--json"))
    models = list(dict.fromkeys(r["model"] for r in rows))
    out = _list(runner, columns=160)
    headings = [line.split(" ")[0] for line in out.splitlines() if line and line[0] not in "┏┃┡│└├"]
    assert headings[0] == "Published"
    assert headings[1:] == models  # one heading a model, in the registry's order
    assert f"{len(rows)} scores of {len(models)} models" in out
    assert "deepseek-r1 (DeepSeek-R1)" in out  # the display name beside the id


def test_the_narrow_layout_puts_origin_under_protocol_and_notes_under_source(
    runner: CliRunner,
) -> None:
    narrow = _list(runner, "--model", "o1-preview", "--benchmark", "aime24")
    assert "protocol / origin" in narrow and "source / notes" in narrow
    wide = _list(runner, "--model", "o1-preview", "--benchmark", "aime24", columns=160)
    assert "┃ origin" in wide and "┃ notes" in wide
    for out in (narrow, wide):
        assert "conflicts: 40.0" in out and "conflicts: 44.6" in out


def test_origin_filters_the_table_and_the_json(runner: CliRunner) -> None:
    rows = json.loads(_list(runner, "--origin", "independent", "--json"))
    assert rows and {r["origin"] for r in rows} == {"independent"}
    everything = json.loads(_list(runner, "--json"))
    assert len(rows) == sum(r["origin"] == "independent" for r in everything)
    cited = _list(runner, "--origin", "cited", "--model", "o1-preview", columns=160)
    assert "cited" in cited and "developer" not in cited and "independent" not in cited
    none = _list(runner, "--origin", "cited", "--model", "s1-32B")
    assert "no published score matches" in none


def test_an_unknown_origin_is_one_line(runner: CliRunner) -> None:
    done = runner.invoke(app, ["baselines", "list", "--origin", "indep"])
    assert_bad_input(done, "--origin", "'indep'", "nearest: independent")
