"""The appendix read the way people read it: the LaTeX compiled by pdflatex, the HTML rendered by
headless Chromium, the PDF extra through WeasyPrint.

These tests drive Debian's pdflatex, pdftotext and chromium (scripts/ensure-report-tools.sh
installs them). Elsewhere they skip with the reason; under `make test`, which sets
RECEIPTS_REQUIRE_REPORT_TOOLS=1, a missing tool fails them instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_appendix_escape import CJK, NASTY, nasty_appendix
from typer.testing import CliRunner

from ledger.cases import load_case, record_case
from ledger.store import Ledger
from receipts.appendix import Appendix, build_appendix, write_appendix, write_bundle
from receipts.cli import app

KEY_FIGURES = ["$13.80", "$85.21", "6.93", "$3.92M", "$40.37M", "59,029", "$1,306", "$20,928"]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-proxy-server",
    "--hide-scrollbars",
]
DATA_TEAL = (0x2A, 0x9D, 0x8F)
"""The data category's colour in the cost plot and the funnel plot (no CSS uses it)."""


def need(*tools: str) -> None:
    """Skip (or, under `make test`, fail) when a tool is missing."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed (scripts/ensure-report-tools.sh installs it)"
    if os.environ.get("RECEIPTS_REQUIRE_REPORT_TOOLS") == "1":
        pytest.fail(f"RECEIPTS_REQUIRE_REPORT_TOOLS=1 but {reason}")
    pytest.skip(reason)


def flat(text: str) -> str:
    return " ".join(text.split())


def pdf_text(pdf: Path) -> str:
    need("pdftotext")
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def pdflatex(tex: Path) -> Path:
    """Compile ``tex`` in its own folder (twice, for the long tables); the PDF."""
    need("pdflatex")
    for _ in range(2):
        done = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
            cwd=tex.parent,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout[-3000:]
    return tex.with_suffix(".pdf")


def chromium(page: Path, profile: Path, *action: str, size: str = "1280,2400") -> None:
    need("chromium")
    done = subprocess.run(
        [
            "chromium",
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={size}",
            *action,
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def s1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`receipts audit s1 --out DIR`: the folder and the ledger's head."""
    root = tmp_path_factory.mktemp("tools")
    url = f"sqlite:///{root / 'ledger.db'}"
    out = root / "out"
    out.mkdir()
    done = CliRunner().invoke(app, ["audit", "s1", "--out", str(out), "--ledger", url])
    assert done.exit_code == 0, done.output
    with Ledger(url) as ledger:
        verified = ledger.verify()
    assert verified.ok
    return out, verified.head_hash


@pytest.fixture(scope="module")
def nasty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The s1 appendix with the nasty quote in every input-text field, all formats written."""
    root = tmp_path_factory.mktemp("nasty")
    with Ledger(f"sqlite:///{root / 'ledger.db'}") as ledger:
        record_case(ledger, load_case("s1"))
        appendix: Appendix = nasty_appendix(build_appendix(ledger, "s1-32B"))
    out = root / "out"
    out.mkdir()
    write_bundle(appendix, out)
    yield out


def test_the_s1_latex_compiles_and_the_pdf_has_the_key_numbers(s1: tuple[Path, str]) -> None:
    out, head = s1
    text = pdf_text(pdflatex(out / "report.tex"))
    for figure in KEY_FIGURES:
        assert figure in text, figure
    assert head in "".join(text.split())
    assert "李飞飞团队" in text  # the Chinese headline, typeset with the CJK fallback font
    assert "not supported" in text and "Figure 1" in text


def test_the_fragment_inputs_into_another_document(s1: tuple[Path, str]) -> None:
    out, head = s1
    paper = out / "paper.tex"
    paper.write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{lmodern}\n"
        "\\usepackage{booktabs,longtable,array,graphicx,xcolor}\n"
        "\\begin{document}\nMain text.\n\\appendix\n\\input{report-body.tex}\n\\end{document}\n"
    )
    text = pdf_text(pdflatex(paper))
    assert "Main text." in text and "$13.80" in text and head in "".join(text.split())
    assert "[Chinese text: see the HTML or Markdown appendix]" in text  # no CJK package loaded


def test_the_nasty_quote_compiles_and_reads_back_literally(nasty: Path) -> None:
    text = pdf_text(pdflatex(nasty / "report.tex"))
    # Prose quotes are typeset as typographic ones: read them back as typed.
    straight = text.translate(str.maketrans("\u201c\u201d\u2018\u2019", "\"\"''"))
    assert flat(NASTY) in flat(straight)
    assert CJK in text


def test_the_html_renders_in_chromium_with_its_plots(s1: tuple[Path, str], tmp_path: Path) -> None:
    from PIL import Image

    out, head = s1
    shot = tmp_path / "desktop.png"
    chromium(out / "report.html", tmp_path / "profile", f"--screenshot={shot}", size="1280,4000")
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 4000)  # the cost plot comes after the ladder and price strip
    colours = image.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 200  # not a blank page
    teal = sum(
        n for n, c in colours if all(abs(a - b) < 12 for a, b in zip(c, DATA_TEAL, strict=True))
    )
    assert teal > 2000, "the cost plot (an embedded SVG) did not render"
    printed = tmp_path / "page.pdf"
    chromium(
        out / "report.html",
        tmp_path / "profile",
        "--no-pdf-header-footer",
        f"--print-to-pdf={printed}",
    )
    text = pdf_text(printed)
    for figure in KEY_FIGURES:
        assert figure in text, figure
    assert head in "".join(text.split())
    assert "not supported" in text


def test_the_html_is_readable_on_a_phone(s1: tuple[Path, str], tmp_path: Path) -> None:
    from PIL import Image

    out, _ = s1
    shot = tmp_path / "phone.png"
    chromium(out / "report.html", tmp_path / "profile", f"--screenshot={shot}", size="390,1600")
    image = Image.open(shot).convert("RGB")
    assert image.size == (390, 1600)
    assert len(image.getcolors(maxcolors=1 << 20) or []) > 100


def test_the_nasty_quote_renders_as_text_in_chromium(nasty: Path, tmp_path: Path) -> None:
    printed = tmp_path / "nasty.pdf"
    chromium(
        nasty / "report.html",
        tmp_path / "profile",
        "--no-pdf-header-footer",
        f"--print-to-pdf={printed}",
    )
    assert flat(NASTY) in flat(pdf_text(printed))


def test_the_pdf_extra(s1: tuple[Path, str], tmp_path: Path) -> None:
    pytest.importorskip("weasyprint", reason="the pdf extra (WeasyPrint) is not installed")
    out, head = s1
    appendix = Appendix.model_validate_json((out / "report.json").read_text())
    write_appendix(appendix, "pdf", tmp_path / "report.pdf")
    text = pdf_text(tmp_path / "report.pdf")
    for figure in KEY_FIGURES:
        assert figure in text, figure
    assert head in "".join(text.split())
