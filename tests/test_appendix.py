"""The audit appendix: one typed result, four files from `receipts audit s1 --out DIR`, bad input.

Compiling the LaTeX and rendering the HTML in Chromium are in test_appendix_tools.py; escaping is
in test_appendix_escape.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.schema import Category, Provenance, Unit
from ledger.store import Ledger
from probes.evals.inspect_log import import_inspect
from probes.gpu.testing import FakeClock, FakeDevice, FakeGpuMeter, fake_device
from probes.run.session import metered_run
from receipts.appendix import Appendix, AppendixError, build_appendix, write_appendix
from receipts.appendix import write as write_module
from receipts.cli import app

DATA = Path(__file__).parent / "data"
KEY_FIGURES = ["$13.80", "$85.21", "6.93", "$3.92M", "$40.37M", "59,029", "24,496"]


@pytest.fixture(scope="module")
def s1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`receipts audit s1 --out DIR` once for the module: the folder and the ledger URL."""
    root = tmp_path_factory.mktemp("s1")
    url = f"sqlite:///{root / 'ledger.db'}"
    out = root / "out"
    out.mkdir()
    done = CliRunner().invoke(app, ["audit", "s1", "--out", str(out), "--ledger", url, "--json"])
    assert done.exit_code == 0, done.output
    json.loads(done.stdout)  # the audit's JSON stays pure: the file lines go to stderr
    assert "wrote" in done.stderr and "fingerprint" in done.stderr
    return out, url


def _lines(result) -> list[str]:  # type: ignore[no-untyped-def]
    return result.stderr.strip().splitlines()


def assert_bad_input(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    [line] = _lines(result)
    assert line.startswith("receipts: error: ")
    for needle in needles:
        assert needle in line, line


def test_audit_out_writes_the_four_formats_with_their_figures(s1: tuple[Path, str]) -> None:
    out, _ = s1
    for name in ("report.md", "report.tex", "report-body.tex", "report.html", "report.json"):
        assert (out / name).stat().st_size > 1000, name
    figures = sorted(p.name for p in (out / "report-figures").iterdir())
    assert figures == [
        f"{n}.{ext}"
        for n in ("accuracy", "cost-by-category", "forest", "funnel", "gpu-prices", "scope-ladder")
        for ext in ("pdf", "svg")
    ]
    assert not [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def test_the_fingerprint_in_every_format_matches_receipts_verify(s1: tuple[Path, str]) -> None:
    out, url = s1
    done = CliRunner().invoke(app, ["verify", "--json", "--ledger", url])
    verified = json.loads(done.stdout)
    assert verified["ok"]
    head = verified["head_hash"]
    with Ledger(url) as ledger:
        seq, _ = ledger.head()
    fp = json.loads((out / "report.json").read_text())["fingerprint"]
    assert (fp["ledger_head"], fp["ledger_seq"]) == (head, seq)
    assert fp["verify_command"] == f"receipts verify --head {head}"
    # the 31 cards that priced a line, plus the owned basis' 12 H100 (SXM) purchase-price cards
    # (one board, eleven servers) and 3 US electricity cards
    assert fp["package_version"] and len(fp["price_cards"]) == 31 + 12 + 3
    for name in ("report.md", "report.tex", "report-body.tex", "report.html"):
        assert head in (out / name).read_text(encoding="utf-8"), name


def test_the_json_is_the_appendix_record(s1: tuple[Path, str]) -> None:
    out, _ = s1
    appendix = Appendix.model_validate_json((out / "report.json").read_text())
    assert appendix.subject == "s1-32B" and appendix.lineage == ["s1-32B", "Qwen2.5-32B-Instruct"]
    assert appendix.contrast is not None
    assert appendix.contrast.large is Category.PRETRAINING and appendix.contrast.large_inherited
    assert appendix.contrast.small is Category.FINE_TUNING and appendix.contrast.ratio > 1e5
    final = next(r for r in appendix.runs if r.id == "s1/sft-final")
    assert final.gpu_hours == pytest.approx(6.9333, abs=1e-3) and final.gpu_hours_busy is None
    assert final.provenance == [Provenance.REPORTED] and final.energy_kwh is None
    assert appendix.funnel is not None and appendix.funnel.funnels[0].records_final == 1000
    assert {c.id for c in appendix.claims} >= {"s1/techcrunch", "s1/seed-zh"}
    s1_aime = next(
        s for s in appendix.published_scores if s.model == "s1-32B" and s.benchmark == "aime24"
    )
    assert s1_aime.n == 30 and s1_aime.ci_low_pct is not None and s1_aime.ci_high_pct is not None
    assert s1_aime.ci_low_pct < s1_aime.value_pct < s1_aime.ci_high_pct
    assert {s.model for s in appendix.published_scores if s.role == "baseline"} >= {
        "o1",
        "deepseek-r1",
    }
    assert appendix.evals == [] and appendix.gpu_traces == []
    assert "no power-over-time plot" in appendix.gpu_traces_note
    assert any("6 * params * tokens" in e.formula for e in appendix.methods.estimates)
    assert all(card.date for card in appendix.methods.price_cards)


def test_markdown_has_the_key_figures_and_references_its_figures(s1: tuple[Path, str]) -> None:
    out, _ = s1
    text = (out / "report.md").read_text(encoding="utf-8").replace("\\$", "$")
    for figure in KEY_FIGURES:
        assert figure in text, figure
    for name in ("cost-by-category", "funnel", "accuracy"):
        assert f"](report-figures/{name}.svg)" in text
    assert "**not supported**" in text and "no power-over-time plot" in text


def test_appendix_command_formats_and_suffixes(s1: tuple[Path, str], tmp_path: Path) -> None:
    _, url = s1
    runner = CliRunner()
    done = runner.invoke(
        app,
        [
            "appendix",
            "--subject",
            "s1-32B",
            "--format",
            "tex",
            "--out",
            str(tmp_path / "paper.tex"),
            "--ledger",
            url,
        ],
    )
    assert done.exit_code == 0, done.output
    assert (tmp_path / "paper-body.tex").is_file()
    assert (tmp_path / "paper-figures" / "cost-by-category.pdf").is_file()
    assert "\\receiptsfigdir/cost-by-category.pdf" in (tmp_path / "paper-body.tex").read_text()
    assert "fingerprint: ledger entry" in done.stdout
    done = runner.invoke(
        app, ["appendix", "--subject", "s1-32B", "--out", str(tmp_path / "a.json"), "--ledger", url]
    )
    assert done.exit_code == 0, done.output
    assert json.loads((tmp_path / "a.json").read_text())["subject"] == "s1-32B"


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--subject", "nobody", "--out", "{tmp}/a.md"], ["unknown subject 'nobody'"]),
        (["--subject", "s1-32B", "--out", "{tmp}/missing/a.md"], ["does not exist"]),
        (
            ["--subject", "s1-32B", "--out", "{tmp}/a.md", "--format", "docx"],
            ["unknown format 'docx'", "md, tex, html, json, pdf"],
        ),
        (["--subject", "s1-32B", "--out", "{tmp}/a.txt"], ["does not name one by its suffix"]),
        (
            ["--subject", "s1-32B", "--out", "{tmp}/a.md", "--format", "md,"],
            ["an empty format name"],
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    s1: tuple[Path, str], tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    _, url = s1
    argv = ["appendix", *[a.replace("{tmp}", str(tmp_path)) for a in args], "--ledger", url]
    assert_bad_input(CliRunner().invoke(app, argv), *needles)
    assert list(tmp_path.iterdir()) == []


def test_audit_out_under_a_file_touches_neither_ledger_nor_disk(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    (tmp_path / "file").write_text("x")
    done = CliRunner().invoke(
        app, ["audit", "s1", "--out", str(tmp_path / "file" / "nope"), "--ledger", url]
    )
    assert_bad_input(done, "output directory", "is a file, not a directory")
    assert not (tmp_path / "ledger.db").exists()


def test_audit_out_creates_a_missing_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    out = tmp_path / "new" / "dir"
    done = CliRunner().invoke(
        app, ["audit", "s1", "--out", str(out), "--format", "md", "--ledger", url]
    )
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in out.iterdir()) == ["report-figures", "report.md"]


def test_a_failed_write_leaves_no_partial_file(
    s1: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = s1
    appendix = Appendix.model_validate_json((out / "report.json").read_text())

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)  # the one atomic write (ledger.files) uses it
    with pytest.raises(AppendixError, match="No space left on device"):
        write_appendix(appendix, "md", tmp_path / "report.md")
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []


def test_a_failed_render_writes_nothing(
    s1: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = s1
    appendix = Appendix.model_validate_json((out / "report.json").read_text())

    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("template bug")

    monkeypatch.setattr("receipts.appendix.render.render_text", broken)
    with pytest.raises(RuntimeError):
        write_module.write_bundle(appendix, tmp_path)
    assert list(tmp_path.iterdir()) == []


def _metered_subject(url: str) -> None:
    """A subject with one metered fine-tuning run on two fake H100s, samples stored with it."""
    clock = FakeClock()
    devices = [FakeDevice(fake_device(0), sm_util_pct=lambda t: 80.0), FakeDevice(fake_device(1))]
    meter = FakeGpuMeter(devices, clock)
    with Ledger(url) as ledger:
        with metered_run(
            ledger,
            subject="demo",
            stage="sft",
            category=Category.FINE_TUNING,
            meter=meter,
            clock=clock,
            background=False,
        ) as run:
            for _ in range(6):
                clock.advance(300)
                run.sampler.step()
        # What the sampler would store per device: its series (see the report on issue #7).
        usages = [u for u in ledger.usages("demo") if u.unit is Unit.KWH]
        series = {
            "t_s": [0.0, 900.0, 1800.0],
            "power_w": [120.0, 650.0, 640.0],
            "sm_util_pct": [0.0, 95.0, 92.0],
        }
        ledger.record(
            [
                usages[0].model_copy(
                    update={"detail": {**(usages[0].detail or {}), "series": series}}
                )
            ]
        )


def test_a_metered_run_shows_allocated_busy_energy_and_its_power_trace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _metered_subject(url)
    with Ledger(url) as ledger:
        appendix = build_appendix(ledger, "demo")
    [row] = appendix.runs
    assert row.provenance == [Provenance.MEASURED] and row.devices == 2
    assert row.gpu_hours == pytest.approx(1.0)  # 2 devices x 30 minutes
    assert row.gpu_hours_busy == pytest.approx(0.5 * 0.8 + 0.5 * 0.5)
    assert row.busy_pct == pytest.approx(65.0)
    assert row.energy_kwh == pytest.approx(2 * 300 * 1800 / 3.6e6)
    assert row.energy_methods == ["counter"] and row.cost_usd_low is not None
    traces = {t.device[-2:]: t for t in appendix.gpu_traces}
    assert sorted(traces) == ["#0", "#1"]  # the sampler keeps every device's series
    for trace in traces.values():  # the sampler's own series: the fake draws a steady 300 W
        assert trace.power_w and set(trace.power_w) == {300.0}
    assert any("NVML" in line for line in appendix.methods.measurement)
    written = write_appendix(appendix, "md", tmp_path / "demo.md")
    assert tmp_path / "demo-figures" / "gpu-power.svg" in written
    assert "demo-figures/gpu-power.svg" in (tmp_path / "demo.md").read_text()
    assert appendix.case == "demo" and appendix.published_scores == []


def test_an_eval_run_in_the_ledger_shows_with_its_interval(
    s1: tuple[Path, str], tmp_path: Path
) -> None:
    _, url = s1
    copy = tmp_path / "ledger.db"
    copy.write_bytes(Path(url.removeprefix("sqlite:///")).read_bytes())
    with Ledger(f"sqlite:///{copy}") as ledger:
        import_inspect(ledger, DATA / "inspect" / "aime2024_s1-32B.json", "s1-32B")
        appendix = build_appendix(ledger, "s1-32B")
    [summary] = appendix.evals
    assert summary.items == 3 and summary.accuracy == pytest.approx(1 / 3)
    assert summary.ci_low is not None and summary.ci_low < 1 / 3 < (summary.ci_high or 0)
    written = write_appendix(appendix, "md", tmp_path / "r.md")
    text = (tmp_path / "r.md").read_text()
    assert tmp_path / "r-figures" / "accuracy.svg" in written
    assert "Eval runs in the ledger" in text and "33.3%" in text


def test_importing_the_cli_loads_no_report_library() -> None:
    code = (
        "import sys, receipts.cli; "
        "print(','.join(m for m in ('jinja2', 'matplotlib', 'weasyprint', 'receipts.appendix')"
        " if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.stdout.strip() == ""
