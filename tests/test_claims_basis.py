"""Price bases in cost verdicts (issue 17, item 6): a cost assertion may name its basis (rental,
owned, or the claimant's stated rates); the verdict shows the figure on every basis and judges the
one the words mean; a claimant's rate below every rental card is an owner's price where it is not
below what owning the hardware costs, and misleading where it is (docs/claims.md, "Price bases").

Every case is a synthetic one written here: 10 H800 GPU-hours of fine-tuning in January 2025,
priced by the bundled H800 rental cards (CR8DL, $3.42) and the owned basis (H800 purchase prices,
ledger/data/prices/hardware_purchase.yaml, amortised as docs/methodology.md says)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from claims.cost_facts import SubjectCosts, subject_costs
from claims.costs import check_cost
from claims.engine import check_claims
from claims.files import load_claims
from claims.registry import load_registry
from claims.report import AssertionVerdict, BasisCheck, Verdict
from claims.schema import BasisKind, CostAssertion, PriceBasis
from ledger.cases import load_case, record_case
from ledger.energy import owned_rate
from ledger.prices import PriceBook, bundled_cards
from ledger.store import Ledger

S = "toy-h800"
HOURS = Decimal(10)
CHINA = "CHN"


def _case(tmp_path: Path) -> Path:
    path = tmp_path / f"{S}.yaml"
    run = f"{S}/sft"
    path.write_text(
        yaml.safe_dump(
            {
                "schema_version": 1,
                "id": S,
                "title": "ten H800 hours",
                "subject": S,
                "region": CHINA,
                "subjects": [{"id": S, "name": "Toy on H800"}],
                "runs": [
                    {
                        "id": run,
                        "subject": S,
                        "stage": "sft",
                        "category": "fine_tuning",
                        "name": run,
                        "status": "reported",
                        "citation": "test",
                        "ended_at": "2025-01-15T00:00:00Z",
                    }
                ],
                "usages": [
                    {
                        "id": f"{run}/gpu",
                        "run": run,
                        "resource": "gpu/H800",
                        "unit": "gpu_hour",
                        "quantity": float(HOURS),
                        "provenance": "reported",
                        "citation": "test",
                    }
                ],
                "scopes": [
                    {
                        "id": f"{S}/final",
                        "subject": S,
                        "label": "final",
                        "categories": ["fine_tuning"],
                    }
                ],
            }
        )
    )
    return path


@pytest.fixture
def h800(ledger: Ledger, tmp_path: Path) -> SubjectCosts:
    record_case(ledger, load_case(_case(tmp_path)))
    return subject_costs(ledger, S, CHINA)


def _rental() -> Decimal:
    (price,) = {
        c.usd_per_unit
        for c in bundled_cards()
        if c.resource == "gpu/H800" and c.unit.value == "gpu_hour"
    }
    return price


def _owned() -> tuple[Decimal, Decimal, Decimal]:
    rate = owned_rate(PriceBook(bundled_cards()), "gpu/H800", CHINA)
    assert rate is not None
    return rate.usd_low, rate.usd, rate.usd_high


def _cost(bound: str, usd: Decimal, **extra: Any) -> CostAssertion:
    return CostAssertion(kind="cost", id="c", text="t", bound=bound, usd=usd, **extra)


def _rate(usd: str) -> list[PriceBasis]:
    return [PriceBasis(resource="gpu/H800", usd_per_unit=Decimal(usd), quote=f"${usd}/hour")]


def _basis(v: AssertionVerdict, name: str) -> BasisCheck:
    return next(b for b in v.scopes[0].bases if b.basis == name)


def test_the_markets_bracket_an_owners_rate() -> None:
    """What the rules below rest on: owning an H800 costs less an hour than renting one, and
    DeepSeek's $2 lies between the owned central estimate and the rental cards."""
    low, mid, high = _owned()
    assert Decimal(1) < low < mid < Decimal(2) < _rental()
    assert low < mid < high < _rental()


def test_words_naming_no_basis_are_judged_on_rental(h800: SubjectCosts) -> None:
    verdict = check_cost(_cost("about", HOURS * _rental()), h800)
    assert verdict.verdict is Verdict.SUPPORTED
    assert verdict.scopes[0].basis == "rental"
    assert [b.basis for b in verdict.scopes[0].bases] == ["rental", "owned"]  # no claimant's
    rental = _basis(verdict, "rental")
    assert rental.status == "holds" and rental.usd_per_gpu_hour_low == _rental()
    assert rental.sources == sorted(
        c.id for c in bundled_cards() if c.resource == "gpu/H800" and c.unit.value == "gpu_hour"
    )


def test_the_owned_figure_is_judged_where_the_words_name_it(h800: SubjectCosts) -> None:
    low, mid, high = _owned()
    y = (HOURS * mid).quantize(Decimal(1))
    named = check_cost(_cost("about", y, basis=BasisKind.OWNED), h800)
    assert named.verdict is Verdict.SUPPORTED and named.scopes[0].basis == "owned"
    owned = _basis(named, "owned")
    assert owned.cost_usd_low == pytest.approx(HOURS * low)
    assert owned.cost_usd_high == pytest.approx(HOURS * high)
    assert owned.usd_per_gpu_hour_low == low and owned.usd_per_gpu_hour_high == high
    assert any(s.startswith("buy-h800") for s in owned.sources)
    assert any("lifetime_years" in s for s in owned.sources)
    assert "the owned cost of gpu/H800" in named.scopes[0].representative
    # the same figure under words naming no basis: a headline means rental, where it fails
    headline = check_cost(_cost("about", y), h800)
    assert headline.scopes[0].status == "fails"
    assert headline.verdict is Verdict.MISLEADING
    assert "holds only on the owned basis" in headline.reason
    assert "not on the rental basis the words mean" in headline.reason


def test_an_owned_figure_holding_only_at_its_cheap_end_is_not_support(
    h800: SubjectCosts,
) -> None:
    low, mid, _ = _owned()
    y = HOURS * (low + mid) / 2  # under it only with the cheapest purchase, the longest life
    named = check_cost(_cost("under", y, basis=BasisKind.OWNED), h800)
    assert named.verdict is Verdict.MISLEADING
    assert named.scopes[0].status == "extreme_prices"
    # nor does the cheap end of another basis rescue words that fail on theirs
    assert check_cost(_cost("under", y), h800).verdict is Verdict.NOT_SUPPORTED


def test_the_evidence_shows_the_figure_on_every_basis(h800: SubjectCosts) -> None:
    verdict = check_cost(_cost("about", HOURS * 2, basis=_rate("2")), h800)
    assert [b.basis for b in verdict.scopes[0].bases] == ["rental", "owned", "claimant"]
    assert verdict.scopes[0].basis == "claimant"
    line = verdict.evidence[0]
    assert line.startswith("final on every basis, judged on the claimant's one the words mean")
    assert f"rental ${HOURS * _rental():.2f} (fails" in line
    assert "owned $" in line and ", range $" in line  # central, then the range
    # the claimant's range keeps the market beside the stated rate
    assert f"claimant's $20.00, range $20.00–${HOURS * _rental():.2f} (holds" in line
    claimant = _basis(verdict, "claimant").sources
    assert claimant[0] == "the claim: $2/hour" and "h800-cr8dl-2025-03-03-on-demand" in claimant


def test_a_rate_between_the_owned_cost_and_the_rental_cards_is_an_owners_price(
    h800: SubjectCosts,
) -> None:
    """DeepSeek's "$2 per H800 GPU hour": below CR8DL's $3.42, above what owning one costs."""
    verdict = check_cost(_cost("about", HOURS * 2, basis=_rate("2")), h800)
    assert verdict.verdict is Verdict.SUPPORTED
    assert verdict.scopes[0].status == "holds"
    assert "below every near rental card (CR8DL $3.42 (2024-08-24), CR8DL $3.42 (2025-03-03))" in (
        verdict.reason
    )
    _, mid, _ = _owned()
    assert f"not below the owned cost of gpu/H800, ${mid:.2f}/GPU-hour central" in verdict.reason
    assert verdict.reason.endswith("an owner's price, not a rental one")


def test_a_rate_reaching_the_owned_cost_only_at_its_cheap_end_is_misleading(
    h800: SubjectCosts,
) -> None:
    """A rate within the owned range but below its central estimate is what owning costs only at
    the cheapest purchase and the longest lifetime: a bound that holds only there is not
    support, as at the cheap end of the rental cards."""
    low, mid, _ = _owned()
    rate = ((low + mid) / 2).quantize(Decimal("0.01"))
    assert low < rate < mid
    verdict = check_cost(_cost("about", HOURS * rate, basis=_rate(str(rate))), h800)
    assert verdict.verdict is Verdict.MISLEADING
    assert verdict.scopes[0].status == "extreme_prices"
    assert f"below the owned cost of gpu/H800, ${mid:.2f}/GPU-hour central" in verdict.reason
    assert "within the owned range only at its cheap end" in verdict.reason
    assert verdict.reason.endswith("cheaper than owning the hardware")


def test_a_rate_below_what_owning_costs_is_misleading(h800: SubjectCosts) -> None:
    low, _, _ = _owned()
    rate = (low * Decimal("0.7")).quantize(Decimal("0.01"))
    verdict = check_cost(_cost("about", HOURS * rate, basis=_rate(str(rate))), h800)
    assert verdict.verdict is Verdict.MISLEADING
    assert verdict.scopes[0].status == "extreme_prices"
    assert verdict.reason.endswith("cheaper than owning the hardware")


def test_a_claim_file_names_its_basis(ledger: Ledger, tmp_path: Path) -> None:
    """Through the claim file and the engine: the case's region prices the owned basis's
    electricity."""
    _case(tmp_path)
    _, mid, _ = _owned()
    claim = tmp_path / "claim.yaml"
    claim.write_text(
        yaml.safe_dump(
            {
                "schema_version": 1,
                "id": "toy/owned",
                "title": "t",
                "subject": S,
                "case": f"{S}.yaml",
                "source": {"outlet": "o", "quote": "q", "language": "en"},
                "assertions": [
                    {
                        "kind": "cost",
                        "id": "c",
                        "text": "cost its owner about $Y in hardware and power",
                        "bound": "about",
                        "usd": str((HOURS * mid).quantize(Decimal(1))),
                        "basis": "owned",
                    }
                ],
            }
        )
    )
    registry = load_registry()
    report = check_claims(load_claims([str(claim)], registry), registry, ledger)
    (a,) = report.claims[0].assertions
    assert a.verdict is Verdict.SUPPORTED and a.scopes[0].basis == "owned"
    owned = _basis(a, "owned")
    assert "electricity-chn-industrial-2024" in owned.sources
    assert not any(s.startswith("electricity-usa") for s in owned.sources)
