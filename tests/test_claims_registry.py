"""The baseline registry: exact model identity, the copied published numbers, conflicts kept side
by side, user extensions, and bad registry files."""

from __future__ import annotations

from pathlib import Path

import pytest

from claims.errors import ClaimInputError, UnknownNameError
from claims.registry import Registry, baseline_rows, load_registry
from claims.schema import Origin, ProtocolKind
from ledger.errors import InputError

GOLDEN = Path(__file__).parent / "golden" / "claims"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


@pytest.mark.parametrize(
    ("words", "model"),
    [
        ("DeepSeek R1", "deepseek-r1"),
        ("R1", "deepseek-r1"),
        ("deepseek-r1", "deepseek-r1"),
        ("DeepSeek's R1", "deepseek-r1"),
        ("R1-Distill-Qwen-32B", "deepseek-r1-distill-qwen-32b"),
        ("o1", "o1"),
        ("OpenAI's o1", "o1"),
        ("o1-preview", "o1-preview"),
        ("O1 Preview", "o1-preview"),
        ("o1-mini", "o1-mini"),
        ("OpenAI-o1-1217", "o1-2024-12-17"),
        ("s1", "s1-32B"),
        ("s1.1", "s1.1-32B"),
        ("Qwen2.5-32B-Instruct", "qwen2.5-32b-instruct"),
    ],
)
def test_aliases_name_exactly_one_model(registry: Registry, words: str, model: str) -> None:
    assert registry.model(words).id == model


def test_distinct_models_stay_distinct(registry: Registry) -> None:
    ids = {
        registry.model(n).id for n in ("o1", "o1-preview", "o1-mini", "R1", "R1-Distill-Qwen-32B")
    }
    assert len(ids) == 5
    qwq = registry.find_model("QwQ-32B-Preview")
    assert qwq is not None and qwq.id == "qwq-32b-preview"
    later = registry.find_model("QwQ-32B")  # the later model is a different one
    assert later is not None and later.id == "qwq-32b"


def test_unknown_model_suggests_nearest_ids_once(registry: Registry) -> None:
    with pytest.raises(UnknownNameError) as exc:
        registry.model("o1-pro")
    assert "unknown model 'o1-pro' (nearest: o1-preview, o1, o1-mini)" in str(exc.value)
    with pytest.raises(UnknownNameError, match="nearest: aime25, aime24"):
        registry.benchmark("aime23")


# (model, benchmark, table) -> value, copied from the s1 dossier's tables
PUBLISHED = {
    ("s1-32B", "aime24", "S1P-table1"): 56.7,
    ("s1-32B", "math500", "S1P-table1"): 93.0,
    ("s1-32B", "gpqa-diamond", "S1P-table1"): 59.6,
    ("deepseek-r1", "aime24", "R1P-table4"): 79.8,
    ("deepseek-r1", "math500", "R1P-table4"): 97.3,
    ("deepseek-r1", "gpqa-diamond", "R1P-table4"): 71.5,
    ("deepseek-r1-distill-qwen-32b", "aime24", "R1P-table5"): 72.6,
    ("deepseek-r1-distill-qwen-32b", "aime24", "S1P-table5"): 58.3,
    ("o1-preview", "aime24", "OAI1-appendix-a"): 44.6,
    ("o1-preview", "aime24", "SKY-readme"): 40.0,
    ("o1", "gpqa-diamond", "OAI1-appendix-a"): 77.3,
    ("o1-mini", "aime24", "OAIm-blog"): 70.0,
    ("o1-mini", "aime24", "R1P-table4"): 63.6,
    ("qwq-32b-preview", "gpqa-diamond", "S1P-table1"): 54.5,
    ("qwq-32b-preview", "gpqa-diamond", "QWQP-blog"): 65.2,
    ("s1-ablation-59K-full", "aime24", "S1P-table2"): 53.3,
    ("s1-32B", "gpqa-diamond", "S1P-table2"): 57.6,
}


@pytest.mark.parametrize(("key", "value"), sorted(PUBLISHED.items()))
def test_published_values_are_in_the_registry(
    registry: Registry, key: tuple[str, str, str], value: float
) -> None:
    model, bench, table = key
    values = [s.value_pct for s in registry.scores_for(model, bench, table)]
    assert value in values


def test_benchmark_sizes(registry: Registry) -> None:
    sizes = {b.id: b.n for b in registry.benchmarks.values()}
    assert sizes["aime24"] == 30 and sizes["math500"] == 500 and sizes["gpqa-diamond"] == 198


def test_headline_score_prefers_default_setting_single_answer_developer_figures(
    registry: Registry,
) -> None:
    o1p = registry.headline("o1-preview", "aime24")
    assert o1p is not None and (o1p.value_pct, o1p.origin, o1p.source) == (
        44.6,
        Origin.DEVELOPER,
        "OAI1",
    )
    s1 = registry.headline("s1-32B", "aime24")
    assert s1 is not None and (s1.value_pct, s1.table) == (56.7, "S1P-table1")
    r1 = registry.headline("deepseek-r1", "aime24")
    assert r1 is not None and r1.protocol.kind is ProtocolKind.PASS_AT_1
    assert r1.protocol.samples_k_max == 64
    for model in ("o1", "o1-preview", "deepseek-r1-distill-qwen-32b"):
        headline = registry.headline(model, "aime24")
        assert headline is not None and headline.protocol.kind is not ProtocolKind.CONS_AT_K


def test_conflicting_values_are_listed_side_by_side(registry: Registry) -> None:
    rows = baseline_rows(registry, "o1-preview", "aime24")
    values = [(r.value_pct, r.source, r.preferred) for r in rows]
    assert (44.6, "OAI1", True) in values and (40.0, "SKY", False) in values
    sky = next(r for r in rows if r.source == "SKY")
    assert 44.6 in sky.other_values_pct
    assert all(r.n == 30 for r in rows)


def test_what_the_subject_reports_and_who_it_beat(registry: Registry) -> None:
    assert registry.reported_benchmarks("s1-32B") == ["aime24", "math500", "gpqa-diamond"]
    (win,) = registry.beaten_by("s1-32B")
    assert (win.comparator, win.benchmarks) == ("o1-preview", ["aime24", "math500"])
    assert registry.listed_family("s1-32B", "deepseek-r1") == ["deepseek-r1-distill-qwen-32b"]
    assert set(registry.listed_family("s1-32B", "o1")) == {"o1-preview", "o1-mini"}


def test_published_paired_intervals_flip_with_the_direction(registry: Registry) -> None:
    forward = registry.difference("s1-ablation-59K-full", "s1-32B", "aime24", "S1P-table2")
    backward = registry.difference("s1-32B", "s1-ablation-59K-full", "aime24", "S1P-table2")
    assert forward is not None and backward is not None
    assert (forward.low_points, forward.high_points) == (-13.3, 20.0)
    assert (backward.low_points, backward.high_points) == (-20.0, 13.3)
    assert registry.trained_model("s1", "59K-full").id == "s1-ablation-59K-full"
    assert registry.trained_model("s1", "s1k").id == "s1-32B"


def test_golden_registry_file_extends_the_bundled_one() -> None:
    registry = load_registry([GOLDEN / "registry-v1.yaml"])
    assert registry.model("Golden-S").id == "golden-small"
    assert registry.benchmark("GB-100").n == 100
    headline = registry.headline("golden-small", "golden-bench")
    assert headline is not None and headline.value_pct == 70.0  # not the cons@8 setting row
    assert [s.value_pct for s in registry.scores_for("o1-preview", "golden-bench")] == [80.0]
    diff = registry.difference("golden-small", "golden-large", "golden-bench", "GOLD-table1")
    assert diff is not None and (diff.low_points, diff.high_points, diff.confidence) == (
        -4.0,
        2.0,
        0.9,
    )
    assert registry.beaten_by("golden-small")[0].comparator == "o1-preview"


def _extension(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text("schema_version: 1\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        (
            "models:\n  - {id: o1, name: Something else}\n",
            ["mine.yaml", "line 3", "'o1' is already defined differently"],
        ),
        (
            "models:\n  - {id: my-r1, name: Mine, aliases: [R1]}\n",
            ["line 3", "name 'R1' of 'my-r1' already means 'deepseek-r1'"],
        ),
        (
            "tables:\n  - id: t\n    source: S1P\n    location: x\n    protocol: {kind: greedy}\n"
            "    rows:\n      - {model: o1, origin: developer, scores: {aime23: 50}}\n",
            ["line 8", "unknown benchmark 'aime23'", "nearest: aime25, aime24"],
        ),
        (
            "tables:\n  - id: t\n    source: NOPE\n    location: x\n    protocol: {kind: greedy}\n"
            "    rows: []\n",
            ["line 4", "unknown source tag 'NOPE'"],
        ),
        (
            "tables:\n  - id: t\n    source: S1P\n    location: x\n    protocol: {kind: greedy}\n"
            "    rows:\n      - {model: gpt-5, origin: developer, scores: {aime24: 50}}\n",
            ["unknown model 'gpt-5'", "nearest: gpt-4o"],
        ),
        ("benchmarks:\n  - {id: b, name: B, n: -3, areas: [math]}\n", ["field benchmarks[0].n"]),
        ("schema_version_typo: 1\n", ["schema_version_typo", "Extra inputs"]),
    ],
)
def test_bad_registry_files_name_file_line_and_field(
    tmp_path: Path, body: str, needles: list[str]
) -> None:
    with pytest.raises(InputError) as exc:
        load_registry([_extension(tmp_path, body)])
    assert isinstance(exc.value, InputError)
    for needle in needles:
        assert needle in str(exc.value), str(exc.value)


def test_newer_registry_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.yaml"
    path.write_text("schema_version: 2\n", encoding="utf-8")
    with pytest.raises(InputError, match="version 2 is newer"):
        load_registry([path])


def test_registry_errors_are_claim_input_errors(tmp_path: Path) -> None:
    with pytest.raises(ClaimInputError):
        load_registry([_extension(tmp_path, "models:\n  - {id: o1, name: x}\n")])
