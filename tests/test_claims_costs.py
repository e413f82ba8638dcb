"""Cost verdicts beyond s1 (issue 12, classes 1-6): missing is never $0, a bound needs a
representative price, the claimant's basis, money reported as money, inherited bases, wider scopes
and other subjects' figures. Each case file is written here, loaded into a real ledger, and checked
through the engine."""

from __future__ import annotations

import re
import statistics
from dataclasses import replace
from datetime import date
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
from claims.report import Verdict
from claims.schema import CostAssertion, PriceBasis
from ledger.cases import load_case, record_case
from ledger.prices import PriceBook, bundled_cards
from ledger.schema import PriceCard
from ledger.store import Ledger

WHEN = date(2025, 1, 15)
"""The toy runs' end, and the claims' date."""


def _run(rid: str, subject: str, category: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "subject": subject,
        "stage": rid.rsplit("/", 1)[1],
        "category": category,
        "name": rid,
        "status": "reported",
        "citation": "test",
        "ended_at": "2025-01-15T00:00:00Z",
        **extra,
    }


def _gpu(uid: str, run: str, hours: float | None, resource: str = "gpu/H100") -> dict[str, Any]:
    return {
        "id": uid,
        "run": run,
        "resource": resource,
        "unit": "gpu_hour",
        "quantity": hours,
        "provenance": "reported",
        "citation": "test",
    }


def _scope(sid: str, subject: str, categories: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "subject": subject,
        "label": sid.rsplit("/", 1)[1],
        "categories": categories,
        **extra,
    }


def _case(tmp_path: Path, name: str, **body: Any) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"schema_version": 1, "id": name, "title": name, **body}))
    return path


def toy_ft(tmp_path: Path) -> Path:
    """A fine-tune of the bundled Qwen2.5-32B-Instruct: 10 GPU-hours of SFT, 20 of data
    generation, 100 of R&D."""
    s = "toy-ft"
    return _case(
        tmp_path,
        s,
        subject=s,
        subjects=[{"id": s, "name": "Toy fine-tune", "base": "Qwen2.5-32B-Instruct"}],
        runs=[
            _run(f"{s}/sft", s, "fine_tuning"),
            _run(f"{s}/gen", s, "data"),
            _run(f"{s}/sweep", s, "rnd"),
        ],
        usages=[
            _gpu(f"{s}/sft/gpu", f"{s}/sft", 10.0),
            _gpu(f"{s}/gen/gpu", f"{s}/gen", 20.0),
            _gpu(f"{s}/sweep/gpu", f"{s}/sweep", 100.0),
        ],
        scopes=[
            _scope(f"{s}/final", s, ["fine_tuning"], runs=[f"{s}/sft"], resource_prefixes=["gpu/"]),
            _scope(f"{s}/recipe", s, ["data", "fine_tuning"]),
            _scope(f"{s}/all", s, ["data", "fine_tuning", "rnd"]),
            _scope(
                f"{s}/inherited",
                s,
                ["pretraining", "data", "fine_tuning", "rnd"],
                include_inherited=True,
            ),
        ],
    )


@pytest.fixture
def ft(ledger: Ledger, tmp_path: Path) -> SubjectCosts:
    record_case(ledger, load_case(toy_ft(tmp_path)))
    return subject_costs(ledger, "toy-ft")


def _cost(bound: str, usd: str, scope: str | None = None, **extra: Any) -> CostAssertion:
    return CostAssertion(
        kind="cost", id="c", text="t", bound=bound, usd=Decimal(usd), scope=scope, **extra
    )


def _near_h100() -> list[Decimal]:
    return sorted(
        c.usd_per_unit
        for c in bundled_cards()
        if c.resource == "gpu/H100"
        and abs((c.date - WHEN).days) <= 365
        and c.term.value == "on-demand"  # a rental figure is read against on-demand prices
    )


# ---- 2. a representative price, not the cheapest card ------------------------------------------


def test_a_bound_holding_at_the_median_near_card_is_supported(ft: SubjectCosts) -> None:
    median = Decimal(statistics.median(_near_h100()))
    verdict = check_cost(_cost("under", str(10 * median + 1), "toy-ft/final"), ft, WHEN)
    assert verdict.verdict is Verdict.SUPPORTED
    final = verdict.scopes[0]
    assert final.status == "holds" and final.representative_usd_high == 10 * median
    assert f"median of {len(_near_h100())} gpu/H100 cards" in final.representative


def test_a_bound_holding_only_at_the_cheap_end_is_not_supported(ft: SubjectCosts) -> None:
    near = _near_h100()
    y = Decimal("30")  # 10 GPU-hours: needs $3.00/GPU-hour or less, below the median
    verdict = check_cost(_cost("under", str(y), "toy-ft/final"), ft, WHEN)
    assert verdict.verdict is Verdict.MISLEADING
    meets = sum(1 for p in near if 10 * p < y)
    assert 0 < meets < len(near) / 2
    assert "only at the cheap end of the prices: it needs about $3.00/GPU-hour" in verdict.reason
    assert f"{meets} of {len(near)} near cards meet it" in verdict.reason


def test_cards_far_from_the_work_do_not_count(ft: SubjectCosts) -> None:
    """A cheap card two years older than the run would make "under $14" hold for 10
    GPU-hours; no card near the work is that cheap, so the figure fails on the rental basis. It
    is also below what owning H100s costs at the central inputs (it holds on the owned basis
    only at its cheap end), so no other basis rescues it: not supported."""
    far = PriceCard(
        id="far-cheap-h100",
        resource="gpu/H100",
        unit="gpu_hour",
        price_usd=Decimal("1.20"),
        date=date(2023, 1, 15),
        vendor="Far Cloud",
        term="on-demand",
        source="test",
    )
    y = Decimal(14)
    owned = ft.owned_rates["gpu/H100"]
    assert far.usd_per_unit * 10 < y < min(_near_h100()) * 10
    assert owned.usd_low * 10 < y < owned.usd * 10
    facts = replace(ft, book=PriceBook([*ft.book.cards, far]))
    verdict = check_cost(_cost("under", str(y), "toy-ft/final"), facts, WHEN)
    rental = next(b for b in verdict.scopes[0].bases if b.basis == "rental")
    assert rental.status == "fails" and far.id not in rental.sources
    assert next(b for b in verdict.scopes[0].bases if b.basis == "owned").status == (
        "extreme_prices"
    )
    assert verdict.verdict is Verdict.NOT_SUPPORTED
    # the same card dated near the work prices it, and the figure holds at the cheap end
    near = far.model_copy(update={"date": WHEN})
    facts = replace(ft, book=PriceBook([*ft.book.cards, near]))
    assert check_cost(_cost("under", str(y), "toy-ft/final"), facts, WHEN).verdict is (
        Verdict.MISLEADING
    )


def test_a_figure_failing_on_rental_but_holding_on_the_owned_basis_is_misleading(
    ft: SubjectCosts,
) -> None:
    """ "under $21" for 10 H100-hours: no near rental card is that cheap (the $1.99 card is 19
    months older than the run and does not count), but owning H100s costs less than $2.10 an
    hour at the central inputs: true only on another basis than the words mean (docs/claims.md,
    "Price bases")."""
    far = min(
        (c for c in bundled_cards() if c.resource == "gpu/H100"), key=lambda c: c.usd_per_unit
    )
    assert far.usd_per_unit * 10 < 21 < min(_near_h100()) * 10
    assert ft.owned_rates["gpu/H100"].usd * 10 < 21
    verdict = check_cost(_cost("under", "21", "toy-ft/final"), ft, WHEN)
    assert verdict.scopes[0].status == "fails" and verdict.scopes[0].basis == "rental"
    rental = next(b for b in verdict.scopes[0].bases if b.basis == "rental")
    assert rental.status == "fails" and far.id not in rental.sources
    assert verdict.verdict is Verdict.MISLEADING
    assert "holds only on the owned basis" in verdict.reason
    assert "not on the rental basis the words mean" in verdict.reason


# ---- 1. missing is never $0 --------------------------------------------------------------------


def _dark(tmp_path: Path, sft_hours: float | None, label_hours: float | None = None) -> Path:
    s = "toy-dark"
    return _case(
        tmp_path,
        s,
        subject=s,
        subjects=[{"id": s, "name": "Toy, partly dark"}],
        runs=[_run(f"{s}/sft", s, "fine_tuning"), _run(f"{s}/label", s, "data")],
        usages=[
            _gpu(f"{s}/sft/gpu", f"{s}/sft", sft_hours),
            {
                "id": f"{s}/label/hours",
                "run": f"{s}/label",
                "resource": "labour/annotator",
                "unit": "person_hour",
                "quantity": label_hours,
                "provenance": "reported",
                "citation": "test",
                "note": "no hours published",
            },
        ],
        scopes=[_scope(f"{s}/recipe", s, ["data", "fine_tuning"])],
    )


def test_nothing_quantified_is_unverifiable(ledger: Ledger, tmp_path: Path) -> None:
    record_case(ledger, load_case(_dark(tmp_path, None)))
    verdict = check_cost(_cost("under", "30"), subject_costs(ledger, "toy-dark"), WHEN)
    assert verdict.verdict is Verdict.UNVERIFIABLE
    assert "nothing in recipe has a cost" in verdict.reason
    assert "toy-dark/label" in verdict.reason and "toy-dark/sft" in verdict.reason


def test_a_partly_quantified_scope_is_a_lower_bound(ledger: Ledger, tmp_path: Path) -> None:
    record_case(ledger, load_case(_dark(tmp_path, 10.0)))
    facts = subject_costs(ledger, "toy-dark")
    consistent = check_cost(_cost("under", "1000"), facts, WHEN)
    assert consistent.verdict is Verdict.INCONCLUSIVE
    assert consistent.scopes[0].status == "lower_bound"
    assert "toy-dark/label" in consistent.reason and "cannot support" in consistent.reason
    refuted = check_cost(_cost("under", "20"), facts, WHEN)  # 10 GPU-hours alone cost more
    assert refuted.verdict is Verdict.NOT_SUPPORTED


def test_a_resource_without_a_card_is_a_named_gap(ledger: Ledger, tmp_path: Path) -> None:
    """An AMD MI300X: no rental card, no purchase price, no power figure in the bundled data."""
    s = "toy-mi300x"
    resource = "gpu/MI300X"
    assert not any(c.resource.endswith("/MI300X") for c in bundled_cards())
    record_case(
        ledger,
        load_case(
            _case(
                tmp_path,
                s,
                subject=s,
                subjects=[{"id": s, "name": "Toy on MI300X"}],
                runs=[_run(f"{s}/sft", s, "fine_tuning")],
                usages=[_gpu(f"{s}/sft/gpu", f"{s}/sft", 10.0, resource)],
                scopes=[_scope(f"{s}/final", s, ["fine_tuning"])],
            )
        ),
    )
    facts = subject_costs(ledger, s)
    verdict = check_cost(_cost("under", "5"), facts, WHEN)
    assert verdict.verdict is Verdict.UNVERIFIABLE  # not $0 < $5
    assert "no price card" in verdict.reason
    # nor can the owned basis price it: a named gap there too, not $0
    owned = next(b for b in verdict.scopes[0].bases if b.basis == "owned")
    assert owned.status == "unquantified" and owned.cost_usd_low is None
    assert any("no purchase price" in g for g in owned.gaps)
    # 3. the claimant's basis prices it, and is named as such
    basis = [PriceBasis(resource=resource, usd_per_unit=Decimal(2), quote="$2 per GPU hour")]
    stated = check_cost(_cost("under", "25", basis=basis), facts, WHEN)
    assert stated.verdict is Verdict.SUPPORTED
    assert stated.scopes[0].representative == "the claimant's $2/GPU-hour"
    assert stated.scopes[0].representative_usd_high == 20
    assert check_cost(_cost("under", "19", basis=basis), facts, WHEN).verdict is (
        Verdict.NOT_SUPPORTED
    )


def test_a_vendor_basis_takes_that_vendors_card_nearest_the_work(ft: SubjectCosts) -> None:
    """Among the cards the claimant could have seen: none dated after the claim."""
    lambda_cards = [
        c for c in bundled_cards() if c.resource == "gpu/H100" and c.vendor == "Lambda Labs"
    ]
    later = min(lambda_cards, key=lambda c: abs((c.date - WHEN).days))
    assert later.date > WHEN  # the nearest Lambda card overall came after the claim
    seen = [c for c in lambda_cards if c.date <= WHEN]
    nearest = max(c.date for c in seen)
    price = statistics.median(c.usd_per_unit for c in seen if c.date == nearest)
    assert price != later.usd_per_unit
    basis = [PriceBasis(resource="gpu/H100", vendor="lambda labs")]
    verdict = check_cost(_cost("about", str(10 * price), "toy-ft/final", basis=basis), ft, WHEN)
    assert verdict.verdict is Verdict.SUPPORTED
    assert verdict.scopes[0].representative == (
        f"the claimant's Lambda Labs price (${price:.2f}/GPU-hour, {nearest})"
    )
    # the market range stays beside it
    assert verdict.scopes[0].cost_usd_high == 10 * max(_near_h100())


# ---- 4. money reported as money ----------------------------------------------------------------


@pytest.mark.parametrize("data_bound", ["under", "at_most", "exact"])
def test_dollar_figures_with_bounds(ledger: Ledger, tmp_path: Path, data_bound: str) -> None:
    s = "toy-usd"
    case = _case(
        tmp_path,
        s,
        subject=s,
        subjects=[{"id": s, "name": "Toy in dollars"}],
        runs=[_run(f"{s}/gen", s, "data"), _run(f"{s}/sft", s, "fine_tuning")],
        usages=[
            {
                "id": f"{s}/gen/usd",
                "run": f"{s}/gen",
                "resource": "api/some-model",
                "reported_usd": {"bound": data_bound, "usd": 500},
                "citation": "test: 'less than $500 of API calls'",
            },
            {
                "id": f"{s}/sft/usd",
                "run": f"{s}/sft",
                "resource": "gpu/A100-80GB",
                "reported_usd": {"bound": "under", "usd": 100},
                "citation": "test: 'less than $100 to fine-tune'",
            },
        ],
        scopes=[_scope(f"{s}/recipe", s, ["data", "fine_tuning"])],
    )
    record_case(ledger, load_case(case))
    facts = subject_costs(ledger, s)
    # "< $500" written as a point or as a bound: the verdict on "under $601" does not flip
    assert check_cost(_cost("under", "601"), facts, WHEN).verdict is Verdict.SUPPORTED
    assert check_cost(_cost("under", "601"), facts, WHEN).scopes[0].representative == (
        "the published dollar figures"
    )
    # "under $500" says nothing of how much under: it cannot refute a small figure, nor
    # support one, nor any "about"
    low = check_cost(_cost("under", "50"), facts, WHEN)
    about = check_cost(_cost("about", "20"), facts, WHEN)
    if data_bound == "exact":
        assert low.verdict is Verdict.NOT_SUPPORTED and about.verdict is Verdict.NOT_SUPPORTED
    else:
        assert low.verdict is Verdict.INCONCLUSIVE and about.verdict is Verdict.INCONCLUSIVE
        assert low.scopes[0].status == "upper_bound"
        assert "known only as published upper bounds (up to $600.00)" in low.reason
        assert "$0.00" not in low.reason


def test_a_range_needs_its_high_end(tmp_path: Path) -> None:
    from ledger.errors import InputError

    s = "toy-range"
    bad = _case(
        tmp_path,
        s,
        subject=s,
        subjects=[{"id": s, "name": "x"}],
        runs=[_run(f"{s}/gen", s, "data")],
        usages=[
            {
                "id": f"{s}/gen/usd",
                "run": f"{s}/gen",
                "resource": "api/x",
                "reported_usd": {"bound": "range", "usd": 100},
                "citation": "test",
            }
        ],
    )
    with pytest.raises(InputError, match="usd_high is required for a range"):
        load_case(bad)


def test_an_upper_bound_is_the_ledgers_word_not_a_low_end_of_0() -> None:
    """Whether money is known only as an upper bound is read from the cost line (the ledger
    sets it for money published as "under $Y", ledger.costs), never guessed from a low end of
    $0: a line the ledger does not flag is priced as the range it states."""
    from claims.pricing import price_line
    from ledger.report import CostLine
    from ledger.schema import Category, Provenance, Unit

    line = CostLine(
        subject="toy",
        inherited=False,
        category=Category.DATA,
        stage="gen",
        run="toy/gen",
        resource="api/x",
        unit=Unit.USD,
        provenance=Provenance.ESTIMATED,
        quantity=250.0,
        quantity_low=0.0,
        quantity_high=500.0,
        cost_usd_low=Decimal(0),
        cost_usd_high=Decimal(500),
        low_card=None,
        high_card=None,
        cards=[],
    )
    ranged, _ = price_line(line, PriceBook([]), WHEN)
    bound, _ = price_line(line.model_copy(update={"upper_bound_only": True}), PriceBook([]), WHEN)
    assert ranged is not None and not ranged.upper_only
    assert bound is not None and bound.upper_only


# ---- 5. what a fine-tune inherits --------------------------------------------------------------


def test_producing_a_fine_tune_leaves_out_its_inherited_base(ft: SubjectCosts) -> None:
    verdict = check_cost(_cost("under", "1000"), ft, WHEN)
    recipe = next(s for s in verdict.scopes if s.reading == "implied")
    assert recipe.scope == "toy-ft/recipe" and recipe.status == "holds"
    assert verdict.verdict is Verdict.MISLEADING
    assert "leave out the inherited Qwen2.5-32B-Instruct" in verdict.reason
    # words that state the narrow scope are judged on it
    narrow = check_cost(_cost("under", "1000", "toy-ft/recipe"), ft, WHEN)
    assert narrow.verdict is Verdict.SUPPORTED


# ---- 6. wider scopes and other subjects' figures -----------------------------------------------


def test_a_figure_that_fits_only_a_wider_scope_is_misleading(ft: SubjectCosts) -> None:
    median = Decimal(statistics.median(_near_h100()))
    verdict = check_cost(_cost("about", str(130 * median)), ft, WHEN)
    assert verdict.verdict is Verdict.MISLEADING
    assert verdict.reason.startswith(f"about {'$'}{130 * median:,.2f} fits only all (")
    assert "fails for every scope" not in verdict.reason


def _big(tmp_path: Path, usd: Decimal | int = 4000) -> Path:
    s = "toy-big"
    return _case(
        tmp_path,
        s,
        subject=s,
        sources=[{"tag": "TOYNEWS", "title": "a toy outlet"}],
        subjects=[{"id": s, "name": "Toy big model"}],
        runs=[_run(f"{s}/pretrain", s, "pretraining")],
        usages=[_gpu(f"{s}/pretrain/gpu", f"{s}/pretrain", 1000.0)],
        scopes=[_scope(f"{s}/training", s, ["pretraining", "data", "fine_tuning"])],
        headline_figures=[
            {
                "id": f"{s}/usd-4000",
                "subject": s,
                "usd": str(usd),
                "said_by": "a toy outlet",
                "quote": "trained for $4,000",
                "citation": "TOYNEWS",
                "scope": f"{s}/training",
            }
        ],
    )


def test_a_model_trained_from_scratch_counts_its_own_pretraining(
    ledger: Ledger, tmp_path: Path
) -> None:
    record_case(ledger, load_case(_big(tmp_path)))
    verdict = check_cost(_cost("about", "4000"), subject_costs(ledger, "toy-big"), WHEN)
    assert verdict.scopes[0].reading == "implied" and verdict.verdict is Verdict.SUPPORTED


@pytest.mark.parametrize("how", ["figure_of", "case", "neither"])
def test_another_subjects_figure_is_misleading(ledger: Ledger, tmp_path: Path, how: str) -> None:
    """A figure is another subject's where the claim says so (``figure_of``) or where a subject of
    the cases it names published it; a subject that merely happens to be in the ledger does not
    change the verdict."""
    toy_ft(tmp_path)
    record_case(ledger, load_case(_big(tmp_path)))  # in the ledger whatever the claim says
    claim = tmp_path / "claim.yaml"
    assertion: dict[str, Any] = {
        "kind": "cost",
        "id": "about-4000",
        "text": "toy-ft was trained for $4,000",
        "bound": "about",
        "usd": 4000,
    }
    body: dict[str, Any] = {
        "schema_version": 1,
        "id": "toy/figure",
        "title": "t",
        "subject": "toy-ft",
        "case": ["toy-ft.yaml"],
        "source": {"outlet": "o", "quote": "q", "language": "en", "date": "2025-01-15"},
        "assertions": [assertion],
    }
    if how == "figure_of":
        assertion["figure_of"] = "toy-big"
    elif how == "case":
        body["case"] = ["toy-ft.yaml", "toy-big.yaml"]
    claim.write_text(yaml.safe_dump(body))
    registry = load_registry()
    report = check_claims(load_claims([str(claim)], registry), registry, ledger)
    verdict = report.claims[0].assertions[0]
    if how == "neither":
        assert verdict.verdict is Verdict.NOT_SUPPORTED
        return
    assert verdict.verdict is Verdict.MISLEADING
    assert "another subject's figure: toy-big's $4,000 (a toy outlet, TOYNEWS)" in verdict.reason
    # the base it inherits is in the evidence, not in a reason about someone else's figure
    assert "Qwen2.5-32B-Instruct" not in verdict.reason


def test_another_subjects_figure_explains_a_refuted_one_before_a_wider_scope(
    ft: SubjectCosts, ledger: Ledger, tmp_path: Path
) -> None:
    """A figure that fails for the scope the words mean, fits a wider one (all of toy-ft's
    runs), and is another subject's published figure: the borrowed figure is the explanation
    (docs/claims.md, "Price bases", last paragraph)."""
    y = (130 * Decimal(statistics.median(_near_h100()))).quantize(Decimal(1))
    record_case(ledger, load_case(_big(tmp_path, y)))
    alone = check_cost(_cost("about", str(y)), ft, WHEN)
    assert alone.verdict is Verdict.MISLEADING and " fits only all (" in alone.reason
    verdict = check_cost(_cost("about", str(y)), ft, WHEN, [subject_costs(ledger, "toy-big")])
    assert verdict.scopes[0].status == "fails"
    assert any(c.reading == "wider" and c.status == "holds" for c in verdict.scopes)
    assert verdict.verdict is Verdict.MISLEADING
    assert f"is another subject's figure: toy-big's ${y:,}" in verdict.reason
    assert "fits only" not in verdict.reason


def _y(hours: int) -> Decimal:
    """A figure the size of ``hours`` H100-hours at the median near card."""
    return (hours * Decimal(statistics.median(_near_h100()))).quantize(Decimal(1))


@pytest.mark.parametrize(
    ("words", "by", "scope"),
    [
        (("under", "+1", "toy-ft/final"), "main", "toy-ft/final"),  # holds where stated
        (("under", "21", "toy-ft/final"), "other_basis", "toy-ft/final"),  # owned holds
        (("under", "1000", None), "inherited_base", "toy-ft/recipe"),  # holds, base left out
        # the final run holds, the recipe does not: narrower decides; the base left out
        # changes nothing (already misleading), so it does not take the credit
        (("under", "+1", None), "narrower", "toy-ft/final"),
        (("about", "130", None), "wider", "toy-ft/all"),  # only all of the runs fits
        (("under", "5", None), "main", "toy-ft/recipe"),  # below every scope: not supported
    ],
)
def test_a_cost_verdict_records_the_rule_and_scope_that_decided_it(
    ft: SubjectCosts, words: tuple[str, str, str | None], by: str, scope: str
) -> None:
    bound, size, stated = words
    median = Decimal(statistics.median(_near_h100()))
    usd = {"+1": str(10 * median + 1), "130": str(_y(130))}.get(size, size)
    verdict = check_cost(_cost(bound, usd, stated), ft, WHEN)
    assert (verdict.decided_by, verdict.decided_subject, verdict.decided_scope) == (
        by,
        "toy-ft",
        scope,
    ), verdict.reason


def test_a_borrowed_figure_rests_on_the_scope_its_owner_published_it_for(
    ft: SubjectCosts, ledger: Ledger, tmp_path: Path
) -> None:
    """Another subject's published figure of the claim's size, where no scope of theirs fits
    it (their scope is priced far above it): the verdict rests on the scope their figure is
    about, and names them."""
    y = _y(130)
    record_case(ledger, load_case(_big(tmp_path, y)))
    big = subject_costs(ledger, "toy-big")
    verdict = check_cost(_cost("about", str(y)), ft, WHEN, [big])
    theirs = next(c for c in verdict.scopes if c.subject == "toy-big")
    assert theirs.status == "fails"
    assert (verdict.decided_by, verdict.decided_subject, verdict.decided_scope) == (
        "other_subject",
        "toy-big",
        "toy-big/training",
    )


def test_a_subject_without_scopes_records_no_deciding_scope() -> None:
    verdict = check_cost(_cost("under", "50"), None, WHEN)
    assert verdict.verdict is Verdict.UNVERIFIABLE
    assert verdict.decided_by is None and verdict.decided_scope is None


def test_figure_of_is_checked_before_anything_is_written(ledger: Ledger, tmp_path: Path) -> None:
    from claims.errors import ClaimInputError

    toy_ft(tmp_path)
    claim = tmp_path / "claim.yaml"
    claim.write_text(
        yaml.safe_dump(
            {
                "schema_version": 1,
                "id": "toy/figure",
                "title": "t",
                "subject": "toy-ft",
                "case": "toy-ft.yaml",
                "source": {"outlet": "o", "quote": "q", "language": "en"},
                "assertions": [
                    {
                        "kind": "cost",
                        "id": "c",
                        "text": "t",
                        "bound": "about",
                        "usd": 4000,
                        "figure_of": "nobody",
                    }
                ],
            }
        )
    )
    registry = load_registry()
    before = ledger.head()
    with pytest.raises(ClaimInputError, match="figure_of: unknown subject 'nobody'"):
        check_claims(load_claims([str(claim)], registry), registry, ledger)
    assert ledger.head() == before


# ---- what the rules must not be talked into ----------------------------------------------------


def test_a_basis_below_every_near_card_does_not_support(ft: SubjectCosts) -> None:
    basis = [PriceBasis(resource="gpu/H100", usd_per_unit=Decimal("0.50"))]
    verdict = check_cost(_cost("under", "6", "toy-ft/final", basis=basis), ft, WHEN)
    assert verdict.verdict is Verdict.MISLEADING
    assert verdict.scopes[0].status == "extreme_prices"


def test_a_sibling_scope_never_rescues_a_figure(ledger: Ledger, tmp_path: Path) -> None:
    """A scope neither narrower nor wider than the one the words mean (the R&D alone, say) is
    'other': a figure that fits only it is not made misleading by it."""
    s = "toy-sib"
    case = _case(
        tmp_path,
        s,
        subject=s,
        subjects=[{"id": s, "name": "Toy with a sibling scope"}],
        runs=[_run(f"{s}/sft", s, "fine_tuning"), _run(f"{s}/sweep", s, "rnd")],
        usages=[
            _gpu(f"{s}/sft/gpu", f"{s}/sft", 10.0),
            _gpu(f"{s}/sweep/gpu", f"{s}/sweep", 100.0),
        ],
        scopes=[
            _scope(f"{s}/training", s, ["data", "fine_tuning"]),
            _scope(f"{s}/sweeps", s, ["rnd"]),
        ],
    )
    record_case(ledger, load_case(case))
    median = Decimal(statistics.median(_near_h100()))
    verdict = check_cost(_cost("about", str(100 * median)), subject_costs(ledger, s), WHEN)
    assert {c.scope: c.reading for c in verdict.scopes}[f"{s}/sweeps"] == "other"
    assert verdict.verdict is Verdict.NOT_SUPPORTED


@pytest.mark.parametrize(
    ("basis", "needle"),
    [
        ([{"resource": "gpu/H800", "usd_per_unit": 2}], "the subject uses no gpu/H800"),
        ([{"resource": "gpu/H100", "vendor": "Nobody Cloud"}], "no 'Nobody Cloud' card"),
        (
            [
                {"resource": "gpu/H100", "usd_per_unit": 2},
                {"resource": "gpu/H100", "usd_per_unit": 3},
            ],
            "priced twice",
        ),
        ([{"resource": "gpu/H100", "usd_per_unit": 0}], "must be above 0"),
        ([{"resource": "gpu/H100", "usd_per_unit": "1e30"}], "at most $10 trillion"),
    ],
)
def test_a_bad_basis_is_one_line(
    ledger: Ledger, tmp_path: Path, basis: list[dict[str, Any]], needle: str
) -> None:
    from ledger.errors import InputError

    toy_ft(tmp_path)
    claim = tmp_path / "claim.yaml"
    claim.write_text(
        yaml.safe_dump(
            {
                "schema_version": 1,
                "id": "toy/basis",
                "title": "t",
                "subject": "toy-ft",
                "case": "toy-ft.yaml",
                "source": {"outlet": "o", "quote": "q", "language": "en"},
                "assertions": [
                    {
                        "kind": "cost",
                        "id": "c",
                        "text": "t",
                        "bound": "under",
                        "usd": 40,
                        "basis": basis,
                    }
                ],
            }
        )
    )
    registry = load_registry()
    before = ledger.head()
    with pytest.raises(InputError, match=re.escape(needle)) as caught:
        check_claims(load_claims([str(claim)], registry), registry, ledger)
    assert "claim.yaml" in str(caught.value) and "\n" not in str(caught.value)
    assert ledger.head() == before  # refused before the claim's case was loaded
