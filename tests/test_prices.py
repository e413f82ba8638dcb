"""Bundled price cards and user files: loading, matching and the errors a user sees."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ledger.errors import InputError
from ledger.prices import PriceBook, bundled_cards, load_price_file
from ledger.schema import Tier, Unit

S1_RESOURCES = [
    "gpu/H100",
    "api/gemini-2.0-flash-thinking-exp",
    "api/claude-3-5-sonnet-20241022",
    "api/claude-3-7-sonnet-20250219",
    "api/gpt-4o-mini",
    "labour/annotator",
]


def test_bundled_cards_are_dated_sourced_and_cover_the_s1_pipeline() -> None:
    cards = bundled_cards()
    assert len({c.id for c in cards}) == len(cards)
    # A100 rentals are dated from 2021 (Epoch AI's price data); purchase prices from the A100's
    # 2020 launch; nothing older or undated ships
    assert all(c.source for c in cards)
    assert all(c.date.year >= 2021 for c in cards if c.unit is not Unit.DEVICE)
    assert all(c.date.year >= 2020 for c in cards)
    assert set(S1_RESOURCES) <= {c.resource for c in cards}


def test_h100_cards_are_the_shared_price_points() -> None:
    h100 = PriceBook(bundled_cards()).range("gpu/H100", Unit.GPU_HOUR)
    assert h100 is not None and len(h100.cards) == 19
    assert (h100.low.usd_per_unit, h100.high.usd_per_unit) == (Decimal("1.99"), Decimal("12.29"))


def test_free_gemini_tier_has_paid_equivalents_marked_as_such() -> None:
    found = PriceBook(bundled_cards()).range("api/gemini-2.0-flash-thinking-exp", Unit.OUTPUT_TOKEN)
    assert found is not None
    assert found.low.tier is Tier.FREE and found.low.price_usd == 0
    assert found.high.tier is Tier.PAID_EQUIVALENT


def test_user_cards_from_csv_and_yaml(tmp_path: Path) -> None:
    csv = tmp_path / "mine.csv"
    csv.write_text(
        "id,resource,unit,price_usd,per,date,vendor,term,source\n"
        "my-a100,gpu/A100,gpu_hour,1.10,1,2025-05-01,Uni cluster,on-demand,internal rate card\n"
    )
    (card,) = load_price_file(csv)
    assert card.usd_per_unit == Decimal("1.10") and card.unit is Unit.GPU_HOUR
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text(
        "schema_version: 1\ncards:\n  - {id: x, resource: gpu/A100, unit: gpu_hour, "
        "price_usd: '2', date: 2025-01-01, vendor: v, term: list, source: s}\n"
    )
    assert load_price_file(yaml_file)[0].price_usd == Decimal("2")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schema_version: 1\ncards: [\n", r"mine.yaml: line \d+, column \d+: malformed YAML"),
        ("cards: []\n", "mine.yaml: field schema_version: missing"),
        ("schema_version: 9\ncards: []\n", "version 9 is newer"),
        (
            "schema_version: 1\ncards:\n  - id: x\n    resource: gpu/H100\n    unit: gpu_hour\n"
            "    price_usd: '-3'\n    date: 2025-01-01\n    vendor: v\n    term: list\n"
            "    source: s\n",
            r"mine.yaml: line 6, column 16: field cards\[0\].price_usd: must not be negative",
        ),
        (
            "schema_version: 1\ncards:\n  - {id: x, resource: r, unit: gpu_hour, price_usd: '1',"
            " currency: EUR, date: 2025-01-01, vendor: v, term: list, source: s}\n",
            r"field cards\[0\].currency: unknown currency 'EUR'",
        ),
    ],
)
def test_malformed_price_files_name_file_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=expected):
        load_price_file(path)


def test_csv_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "id,resource,unit,price_usd,date,vendor,term,source\n"
        "ok,gpu/X,gpu_hour,1,2025-01-01,v,list,s\n"
        "bad,gpu/X,gpu_hour,nan,2025-01-01,v,list,s\n"
    )
    with pytest.raises(InputError, match=r"bad.csv: line 3: field price_usd"):
        load_price_file(path)


def test_prices_list_shows_the_new_cards_with_their_sources(runner, sqlite_url: str) -> None:
    import json

    from receipts.cli import app

    result = runner.invoke(app, ["prices", "list", "--json", "--ledger", sqlite_url])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    for card in (
        "b200-spheron-2026-03-17-on-demand",
        "h200-amazon-web-services-2025-03-17-on-demand",
        "h800-cr8dl-2024-08-24-on-demand",
        "h800-cr8dl-2025-03-03-on-demand",
        "electricity-usa-industrial-2024",
        "electricity-chn-industrial-2024",
    ):
        assert rows[card]["source"], card
    h800 = rows["h800-cr8dl-2024-08-24-on-demand"]
    assert (h800["resource"], h800["vendor"], h800["date"]) == ("gpu/H800", "CR8DL", "2024-08-24")
    assert str(h800["price_usd"]) == "3.42" and "cr8dl.ai" in h800["source"]
    bought = [r for r in rows.values() if r["unit"] == "device"]
    assert {r["resource"] for r in bought} >= {
        "server/H100",
        "gpu/H800",
        "server/H200",
        "server/B200",
    }
    assert all("Epoch AI" in r["source"] for r in bought)
