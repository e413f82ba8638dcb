"""The appendix opens with the bottom line (issue 16 item 1) and carries the price bases, energy
and emissions after the scopes table (issue 17 item 5), in Markdown, HTML and LaTeX alike; the
terminal audit's bottom line sets the owned basis beside the rental one with the run's energy.

Real `receipts audit s1 --out DIR` on a fresh SQLite ledger; the subprocess test pipes stdout as
`| head` does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.schema import Category, Provenance, Run, RunStatus, Scope, Subject, Unit, Usage
from ledger.store import Ledger
from receipts.appendix import Appendix, build_appendix, fmt
from receipts.appendix.escape import escape_latex, escape_markdown
from receipts.appendix.render import render_text
from receipts.cli import app

FORMATS = ("report.md", "report.html", "report-body.tex")


@pytest.fixture(scope="module")
def s1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Appendix]:
    """`receipts audit s1 --json --out DIR` once: the folder, the audit's JSON, the appendix."""
    root = tmp_path_factory.mktemp("s1-bottom")
    url = f"sqlite:///{root / 'ledger.db'}"
    out = root / "out"
    done = CliRunner().invoke(
        app,
        [
            "audit",
            "s1",
            "--json",
            "--out",
            str(out),
            "--format",
            "md,html,tex,json",
            "--ledger",
            url,
        ],
    )
    assert done.exit_code == 0, done.output
    appendix = Appendix.model_validate_json((out / "report.json").read_text(encoding="utf-8"))
    return out, json.loads(done.stdout), appendix


def _text(out: Path, name: str) -> str:
    return (out / name).read_text(encoding="utf-8")


def _escape(name: str, text: str) -> str:
    """``text`` as the format of file ``name`` writes it."""
    if name.endswith(".md"):
        return escape_markdown(text)
    if name.endswith(".tex"):
        return escape_latex(text)
    from markupsafe import escape

    return str(escape(text))


def test_the_appendix_record_carries_the_terminal_bottom_line(
    s1: tuple[Path, dict, Appendix],
) -> None:
    _, audit, appendix = s1
    assert appendix.bottom_line is not None
    assert appendix.bottom_line.model_dump(mode="json") == audit["bottom_line"]
    assert 2 <= len(appendix.bottom_line.sentences) <= 4
    assert [v.claim for v in appendix.bottom_line.verdicts] == [c.id for c in appendix.claims]


@pytest.mark.parametrize("name", FORMATS)
def test_each_format_opens_with_the_bottom_line_before_section_one(
    s1: tuple[Path, dict, Appendix], name: str
) -> None:
    out, _, appendix = s1
    text = _text(out, name)
    assert appendix.bottom_line is not None
    heading = {
        "report.md": "## Bottom line",
        "report.html": '<section id="bottom-line"',
        "report-body.tex": r"\subsection*{Bottom line}",
    }[name]
    first_section = {
        "report.md": "## 1. ",
        "report.html": '<section id="summary">',
        "report-body.tex": r"\subsection{Published figures",
    }[name]
    assert heading in text and text.index(heading) < text.index(first_section)
    top = text[text.index(heading) : text.index(first_section)]
    for sentence in appendix.bottom_line.sentences:
        assert _escape(name, sentence) in top, sentence
    for verdict in appendix.bottom_line.verdicts:
        assert _escape(name, verdict.text) in top, verdict.text
    assert _escape(name, "s1/techcrunch: not supported — under $50 misleading") in top


@pytest.mark.parametrize("name", FORMATS)
def test_each_format_has_the_price_bases_section_after_the_scopes_table(
    s1: tuple[Path, dict, Appendix], name: str
) -> None:
    out, _, appendix = s1
    text = _text(out, name)
    bases = appendix.audit.bases
    assert bases is not None
    heading = "Price bases, energy and emissions"
    assert heading in text
    start = text.index(heading)
    assert text.index("Scopes: what a dollar figure may be counting") < start
    section = text[start : text.index("Not priced or not quantified", start)]
    for scope in bases.scopes:
        assert _escape(name, scope.label) in section, scope.label
        for figure in (
            fmt.usd_range(scope.rental.cost_usd_low, scope.rental.cost_usd_high),
            fmt.usd_range(scope.owned.cost_usd_low, scope.owned.cost_usd_high),
            fmt.kwh_range(scope.gpu_kwh_low, scope.gpu_kwh_high),
            fmt.kwh_range(scope.facility_kwh_low, scope.facility_kwh_high),
            fmt.usd_range(scope.energy_cost_usd_low, scope.energy_cost_usd_high),
            fmt.co2e_range(scope.kg_co2e_low, scope.kg_co2e_high),
        ):
            assert _escape(name, figure) in section, (scope.scope, figure)
    # the final run: 16 H100 for 26 minutes, its owned basis beside the $13.80–$85.21 rental one
    for figure in ("$13.80–$85.21", "$6.64–$17.30", "7.29–14 kWh", "2.69–5.16 kg", "766–2,446 t"):
        assert _escape(name, figure) in section, figure
    # what the GPUs cost their owner, and where every stated input comes from
    assert _escape(name, "$497,912–$820,000") in section
    assert "H100" in section and "estimated" in section
    for p in bases.parameters:
        assert _escape(name, p.source) in section, p.name
    assert _escape(name, bases.carbon_source) in section
    assert " 0 kWh" not in section and "$0.00" not in section


def test_the_owned_basis_cards_are_listed_and_fingerprinted(
    s1: tuple[Path, dict, Appendix],
) -> None:
    out, audit, appendix = s1
    (h100,) = appendix.hardware
    assert h100.resource == "gpu/H100" and h100.devices == 16
    assert h100.scope == "s1/final-sft-rented" and h100.cards
    bases = appendix.audit.bases
    assert bases is not None
    listed = {card.id for card in appendix.methods.price_cards}
    for card in [*h100.cards, *bases.electricity_cards]:
        assert card in listed and card in appendix.fingerprint.price_cards, card
    assert set(audit["price_cards"]) <= set(appendix.fingerprint.price_cards)
    final = next(e for e in appendix.energy if e.run == "s1/sft-final")
    assert final.provenance is Provenance.ESTIMATED and not final.inherited
    assert appendix.energy[0].inherited  # the base model's pretraining first
    assert "electricity-usa-industrial-2024" in _text(out, "report.md")


def test_a_scope_without_gpu_usage_shows_dashes_not_zero(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger(url) as ledger:
        ledger.record(
            [
                Subject(id="demo", name="demo"),
                Run(
                    id="demo/data",
                    subject="demo",
                    stage="data",
                    category=Category.DATA,
                    name="labels",
                    status=RunStatus.SUCCEEDED,
                ),
                Usage(
                    id="demo/data/out",
                    run="demo/data",
                    resource="api/gpt-4o-mini",
                    unit=Unit.OUTPUT_TOKEN,
                    quantity=1000.0,
                    provenance=Provenance.MEASURED,
                ),
                Scope(
                    id="demo/everything",
                    subject="demo",
                    label="everything demo ran",
                    categories=list(Category),
                ),
            ]
        )
        appendix = build_appendix(ledger, "demo")
    assert appendix.bottom_line is not None and appendix.bottom_line.sentences
    assert "<$0.01" in appendix.bottom_line.sentences[0]  # a tiny amount is not $0.00
    assert appendix.hardware == [] and appendix.energy == []
    text = render_text(appendix, "md", {})
    assert "## Bottom line" in text and "$0.00" not in text
    section = text[text.index("### Price bases") :]
    row = next(line for line in section.splitlines() if line.startswith("| everything demo ran"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "—"  # no GPU-hours
    assert cells[2] == cells[3] != "—"  # the API tokens cost the same on both bases
    assert cells[4:9] == ["—", "—", "—", "—", "—"]  # energy, its cost, CO2e, how known
    assert "0 kWh" not in row and "0 kg" not in row


def test_the_first_screen_of_audit_s1_sets_the_owned_basis_beside_the_rental_one(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["RECEIPTS_LEDGER"] = f"sqlite:///{tmp_path / 'ledger.db'}"
    env["COLUMNS"] = "80"
    done = subprocess.run(
        [sys.executable, "-m", "receipts", "audit", "s1"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    first = "\n".join(lines[:25])
    assert "$50" in first and "$378–$3,675" in first
    assert "Owned rather than rented, the 16 H100" in first
    assert re.search(r"\$498k–\$820k", first) and "$6.64–$17.30" in first
    assert "kWh at the facility (estimated)" in first and "kg CO2e" in first
    assert "s1/techcrunch: not supported — under $50 misleading" in first
    assert "s1/vrstate" in first  # every verdict line still on the first screen
    # the tables follow the scopes table, whole numbers, never cut
    rest = done.stdout[done.stdout.index("Scopes: what a dollar figure") :]
    assert "Price bases, energy and emissions" in rest
    assert "$13.80–$85.21 │ $6.64–$17.30" in rest
    assert "What the GPUs cost their owner: an H100 costs $31k–$51k" in done.stdout.replace(
        "\n", " "
    )


@pytest.mark.parametrize("case", ["alpaca", "deepseek-v3", "limo", "s1", "sky-t1"])
def test_the_owned_basis_sentence_never_makes_the_bottom_line_longer_than_four(
    runner: CliRunner, sqlite_url: str, case: str
) -> None:
    done = runner.invoke(app, ["audit", case, "--json", "--ledger", sqlite_url])
    assert done.exit_code == 0, done.output
    audit = json.loads(done.stdout)
    sentences = audit["bottom_line"]["sentences"]
    owned = [s for s in sentences if s.startswith("Owned rather than rented")]
    assert not owned or len(sentences) <= 4
    if owned:
        (sentence,) = owned
        assert "Wh at the facility" in sentence and "CO2e" in sentence and " rented;" in sentence
        assert not ZERO.search(sentence)
    scoped = [s for s in audit["bases"]["scopes"] if s["facility_kwh_low"] is not None]
    if case in ("s1", "sky-t1", "deepseek-v3"):
        assert owned and scoped  # one figure's scope, then its owned basis and energy
        assert sentences.index(owned[0]) == 1


ZERO = re.compile(r"\$0(\.0+)?(?![\d.,])")
