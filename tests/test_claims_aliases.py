"""A name shared by several models (a bare family name such as "QwQ") never silently picks one:
the claim's source date picks the model current then, or the name is refused with its candidates.
Unambiguous aliases keep working without a date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from claims.engine import check_claims
from claims.errors import AmbiguousNameError
from claims.files import load_claims
from claims.registry import Registry, load_registry
from ledger.errors import InputError

LIKE = Path(__file__).parent / "data" / "claims" / "likeforlike-registry.yaml"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def test_the_bundled_qwq_models_have_release_dates(registry: Registry) -> None:
    preview, final = registry.models["qwq-32b-preview"], registry.models["qwq-32b"]
    assert preview.released == dt.date(2024, 11, 28)
    assert final.released == dt.date(2025, 3, 6)
    assert [m.id for m in registry.candidates("QwQ")] == ["qwq-32b-preview", "qwq-32b"]


@pytest.mark.parametrize(
    ("on", "model"),
    [
        (dt.date(2025, 3, 10), "qwq-32b"),  # a March 2025 headline
        (dt.date(2025, 3, 6), "qwq-32b"),  # released that day
        (dt.date(2025, 1, 15), "qwq-32b-preview"),
        (dt.date(2024, 11, 28), "qwq-32b-preview"),
    ],
)
def test_the_date_picks_the_model_current_then(registry: Registry, on: dt.date, model: str) -> None:
    assert registry.model("QwQ", on).id == model


def test_without_a_date_or_before_any_release_the_name_is_refused(registry: Registry) -> None:
    with pytest.raises(AmbiguousNameError) as exc:
        registry.model("QwQ")
    message = str(exc.value)
    assert "qwq-32b-preview (released 2024-11-28), qwq-32b (released 2025-03-06)" in message
    assert "\n" not in message
    with pytest.raises(AmbiguousNameError, match="none released by 2024-06-01"):
        registry.model("QwQ", dt.date(2024, 6, 1))


def test_unambiguous_names_need_no_date(registry: Registry) -> None:
    assert registry.model("QwQ-32B-Preview").id == "qwq-32b-preview"
    assert registry.model("QwQ-32B").id == "qwq-32b"
    assert registry.model("R1").id == "deepseek-r1"
    assert registry.model("R1", dt.date(2020, 1, 1)).id == "deepseek-r1"


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text("schema_version: 1\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        (  # an undated model may not share a name
            "models:\n  - {id: qwq-max, name: QwQ-Max, aliases: [QwQ]}\n",
            ["line 3", "name 'QwQ' of 'qwq-max' already means", "needs `released`", "qwq-max"],
        ),
        (
            "models:\n  - {id: qwq-max, name: QwQ-Max, aliases: [QwQ], released: 2025-03-06}\n",
            ["different `released` dates"],
        ),
        (  # an id is never shared
            "models:\n  - {id: x-max, name: X, aliases: [qwq-32b], released: 2025-04-01}\n",
            ["name 'qwq-32b' of 'x-max' already means 'qwq-32b' (it is a model id)"],
        ),
    ],
)
def test_shared_names_need_distinct_release_dates(
    tmp_path: Path, body: str, needles: list[str]
) -> None:
    with pytest.raises(InputError) as exc:
        load_registry([_write(tmp_path, body)])
    for needle in needles:
        assert needle in str(exc.value)


def test_a_dated_model_may_join_a_shared_name(tmp_path: Path) -> None:
    body = "models:\n  - {id: qwq-max, name: QwQ-Max, aliases: [QwQ], released: 2025-06-01}\n"
    registry = load_registry([_write(tmp_path, body)])
    assert registry.model("QwQ", dt.date(2025, 7, 1)).id == "qwq-max"
    assert registry.model("QwQ", dt.date(2025, 5, 1)).id == "qwq-32b"


def _claim(
    tmp_path: Path, date: str | None, subject: str = "lf-a", comparator: str = "QwQ"
) -> Path:
    path = tmp_path / "claim.yaml"
    dated = f"  date: {date}\n" if date else ""
    path.write_text(
        "schema_version: 1\nid: t/qwq\ntitle: t\n"
        f"subject: {subject}\nsource:\n  outlet: test\n  quote: q\n  language: en\n{dated}"
        "assertions:\n"
        f"  - {{kind: comparison, id: x, text: t, relation: matches, comparator: {comparator},"
        " benchmarks: [aime24]}\n",
        encoding="utf-8",
    )
    return path


def test_claim_files_resolve_names_with_their_source_date(tmp_path: Path) -> None:
    registry = load_registry([LIKE])
    loaded = load_claims([str(_claim(tmp_path, "2025-03-10"))], registry)
    (verdict,) = check_claims(loaded, registry, None).claims[0].assertions
    assert verdict.comparators[0].comparator == "qwq-32b"
    assert "the latest released by the claim's date 2025-03-10" in verdict.evidence[0]
    loaded = load_claims([str(_claim(tmp_path, "2025-01-10"))], registry)
    (verdict,) = check_claims(loaded, registry, None).claims[0].assertions
    assert verdict.comparators[0].comparator == "qwq-32b-preview"


def test_an_undated_claim_naming_a_shared_name_is_refused_with_the_candidates(
    tmp_path: Path,
) -> None:
    registry = load_registry([LIKE])
    with pytest.raises(InputError) as exc:
        load_claims([str(_claim(tmp_path, None))], registry)
    message = str(exc.value)
    assert "line 10" in message and "field assertions[0].comparator" in message
    assert "qwq-32b-preview (released 2024-11-28), qwq-32b (released 2025-03-06)" in message


def test_the_subject_is_resolved_with_the_date_too(tmp_path: Path) -> None:
    registry = load_registry([LIKE])
    path = _claim(tmp_path, "2025-03-10", subject="QwQ", comparator="lf-a")
    claim = check_claims(load_claims([str(path)], registry), registry, None).claims[0]
    assert claim.subject == "qwq-32b"
    with pytest.raises(InputError, match="field subject"):
        load_claims([str(_claim(tmp_path, None, subject="QwQ", comparator="lf-a"))], registry)
