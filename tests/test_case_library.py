"""The case library: every bundled case's claims get the verdicts its written reading gives
(tests/golden/cases/NAME.yaml; docs/cases.md says why each is right)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from claims.engine import check_claims
from claims.files import bundled_claim_sets, load_claims
from claims.registry import load_registry
from ledger.cases import bundled_case_names, load_case
from ledger.store import Ledger

GOLDEN = Path(__file__).parent / "golden" / "cases"
CASES = sorted(p.stem for p in GOLDEN.glob("*.yaml"))


def test_the_library_has_eight_cases_besides_s1_with_a_reading_each() -> None:
    assert len(CASES) >= 8 and "s1" not in CASES
    assert set(CASES) <= set(bundled_claim_sets())
    docs = (Path(__file__).parent.parent / "docs" / "cases.md").read_text(encoding="utf-8")
    for name in CASES:
        assert f"## {name}" in docs, name


@pytest.mark.parametrize("name", CASES)
def test_verdicts_match_the_written_reading(name: str, tmp_path: Path) -> None:
    expected = yaml.safe_load((GOLDEN / f"{name}.yaml").read_text(encoding="utf-8"))["claims"]
    registry = load_registry()
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        report = check_claims(load_claims([name], registry), registry, ledger)
    got = {
        c.id: {
            "verdict": c.verdict.value,
            "assertions": {a.id: a.verdict.value for a in c.assertions},
        }
        for c in report.claims
    }
    assert got == expected


def test_every_bundled_case_loads() -> None:
    for name in bundled_case_names():
        case = load_case(name)
        assert case.subject in {s.id for s in case.subjects}
