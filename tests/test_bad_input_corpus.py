"""The bad-input corpus (issue 14): well over a hundred bad and edge-case inputs across every
importer, file format and option, run through the real ``receipts`` app on a real SQLite ledger.

Every bad case must exit 2 with exactly one ``receipts: error:`` line on stderr that names the
file (or option) and the field, print no traceback, and leave the ledger's head unchanged. Every
valid edge case (a byte-order mark, unicode, a value exactly at a plausibility bound) must be
accepted. Each case is one row of the tables below: its files are written into the test's own
directory (literal text, or a fixture of tests/data/ with one change), so that huge, binary or
date-relative inputs need no file in the repository. tests/badinput/README.md describes the corpus.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from ledger.store import Ledger
from receipts.cli import app
from tests.cli_helpers import assert_bad_input
from tests.inspect_archive import eval_archive

DATA = Path(__file__).parent / "data"
BAD = Path(__file__).parent / "badinput"
BOM = "\ufeff"
FUTURE = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()

Content = str | bytes


@dataclass(frozen=True)
class Case:
    """One input: the files it writes under the test's directory, the command (``{d}`` is that
    directory), and for a bad input the words its one error line must contain."""

    id: str
    files: dict[str, Content]
    args: list[str]
    needles: tuple[str, ...] = ()
    ok: bool = False
    ledger: bool = True  # add --ledger to the command
    setup: list[list[str]] = field(default_factory=list)  # commands run first, each must pass


def bad(id: str, files: dict[str, Content], args: list[str], *needles: str, **kw: object) -> Case:
    return Case(id, files, args, needles, **kw)  # type: ignore[arg-type]


def ok(id: str, files: dict[str, Content], args: list[str], **kw: object) -> Case:
    return Case(id, files, args, ok=True, **kw)  # type: ignore[arg-type]


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- templates ----------------------------------------------------------------------------------

CASE = text(DATA / "case_ok.yaml")
CASE_DATA = yaml.safe_load(CASE)
CARDS_CSV = text(DATA / "cards_ok.csv")
CARD = {
    "id": "uni-h100", "resource": "gpu/H100", "unit": "gpu_hour", "price_usd": "0.95",
    "date": "2025-01-15", "vendor": "University cluster", "term": "reserved", "source": "internal",
}  # fmt: skip
CLAIM = text(DATA / "claims" / "demo-claim.yaml")
REGISTRY = text(DATA / "claims" / "demo-registry.yaml")
ITEMS = text(DATA / "claims" / "items-aime24.yaml")
SACCT = text(DATA / "sacct" / "sacct_duplicates.txt")
SACCT_HEAD, SACCT_ROW = SACCT.splitlines()[0], SACCT.splitlines()[1]
SACCT_JSON = json.loads(text(DATA / "sacct" / "sacct.json"))
API_LINE = text(DATA / "api" / "api.jsonl").splitlines()[0]
API = json.loads(API_LINE)
TASKS = json.loads(text(DATA / "labelstudio" / "export.json"))
LM_DIR = DATA / "lm_eval" / "s1-budget-forcing" / "simplescaling__s1-32B"
(LM_RESULTS,) = LM_DIR.glob("results_*.json")
(LM_SAMPLES,) = LM_DIR.glob("samples_*.jsonl")
INSPECT = json.loads(text(DATA / "inspect" / "aime2024_s1-32B.json"))
BATCH_LINES = text(DATA / "api" / "openai_batch_output.jsonl").splitlines()
TRAINER_STATE = text(DATA / "training" / "trainer_state.json")


def case(**changes: object) -> dict[str, Content]:
    """The toy case as JSON with top-level changes."""
    return {"case.json": json.dumps({**CASE_DATA, **changes})}


def usage(**changes: object) -> dict[str, Content]:
    """The toy case with its one usage changed (``None`` drops a field)."""
    base = {**CASE_DATA["usages"][0], **changes}
    return case(usages=[{k: v for k, v in base.items() if v is not None}])


def run(**changes: object) -> dict[str, Content]:
    base = {**CASE_DATA["runs"][0], **changes}
    return case(runs=[{k: v for k, v in base.items() if v is not None}])


def money(**reported: object) -> dict[str, Content]:
    spec = {"id": "toy/api", "run": "toy/sft", "resource": "api/gpt-4o", "citation": "blog",
            "reported_usd": reported}  # fmt: skip
    return case(usages=[*CASE_DATA["usages"], spec])


INFERENCE = {"items": 1000, "passes": 1, "tokens_per_item": 2000,
             "throughput_tok_per_s_per_gpu": 500}  # fmt: skip


def estimate(**changes: object) -> dict[str, Content]:
    spec = {"id": "toy/est", "run": "toy/sft", "resource": "gpu/H100",
            "estimator": "inference_gpu_hours", "inputs": INFERENCE, **changes}  # fmt: skip
    return case(usages=[*CASE_DATA["usages"], spec])


def card_file(name: str = "cards.json", **changes: object) -> dict[str, Content]:
    card = {k: v for k, v in {**CARD, **changes}.items() if v is not None}
    body = {"schema_version": 1, "cards": [card]}
    if name.endswith(".json"):
        return {name: json.dumps(body)}
    return {name: yaml.safe_dump(body)}


def csv_card(**changes: str | None) -> dict[str, Content]:
    header, row = CARDS_CSV.splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    cells.update({k: v for k, v in changes.items() if v is not None})
    for k in [k for k, v in changes.items() if v is None]:
        del cells[k]
    return {"cards.csv": ",".join(cells) + "\n" + ",".join(cells.values()) + "\n"}


def claim(old: str, new: str) -> dict[str, Content]:
    assert old in CLAIM, old
    return {"claim.yaml": CLAIM.replace(old, new, 1)}


def sacct_row(column: str, value: str) -> dict[str, Content]:
    names = SACCT_HEAD.split("|")
    cells = SACCT_ROW.split("|")
    cells[names.index(column)] = value
    return {"sacct.txt": f"{SACCT_HEAD}\n{'|'.join(cells)}\n"}


def sacct_json(change: Callable[[dict[str, object]], None]) -> dict[str, Content]:
    data = json.loads(json.dumps(SACCT_JSON))
    change(data["jobs"][0])
    return {"sacct.json": json.dumps(data)}


def api(change: Callable[[dict[str, object]], None] | None = None) -> dict[str, Content]:
    line = json.loads(API_LINE)
    if change:
        change(line)
    return {"api.jsonl": json.dumps(line) + "\n"}


def batch(change: Callable[[dict[str, Any]], None]) -> dict[str, Content]:
    line = json.loads(BATCH_LINES[0])
    change(line)
    return {"api.jsonl": json.dumps(line) + "\n"}


def trainer(change: Callable[[dict[str, Any]], None]) -> dict[str, Content]:
    state = json.loads(TRAINER_STATE)
    change(state)
    return {"trainer_state.json": json.dumps(state, indent=2)}


def tasks(change: Callable[[list[dict[str, object]]], None]) -> dict[str, Content]:
    data = json.loads(json.dumps(TASKS))
    change(data)
    return {"export.json": json.dumps(data)}


def lead_time(value: object) -> dict[str, Content]:
    return tasks(lambda t: t[0]["annotations"][0].__setitem__("lead_time", value))  # type: ignore[index]


def lm(results: str | None = None, samples: str | None = None) -> dict[str, Content]:
    return {
        f"out/m/{LM_RESULTS.name}": results if results is not None else text(LM_RESULTS),
        f"out/m/{LM_SAMPLES.name}": samples if samples is not None else text(LM_SAMPLES),
    }


def lm_results(old: str, new: str) -> dict[str, Content]:
    body = text(LM_RESULTS)
    assert old in body, old
    return lm(results=body.replace(old, new, 1))


def lm_samples(old: str, new: str) -> dict[str, Content]:
    body = text(LM_SAMPLES)
    assert old in body, old
    return lm(samples=body.replace(old, new, 1))


def archive(
    change: Callable[[dict[str, object]], None] = lambda d: None, **kw: object
) -> dict[str, Content]:
    """The inspect fixture as a ``.eval`` archive (``log.eval``), changed; ``kw`` as
    :func:`tests.inspect_archive.eval_archive` takes them (members dropped or replaced)."""
    data = json.loads(json.dumps(INSPECT))
    change(data)
    return {"log.eval": eval_archive(data, **kw)}  # type: ignore[arg-type]


def inspect(change: Callable[[dict[str, object]], None]) -> dict[str, Content]:
    data = json.loads(json.dumps(INSPECT))
    change(data)
    return {"log.json": json.dumps(data)}


LOAD = ["load", "{d}/case.json"]
LOAD_YAML = ["load", "{d}/case.yaml"]
PRICES = ["prices", "add", "{d}/cards.json"]
PRICES_YAML = ["prices", "add", "{d}/cards.yaml"]
PRICES_CSV = ["prices", "add", "{d}/cards.csv"]
CHECK = ["check", "{d}/claim.yaml", "--baselines", str(DATA / "claims" / "demo-registry.yaml")]
ITEMS_ARGS = [
    "check",
    str(DATA / "claims" / "demo-claim.yaml"),
    "--baselines",
    str(DATA / "claims" / "demo-registry.yaml"),
    "--items",
    "{d}/items.yaml",
]
SACCT_TXT = ["import", "sacct", "{d}/sacct.txt", "--subject", "toy", "--stage", "sft",
             "--category", "fine_tuning"]  # fmt: skip
SACCT_JS = [*SACCT_TXT[:2], "{d}/sacct.json", *SACCT_TXT[3:]]
COST_CLAIM = (
    "schema_version: 1\nid: bad/basis\ntitle: t\nsubject: toy\n"
    "source: {{outlet: test, quote: q, language: en}}\nassertions:\n"
    "  - {{kind: cost, id: a, text: t, bound: under, usd: 50, basis: {basis}}}\n"
)
SACCT_NO_RAW = (
    "JobID|State|ElapsedRaw|AllocTRES|Start\n{job}|COMPLETED|60|gres/gpu=1|2024-05-01T09:00:00\n"
)
PROMETHEUS = ["import", "prometheus", "--url", "http://127.0.0.1:9", "--job", "4242",
              "--subject", "toy", "--stage", "sft", "--category", "fine_tuning"]  # fmt: skip
TRAINER = ["import", "trainer-state", "{d}/trainer_state.json", "--subject", "toy"]
API_LOG = ["import", "api-log", "{d}/api.jsonl", "--subject", "toy"]
LABEL_STUDIO = ["import", "label-studio", "{d}/export.json", "--subject", "toy"]
LM_EVAL = ["import", "lm-eval", "{d}/out", "--subject", "toy"]
INSPECT_AI = ["import", "inspect-ai", "{d}/log.json", "--subject", "toy"]
INSPECT_EVAL = ["import", "inspect-ai", "{d}/log.eval", "--subject", "toy"]
TOKENS = ["tokens", "count", "{d}/data.jsonl", "--field", "question", "--workers", "1"]
EVAL = ["eval", "run", "--model", "{d}/no-model", "--data", "{d}/items.jsonl", "--subject", "toy"]
LABEL_START = ["label", "start", "--subject", "toy", "--task", "t", "--annotator", "ana"]


# -- receipts load ------------------------------------------------------------------------------

LOAD_CASES = [
    bad(
        "load-malformed-yaml",
        {"case.yaml": "schema_version: 1\nid: [unclosed\n"},
        LOAD_YAML,
        "case.yaml",
        "line",
        "malformed YAML",
    ),
    bad(
        "load-malformed-json",
        {"case.json": '{"schema_version": 1,'},
        LOAD,
        "case.json",
        "malformed JSON",
    ),
    bad("load-empty-file", {"case.yaml": ""}, LOAD_YAML, "case.yaml"),
    bad("load-top-level-list", {"case.yaml": "- 1\n- 2\n"}, LOAD_YAML, "case.yaml", "mapping"),
    bad("load-no-schema-version", case(schema_version=None), LOAD, "case.json", "schema_version"),
    bad(
        "load-newer-schema-version",
        case(schema_version=99),
        LOAD,
        "case.json",
        "schema_version",
        "newer",
    ),
    bad("load-schema-version-text", case(schema_version="1"), LOAD, "case.json", "schema_version"),
    bad("load-not-utf8", {"case.yaml": CASE.encode("utf-16")}, LOAD_YAML, "case.yaml", "UTF-8"),
    bad("load-missing-file", {}, ["load", "{d}/absent.yaml"], "absent.yaml"),
    bad("load-unknown-field", case(colour="red"), LOAD, "case.json", "colour"),
    bad("load-subjects-not-list", case(subjects="toy"), LOAD, "case.json", "subjects"),
    bad("load-quantity-text", usage(quantity="two"), LOAD, "case.json", "usages[0]", "quantity"),
    bad("load-quantity-list", usage(quantity=[1, 2]), LOAD, "case.json", "quantity"),
    bad(
        "load-quantity-nan-yaml",
        {"case.yaml": CASE.replace("quantity: 2.0", "quantity: .nan")},
        LOAD_YAML,
        "case.yaml",
        "line 15",
        "quantity",
    ),
    bad(
        "load-quantity-inf-yaml",
        {"case.yaml": CASE.replace("quantity: 2.0", "quantity: .inf")},
        LOAD_YAML,
        "case.yaml",
        "quantity",
    ),
    bad(
        "load-quantity-nan-json",
        {"case.json": json.dumps(CASE_DATA).replace('"quantity": 2.0', '"quantity": NaN')},
        LOAD,
        "case.json",
        "quantity",
    ),
    bad("load-quantity-negative", usage(quantity=-2.0), LOAD, "case.json", "quantity"),
    bad("load-quantity-absurd", usage(quantity=1e12), LOAD, "case.json", "quantity", "1e+09"),
    bad(
        "load-quantity-1e400",
        {"case.json": json.dumps(CASE_DATA).replace('"quantity": 2.0', '"quantity": 1e400')},
        LOAD,
        "case.json",
        "quantity",
    ),
    ok("load-quantity-at-bound", usage(quantity=1e9), LOAD),
    bad(
        "load-quantity-low-above-high",
        usage(quantity_low=3.0, quantity_high=1.0),
        LOAD,
        "case.json",
        "usages[0]",
    ),
    bad("load-unknown-unit", usage(unit="gpu_year"), LOAD, "case.json", "unit"),
    bad("load-unknown-provenance", usage(provenance="guessed"), LOAD, "case.json", "provenance"),
    bad("load-reported-without-citation", usage(citation=None), LOAD, "case.json", "citation"),
    bad("load-unknown-run", usage(run="toy/nope"), LOAD, "case.json", "toy/nope"),
    bad("load-unknown-subject", run(subject="nobody"), LOAD, "case.json", "nobody"),
    bad(
        "load-unknown-base",
        case(subjects=[{"id": "toy", "name": "Toy", "base": "ghost"}]),
        LOAD,
        "case.json",
        "ghost",
    ),
    bad("load-unknown-category", run(category="fun"), LOAD, "case.json", "category"),
    bad("load-unknown-status", run(status="great"), LOAD, "case.json", "status"),
    bad(
        "load-run-ends-before-start",
        run(started_at="2024-05-02T00:00:00Z", ended_at="2024-05-01T00:00:00Z"),
        LOAD,
        "case.json",
        "runs[0]",
        "before started_at",
    ),
    bad(
        "load-run-in-future",
        run(started_at=f"{FUTURE}T00:00:00Z"),
        LOAD,
        "case.json",
        "runs[0]",
        "future",
    ),
    bad("load-run-bad-date", run(started_at="yesterday"), LOAD, "case.json", "started_at"),
    bad("load-wall-time-absurd", run(wall_time_s=1e11), LOAD, "case.json", "wall_time_s"),
    bad("load-wall-time-negative", run(wall_time_s=-1), LOAD, "case.json", "wall_time_s"),
    ok("load-wall-time-at-bound", run(wall_time_s=1e10), LOAD),
    bad(
        "load-duplicate-usage-id",
        case(usages=[CASE_DATA["usages"][0], {**CASE_DATA["usages"][0], "quantity": 9.0}]),
        LOAD,
        "case.json",
        "usages[1].id",
    ),
    bad(
        "load-duplicate-run-id",
        case(runs=[CASE_DATA["runs"][0], {**CASE_DATA["runs"][0], "name": "other"}]),
        LOAD,
        "case.json",
        "runs[1].id",
    ),
    bad("load-subject-not-in-case", case(subject="ghost"), LOAD, "case.json", "ghost"),
    bad("load-money-bad-bound", money(bound="roughly", usd="500"), LOAD, "case.json", "bound"),
    bad("load-money-negative", money(bound="under", usd="-5"), LOAD, "case.json", "usd"),
    bad(
        "load-money-range-without-high",
        money(bound="range", usd="5"),
        LOAD,
        "case.json",
        "usd_high",
    ),
    bad(
        "load-money-range-reversed",
        money(bound="range", usd="50", usd_high="5"),
        LOAD,
        "case.json",
        "usd",
    ),
    bad(
        "load-money-high-not-range",
        money(bound="under", usd="5", usd_high="9"),
        LOAD,
        "case.json",
        "usd_high",
    ),
    bad("load-money-absurd", money(bound="exact", usd="1e20"), LOAD, "case.json", "usd"),
    bad("load-money-nan", money(bound="exact", usd="NaN"), LOAD, "case.json", "usd"),
    bad(
        "load-estimator-unknown",
        {"case.yaml": text(DATA / "case_bad_estimator.yaml")},
        LOAD_YAML,
        "case.yaml",
        "magic",
    ),
    bad(
        "load-estimator-missing-input",
        estimate(inputs={"items": 1000}),
        LOAD,
        "case.json",
        "passes",
    ),
    bad(
        "load-estimator-unknown-input",
        estimate(inputs={**INFERENCE, "bogus": 1}),
        LOAD,
        "case.json",
        "bogus",
    ),
    bad(
        "load-estimator-range-reversed",
        estimate(inputs={**INFERENCE, "passes": [4, 1]}),
        LOAD,
        "case.json",
        "passes",
    ),
    bad(
        "load-estimator-zero-throughput",
        estimate(inputs={**INFERENCE, "throughput_tok_per_s_per_gpu": 0}),
        LOAD,
        "case.json",
        "throughput",
    ),
    ok("load-estimator-valid", estimate(), LOAD),
    bad(
        "load-deep-yaml",
        {"case.yaml": f"schema_version: 1\nid: x\nmeta: {nested(3000)}\n"},
        LOAD_YAML,
        "case.yaml",
        "nested",
    ),
    bad(
        "load-deep-json",
        {"case.json": f'{{"schema_version": 1, "x": {nested(100_000)}}}'},
        LOAD,
        "case.json",
        "nested",
    ),
    bad(
        "load-recursive-alias",
        {"case.yaml": "schema_version: 1\nx: &a [1, *a]\n"},
        LOAD_YAML,
        "case.yaml",
        "contains itself",
    ),
    ok("load-bom-yaml", {"case.yaml": BOM + CASE}, LOAD_YAML),
    ok("load-bom-json", {"case.json": BOM + json.dumps(CASE_DATA)}, LOAD),
    ok(
        "load-unicode",
        {"case.yaml": CASE.replace("A toy model", "Ein Spielzeug — 玩具 🧸")},
        LOAD_YAML,
    ),
    ok("load-crlf", {"case.yaml": CASE.replace("\n", "\r\n")}, LOAD_YAML),
]

# -- receipts prices add ------------------------------------------------------------------------

PRICE_CASES = [
    bad(
        "prices-csv-extra-cells",
        {"cards.csv": CARDS_CSV.rstrip("\n") + ",extra\n"},
        PRICES_CSV,
        "cards.csv",
        "line 2",
        "cells",
    ),
    bad("prices-csv-missing-id", csv_card(id=None), PRICES_CSV, "cards.csv", "id"),
    bad("prices-csv-bad-currency", csv_card(currency="EUR"), PRICES_CSV, "cards.csv", "currency"),
    bad("prices-csv-1e400", csv_card(price_usd="1e400"), PRICES_CSV, "cards.csv", "price_usd"),
    bad("prices-csv-nan", csv_card(price_usd="NaN"), PRICES_CSV, "cards.csv", "price_usd"),
    bad("prices-csv-negative", csv_card(price_usd="-1"), PRICES_CSV, "cards.csv", "price_usd"),
    bad("prices-csv-bad-date", csv_card(date="2025-13-45"), PRICES_CSV, "cards.csv", "date"),
    bad("prices-csv-future", csv_card(date=FUTURE), PRICES_CSV, "cards.csv", "date", "future"),
    bad("prices-csv-unknown-unit", csv_card(unit="gpu_week"), PRICES_CSV, "cards.csv", "unit"),
    bad("prices-csv-unknown-term", csv_card(term="forever"), PRICES_CSV, "cards.csv", "term"),
    bad(
        "prices-csv-header-only",
        {"cards.csv": CARDS_CSV.splitlines()[0] + "\n"},
        PRICES_CSV,
        "cards.csv",
        "no rows",
    ),
    bad(
        "prices-csv-binary",
        {"cards.csv": b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe"},
        PRICES_CSV,
        "cards.csv",
        "UTF-8",
    ),
    ok("prices-csv-bom", {"cards.csv": BOM + CARDS_CSV}, PRICES_CSV),
    ok("prices-csv-crlf", {"cards.csv": CARDS_CSV.replace("\n", "\r\n")}, PRICES_CSV),
    ok("prices-csv-unicode-vendor", csv_card(vendor="Rechenzentrum Zürich"), PRICES_CSV),
    bad(
        "prices-json-malformed",
        {"cards.json": '{"schema_version": 1, "cards": [}'},
        PRICES,
        "cards.json",
        "malformed JSON",
    ),
    bad("prices-json-missing-id", card_file(id=None), PRICES, "cards.json", "cards[0].id"),
    bad("prices-json-bad-currency", card_file(currency="EUR"), PRICES, "cards.json", "currency"),
    bad("prices-json-price-text", card_file(price_usd="cheap"), PRICES, "cards.json", "price_usd"),
    bad(
        "prices-json-1e400",
        {
            "cards.json": card_file()["cards.json"].replace(  # type: ignore[union-attr]
                '"0.95"', "1e400"
            )
        },
        PRICES,
        "cards.json",
        "price_usd",
    ),
    bad("prices-json-absurd", card_file(price_usd="1e20"), PRICES, "cards.json", "price_usd"),
    bad("prices-json-per-zero", card_file(per=0), PRICES, "cards.json", "per"),
    bad("prices-json-unknown-field", card_file(colour="red"), PRICES, "cards.json", "colour"),
    bad(
        "prices-json-newer-version",
        {"cards.json": json.dumps({"schema_version": 2, "cards": [CARD]})},
        PRICES,
        "cards.json",
        "schema_version",
    ),
    bad(
        "prices-json-deep",
        {"cards.json": f'{{"schema_version": 1, "cards": {nested(50_000)}}}'},
        PRICES,
        "cards.json",
        "nested",
    ),
    ok("prices-json-bom", {"cards.json": BOM + card_file()["cards.json"]}, PRICES),  # type: ignore[operator]
    bad(
        "prices-yaml-malformed",
        {"cards.yaml": "schema_version: 1\ncards: [\n"},
        PRICES_YAML,
        "cards.yaml",
        "malformed YAML",
    ),
    bad(
        "prices-yaml-bad-currency",
        card_file("cards.yaml", currency="GBP"),
        PRICES_YAML,
        "cards.yaml",
        "currency",
    ),
    bad(
        "prices-yaml-cards-not-list",
        {"cards.yaml": "schema_version: 1\ncards: {a: 1}\n"},
        PRICES_YAML,
        "cards.yaml",
        "cards",
    ),
    ok(
        "prices-yaml-bom",
        {"cards.yaml": BOM + card_file("cards.yaml")["cards.yaml"]},  # type: ignore[operator]
        PRICES_YAML,
    ),
    ok("prices-json-at-bound", card_file(price_usd="1e13"), PRICES),
    bad(
        "prices-unknown-suffix",
        {"cards.txt": CARDS_CSV},
        ["prices", "add", "{d}/cards.txt"],
        "cards.txt",
    ),
]

# -- receipts check, --baselines and --items ----------------------------------------------------

CHECK_CASES = [
    bad(
        "check-unknown-model",
        claim("subject: demo-model-a", "subject: ghost-model"),
        CHECK,
        "claim.yaml",
        "ghost-model",
    ),
    bad(
        "check-unknown-comparator",
        claim("comparator: Demo B", "comparator: Ghost"),
        CHECK,
        "claim.yaml",
        "Ghost",
    ),
    bad(
        "check-unknown-benchmark",
        claim("benchmarks: [aime24]", "benchmarks: [nonesuch]"),
        CHECK,
        "claim.yaml",
        "nonesuch",
    ),
    bad(
        "check-unknown-kind", claim("kind: comparison", "kind: vibes"), CHECK, "claim.yaml", "kind"
    ),
    bad(
        "check-unknown-relation",
        claim("relation: beats", "relation: crushes"),
        CHECK,
        "claim.yaml",
        "relation",
    ),
    bad(
        "check-newer-version",
        claim("schema_version: 1", "schema_version: 9"),
        CHECK,
        "claim.yaml",
        "schema_version",
    ),
    bad(
        "check-malformed",
        {"claim.yaml": "schema_version: 1\nid: [\n"},
        CHECK,
        "claim.yaml",
        "malformed YAML",
    ),
    bad(
        "check-unknown-field",
        claim("assertions:", "colour: red\nassertions:"),
        CHECK,
        "claim.yaml",
        "colour",
    ),
    bad("check-no-assertions", claim("assertions:", "unused:"), CHECK, "claim.yaml"),
    bad(
        "check-deep",
        {"claim.yaml": f"schema_version: 1\nid: x\nmeta: {nested(3000)}\n"},
        CHECK,
        "claim.yaml",
        "nested",
    ),
    bad(
        "check-deep-json",
        {"claim.json": f'{{"schema_version": 1, "x": {nested(100_000)}}}'},
        ["check", "{d}/claim.json"],
        "claim.json",
        "nested",
    ),
    bad("check-missing-file", {}, ["check", "{d}/absent.yaml"], "absent.yaml"),
    bad(
        "check-unknown-scope",
        {"claim.yaml": text(DATA / "claims" / "bad-unknown-scope.yaml")},
        ["check", "{d}/claim.yaml"],
        "claim.yaml",
    ),
    bad(
        "check-unknown-subject",
        {"claim.yaml": text(DATA / "claims" / "bad-unknown-subject.yaml")},
        ["check", "{d}/claim.yaml"],
        "claim.yaml",
    ),
    bad(
        "check-both-targets",
        {"claim.yaml": text(DATA / "claims" / "bad-both-targets.yaml")},
        ["check", "{d}/claim.yaml"],
        "claim.yaml",
    ),
    bad(
        "check-duplicate-assertion",
        {"claim.yaml": text(DATA / "claims" / "bad-duplicate-assertion.yaml")},
        ["check", "{d}/claim.yaml"],
        "claim.yaml",
    ),
    ok("check-bom", {"claim.yaml": BOM + CLAIM}, CHECK),
    ok(
        "check-unicode-quote",
        claim("Demo A beats Demo B on AIME 2024", "Demo A schlägt B — 🏆"),
        CHECK,
    ),
    bad(
        "baselines-malformed",
        {"reg.yaml": "schema_version: 1\nmodels: [\n"},
        ["check", "s1", "--baselines", "{d}/reg.yaml"],
        "reg.yaml",
        "malformed YAML",
    ),
    bad(
        "baselines-newer",
        {"reg.yaml": REGISTRY.replace("schema_version: 1", "schema_version: 5")},
        ["check", "s1", "--baselines", "{d}/reg.yaml"],
        "reg.yaml",
        "schema_version",
    ),
    bad(
        "baselines-score-text",
        {"reg.yaml": REGISTRY.replace("aime24: 60.0", "aime24: high")},
        ["check", "s1", "--baselines", "{d}/reg.yaml"],
        "reg.yaml",
        "aime24",
    ),
    bad(
        "baselines-score-nan",
        {"reg.yaml": REGISTRY.replace("aime24: 60.0", "aime24: .nan")},
        ["check", "s1", "--baselines", "{d}/reg.yaml"],
        "reg.yaml",
        "aime24",
    ),
    bad(
        "baselines-score-above-100",
        {"reg.yaml": REGISTRY.replace("aime24: 60.0", "aime24: 160.0")},
        ["check", "s1", "--baselines", "{d}/reg.yaml"],
        "reg.yaml",
        "aime24",
    ),
    bad(
        "baselines-unknown-source",
        {"reg.yaml": REGISTRY.replace("source: DEMO", "source: NOPE")},
        ["check", "s1", "--baselines", "{d}/reg.yaml"],
        "reg.yaml",
        "NOPE",
    ),
    bad(
        "baselines-deep",
        {"reg.json": f'{{"schema_version": 1, "x": {nested(100_000)}}}'},
        ["check", "s1", "--baselines", "{d}/reg.json"],
        "reg.json",
        "nested",
    ),
    bad("baselines-missing", {}, ["check", "s1", "--baselines", "{d}/absent.yaml"], "absent.yaml"),
    ok(
        "baselines-bom",
        {"reg.yaml": BOM + REGISTRY},
        ["check", "s1", "--baselines", "{d}/reg.yaml"],
    ),
    bad(
        "items-malformed",
        {"items.yaml": "schema_version: 1\nresults: [\n"},
        ITEMS_ARGS,
        "items.yaml",
        "malformed YAML",
    ),
    bad(
        "items-unknown-model",
        {"items.yaml": ITEMS.replace("model: demo-model-a", "model: ghost")},
        ITEMS_ARGS,
        "items.yaml",
        "ghost",
    ),
    bad(
        "items-correct-text",
        {"items.yaml": ITEMS.replace('"60": true', '"60": maybe', 1)},
        ITEMS_ARGS,
        "items.yaml",
        "60",
    ),
    bad(
        "items-newer",
        {"items.yaml": ITEMS.replace("schema_version: 1", "schema_version: 3")},
        ITEMS_ARGS,
        "items.yaml",
        "schema_version",
    ),
    ok("items-bom", {"items.yaml": BOM + ITEMS}, ITEMS_ARGS),
]

# -- receipts import sacct ----------------------------------------------------------------------

SACCT_CASES = [
    bad(
        "sacct-bad-elapsed",
        sacct_row("ElapsedRaw", "00:15:00"),
        SACCT_TXT,
        "sacct.txt",
        "line 2",
        "ElapsedRaw",
    ),
    bad(
        "sacct-elapsed-1e30",
        sacct_row("ElapsedRaw", "1" + "0" * 30),
        SACCT_TXT,
        "sacct.txt",
        "ElapsedRaw",
        "1e+10",
    ),
    bad(
        "sacct-elapsed-negative",
        sacct_row("ElapsedRaw", "-5"),
        SACCT_TXT,
        "sacct.txt",
        "ElapsedRaw",
    ),
    ok("sacct-elapsed-at-bound", sacct_row("ElapsedRaw", str(10**10)), SACCT_TXT),
    bad(
        "sacct-end-before-start",
        sacct_row("End", "2024-05-01T08:00:00"),
        SACCT_TXT,
        "sacct.txt",
        "line 2",
        "End",
    ),
    bad(
        "sacct-start-in-future",
        sacct_row("Start", f"{FUTURE}T09:00:00"),
        SACCT_TXT,
        "sacct.txt",
        "Start",
        "future",
    ),
    bad("sacct-bad-start", sacct_row("Start", "soon"), SACCT_TXT, "sacct.txt", "Start"),
    bad(
        "sacct-bad-alloctres",
        sacct_row("AllocTRES", "gres/gpu=lots"),
        SACCT_TXT,
        "sacct.txt",
        "AllocTRES",
    ),
    bad(
        "sacct-missing-columns",
        {"sacct.txt": text(DATA / "sacct" / "malformed_columns.txt")},
        SACCT_TXT,
        "sacct.txt",
        "line 4",
    ),
    bad(
        "sacct-missing-header-field",
        {
            "sacct.txt": SACCT_HEAD.replace("|ElapsedRaw", "")
            + "\n"
            + "|".join(c for i, c in enumerate(SACCT_ROW.split("|")) if i != 8)
            + "\n"
        },
        SACCT_TXT,
        "sacct.txt",
        "ElapsedRaw",
    ),
    bad("sacct-empty", {"sacct.txt": ""}, SACCT_TXT, "sacct.txt"),
    ok("sacct-header-only", {"sacct.txt": SACCT_HEAD + "\n"}, SACCT_TXT),
    bad(
        "sacct-not-utf8",
        {"sacct.txt": b"\xff\xfe" + SACCT.encode("utf-16-le")},
        SACCT_TXT,
        "sacct.txt",
        "UTF-8",
    ),
    bad(
        "sacct-bad-timezone",
        sacct_row("ElapsedRaw", "5400"),
        [*SACCT_TXT, "--timezone", "Mars/Olympus"],
        "--timezone",
        "Mars/Olympus",
    ),
    ok("sacct-bom", {"sacct.txt": BOM + f"{SACCT_HEAD}\n{SACCT_ROW}\n"}, SACCT_TXT),
    bad("sacct-json-malformed", {"sacct.json": '{"jobs": [}'}, SACCT_JS, "sacct.json", "JSON"),
    bad(
        "sacct-json-elapsed-1e30",
        sacct_json(
            lambda j: j["time"].__setitem__(  # type: ignore[attr-defined]
                "elapsed", 10**30
            )
        ),
        SACCT_JS,
        "sacct.json",
        "elapsed",
    ),
    bad(
        "sacct-json-elapsed-text",
        sacct_json(
            lambda j: j["time"].__setitem__(  # type: ignore[attr-defined]
                "elapsed", "long"
            )
        ),
        SACCT_JS,
        "sacct.json",
        "elapsed",
    ),
    bad(
        "sacct-json-end-before-start",
        sacct_json(
            lambda j: j["time"].__setitem__(  # type: ignore[attr-defined]
                "end", 1000
            )
        ),
        SACCT_JS,
        "sacct.json",
        "jobs[0]",
        "End",
    ),
    bad("sacct-json-no-jobs", {"sacct.json": '{"meta": {}}'}, SACCT_JS, "sacct.json", "jobs"),
    bad(
        "sacct-json-deep",
        {"sacct.json": '{"jobs": ' + nested(100_000) + "}"},
        SACCT_JS,
        "sacct.json",
        "nested",
    ),
    bad(
        "sacct-json-missing-job-id",
        sacct_json(lambda j: j.pop("job_id")),
        SACCT_JS,
        "sacct.json",
        "job_id",
    ),
]

# -- receipts import api-log --------------------------------------------------------------------


def _usage(key: str, value: object) -> Callable[[dict[str, object]], None]:
    return lambda line: line["usage"].__setitem__(key, value)  # type: ignore[attr-defined]


API_CASES = [
    bad(
        "api-malformed-line",
        {"api.jsonl": API_LINE + "\n{not json\n"},
        API_LOG,
        "api.jsonl",
        "line 2",
    ),
    bad("api-not-object", {"api.jsonl": "[1, 2]\n"}, API_LOG, "api.jsonl", "line 1"),
    bad(
        "api-tokens-nan",
        {
            "api.jsonl": API_LINE.replace('"completion_tokens": 300', '"completion_tokens": NaN')
            + "\n"
        },
        API_LOG,
        "api.jsonl",
        "line 1",
        "completion_tokens",
    ),
    bad(
        "api-tokens-1e30",
        api(_usage("completion_tokens", 10**30)),
        API_LOG,
        "api.jsonl",
        "line 1",
        "completion_tokens",
    ),
    bad(
        "api-tokens-negative",
        api(_usage("prompt_tokens", -1)),
        API_LOG,
        "api.jsonl",
        "prompt_tokens",
    ),
    bad(
        "api-tokens-text",
        api(_usage("prompt_tokens", "many")),
        API_LOG,
        "api.jsonl",
        "prompt_tokens",
    ),
    bad(
        "api-tokens-float", api(_usage("prompt_tokens", 2.5)), API_LOG, "api.jsonl", "prompt_tokens"
    ),
    ok("api-tokens-at-bound", api(_usage("completion_tokens", 10**9)), API_LOG),
    bad(
        "api-deep-line",
        {"api.jsonl": '{"usage": ' + nested(100_000) + "}\n"},
        API_LOG,
        "api.jsonl",
        "line 1",
        "nested",
    ),
    bad(
        "api-deep-just-over",
        {"api.jsonl": '{"usage": ' + nested(150) + "}\n"},
        API_LOG,
        "api.jsonl",
        "line 1",
        "nested",
    ),
    bad("api-empty", {"api.jsonl": ""}, API_LOG, "api.jsonl"),
    bad(
        "api-cached-exceeds-prompt",
        {"api.jsonl": text(DATA / "api" / "bad" / "cached_exceeds_prompt.jsonl")},
        API_LOG,
        "api.jsonl",
        "cached",
    ),
    bad(
        "api-no-model",
        {"api.jsonl": text(DATA / "api" / "bad" / "no_model.jsonl")},
        API_LOG,
        "api.jsonl",
        "model",
    ),
    bad("api-not-utf8", {"api.jsonl": b'{"model": "\xff"}\n'}, API_LOG, "api.jsonl", "UTF-8"),
    bad("api-bad-category", api(), [*API_LOG, "--category", "fun"], "--category"),
    ok("api-bom", {"api.jsonl": BOM + API_LINE + "\n"}, API_LOG),
    ok("api-blank-lines", {"api.jsonl": "\n" + API_LINE + "\n\n"}, API_LOG),
    ok(
        "api-unicode-content",
        api(
            lambda line: line["choices"][0]["message"].__setitem__(  # type: ignore[index]
                "content", "答え: B ✓"
            )
        ),
        API_LOG,
    ),
]

# -- OpenAI Batch API output lines (receipts import api-log) ---------------------------------

BATCH_CASES = [
    ok("batch-output-file", {"api.jsonl": "\n".join(BATCH_LINES) + "\n"}, API_LOG),
    ok("batch-only-errors", {"api.jsonl": "\n".join(BATCH_LINES[2:]) + "\n"}, API_LOG),
    bad(
        "batch-status-text",
        batch(lambda line: line["response"].__setitem__("status_code", "200")),
        API_LOG,
        "api.jsonl",
        "line 1",
        "response.status_code",
    ),
    bad(
        "batch-body-not-object",
        batch(lambda line: line["response"].__setitem__("body", [])),
        API_LOG,
        "api.jsonl",
        "response.body",
    ),
    bad(
        "batch-body-missing",
        batch(lambda line: line["response"].pop("body")),
        API_LOG,
        "api.jsonl",
        "response.body",
    ),
    bad(
        "batch-response-not-object",
        batch(lambda line: line.__setitem__("response", "ok")),
        API_LOG,
        "api.jsonl",
        "field response",
    ),
    bad(
        "batch-error-not-object",
        batch(lambda line: line.__setitem__("error", "expired")),
        API_LOG,
        "api.jsonl",
        "field error",
    ),
    bad(
        "batch-tokens-negative",
        batch(lambda line: line["response"]["body"]["usage"].__setitem__("prompt_tokens", -1)),
        API_LOG,
        "api.jsonl",
        "prompt_tokens",
    ),
]

# -- receipts import trainer-state ---------------------------------------------------------------

TRAINER_CASES = [
    ok("trainer-state", {"trainer_state.json": TRAINER_STATE}, TRAINER),
    ok("trainer-state-bom", {"trainer_state.json": BOM + TRAINER_STATE}, TRAINER),
    ok(
        "trainer-state-declared-gpus",
        {"trainer_state.json": TRAINER_STATE},
        [*TRAINER, "--gpus", "16", "--gpu-model", "H100"],
    ),
    bad(
        "trainer-state-malformed",
        {"trainer_state.json": TRAINER_STATE[:-20]},
        TRAINER,
        "trainer_state.json",
        "malformed JSON",
    ),
    bad(
        "trainer-state-not-object",
        {"trainer_state.json": "[]"},
        TRAINER,
        "trainer_state.json",
        "TrainerState",
    ),
    bad(
        "trainer-state-no-global-step",
        trainer(lambda s: s.pop("global_step")),
        TRAINER,
        "trainer_state.json",
        "global_step",
    ),
    bad(
        "trainer-state-flos-negative",
        trainer(lambda s: s.__setitem__("total_flos", -5)),
        TRAINER,
        "trainer_state.json",
        "total_flos",
    ),
    bad(
        "trainer-state-flos-1e40",
        trainer(lambda s: s.__setitem__("total_flos", 1e40)),
        TRAINER,
        "trainer_state.json",
        "total_flos",
    ),
    bad(
        "trainer-state-runtime-text",
        trainer(lambda s: s["log_history"][-1].__setitem__("train_runtime", "26:00")),
        TRAINER,
        "trainer_state.json",
        "train_runtime",
    ),
    bad(
        "trainer-state-history-not-list",
        trainer(lambda s: s.__setitem__("log_history", {})),
        TRAINER,
        "trainer_state.json",
        "log_history",
    ),
    bad(
        "trainer-state-tokens-float",
        trainer(lambda s: s.__setitem__("num_input_tokens_seen", 2.5)),
        TRAINER,
        "trainer_state.json",
        "num_input_tokens_seen",
    ),
    bad(
        "trainer-state-gpus-zero",
        {"trainer_state.json": TRAINER_STATE},
        [*TRAINER, "--gpus", "0"],
        "--gpus",
    ),
    bad(
        "trainer-state-gpu-model-alone",
        {"trainer_state.json": TRAINER_STATE},
        [*TRAINER, "--gpu-model", "H100"],
        "--gpu-model",
    ),
    bad("trainer-state-missing", {}, TRAINER, "trainer_state.json", "no such file"),
]

# -- receipts import label-studio ---------------------------------------------------------------

LS_CASES = [
    bad(
        "ls-repeated-annotation-id",
        tasks(
            lambda t: t[1]["annotations"][0].__setitem__(  # type: ignore[index]
                "id", t[0]["annotations"][0]["id"]
            )
        ),
        LABEL_STUDIO,
        "export.json",
        "field id",
    ),  # type: ignore[index]
    bad("ls-lead-time-1e300", lead_time(1e300), LABEL_STUDIO, "export.json", "lead_time"),
    bad("ls-lead-time-negative", lead_time(-5), LABEL_STUDIO, "export.json", "lead_time"),
    bad("ls-lead-time-text", lead_time("long"), LABEL_STUDIO, "export.json", "lead_time"),
    bad(
        "ls-lead-time-nan",
        {"export.json": json.dumps(TASKS).replace('"lead_time": 1800.0', '"lead_time": NaN', 1)},
        LABEL_STUDIO,
        "export.json",
        "lead_time",
    ),
    ok("ls-lead-time-at-bound", lead_time(1e10), LABEL_STUDIO),
    bad("ls-malformed", {"export.json": '[{"id": 1,'}, LABEL_STUDIO, "export.json", "JSON"),
    bad("ls-not-list", {"export.json": '{"id": 1}'}, LABEL_STUDIO, "export.json"),
    bad("ls-task-without-id", tasks(lambda t: t[0].pop("id")), LABEL_STUDIO, "export.json", "id"),
    bad(
        "ls-annotations-object",
        tasks(lambda t: t[0].__setitem__("annotations", {})),
        LABEL_STUDIO,
        "export.json",
        "annotations",
    ),
    bad(
        "ls-was-cancelled-text",
        tasks(
            lambda t: t[0]["annotations"][0].__setitem__(  # type: ignore[index]
                "was_cancelled", "no"
            )
        ),
        LABEL_STUDIO,
        "export.json",
        "was_cancelled",
    ),
    bad("ls-deep", {"export.json": nested(100_000)}, LABEL_STUDIO, "export.json", "nested"),
    bad("ls-empty", {"export.json": ""}, LABEL_STUDIO, "export.json"),
    ok("ls-bom", {"export.json": BOM + json.dumps(TASKS)}, LABEL_STUDIO),
]

# -- receipts import lm-eval and inspect-ai -----------------------------------------------------

EVAL_IMPORT_CASES = [
    bad(
        "lm-eval-nan-metric",
        lm_results('"exact_match,none": 0.5,', '"exact_match,none": NaN,'),
        LM_EVAL,
        "results_",
        "exact_match,none",
    ),
    bad(
        "lm-eval-infinite-metric",
        lm_results('"exact_match,none": 0.5,', '"exact_match,none": Infinity,'),
        LM_EVAL,
        "results_",
        "exact_match,none",
    ),
    bad("lm-eval-malformed-results", lm(results='{"results": '), LM_EVAL, "results_", "JSON"),
    bad(
        "lm-eval-deep-results",
        lm(results='{"results": ' + nested(100_000) + "}"),
        LM_EVAL,
        "results_",
        "nested",
    ),
    bad("lm-eval-results-not-object", lm(results="[1]"), LM_EVAL, "results_"),
    bad(
        "lm-eval-nan-sample",
        lm_samples('"exact_match": 1,', '"exact_match": NaN,'),
        LM_EVAL,
        "samples_",
        "line 1",
        "exact_match",
    ),
    bad("lm-eval-malformed-sample", lm(samples="{not json\n"), LM_EVAL, "samples_", "line 1"),
    bad(
        "lm-eval-deep-sample",
        lm(samples='{"doc": ' + nested(100_000) + "}\n"),
        LM_EVAL,
        "samples_",
        "line 1",
        "nested",
    ),
    bad("lm-eval-sample-not-object", lm(samples="[1]\n"), LM_EVAL, "samples_", "line 1"),
    bad(
        "lm-eval-missing-path",
        {},
        ["import", "lm-eval", "{d}/absent", "--subject", "toy"],
        "absent",
    ),
    ok("lm-eval-bom", lm(results=BOM + text(LM_RESULTS), samples=BOM + text(LM_SAMPLES)), LM_EVAL),
    bad("inspect-malformed", {"log.json": '{"status": '}, INSPECT_AI, "log.json", "JSON"),
    bad(
        "inspect-deep",
        {"log.json": '{"eval": ' + nested(100_000) + "}"},
        INSPECT_AI,
        "log.json",
        "nested",
    ),
    bad("inspect-not-object", {"log.json": "[]"}, INSPECT_AI, "log.json"),
    bad(
        "inspect-completed-before-started",
        inspect(
            lambda d: d["stats"].update(  # type: ignore[attr-defined]
                completed_at="2000-01-01T00:00:00+00:00"
            )
        ),
        INSPECT_AI,
        "log.json",
        "completed_at",
    ),
    bad(
        "inspect-started-in-future",
        inspect(
            lambda d: d["stats"].update(  # type: ignore[attr-defined]
                started_at=f"{FUTURE}T00:00:00+00:00", completed_at=f"{FUTURE}T01:00:00+00:00"
            )
        ),
        INSPECT_AI,
        "log.json",
        "future",
    ),
    bad("inspect-no-eval", inspect(lambda d: d.pop("eval")), INSPECT_AI, "log.json", "eval"),
    ok("inspect-bom", {"log.json": BOM + json.dumps(INSPECT)}, INSPECT_AI),
    bad(
        "inspect-eval-not-zip",
        {"log.eval": b"PK\x03\x04 truncated"},
        INSPECT_EVAL,
        "log.eval",
        "zip",
    ),
    bad(
        "inspect-eval-no-header",
        archive(drop=("header.json",)),
        INSPECT_EVAL,
        "log.eval",
        "header.json",
        "missing",
    ),
    bad(
        "inspect-eval-malformed-header",
        archive(replace={"header.json": '{"eval": '}),
        INSPECT_EVAL,
        "log.eval",
        "header.json",
        "JSON",
    ),
    bad(
        "inspect-eval-malformed-sample",
        archive(replace={"samples/61_epoch_1.json": "{not json"}),
        INSPECT_EVAL,
        "log.eval",
        "samples/61_epoch_1.json",
        "JSON",
    ),
    bad(
        "inspect-eval-deep-sample",
        archive(replace={"samples/61_epoch_1.json": '{"id": ' + nested(100_000) + "}"}),
        INSPECT_EVAL,
        "log.eval",
        "samples/61_epoch_1.json",
        "nested",
    ),
    bad(
        "inspect-eval-sample-no-score",
        archive(lambda d: d["samples"][1].pop("scores")),  # type: ignore[index]
        INSPECT_EVAL,
        "log.eval",
        "samples/61_epoch_1.json",
        "scores",
    ),
    bad(
        "inspect-eval-header-no-eval",
        archive(lambda d: d.pop("eval")),
        INSPECT_EVAL,
        "log.eval",
        "header.json",
        "eval",
    ),
    bad(
        "inspect-sample-no-score",
        inspect(lambda d: d["samples"][1].pop("scores")),  # type: ignore[index]
        INSPECT_AI,
        "log.json",
        "samples[1].scores",
    ),
    ok(
        "inspect-eval-bom",
        archive(
            replace={
                "header.json": BOM
                + json.dumps({k: v for k, v in INSPECT.items() if k != "samples"})
            }
        ),
        INSPECT_EVAL,
    ),
]

# -- receipts tokens count and eval run ---------------------------------------------------------

TOKEN_CASES = [
    bad(
        "tokens-missing-field",
        {"data.jsonl": '{"answer": "4"}\n'},
        TOKENS,
        "data.jsonl",
        "question",
    ),
    bad(
        "tokens-lone-surrogate",
        {"data.jsonl": '{"question": "a\\ud800b"}\n'},
        TOKENS,
        "data.jsonl",
        "line 1",
        "question",
    ),
    bad(
        "tokens-malformed-line",
        {"data.jsonl": '{"question": "a"}\n{oops\n'},
        TOKENS,
        "data.jsonl",
        "line 2",
    ),
    bad(
        "tokens-deep-line",
        {"data.jsonl": '{"question": ' + nested(100_000) + "}\n"},
        TOKENS,
        "data.jsonl",
        "line 1",
        "nested",
    ),
    bad(
        "tokens-deep-json",
        {"data.json": nested(100_000)},
        [*TOKENS[:2], "{d}/data.json", *TOKENS[3:]],
        "data.json",
        "nested",
    ),
    bad(
        "tokens-number-field", {"data.jsonl": '{"question": 4}\n'}, TOKENS, "data.jsonl", "question"
    ),
    bad("tokens-not-object", {"data.jsonl": "[1]\n"}, TOKENS, "data.jsonl", "line 1"),
    bad("tokens-not-utf8", {"data.jsonl": b'{"question": "\xe9"}\n'}, TOKENS, "data.jsonl"),
    bad(
        "tokens-csv-ragged",
        {"data.csv": "question\nab,cd\n"},
        [*TOKENS[:2], "{d}/data.csv", *TOKENS[3:]],
        "data.csv",
        "line 2",
    ),
    bad("tokens-no-field", {"data.jsonl": '{"question": "a"}\n'}, TOKENS[:3], "--field"),
    bad(
        "tokens-workers-zero",
        {"data.jsonl": '{"question": "a"}\n'},
        [*TOKENS[:5], "--workers", "0"],
        "--workers",
    ),
    bad(
        "tokens-record-without-subject",
        {"data.jsonl": '{"question": "a"}\n'},
        [*TOKENS, "--record", "--stage", "s"],
        "--subject",
    ),
    ok("tokens-bom", {"data.jsonl": BOM + '{"question": "What is 2+2?"}\n'}, TOKENS),
    ok("tokens-unicode", {"data.jsonl": '{"question": "Wie viel ist 2+2? 二加二 🧮"}\n'}, TOKENS),
    ok("tokens-empty-string", {"data.jsonl": '{"question": ""}\n'}, TOKENS),
    bad("eval-data-malformed", {"items.jsonl": '{"id": 1,\n'}, EVAL, "items.jsonl", "line 1"),
    bad(
        "eval-data-deep",
        {"items.jsonl": '{"id": ' + nested(100_000) + "}\n"},
        EVAL,
        "items.jsonl",
        "line 1",
        "nested",
    ),
    bad(
        "eval-data-no-question",
        {"items.jsonl": '{"id": 1, "answer": "4"}\n'},
        EVAL,
        "items.jsonl",
        "question",
    ),
    bad(
        "eval-data-repeated-id",
        {"items.jsonl": '{"id": 1, "question": "q", "answer": "4"}\n' * 2},
        EVAL,
        "items.jsonl",
        "line 2",
        "id",
    ),
    bad("eval-data-empty", {"items.jsonl": ""}, EVAL, "items.jsonl", "no items"),
    bad("eval-data-missing", {}, EVAL, "items.jsonl"),
    bad(
        "eval-data-choice-answer",
        {"items.jsonl": '{"id": 1, "question": "q", "answer": "Z", "choices": ["a", "b"]}\n'},
        EVAL,
        "items.jsonl",
        "answer",
    ),
    bad(
        "eval-limit-zero",
        {"items.jsonl": '{"id": 1, "question": "q", "answer": "4"}\n'},
        [*EVAL, "--limit", "0"],
        "--limit",
    ),
    bad(
        "eval-bad-backend",
        {"items.jsonl": '{"id": 1, "question": "q", "answer": "4"}\n'},
        [*EVAL, "--backend", "telepathy"],
        "--backend",
    ),
    bad(
        "eval-bad-field-option",
        {"items.jsonl": '{"id": 1, "question": "q", "answer": "4"}\n'},
        [*EVAL, "--field", "nonsense"],
        "--field",
    ),
    bad(
        "eval-data-bom-then-bad",
        {"items.jsonl": BOM + '{"id": 1}\n'},
        EVAL,
        "items.jsonl",
        "question",
    ),
]

# -- labels, database URLs, options -------------------------------------------------------------

OPTION_CASES = [
    bad("label-start-bad-category", {}, [*LABEL_START, "--category", "fun"], "--category"),
    bad("label-start-no-task", {}, LABEL_START[:4] + LABEL_START[6:], "--task"),
    bad(
        "label-start-bad-subject",
        {},
        ["label", "start", "--subject", "../../etc", "--task", "t", "--annotator", "ana"],
        "--subject",
    ),
    bad("label-start-empty-task", {}, [*LABEL_START[:4], "--task", " ", *LABEL_START[6:]], "task"),
    ok(
        "label-start-task-with-spaces",
        {},
        [*LABEL_START[:4], "--task", "my task", *LABEL_START[6:]],
    ),
    bad("label-start-twice", {}, LABEL_START, "timer", setup=[LABEL_START]),
    bad("label-stop-none-open", {}, ["label", "stop"], "timer"),
    bad(
        "label-stop-unknown-annotator",
        {},
        ["label", "stop", "--annotator", "bob"],
        "bob",
        setup=[LABEL_START],
    ),
    ok("label-start-unicode-annotator", {}, [*LABEL_START[:6], "--annotator", "Zoë"]),
    bad(
        "url-bad-port",
        {},
        ["report", "--subject", "toy", "--ledger", "postgresql+psycopg://u@host:notaport/db"],
        "ledger URL",
        "port",
        ledger=False,
    ),
    bad(
        "url-password-masked",
        {},
        ["report", "--subject", "toy", "--ledger", "postgresql+psycopg://u:hunter2@host:x/db"],
        "u:***@host",
        ledger=False,
    ),
    bad(
        "url-query-password-masked",
        {},
        [
            "report",
            "--subject",
            "toy",
            "--ledger",
            "postgresql+psycopg://u@host:x/db?password=hunter2",
        ],
        "password=***",
        ledger=False,
    ),
    bad(
        "url-unknown-scheme",
        {},
        ["report", "--subject", "toy", "--ledger", "mongodb://host/db"],
        "ledger URL",
        "mongodb",
        ledger=False,
    ),
    bad(
        "url-garbage",
        {},
        ["report", "--subject", "toy", "--ledger", "not a url"],
        "ledger URL",
        ledger=False,
    ),
    bad(
        "url-sqlite-under-a-file",
        {"file.txt": "x"},
        ["report", "--subject", "toy", "--ledger", "sqlite:///{d}/file.txt/ledger.db"],
        "file.txt",
        ledger=False,
    ),
    bad("option-unknown", {}, ["--bogus"], "--bogus", ledger=False),
    bad("option-unknown-command", {}, ["bogus"], "bogus", ledger=False),
    bad("option-report-by", {}, ["report", "--subject", "toy", "--by", "colour"], "--by"),
    bad("option-report-no-subject", {}, ["report"], "--subject"),
    bad("option-report-unknown-subject", {}, ["report", "--subject", "ghost"], "ghost"),
    bad("option-runs-status", {}, ["runs", "--status", "sleepy"], "--status"),
    bad("option-check-seed-text", {}, ["check", "s1", "--seed", "abc"], "--seed"),
    bad(
        "option-appendix-format", {}, ["appendix", "--subject", "toy", "--out", "{d}/a.doc"], "doc"
    ),
    bad(
        "option-appendix-out-dir-missing",
        {},
        ["appendix", "--subject", "toy", "--out", "{d}/nowhere/a.md"],
        "nowhere",
    ),
    bad("option-funnel-unknown", {}, ["funnel", "--subject", "toy", "--funnel", "ghost"], "ghost"),
    bad("option-eval-show-unknown-run", {}, ["eval", "show", "ghost-run"], "ghost-run"),
    bad("option-audit-unknown-case", {}, ["audit", "nonesuch-case"], "nonesuch-case"),
    bad(
        "option-merge-missing-source",
        {},
        ["ledger", "merge", "{d}/absent.db", "--into", "{d}/into.db"],
        "absent.db",
        ledger=False,
    ),
    bad(
        "option-baselines-unknown-origin",
        {},
        ["baselines", "list", "--origin", "dev"],
        "--origin",
        "'dev'",
        "nearest: developer",
        ledger=False,
    ),
    bad(
        "option-label-status-negative-recent", {}, ["label", "status", "--recent", "-1"], "--recent"
    ),
    bad(
        "option-eval-show-items-unknown-run",
        {},
        ["eval", "show", "ghost-run", "--failed"],
        "ghost-run",
    ),
    # receipts import prometheus: options refused before any server is asked
    bad(
        "prometheus-start-without-zone",
        {},
        [*PROMETHEUS, "--start", "2025-01-01T00:00:00", "--end", "2025-01-01T01:00:00Z"],
        "--start",
        "no zone",
    ),
    bad(
        "prometheus-end-before-start",
        {},
        [*PROMETHEUS, "--start", "100", "--end", "50"],
        "--end",
        "is not after --start",
    ),
    bad(
        "prometheus-start-not-a-time",
        {},
        [*PROMETHEUS, "--start", "soon", "--end", "50"],
        "--start 'soon'",
        "not a time",
    ),
    bad(
        "prometheus-bad-matcher",
        {},
        [*PROMETHEUS, "--match", "ns", "--start", "0", "--end", "60"],
        "--match 'ns'",
        "LABEL=VALUE",
    ),
    bad(
        "prometheus-bad-job-label",
        {},
        [*PROMETHEUS, "--job-label", "a-b", "--start", "0", "--end", "60"],
        "--job-label 'a-b'",
    ),
    bad(
        "prometheus-not-http",
        {},
        [*PROMETHEUS[:2], "--url", "file:///etc/passwd", *PROMETHEUS[4:]],
        "--url",
        "not an http(s) URL",
    ),
    bad("prometheus-no-window-no-sacct", {}, PROMETHEUS, "--job 4242", "no sacct record"),
    # receipts import sacct without JobIDRaw: JobID only where it is the raw id
    bad(
        "sacct-no-jobidraw-array-task",
        {"sacct.txt": SACCT_NO_RAW.format(job="4110_1")},
        SACCT_TXT,
        "sacct.txt",
        "line 2",
        "JobID '4110_1' is an array task",
    ),
    bad(
        "sacct-no-jobidraw-het-component",
        {"sacct.txt": SACCT_NO_RAW.format(job="4120+1")},
        SACCT_TXT,
        "sacct.txt",
        "JobID '4120+1' is a heterogeneous job's component",
    ),
    ok("sacct-no-jobidraw-plain-job", {"sacct.txt": SACCT_NO_RAW.format(job="4100")}, SACCT_TXT),
    # issue 17: where a case's compute ran, and the price basis a cost assertion names
    bad("load-region-not-a-code", case(region="China"), LOAD, "case.json", "region"),
    bad("load-region-lowercase", case(region="chn"), LOAD, "case.json", "region"),
    bad("load-region-number", case(region=156), LOAD, "case.json", "region"),
    bad(
        "check-basis-unknown-name",
        {"claim.yaml": COST_CLAIM.format(basis="cheap")},
        ["check", "{d}/claim.yaml"],
        "claim.yaml",
        "assertions[0].basis",
        "unknown basis 'cheap'",
    ),
    bad(
        "check-basis-claimant-without-rate",
        {"claim.yaml": COST_CLAIM.format(basis="claimant")},
        ["check", "{d}/claim.yaml"],
        "claim.yaml",
        "assertions[0].basis",
        "their stated rate",
    ),
    bad(
        "check-basis-number",
        {"claim.yaml": COST_CLAIM.format(basis="2")},
        ["check", "{d}/claim.yaml"],
        "claim.yaml",
        "assertions[0].basis",
        "unknown basis 2",
    ),
    bad(
        "check-basis-rate-nan",
        {"claim.yaml": COST_CLAIM.format(basis="[{resource: gpu/H100, usd_per_unit: .nan}]")},
        ["check", "{d}/claim.yaml"],
        "claim.yaml",
        "assertions[0].basis[0].usd_per_unit",
    ),
    # issue 17 review: a well-formed region code the grid intensity table does not know
    bad(
        "load-region-unknown-code",
        case(region="XYZ"),
        LOAD,
        "case.json",
        "field region",
        "unknown region 'XYZ'",
        "grid_carbon_intensity.json",
    ),
    # one job metered once: a run metered elsewhere (--no-meter) declares no GPUs either
    bad(
        "run-no-meter-with-declared-gpus",
        {},
        [
            "run",
            "--ledger",
            "sqlite:///{d}/run.db",
            "--subject",
            "toy",
            "--stage",
            "sft",
            "--category",
            "fine_tuning",
            "--no-meter",
            "--gpus",
            "1",
            "--gpu-model",
            "H100",
            "--",
            "true",
        ],
        "--no-meter",
        "--gpus",
        ledger=False,
    ),
    # a bundled claim set without a case: audit says so, and what to run instead
    bad(
        "option-audit-claims-only-set",
        {},
        ["audit", "qwq-32b"],
        "'qwq-32b'",
        "claim set without a case",
        "`receipts check qwq-32b`",
    ),
]

CASES = [
    *LOAD_CASES, *PRICE_CASES, *CHECK_CASES, *SACCT_CASES, *API_CASES, *BATCH_CASES,
    *TRAINER_CASES, *LS_CASES,
    *EVAL_IMPORT_CASES, *TOKEN_CASES, *OPTION_CASES,
]  # fmt: skip


def test_the_corpus_is_large_and_its_ids_unique() -> None:
    assert len(CASES) >= 120
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A ledger holding the toy case (subject ``toy``), built once and copied into each test."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    result = CliRunner().invoke(app, ["load", str(DATA / "case_ok.yaml"), "--ledger",
                                      f"sqlite:///{path}"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return path.read_bytes()


def _write(root: Path, files: dict[str, Content]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _head(url: str) -> tuple[int, str]:
    with Ledger(url) as ledger:
        return ledger.head()


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_corpus(c: Case, tmp_path: Path, template: bytes) -> None:
    runner = CliRunner()
    (tmp_path / "ledger.db").write_bytes(template)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    work = tmp_path / "in"
    work.mkdir()
    _write(work, c.files)
    tail = ["--ledger", url] if c.ledger else []
    for step in c.setup:
        done = runner.invoke(app, [*step, *tail])
        assert done.exit_code == 0, done.output
    before = _head(url)
    args = [a.replace("{d}", str(work)) for a in c.args]
    result = runner.invoke(app, [*args, *tail])
    if c.ok:
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
    else:
        assert_bad_input(result, *c.needles)
        assert _head(url) == before
