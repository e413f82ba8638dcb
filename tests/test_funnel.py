"""Curation funnels: the s1 funnels from reported counts, and a real funnel executed here on the
shipped AIME24 and MATH500 items (a quality filter, a difficulty filter run by a tiny local model
judged with math-verify, a diversity sampler by subject), each step metered for real.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from ledger.cases import load_case, record_case
from ledger.cli import ErrorHandlingGroup
from ledger.funnel import align, build_funnel_report, funnel_report
from ledger.schema import FunnelStep, Provenance, RunStatus, Unit
from ledger.store import Ledger
from probes.funnel import Funnel, FunnelError, Step
from probes.funnel.cli import register
from probes.gpu.testing import FakeClock, FakeDevice, FakeGpuMeter, fake_device

PAPER = [59_029, 54_116, 51_581, 24_496, 1_000]
NOTEBOOK = [59_029, 58_986, 54_116, 51_607, 24_517, 1_000]


@pytest.fixture
def cli() -> Callable[..., Any]:
    app = typer.Typer(cls=ErrorHandlingGroup)
    register(app)

    @app.callback()
    def _root() -> None:
        """A group, so that `funnel` is a sub-command as under `receipts`."""

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(app, list(args))

    return invoke


@pytest.fixture
def s1_url(sqlite_url: str) -> str:
    with Ledger(sqlite_url) as ledger:
        record_case(ledger, load_case("s1"))  # what `receipts audit s1` does first
    return sqlite_url


# -- the s1 funnels, from reported counts ----------------------------------------------------------


def test_the_s1_funnels_render_with_step_costs_and_their_differences(
    cli: Callable[..., Any], s1_url: str
) -> None:
    done = cli("funnel", "--subject", "s1-32B", "--ledger", s1_url)
    assert done.exit_code == 0, done.output
    text = done.output
    assert text.index("Funnel paper") < text.index("Funnel notebook") < text.index("against")
    for count in (*PAPER, *NOTEBOOK):
        assert f"{count:,}" in text
    assert "+26" in text and "+21" in text and "only in notebook" in text
    assert "59,029 -> 1,000 records (1.7% kept)" in text


def test_the_s1_funnel_json_prices_the_steps_that_name_runs(
    cli: Callable[..., Any], s1_url: str
) -> None:
    done = cli("funnel", "--subject", "s1-32B", "--ledger", s1_url, "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    paper, notebook = report["funnels"]
    assert (paper["funnel"], notebook["funnel"]) == ("paper", "notebook")
    assert [s["records_out"] for s in paper["steps"]] == PAPER
    assert [s["records_out"] for s in notebook["steps"]] == NOTEBOOK
    difficulty = paper["steps"][3]
    assert difficulty["kept_pct"] == pytest.approx(100 * 24_496 / 51_581)
    assert difficulty["dropped"] == 51_581 - 24_496
    assert 0 < difficulty["cost_usd_low"] < difficulty["cost_usd_high"]
    assert difficulty["gpu_hours"] > 0
    assert paper["steps"][1]["cost_usd_low"] is None  # no run named: missing, not $0
    assert all(s["cost_usd_low"] is None for s in notebook["steps"])
    (comparison,) = report["comparisons"]
    assert (comparison["reference"], comparison["other"]) == ("paper", "notebook")
    rows = [
        (r["reference_order"], r["other_order"], r["difference_out"]) for r in comparison["rows"]
    ]
    assert rows == [(1, 1, 0), (None, 2, None), (2, 3, 0), (3, 4, 26), (4, 5, 21), (5, 6, 0)]


def test_one_funnel_and_a_chosen_reference(cli: Callable[..., Any], s1_url: str) -> None:
    only = json.loads(
        cli(
            "funnel", "--subject", "s1-32B", "--funnel", "notebook", "--json", "--ledger", s1_url
        ).output
    )
    assert [f["funnel"] for f in only["funnels"]] == ["notebook"] and only["comparisons"] == []
    flipped = json.loads(
        cli(
            "funnel", "--subject", "s1-32B", "--reference", "notebook", "--json", "--ledger", s1_url
        ).output
    )
    assert [r["difference_out"] for r in flipped["comparisons"][0]["rows"]][3:5] == [-26, -21]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subject", "s1-32B"], "`receipts audit s1` loads the bundled case"),
        (["--subject", "nobody"], "unknown subject 'nobody'"),
    ],
)
def test_a_missing_funnel_says_how_to_load_one(
    cli: Callable[..., Any], sqlite_url: str, args: list[str], message: str
) -> None:
    done = cli("funnel", *args, "--ledger", sqlite_url)
    assert done.exit_code == 2
    assert message in done.output and "Traceback" not in done.output


def test_an_unknown_funnel_or_reference_is_bad_input(cli: Callable[..., Any], s1_url: str) -> None:
    for option in ("--funnel", "--reference"):
        done = cli("funnel", "--subject", "s1-32B", option, "blog", "--ledger", s1_url)
        assert done.exit_code == 2
        assert "no funnel 'blog'" in done.output and "notebook" in done.output


def steps(name: str, counts: list[int]) -> list[FunnelStep]:
    return [
        FunnelStep(
            id=f"t/{name}/{i}",
            subject="t",
            funnel=name,
            order=i,
            name=f"{name} {i}",
            records_in=counts[i - 2] if i > 1 else None,
            records_out=out,
            provenance=Provenance.REPORTED,
            citation="test",
        )
        for i, out in enumerate(counts, start=1)
    ]


def test_alignment_pairs_close_counts_and_leaves_far_ones_unpaired() -> None:
    rows = align(steps("a", PAPER), steps("b", NOTEBOOK))
    assert [(r.reference_order, r.other_order) for r in rows] == [
        (1, 1),
        (None, 2),
        (2, 3),
        (3, 4),
        (4, 5),
        (5, 6),
    ]
    far = align(steps("a", [100, 10]), steps("b", [100, 50, 40]))
    assert [(r.reference_order, r.other_order) for r in far] == [
        (1, 1),
        (None, 2),
        (None, 3),
        (2, None),
    ]
    report = build_funnel_report("t", steps("a", [10, 5]), [])
    assert report.funnels[0].kept_pct == 50.0 and report.comparisons == []
    assert report.funnels[0].cost_usd_low is None and report.funnels[0].wall_time_s is None


# -- the step wrapper ------------------------------------------------------------------------------


def test_a_step_meters_its_gpu_and_counts_into_one_priced_cost(sqlite_url: str) -> None:
    clock = FakeClock()
    meter = FakeGpuMeter([FakeDevice(fake_device(0))], clock)
    with Ledger(sqlite_url) as ledger:
        funnel = Funnel(ledger, "demo", "gpu", meter=lambda: meter, clock=clock, background=False)
        with funnel.step("Judge: keep hard ones", records_in=100) as step:
            clock.advance(1800)
            step.count("api/claude-3-5-sonnet-20241022", Unit.OUTPUT_TOKEN, 400_000)
            step.count("api/claude-3-5-sonnet-20241022", Unit.OUTPUT_TOKEN, 600_000)
            step.count("api/claude-3-5-sonnet-20241022", Unit.CALL, 100)
            step.keep(list(range(40)))
        with funnel.step("Sample") as step:
            step.records_out = 10
        report = funnel_report(ledger, "demo")
        (run,) = [r for r in ledger.runs("demo") if r.stage == "judge-keep-hard-ones"]
    assert run.status is RunStatus.SUCCEEDED and run.category.value == "data"
    assert run.detail == {"funnel": "gpu", "order": 1, "records_in": 100, "records_out": 40}
    judge, sample = report.funnels[0].steps
    assert (judge.records_in, judge.records_out, sample.records_in) == (100, 40, 40)
    assert judge.wall_time_s == pytest.approx(1800)
    assert judge.gpu_hours == pytest.approx(0.5)
    tokens = [line for line in judge.lines if line.unit is Unit.OUTPUT_TOKEN]
    assert [line.quantity for line in tokens] == [1_000_000]
    assert judge.cost_usd_low is not None and judge.cost_usd_high is not None
    assert judge.cost_usd_low >= sum(line.cost_usd_low or 0 for line in tokens) > 0
    assert report.funnels[0].cost_usd_high == judge.cost_usd_high + (sample.cost_usd_high or 0)


def test_a_failing_step_is_a_failed_run_and_no_funnel_step(sqlite_url: str) -> None:
    with Ledger(sqlite_url) as ledger:
        funnel = Funnel(ledger, "demo", "broken", meter=lambda: None)
        with pytest.raises(ZeroDivisionError), funnel.step("divide", records_in=3):
            _ = 1 / 0
        with pytest.raises(FunnelError, match="records_out"), funnel.step("forgetful"):
            pass
        statuses = sorted((r.stage, r.status.value) for r in ledger.runs("demo"))
        assert statuses == [("divide", "failed"), ("forgetful", "failed")]
        assert ledger.funnel_steps("demo") == [] and funnel.steps == []


# -- a real funnel, executed on the shipped benchmark items --------------------------------------

PROMPT_TOKENS, NEW_TOKENS, BATCH, SAMPLE = 48, 4, 64, 24


def bench_items() -> list[dict[str, str]]:
    """AIME24 and MATH500 as shipped with receipts (never ../shared)."""
    folder = resources.files("probes") / "data" / "bench"

    def rows(name: str) -> list[dict[str, Any]]:
        text = (folder / name).read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    aime = [
        {
            "id": f"aime24/{r['id']}",
            "problem": r["problem"],
            "answer": str(r["answer"]),
            "subject": "AIME 2024",
        }
        for r in rows("aime24.jsonl")
    ]
    math = [
        {
            "id": r["unique_id"],
            "problem": r["problem"],
            "answer": r["answer"],
            "subject": r["subject"],
        }
        for r in rows("math500.jsonl")
    ]
    return aime + math


def without_figures(items: list[dict[str, str]]) -> list[dict[str, str]]:
    """Quality filter: drop problems that draw a figure (Asymptote code)."""
    return [item for item in items if "[asy]" not in item["problem"]]


def gets_wrong(items: list[dict[str, str]], step: Step) -> list[dict[str, str]]:
    """Difficulty filter: keep the items a tiny random-init Qwen2 answers wrongly (greedy, short
    answers, judged by math-verify on the extracted answer); count its tokens."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from math_verify import parse, verify

    from probes.tokens.tokenizer import load_tokenizer

    tokenizer = load_tokenizer("qwen2.5")
    tokenizer.padding_side = "left"
    torch.manual_seed(0)
    config = transformers.Qwen2Config(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = transformers.Qwen2ForCausalLM(config).eval()
    wrong = []
    for start in range(0, len(items), BATCH):
        batch = items[start : start + BATCH]
        encoded = tokenizer(
            [item["problem"] for item in batch],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=PROMPT_TOKENS,
        )
        with torch.no_grad():
            out = model.generate(
                **encoded,
                max_new_tokens=NEW_TOKENS,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = out[:, encoded["input_ids"].shape[1] :].tolist()
        eos = tokenizer.eos_token_id
        generated = sum(row.index(eos) + 1 if eos in row else len(row) for row in new)
        step.count("tokens/tiny-qwen2", Unit.TOKEN, generated, role="completion")
        answers = tokenizer.batch_decode(new, skip_special_tokens=True)
        for item, answer in zip(batch, answers, strict=True):
            if not verify(parse(f"${item['answer']}$"), parse(answer)):
                wrong.append(item)
    return wrong


def by_subject(
    items: list[dict[str, str]], n: int, rng: np.random.Generator
) -> list[dict[str, str]]:
    """Diversity sampler: a uniformly random subject, then a random item of it, n times."""
    pools: dict[str, list[dict[str, str]]] = {}
    for item in items:
        pools.setdefault(item["subject"], []).append(item)
    for pool in pools.values():
        rng.shuffle(pool)
    chosen: list[dict[str, str]] = []
    while len(chosen) < n and pools:
        subject = sorted(pools)[int(rng.integers(len(pools)))]
        chosen.append(pools[subject].pop())
        if not pools[subject]:
            del pools[subject]
    return chosen


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict[str, str]]]:
    """The funnel, run once for the module: its ledger URL and the items it selected."""
    from probes.gpu.nvml import open_meter

    url = f"sqlite:///{tmp_path_factory.mktemp('funnel') / 'ledger.db'}"
    items = bench_items()
    with Ledger(url) as ledger:
        funnel = Funnel(ledger, "tiny-math", "executed", meter=open_meter)  # NVML where there is
        with funnel.step("drop problems with figures ([asy])", len(items), stage="quality") as s:
            clean = s.keep(without_figures(items))
        with funnel.step("keep what a tiny Qwen2 gets wrong", stage="difficulty") as s:
            hard = s.keep(gets_wrong(clean, s))
        with funnel.step("uniform over subjects, seeded", stage="diversity") as s:
            final = s.keep(by_subject(hard, SAMPLE, np.random.default_rng(1000)))
    return url, final


def test_the_executed_funnel_records_each_step_as_a_metered_run(
    executed: tuple[str, list[dict[str, str]]],
) -> None:
    from probes.gpu.nvml import open_meter

    url, final = executed
    with Ledger(url) as ledger:
        found = ledger.funnel_steps("tiny-math")
        runs = {r.id: r for r in ledger.runs("tiny-math")}
        usages = ledger.usages("tiny-math")
    assert [(s.order, s.records_in, s.records_out) for s in found] == [
        (1, 530, 486),
        (2, 486, found[1].records_out),
        (3, found[1].records_out, SAMPLE),
    ]
    assert found[1].records_out > 450  # a random model gets (almost) everything wrong
    assert len({item["subject"] for item in final}) >= 6 and len({i["id"] for i in final}) == 24
    for step in found:
        (run,) = [runs[r] for r in step.runs]
        assert run.status is RunStatus.SUCCEEDED and run.category.value == "data"
        assert step.provenance is Provenance.MEASURED
        assert step.wall_time_s == run.wall_time_s and step.wall_time_s and step.wall_time_s > 0
    (tokens,) = [u for u in usages if u.unit is Unit.TOKEN]
    assert (tokens.resource, tokens.detail) == ("tokens/tiny-qwen2", {"role": "completion"})
    assert tokens.run == found[1].runs[0] and tokens.provenance is Provenance.MEASURED
    assert 486 <= (tokens.quantity or 0) <= 486 * NEW_TOKENS  # at least one each, EOS may stop
    gpu = [u for u in usages if u.resource.startswith("gpu/")]
    meter = open_meter()
    if meter is None:
        assert gpu == []  # no GPU here: nothing recorded, never zeros
    else:
        meter.close()
        assert gpu and all(u.provenance is Provenance.MEASURED for u in gpu)


def test_the_executed_funnel_renders(
    cli: Callable[..., Any], executed: tuple[str, list[dict[str, str]]]
) -> None:
    url, _ = executed
    text = cli("funnel", "--subject", "tiny-math", "--ledger", url)
    assert text.exit_code == 0, text.output
    assert "Funnel executed: 530 -> 24 records" in text.output
    assert "drop problems with figures ([asy])" in text.output  # escaped, not rich markup
    assert "tokens/tiny-qwen2" in text.output
    report = json.loads(cli("funnel", "--subject", "tiny-math", "--ledger", url, "--json").output)
    (summary,) = report["funnels"]
    assert summary["records_start"] == 530 and summary["records_final"] == SAMPLE
    assert summary["wall_time_s"] == pytest.approx(sum(s["wall_time_s"] for s in summary["steps"]))
    assert summary["steps"][0]["kept_pct"] == pytest.approx(100 * 486 / 530)
