"""The shipped registry is ``baselines.yaml`` followed by ``baselines/*.yaml`` in name order, and
an extension file may correct a bundled benchmark's metadata by an explicit, sourced override."""

from __future__ import annotations

from pathlib import Path

import pytest

from claims.errors import ClaimInputError
from claims.registry import bundled_registry_paths, load_registry
from ledger.errors import InputError


def _write(path: Path, body: str) -> Path:
    path.write_text("schema_version: 1\n" + body, encoding="utf-8")
    return path


def test_the_shipped_folder_is_read_after_the_main_file_in_name_order(tmp_path: Path) -> None:
    _write(tmp_path / "b-second.yaml", "models:\n  - {id: second-model, name: Second}\n")
    _write(
        tmp_path / "a-first.yaml",
        "models:\n  - {id: first-model, name: First, aliases: [Firsty]}\n",
    )
    (tmp_path / "README.txt").write_text("not a registry file", encoding="utf-8")
    paths = bundled_registry_paths(tmp_path)
    assert [p.name for p in paths] == ["baselines.yaml", "a-first.yaml", "b-second.yaml"]
    registry = load_registry(bundled=tmp_path)
    assert registry.model("Firsty").id == "first-model"
    assert "second-model" in registry.models and "deepseek-r1" in registry.models


def test_an_empty_or_missing_folder_leaves_the_main_file(tmp_path: Path) -> None:
    assert len(bundled_registry_paths(tmp_path)) == 1
    assert len(bundled_registry_paths(tmp_path / "absent")) == 1
    assert "deepseek-r1" in load_registry(bundled=tmp_path / "absent").models


def test_shipped_files_follow_the_merge_rules_of_user_files(tmp_path: Path) -> None:
    _write(tmp_path / "bad.yaml", "models:\n  - {id: o1, name: Something else}\n")
    with pytest.raises(ClaimInputError, match=r"bad\.yaml.*'o1' is already defined differently"):
        load_registry(bundled=tmp_path)


def test_the_real_shipped_registry_loads() -> None:
    assert load_registry().models


# ---- benchmark overrides -----------------------------------------------------------------------

LIKE = Path(__file__).parent / "data" / "claims" / "likeforlike-registry.yaml"
FIX = (
    "benchmark_overrides:\n"
    "  - id: LF-Sized-Later\n"
    "    n: 40\n"
    "    reason: the first file did not record the size\n"
    "    source: LF-LAB-A Table 1 caption\n"
)


def test_an_override_corrects_a_defined_benchmark_and_its_scores(tmp_path: Path) -> None:
    before = load_registry([LIKE])
    assert before.benchmarks["lf-sized-later"].n is None
    registry = load_registry([LIKE, _write(tmp_path / "fix.yaml", FIX)])
    bench = registry.benchmarks["lf-sized-later"]
    assert bench.n == 40 and bench.citation == "LF-LAB-A Table 1 caption"
    assert {s.n for s in registry.scores if s.benchmark == "lf-sized-later"} == {40}
    ((ident, path, fix),) = registry.overrides
    assert (
        ident == "lf-sized-later" and path.endswith("fix.yaml") and "did not record" in fix.reason
    )


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        (FIX.replace("    reason: the first file did not record the size\n", ""), ["reason"]),
        (FIX.replace("    source: LF-LAB-A Table 1 caption\n", ""), ["source"]),
        (FIX.replace("LF-Sized-Later", "no-such-bench"), ["line 3", "unknown benchmark"]),
        (FIX.replace("    n: 40\n", ""), ["line 3", "nothing to correct"]),
        (
            "benchmarks:\n  - {id: lf-sized-later, name: LF-Sized-Later, n: 40, areas: [math]}\n",
            ["line 3", "'lf-sized-later' is already defined differently"],
        ),
    ],
)
def test_overrides_need_a_reason_and_a_source_and_a_redefinition_stays_refused(
    tmp_path: Path, body: str, needles: list[str]
) -> None:
    with pytest.raises(InputError) as exc:
        load_registry([LIKE, _write(tmp_path / "fix.yaml", body)])
    for needle in needles:
        assert needle in str(exc.value)
