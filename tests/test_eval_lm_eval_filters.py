"""lm-eval tasks scored through several filters (gsm8k's ``strict-match`` and
``flexible-extract``), with the filter on each sample row (harness 0.4.3 and later) and without
it (0.4.2 and before, and s1's fork: the rows come filter after filter); and the forced end of a
budget-forced answer whose newline a harness wrote escaped.

Fixtures modelled on the harness's output: ``results_<ts>.json`` whose task lists
``exact_match,strict-match`` before ``exact_match,flexible-extract``, and
``samples_gsm8k_<ts>.jsonl`` with one row per document and filter (4 documents: strict-match
scores 1 of them, flexible-extract 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.store import Ledger
from probes.evals.errors import EvalInputError
from probes.evals.imports import split_forced
from probes.evals.lm_eval import import_lm_eval

DATA = Path(__file__).parent / "data" / "lm_eval"


@pytest.mark.parametrize("layout", ["gsm8k-filter-key", "gsm8k-no-filter-key"])
def test_each_filter_keeps_its_own_items_under_the_results_files_metric_name(
    layout: str, sqlite_url: str
) -> None:
    with Ledger(sqlite_url) as store:
        (summary,) = import_lm_eval(store, DATA / layout, "qwen2.5-0.5b-instruct")
        run = store.runs("qwen2.5-0.5b-instruct")[0]
        items = store.eval_items(run.id)
    assert summary.metrics == ["exact_match,strict-match", "exact_match,flexible-extract"]
    assert summary.items == len(items) == 8  # 4 documents x 2 filters, none overwritten
    by_metric: dict[str, dict[str, bool | None]] = {}
    for item in items:
        by_metric.setdefault(item.metric, {})[item.item_id] = item.correct
    assert by_metric == {
        "exact_match,strict-match": {"0": True, "1": False, "2": False, "3": False},
        "exact_match,flexible-extract": {"0": True, "1": True, "2": False, "3": True},
    }
    # The primary metric is the one the results file reports first, and it agrees with it.
    assert run.detail is not None and run.detail["primary_metric"] == "exact_match,strict-match"
    assert summary.accuracy == summary.reported == 0.25
    assert run.detail["n"] == 4
    extracted = {(i.metric, i.item_id): i.extracted_answer for i in items}
    assert extracted[("exact_match,strict-match", "1")] == "[invalid]"
    assert extracted[("exact_match,flexible-extract", "1")] == "60"


def test_rows_without_a_filter_beyond_the_tasks_filters_are_refused(
    sqlite_url: str, tmp_path: Path
) -> None:
    source = DATA / "gsm8k-no-filter-key" / "Qwen__Qwen2.5-0.5B-Instruct"
    target = tmp_path / "out"
    target.mkdir()
    for path in source.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.name.startswith("samples_"):
            text += text.splitlines(keepends=True)[0]  # a third row for document 0
        (target / path.name).write_text(text, encoding="utf-8")
    with Ledger(sqlite_url) as store, pytest.raises(EvalInputError, match="doc_id 0 has 3 rows"):
        import_lm_eval(store, target, "qwen2.5-0.5b-instruct")
    with Ledger(sqlite_url) as store:
        assert store.runs("qwen2.5-0.5b-instruct") == []


@pytest.mark.parametrize(
    "newline", ["\n", "\\n", "", "\n\\n"], ids=["newline", "escaped", "none", "both"]
)
def test_a_forced_end_is_seen_whether_the_newline_is_real_or_escaped(newline: str) -> None:
    response = f"<|im_start|>think\nso 204.<|im_start|>answer{newline}Final Answer: 204"
    split = split_forced(response)
    assert split is not None and split[0] == "\nso 204." and split[2] is True
    natural = split_forced("<|im_start|>think\nso 204.<|im_start|>answer\\nThe answer is 204")
    assert natural is not None and natural[2] is False
