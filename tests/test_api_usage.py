"""LLM-API usage: each provider's documented usage block split into ledger units without double
counting, priced by dated cards; the call-site wrapper; `receipts import api-log` and bad logs."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cli_helpers import app_with_imports, assert_bad_input
from typer.testing import CliRunner

from ledger.audit import build_report
from ledger.errors import InputError, NotFoundError
from ledger.prices import bundled_cards, load_price_file
from ledger.report import CostReport
from ledger.schema import Provenance, Run, RunStatus, Subject, Unit, Usage
from ledger.store import Ledger
from probes.api.cli import register
from probes.api.log import import_api_log
from probes.api.response import parse_response
from probes.api.usage import ApiMeter, record_call, resolve_resource
from probes.run.session import metered_run

API = Path(__file__).parent / "data" / "api"
LOG = API / "api.jsonl"
CARDS = API / "o3_mini_cards.yaml"
SUBJECT = "judge"
RUN = "judge/api/calls"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((API / name).read_text(encoding="utf-8"))


APP = app_with_imports(lambda top, imports: register(imports))


def lines_of(report: CostReport) -> dict[tuple[str, Unit], float]:
    return {(line.resource, line.unit): line.quantity for g in report.groups for line in g.lines}


def priced(ledger: Ledger, *responses: dict[str, Any], cards: Path | None = None) -> CostReport:
    """Record each response as one call of a fresh run and report the subject's costs."""
    run = Run(id=RUN, subject=SUBJECT, stage="api", category="data", name="calls",
              status="reported", citation="test")  # fmt: skip
    ledger.record([Subject(id=SUBJECT, name=SUBJECT), run])
    if cards is not None:
        ledger.record(load_price_file(cards))
    for response in responses:
        record_call(ledger, RUN, response)
    return build_report(ledger, SUBJECT, "run")


# -- counting: one test per provider, exact tokens ---------------------------------------------


def test_openai_chat_prompt_tokens_include_the_cached_ones() -> None:
    call = parse_response(fixture("openai_chat_completion.json"))
    assert (call.provider, call.model) == ("openai-chat", "gpt-4o-mini-2024-07-18")
    # prompt 2006 = 86 uncached + 1920 cached; completion 300, of which 0 reasoning
    assert (call.input_tokens, call.cached_input_tokens) == (86, 1920)
    assert (call.output_tokens, call.thinking_tokens, call.cache_write_tokens) == (300, 0, 0)
    assert (
        call.unaccounted_tokens == 0
        and call.response_id == "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
    )


def test_openai_responses_output_tokens_include_the_reasoning_ones() -> None:
    call = parse_response(fixture("openai_response.json"))
    assert (call.provider, call.model) == ("openai-responses", "o3-mini-2025-01-31")
    # input 1500 = 476 + 1024 cached; output 2400 = 544 visible + 1856 reasoning
    assert (call.input_tokens, call.cached_input_tokens) == (476, 1024)
    assert (call.output_tokens, call.thinking_tokens) == (544, 1856)


def test_openai_cache_writes_are_part_of_the_prompt_too() -> None:
    response = fixture("openai_chat_completion.json")
    response["usage"]["prompt_tokens_details"]["cache_write_tokens"] = 80
    call = parse_response(response)
    assert (call.input_tokens, call.cached_input_tokens, call.cache_write_tokens) == (6, 1920, 80)


def test_anthropic_input_tokens_exclude_cache_reads_and_writes() -> None:
    write = parse_response(fixture("anthropic_message_cache_write.json"))
    read = parse_response(fixture("anthropic_message_cache_read.json"))
    assert write.provider == read.provider == "anthropic"
    assert (write.input_tokens, write.cache_write_tokens, write.cached_input_tokens) == (
        25,
        1800,
        0,
    )
    assert (read.input_tokens, read.cache_write_tokens, read.cached_input_tokens) == (31, 0, 1800)
    assert (write.output_tokens, read.output_tokens, write.thinking_tokens) == (410, 388, 0)


def test_anthropic_one_hour_cache_writes_are_kept_apart() -> None:
    message = fixture("anthropic_message_cache_write.json")
    message["usage"]["cache_creation"] = {
        "ephemeral_5m_input_tokens": 1300, "ephemeral_1h_input_tokens": 500,
    }  # fmt: skip
    call = parse_response(message)
    assert (call.cache_write_tokens, call.cache_write_1h_tokens) == (1300, 500)


def test_anthropic_iterations_are_all_counted_once() -> None:
    # Anthropic's compaction docs: the top-level usage sums the non-compaction iterations only;
    # the billed total is the sum over usage.iterations (compaction step included).
    call = parse_response(fixture("anthropic_message_compaction.json"))
    assert (call.input_tokens, call.cached_input_tokens, call.cache_write_tokens) == (
        150000 + 21000, 12000, 2000,
    )  # fmt: skip
    assert call.output_tokens == 3000 + 900 and call.others == ()


def test_anthropic_iterations_of_another_model_are_priced_under_it() -> None:
    message = fixture("anthropic_message_compaction.json")
    message["usage"]["iterations"].append(
        {"type": "advisor_message", "model": "claude-opus-4-1-20250805", "input_tokens": 800,
         "output_tokens": 120, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    )  # fmt: skip
    call = parse_response(message)
    assert (call.input_tokens, call.output_tokens) == (171000, 3900)
    (advisor,) = call.others
    assert (advisor.model, advisor.input_tokens, advisor.output_tokens) == (
        "claude-opus-4-1-20250805", 800, 120,
    )  # fmt: skip


def test_anthropic_dollars_count_the_compaction_iteration(ledger: Ledger) -> None:
    report = priced(ledger, fixture("anthropic_message_compaction.json"))
    lines = lines_of(report)
    resource = "api/claude-3-5-sonnet-20241022"
    assert lines[(resource, Unit.INPUT_TOKEN)] == 171000
    assert lines[(resource, Unit.OUTPUT_TOKEN)] == 3900
    assert lines[(resource, Unit.CACHED_INPUT_TOKEN)] == 12000


def test_gemini_candidates_exclude_thoughts() -> None:
    call = parse_response(fixture("gemini_response.json"))
    assert (call.provider, call.model) == ("gemini", "gemini-2.0-flash-thinking-exp-01-21")
    assert (call.input_tokens, call.output_tokens, call.thinking_tokens) == (120, 850, 3200)
    assert call.unaccounted_tokens == 0  # 120 + 850 + 3200 = totalTokenCount 4170
    assert call.response_id == "Yo8Gaf2nJ4yVkdUPpOqBkAs"


def test_gemini_python_sdk_snake_case_and_cached_content() -> None:
    call = parse_response(fixture("gemini_sdk_cached.json"))
    # promptTokenCount 5200 includes the 4096 cached tokens
    assert (call.input_tokens, call.cached_input_tokens) == (1104, 4096)
    assert (call.output_tokens, call.thinking_tokens) == (400, 1500)


def test_gemini_counts_left_out_are_zero_and_tool_prompts_are_input() -> None:
    response = {"modelVersion": "gemini-2.0-flash", "usageMetadata": {
        "promptTokenCount": 40, "toolUsePromptTokenCount": 60, "totalTokenCount": 100}}  # fmt: skip
    call = parse_response(response)
    assert (call.input_tokens, call.output_tokens, call.thinking_tokens) == (100, 0, 0)


def test_sdk_objects_read_like_dicts() -> None:
    """The SDKs' response objects expose the same fields as attributes (None where absent)."""
    chat = SimpleNamespace(
        id="chatcmpl-1", object="chat.completion", model="gpt-4o-mini-2024-07-18", choices=[],
        usage=SimpleNamespace(prompt_tokens=10, completion_tokens=5, total_tokens=15,
                              prompt_tokens_details=None, completion_tokens_details=None),
    )  # fmt: skip
    call = parse_response(chat)
    assert (call.input_tokens, call.cached_input_tokens, call.output_tokens) == (10, 0, 5)
    gemini = SimpleNamespace(
        model_version="gemini-2.0-flash-thinking-exp-01-21", response_id="bq8Gaa3nL5yVkdUPqOqBkBt",
        candidates=[],
        usage_metadata=SimpleNamespace(prompt_token_count=5200, cached_content_token_count=4096,
                                       candidates_token_count=400, thoughts_token_count=1500,
                                       tool_use_prompt_token_count=None, total_token_count=7100),
    )  # fmt: skip
    assert parse_response(gemini) == parse_response(fixture("gemini_sdk_cached.json"))


def test_total_beyond_the_parts_is_reported_not_priced() -> None:
    # Gemini's OpenAI-compatible endpoint leaves thinking out of completion_tokens.
    response = {
        "model": "gemini-2.5-pro",
        "object": "chat.completion",
        "choices": [],
        "usage": {"prompt_tokens": 758, "completion_tokens": 102, "total_tokens": 1725},
    }
    assert parse_response(response).unaccounted_tokens == 865


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda r: r["usage"].update(completion_tokens=-5), "usage.completion_tokens"),
        (lambda r: r["usage"].update(prompt_tokens="2006"), "usage.prompt_tokens"),
        (lambda r: r["usage"]["prompt_tokens_details"].update(cached_tokens=5000), "exceeds"),
        (lambda r: r["usage"].pop("completion_tokens"), "usage.completion_tokens: missing"),
        (lambda r: r.pop("model"), "names no model"),
    ],
)
def test_malformed_usage_is_an_error(change: Any, needle: str) -> None:
    response = fixture("openai_chat_completion.json")
    change(response)
    with pytest.raises(InputError, match=needle):
        parse_response(response)


# -- model ids and dollars through the ledger ---------------------------------------------------


@pytest.mark.parametrize(
    ("model", "resource", "match"),
    [
        ("gpt-4o-mini-2024-07-18", "api/gpt-4o-mini", "snapshot"),
        ("gpt-4o-mini", "api/gpt-4o-mini", "exact"),
        ("claude-3-5-sonnet-20241022", "api/claude-3-5-sonnet-20241022", "exact"),
        ("gemini-2.0-flash-thinking-exp-01-21", "api/gemini-2.0-flash-thinking-exp", "snapshot"),
        ("gemini-2.0-flash-thinking-exp-1219", "api/gemini-2.0-flash-thinking-exp", "snapshot"),
        ("models/gemini-2.0-flash-thinking-exp", "api/gemini-2.0-flash-thinking-exp", "exact"),
        ("claude-3-5-sonnet-latest", "api/claude-3-5-sonnet-latest", "no card"),
        ("deepseek-chat", "api/deepseek-chat", "no card"),
    ],
)
def test_model_ids_resolve_to_carded_resources(model: str, resource: str, match: str) -> None:
    from ledger.prices import PriceBook

    assert resolve_resource(model, PriceBook(bundled_cards())) == (resource, match)


def test_openai_chat_dollars(ledger: Ledger) -> None:
    report = priced(ledger, fixture("openai_chat_completion.json"))
    (group,) = report.groups
    # 86 x $0.15/M + 1920 x $0.075/M + 300 x $0.60/M
    assert group.cost_usd_low == group.cost_usd_high == Decimal("0.0003369")
    assert lines_of(report) == {
        ("api/gpt-4o-mini", Unit.CALL): 1.0,
        ("api/gpt-4o-mini", Unit.INPUT_TOKEN): 86.0,
        ("api/gpt-4o-mini", Unit.CACHED_INPUT_TOKEN): 1920.0,
        ("api/gpt-4o-mini", Unit.OUTPUT_TOKEN): 300.0,
    }
    assert "openai-gpt-4o-mini-cached-input-2024-10-01" in report.price_cards
    assert report.unpriced == [] and {line.provenance for line in group.lines} == {
        Provenance.MEASURED
    }


def test_openai_responses_dollars_reasoning_priced_as_output(ledger: Ledger) -> None:
    report = priced(ledger, fixture("openai_response.json"), cards=CARDS)
    (group,) = report.groups
    # 476 x $1.10/M + 1024 x $0.55/M + (544 + 1856 thinking) x $4.40/M
    assert group.cost_usd_low == group.cost_usd_high == Decimal("0.0116468")
    assert lines_of(report)[("api/o3-mini", Unit.THINKING_TOKEN)] == 1856.0
    thinking = next(line for line in group.lines if line.unit is Unit.THINKING_TOKEN)
    assert thinking.cards == ["test-openai-o3-mini-output-2025-01-31"]


def test_anthropic_dollars_with_cache_writes_and_reads(ledger: Ledger) -> None:
    report = priced(
        ledger,
        fixture("anthropic_message_cache_write.json"),
        fixture("anthropic_message_cache_read.json"),
    )
    (group,) = report.groups
    # 56 x $3/M + 1800 x $3.75/M (write) + 1800 x $0.30/M (read) + 798 x $15/M
    assert group.cost_usd_low == group.cost_usd_high == Decimal("0.019428")
    resource = "api/claude-3-5-sonnet-20241022"
    assert lines_of(report) == {
        (resource, Unit.CALL): 2.0,
        (resource, Unit.INPUT_TOKEN): 56.0,
        (resource, Unit.CACHE_WRITE_TOKEN): 1800.0,
        (resource, Unit.CACHED_INPUT_TOKEN): 1800.0,
        (resource, Unit.OUTPUT_TOKEN): 798.0,
    }


def test_gemini_dollars_range_over_free_and_paid_equivalent_cards(ledger: Ledger) -> None:
    report = priced(ledger, fixture("gemini_response.json"))
    (group,) = report.groups
    # low: the free experimental tier; high: 120 x $0.15/M + (850 + 3200 thoughts) x $3.50/M
    assert group.cost_usd_low == Decimal(0)
    assert group.cost_usd_high == Decimal("0.014193")
    assert lines_of(report)[("api/gemini-2.0-flash-thinking-exp", Unit.THINKING_TOKEN)] == 3200.0


def test_cached_gemini_tokens_without_a_card_are_unpriced_not_free(ledger: Ledger) -> None:
    report = priced(ledger, fixture("gemini_sdk_cached.json"))
    (missing,) = report.unpriced
    assert missing.unit is Unit.CACHED_INPUT_TOKEN and missing.quantity == 4096.0
    assert "no price card for api/gemini-2.0-flash-thinking-exp" in missing.reason


def test_unknown_model_is_recorded_and_listed_unpriced(ledger: Ledger) -> None:
    response = {
        "id": "c1",
        "object": "chat.completion",
        "model": "deepseek-chat",
        "choices": [],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }
    report = priced(ledger, response)
    assert report.groups[0].cost_usd_high == 0 and report.groups[0].unpriced_lines == 2
    assert {(u.resource, u.unit, u.quantity) for u in report.unpriced} == {
        ("api/deepseek-chat", Unit.INPUT_TOKEN, 100.0),
        ("api/deepseek-chat", Unit.OUTPUT_TOKEN, 50.0),
    }


def test_a_response_without_usage_is_unquantified_never_zero(ledger: Ledger) -> None:
    response = {
        "id": "c2",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [],
        "usage": None,
    }
    report = priced(ledger, response)
    assert lines_of(report) == {("api/gpt-4o-mini", Unit.CALL): 1.0}
    assert {(u.unit, u.quantity) for u in report.unpriced} == {
        (Unit.INPUT_TOKEN, None), (Unit.OUTPUT_TOKEN, None),
    }  # fmt: skip
    assert all(u.reason.startswith("not quantified: 1 of 1 calls") for u in report.unpriced)


def test_recording_the_same_response_twice_adds_nothing(ledger: Ledger) -> None:
    priced(ledger, fixture("openai_chat_completion.json"))
    before = ledger.head()
    record_call(ledger, RUN, fixture("openai_chat_completion.json"))
    assert ledger.head() == before


# -- the wrapper --------------------------------------------------------------------------------


def test_the_wrapper_meters_sync_and_async_call_sites(ledger: Ledger) -> None:
    made = iter(range(100))

    def create(*, model: str, messages: list[dict[str, str]]) -> dict[str, Any]:
        response = fixture("openai_chat_completion.json")
        return {**response, "id": f"{response['id']}-{next(made)}"}  # each call its own id

    async def acreate(*, model: str, messages: list[dict[str, str]]) -> dict[str, Any]:
        return fixture("anthropic_message_cache_read.json")

    def stream(*, model: str) -> Any:
        return iter(())  # a stream object: no usage in it

    with metered_run(ledger, subject=SUBJECT, stage="traces", category="data",
                     background=False) as run:  # fmt: skip
        api = ApiMeter(run)
        wrapped = api.wrap(create)
        assert wrapped.__name__ == "create"
        for _ in range(3):
            wrapped(model="gpt-4o-mini", messages=[])
        asyncio.run(api.wrap(acreate)(model="claude-3-5-sonnet-20241022", messages=[]))
        api.wrap(stream)(model="gpt-4o-mini")
        carried = {(u.resource, u.unit): u.quantity for u in run.usages_so_far() if u.quantity}
        assert carried[("api/gpt-4o-mini", Unit.INPUT_TOKEN)] == 258.0  # heartbeats carry them
    report = build_report(ledger, SUBJECT, "run")
    (group,) = report.groups
    assert {line.provenance for line in group.lines} == {Provenance.MEASURED}
    assert lines_of(report) == {
        ("api/gpt-4o-mini", Unit.CALL): 4.0,
        ("api/gpt-4o-mini", Unit.INPUT_TOKEN): 258.0,
        ("api/gpt-4o-mini", Unit.CACHED_INPUT_TOKEN): 5760.0,
        ("api/gpt-4o-mini", Unit.OUTPUT_TOKEN): 900.0,
        ("api/claude-3-5-sonnet-20241022", Unit.CALL): 1.0,
        ("api/claude-3-5-sonnet-20241022", Unit.INPUT_TOKEN): 31.0,
        ("api/claude-3-5-sonnet-20241022", Unit.CACHED_INPUT_TOKEN): 1800.0,
        ("api/claude-3-5-sonnet-20241022", Unit.OUTPUT_TOKEN): 388.0,
    }
    # 3 x $0.0003369 + (31 x $3 + 1800 x $0.30 + 388 x $15) / 1M
    assert group.cost_usd_low == Decimal("0.0010107") + Decimal("0.006453")
    assert len(report.unpriced) == 2  # the stream's tokens: unknown, not zero
    assert ledger.runs(SUBJECT)[0].status is RunStatus.SUCCEEDED


def test_set_usage_replaces_a_running_total_by_id(ledger: Ledger) -> None:
    def calls(n: float, key: str = "total") -> Usage:
        return Usage(id=f"x/{key}", run="elsewhere", resource="api/m", unit=Unit.CALL,
                     quantity=n, provenance=Provenance.MEASURED)  # fmt: skip

    with metered_run(ledger, subject=SUBJECT, stage="traces", category="data",
                     background=False) as run:  # fmt: skip
        run.set_usage(calls(1))
        run.set_usage(calls(2))
        run.set_usage(calls(5, "other"))
        assert [(u.id, u.run, u.quantity) for u in run.extra] == [
            ("x/total", run.run_id, 2.0),
            ("x/other", run.run_id, 5.0),
        ]


# -- importing a log ----------------------------------------------------------------------------


def import_args(path: Path, url: str, *extra: str) -> list[str]:
    return ["import", "api-log", str(path), "--subject", SUBJECT, "--ledger", url, *extra]


@pytest.fixture
def url(sqlite_url: str) -> str:
    """A ledger with the subject and the o3-mini test cards."""
    with Ledger(sqlite_url) as ledger:
        ledger.record([Subject(id=SUBJECT, name=SUBJECT), *load_price_file(CARDS)])
    return sqlite_url


def test_a_log_imports_with_correct_tokens_and_dollars(url: str) -> None:
    with Ledger(url) as ledger:
        result = import_api_log(ledger, LOG, subject=SUBJECT)
        report = build_report(ledger, SUBJECT, "run")
    assert (result.first_line, result.last_line, result.calls) == (1, 8, 7)
    rows = {m.resource: m for m in result.models}
    assert rows["api/gpt-4o-mini"].calls_without_usage == 1
    assert rows["api/claude-3-5-sonnet-20241022"].models == ["claude-3-5-sonnet-20241022"]
    assert rows["api/deepseek-chat"].price_match == "no card"
    (group,) = report.groups
    assert group.key == result.run
    assert {line.provenance for line in group.lines} == {Provenance.REPORTED}
    low = Decimal("0.0003369") + Decimal("0.0116468") + Decimal("0.019428")
    assert group.cost_usd_low == low == result.cost.cost_usd_low  # type: ignore[union-attr]
    assert group.cost_usd_high == low + Decimal("0.014193")
    assert sorted((u.resource, u.unit.value, u.quantity) for u in report.unpriced) == [
        ("api/deepseek-chat", "input_token", 100.0),
        ("api/deepseek-chat", "output_token", 50.0),
        ("api/gpt-4o-mini", "input_token", None),
        ("api/gpt-4o-mini", "output_token", None),
    ]
    cited = next(line for line in group.lines if line.resource == "api/gpt-4o-mini")
    assert cited.run == result.run


def test_a_background_response_logged_queued_then_completed_is_one_call(url: str) -> None:
    log = API / "openai_background.jsonl"
    with Ledger(url) as ledger:
        result = import_api_log(ledger, log, subject=SUBJECT)
        report = build_report(ledger, SUBJECT, "run")
    assert (result.calls, result.repeated_ids) == (2, 2)
    (row,) = result.models
    assert (row.calls, row.calls_without_usage) == (2, 1)  # one finished, one still queued
    assert (row.input_tokens, row.cached_input_tokens) == (1500 - 1024, 1024)
    assert (row.output_tokens, row.thinking_tokens) == (2400 - 1856, 1856)
    lines = lines_of(report)
    assert lines[(row.resource, Unit.CALL)] == 2
    assert lines[(row.resource, Unit.THINKING_TOKEN)] == 1856
    missing = [u for u in report.unpriced if u.quantity is None]
    assert {u.unit for u in missing} == {Unit.INPUT_TOKEN, Unit.OUTPUT_TOKEN}
    assert all("1 of 2 calls" in u.reason for u in missing)


def test_a_finished_response_is_not_undone_by_a_later_unfinished_line(
    url: str, tmp_path: Path
) -> None:
    lines = (API / "openai_background.jsonl").read_text(encoding="utf-8").splitlines()
    log = tmp_path / "reordered.jsonl"
    log.write_text("\n".join([lines[1], lines[0]]) + "\n", encoding="utf-8")
    with Ledger(url) as ledger:
        result = import_api_log(ledger, log, subject=SUBJECT)
    (row,) = result.models
    assert (result.calls, row.calls_without_usage, row.thinking_tokens) == (1, 0, 1856)


def test_a_batch_output_file_is_priced_by_the_batch_cards(url: str) -> None:
    """OpenAI Batch API output lines (custom_id, response.status_code/body, error): the calls
    priced at the batch cards (50% of the standard ones); failed and expired lines are calls
    without usage, listed as not quantified, never $0."""
    with Ledger(url) as ledger:
        result = import_api_log(ledger, API / "openai_batch_output.jsonl", subject=SUBJECT)
        report = build_report(ledger, SUBJECT, "run")
    (row,) = result.models
    assert (row.resource, row.price_match) == ("api/gpt-4o-mini/batch", "snapshot")
    assert (row.calls, row.calls_without_usage) == (4, 2)
    assert (row.input_tokens, row.cached_input_tokens, row.output_tokens) == (1952, 2048, 100)
    assert result.cost is not None
    # 1952 x $0.075/M + 2048 x ($0.0375..$0.075)/M + 100 x $0.30/M
    assert result.cost.cost_usd_low == Decimal("0.0002532")
    assert result.cost.cost_usd_high == Decimal("0.00033")
    missing = [u for u in report.unpriced if u.quantity is None]
    assert {u.unit for u in missing} == {Unit.INPUT_TOKEN, Unit.OUTPUT_TOKEN}
    assert all("2 of 4 calls" in u.reason and "Batch API error" in u.reason for u in missing)


@pytest.mark.parametrize(
    ("line", "needles"),
    [
        ('{"custom_id": "a", "response": [1]}', ("field response", "found list")),
        (
            '{"custom_id": "a", "response": {"status_code": "200", "body": {}}}',
            ("field response.status_code", "'200'"),
        ),
        (
            '{"custom_id": "a", "response": {"status_code": 200, "body": "x"}}',
            ("field response.body", "found str"),
        ),
        ('{"custom_id": "a", "response": {"status_code": 200}}', ("field response.body",)),
    ],
)
def test_bad_batch_lines_import_nothing(
    runner: CliRunner, url: str, tmp_path: Path, line: str, needles: tuple[str, ...]
) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    done = runner.invoke(APP, import_args(path, url))
    assert_bad_input(done, str(path), "line 1", *needles)
    with Ledger(url) as ledger:
        assert ledger.runs(SUBJECT) == []


def test_the_citation_names_the_file_and_its_lines(url: str) -> None:
    with Ledger(url) as ledger:
        result = import_api_log(ledger, LOG, subject=SUBJECT)
        usages = ledger.usages(SUBJECT)
    assert result.run is not None and result.run.startswith("judge/api/api-log-")
    assert {u.citation for u in usages} == {f"api.jsonl (sha256 {result.sha256[:12]}), lines 1-8"}


def test_importing_the_same_log_again_adds_nothing(runner: CliRunner, url: str) -> None:
    first = runner.invoke(APP, import_args(LOG, url))
    assert first.exit_code == 0, first.output
    with Ledger(url) as ledger:
        head = ledger.head()
    again = runner.invoke(APP, import_args(LOG, url))
    assert again.exit_code == 0, again.output
    assert "already imported" in again.stdout
    with Ledger(url) as ledger:
        assert ledger.head() == head and ledger.verify().ok


def test_a_grown_log_adds_only_its_new_lines(tmp_path: Path, url: str) -> None:
    log = tmp_path / "calls.jsonl"
    shutil.copy(LOG, log)
    with Ledger(url) as ledger:
        first = import_api_log(ledger, log, subject=SUBJECT)
        with log.open("a", encoding="utf-8") as out:
            out.write(json.dumps(fixture("openai_chat_completion.json")) + "\n")
        grown = import_api_log(ledger, log, subject=SUBJECT)
        assert (grown.continues, grown.first_line, grown.calls) == (first.run, 9, 1)
        assert import_api_log(ledger, log, subject=SUBJECT).already_imported == grown.run
        lines = [
            line
            for g in build_report(ledger, SUBJECT, "run").groups
            for line in g.lines
            if (line.resource, line.unit) == ("api/gpt-4o-mini", Unit.INPUT_TOKEN)
        ]
    # 86 from the first import and 86 from the new line, each counted once
    assert sorted((line.run, line.quantity) for line in lines) == sorted(
        [(first.run, 86.0), (grown.run, 86.0)]
    )


def test_a_log_whose_last_line_had_no_newline_can_grow(tmp_path: Path, url: str) -> None:
    log = tmp_path / "calls.jsonl"
    log.write_text(json.dumps(fixture("openai_chat_completion.json")), encoding="utf-8")
    with Ledger(url) as ledger:
        first = import_api_log(ledger, log, subject=SUBJECT)
        with log.open("a", encoding="utf-8") as out:
            out.write("\n" + json.dumps(fixture("anthropic_message_cache_read.json")) + "\n")
        grown = import_api_log(ledger, log, subject=SUBJECT)
    assert (first.calls, grown.first_line, grown.calls) == (1, 2, 1)
    assert [m.resource for m in grown.models] == ["api/claude-3-5-sonnet-20241022"]


def test_import_prints_tokens_dollars_and_json(runner: CliRunner, url: str) -> None:
    done = runner.invoke(APP, import_args(LOG, url))
    assert done.exit_code == 0, done.output
    assert "api/gemini-2.0-flash-thinking-exp" in done.stdout
    assert "$0.0314–$0.0456 (4 unpriced usages: missing, not $0)" in done.stdout
    assert "new, 0 corrected, 0 unchanged" in done.stdout
    data = json.loads(runner.invoke(APP, import_args(LOG, url, "--json")).stdout)
    assert data["already_imported"]


def test_import_as_json(runner: CliRunner, url: str) -> None:
    done = runner.invoke(APP, import_args(LOG, url, "--json"))
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["calls"] == 7 and data["cost"]["cost_usd_low"] == 0.0314
    assert {m["resource"] for m in data["models"]} >= {"api/o3-mini", "api/deepseek-chat"}


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("malformed_json.jsonl", ("line 2: malformed JSON",)),
        ("not_an_object.jsonl", ("line 2: expected a JSON object", "found list")),
        ("not_a_response.jsonl", ("line 2: not an OpenAI, Anthropic or Gemini response",)),
        ("negative_tokens.jsonl", ("line 2: field usage.completion_tokens", "-5")),
        ("cached_exceeds_prompt.jsonl", ("line 2: cached and cache_write_tokens of prompt",)),
        ("no_model.jsonl", ("line 1: names no model",)),
        ("empty.jsonl", ("no API responses",)),
        (
            "iterations_fewer_than_top_level.jsonl",
            ("line 1: field usage.iterations", "input_tokens (100)", "(500)"),
        ),
        ("iterations_not_a_list.jsonl", ("line 1: field usage.iterations", "found dict")),
    ],
)
def test_bad_logs_import_nothing(
    runner: CliRunner, url: str, name: str, needles: tuple[str, ...]
) -> None:
    path = API / "bad" / name
    done = runner.invoke(APP, import_args(path, url))
    assert_bad_input(done, str(path), *needles)
    with Ledger(url) as ledger:
        assert ledger.runs(SUBJECT) == [] and ledger.usages(SUBJECT) == []


def test_missing_file_and_subject(runner: CliRunner, url: str, tmp_path: Path) -> None:
    assert_bad_input(runner.invoke(APP, import_args(tmp_path / "no.jsonl", url)), "no such file")
    other = ["import", "api-log", str(LOG), "--subject", "nobody", "--ledger", url]
    assert_bad_input(runner.invoke(APP, other), "unknown subject 'nobody'", "--create-subject")
    assert runner.invoke(APP, [*other, "--create-subject"]).exit_code == 0


def test_unknown_subject_in_the_library_is_not_found(url: str) -> None:
    with Ledger(url) as ledger, pytest.raises(NotFoundError):
        import_api_log(ledger, LOG, subject="nobody")


def test_the_cli_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, probes.api.cli; "
        "print(','.join(m for m in ('sqlalchemy', 'pydantic') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
