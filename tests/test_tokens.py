"""`receipts tokens count`: exact Qwen2.5 ids against transformers, the formats, the statistics,
bad input, and recording as usages."""

from __future__ import annotations

import itertools
import json
import random
import re
import subprocess
import sys
from functools import partial
from pathlib import Path

import cli_helpers
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from ledger.cli import ErrorHandlingGroup
from ledger.errors import InputError
from ledger.schema import Provenance, RunStatus, Unit
from ledger.store import Ledger
from probes.tokens.cli import register
from probes.tokens.count import (
    ByteLevelBpeEncoder,
    ReferenceEncoder,
    count_tokens,
    make_encoder,
)
from probes.tokens.tokenizer import load_tokenizer, qwen25_backend

BENCH = Path(__file__).parents[1] / "probes" / "data" / "bench"
DATA = Path(__file__).parent / "data" / "tokens"
FIELDS = {"math500.jsonl": ["problem", "solution", "answer"],
          "aime24.jsonl": ["problem", "question", "solution", "answer"]}  # fmt: skip

# Text that tokenizers get wrong: CJK, emoji, NFD marks, special-token strings, odd whitespace;
# the first rows are where bpe-qwen 0.1.5 differs from the reference.
# fmt: off
ADVERSARIAL = [
    "\t ", " \t\t", "  \n\n  x  \t", "。'S Ⅻ", "٣\\ \x85", "1🇺🇸  ²", "İ 🎉Å\u3000\u3000\x7fé",
    "é́ café", "cafe\u0301 nai\u0308ve \u212b \u1100\u1161\u11a8", "e" + "\u0301" * 5,
    "你好，世界！这是一个测试。", "数学：$x^2+y^2=z^2$，求 $z$。", "日本語のテキスト、カタカナ",
    "👩‍👩‍👧‍👦 family 🏳️‍🌈 flag 👍🏽 thumbs", "🇺🇸🇫🇷", "\U0010ffff\ud7ff\ufeff\u200b",
    "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n", "x<|endoftext|>y",
    "<|im_end|><|im_end|>", "<think>step</think>", "<tool_call>{}</tool_call>",
    "a <|fim_prefix|>b<|fim_suffix|>c<|fim_middle|>", "<|file_sep|><|repo_name|>",
    "<|im_end", "|im_end|>", "It's they'RE we'Ve I'M you'll he'D 'S 'LL", "don'tstop",
    "\r\n\r\n\n  \r", "a\u00a0b\u2028c\u2029d\u0085e\u3000f", "\x00\x01\x1c\x1f\x7f",
    "x" * 5000, "1234567890" * 300, " " * 4000 + "end", "\n" * 300, "\\frac{1}{2}" * 400,
    "", " ", "\n", "'", "''s",
]
# fmt: on

assert_bad_input = partial(cli_helpers.assert_bad_input, no_stdout=True)
"""Bad input: one error line, no traceback, nothing on stdout."""


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    """transformers' Qwen2.5 tokenizer, called the way counts are defined (each list of texts
    encoded once: the fast encoders are checked against it in several modes)."""
    tokenizer = load_tokenizer("qwen2.5")
    seen: dict[tuple[str, ...], list[list[int]]] = {}

    def ids(texts: list[str]) -> list[list[int]]:
        key = tuple(texts)
        if key not in seen:
            out = tokenizer(texts, add_special_tokens=False, split_special_tokens=True)
            seen[key] = [list(x) for x in out["input_ids"]]
        return [list(x) for x in seen[key]]

    ids.tokenizer = tokenizer  # type: ignore[attr-defined]
    return ids


@pytest.fixture(scope="module")
def fast() -> ByteLevelBpeEncoder:
    """The fast path as `receipts tokens count` builds it."""
    name, encoder = make_encoder("qwen2.5")
    assert name == "qwen2.5" and isinstance(encoder, ByteLevelBpeEncoder)
    return encoder


def shipped_texts() -> list[str]:
    texts = []
    for name, fields in FIELDS.items():
        for line in (BENCH / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts += [str(row[f]) for f in fields]
    return texts


def assert_same(fast: ByteLevelBpeEncoder, reference, texts: list[str]) -> None:  # type: ignore[no-untyped-def]
    expected = reference(texts)
    got = fast.encode(texts)
    for text, want, have in zip(texts, expected, got, strict=True):
        assert have == want, repr(text[:80])
    assert fast.count(texts) == [len(x) for x in expected]


# -- exact ids -----------------------------------------------------------------------------------


def test_hello_world_and_nothing_added(fast: ByteLevelBpeEncoder) -> None:
    assert fast.encode(["Hello, world!", ""]) == [[9707, 11, 1879, 0], []]
    assert fast.count(["Hello, world!", ""]) == [4, 0]


def test_shipped_items_are_exact(fast: ByteLevelBpeEncoder, reference) -> None:  # type: ignore[no-untyped-def]
    texts = shipped_texts()
    assert len(texts) == 500 * 3 + 30 * 4
    assert_same(fast, reference, texts)
    assert sum(fast.count(texts)) == sum(len(x) for x in reference(texts))


def test_every_ascii_pair_and_triple_is_exact(fast: ByteLevelBpeEncoder, reference) -> None:  # type: ignore[no-untyped-def]
    chars = [chr(i) for i in range(128)]
    edge = "a 'sSlLtT\n\t\r\x0b\x0c.1\x1c"
    texts = [a + b for a in chars for b in chars]
    texts += [a + b + c for a in edge for b in chars for c in edge]
    # every string of up to five characters where spaces meet letters, digits and other space
    small = " a\n\t.1'S"
    texts += ["".join(p) for n in range(3, 6) for p in itertools.product(small, repeat=n)]
    assert_same(fast, reference, texts)


def test_adversarial_text_is_exact(fast: ByteLevelBpeEncoder, reference) -> None:  # type: ignore[no-untyped-def]
    assert_same(fast, reference, ADVERSARIAL)
    # every string of up to four characters where spaces meet Unicode space, marks and letters
    small = [" ", "a", "1", "\n", ".", "'", "\u00e9", "e\u0301", "\u0301", "\u3000", "\xa0",
             "\x85", "你"]  # fmt: skip
    texts = ["".join(p) for n in range(2, 5) for p in itertools.product(small, repeat=n)]
    assert_same(fast, reference, texts)


def test_random_mixtures_are_exact(fast: ByteLevelBpeEncoder, reference) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(20261125)
    alphabet = [*"ab Z1 23\n\r\t  .,'$\\{}^_<>|", "'s", "'S", "'ll", "'T", "\u00a0", "\u3000",
                "\u0085", "\x0b", "é", "e\u0301", "\u0301", "你", "。", "🎉", "👩‍👧", "١", "²",
                "Ⅻ", "İ", "ǅ", "\u200b", "\x00", "가", "\u1100\u1161", "<|im_end|>", "<think>",
                "<|endoftext|>", "<tool_call>", "<|fim_pad|>"]  # fmt: skip
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 30))) for _ in range(4000)]
    ascii_only = [t for t in texts if t.isascii()]
    assert len(ascii_only) > 100  # the fast path itself is exercised, not only the fallback
    assert_same(fast, reference, texts)


def test_special_token_strings_are_plain_text(fast: ByteLevelBpeEncoder, reference) -> None:  # type: ignore[no-untyped-def]
    text = "<|im_start|>user\nhi<|im_end|>"
    parsed = reference.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert 151644 in parsed and 151645 in parsed  # what parsing special tokens would give
    (ids,) = fast.encode([text])
    assert ids == reference([text])[0] and max(ids) < 151643 and len(ids) > len(parsed)
    # Qwen2.5's non-special added tokens stay single tokens, as in the reference
    assert fast.encode(["<tool_call>"]) == [[151657]] == reference(["<tool_call>"])


def test_reference_encoder_matches_transformers(reference) -> None:  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    from probes.tokens.tokenizer import qwen25_json

    plain = ReferenceEncoder(Tokenizer.from_str(qwen25_json()))
    texts = ADVERSARIAL + shipped_texts()[:200]
    assert plain.encode(texts) == reference(texts)


# Qwen2.5's added tokens that are not special: a text holding one goes to the whole pipeline.
NOT_SPECIAL = ("<tool_call>", "</tool_call>", "<|fim_", "<|repo_name|>", "<|file_sep|>")


def test_only_added_tokens_take_the_whole_pipeline(reference) -> None:  # type: ignore[no-untyped-def]
    encoder = ByteLevelBpeEncoder(qwen25_backend())
    # CJK, emoji with joiners, NFD marks, odd spaces, special-token strings: the fast path
    plain = [t for t in ADVERSARIAL if not any(a in t for a in NOT_SPECIAL)]
    assert any(not t.isascii() for t in plain) and any("<|im_end|>" in t for t in plain)
    assert_same(encoder, reference, plain)
    assert not encoder.reference_used
    # a non-special added token is matched by the tokenizer's whole pipeline
    added = [t for t in ADVERSARIAL if any(a in t for a in NOT_SPECIAL)]
    assert_same(encoder, reference, added)
    assert encoder.reference_used


def test_workers_send_added_tokens_to_the_whole_pipeline(tmp_path: Path, reference) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "adversarial.jsonl"
    texts = ADVERSARIAL * 3
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    (file,) = count_tokens([path], ["text"], workers=2, parallel_min_bytes=0).files
    assert file.counts["text"].tolist() == [len(x) for x in reference(texts)]


# -- formats and statistics ----------------------------------------------------------------------


def test_stats_match_numpy_over_reference_counts(reference) -> None:  # type: ignore[no-untyped-def]
    result = count_tokens([BENCH / "math500.jsonl"], ["problem", "solution"])
    rows = [json.loads(line) for line in (BENCH / "math500.jsonl").read_text().splitlines()]
    (file,) = result.files
    assert file.records == 500 and file.format == "jsonl"
    for stats in file.fields:
        counts = np.array([len(x) for x in reference([r[stats.field] for r in rows])])
        assert np.array_equal(file.counts[stats.field], counts)
        assert stats.records == 500 and stats.total == counts.sum() and stats.max == counts.max()
        assert stats.mean == pytest.approx(counts.mean())
        assert stats.median == np.median(counts) and stats.p95 == np.percentile(counts, 95)
    assert [s.total for s in file.fields] == [35_470, 109_641]


def write_formats(tmp_path: Path) -> dict[str, Path]:
    frame = pd.read_json(BENCH / "aime24.jsonl", lines=True, dtype=False)
    frame = frame[["problem", "solution", "answer"]]
    paths = {"json": tmp_path / "aime.json", "csv": tmp_path / "aime.csv",
             "parquet": tmp_path / "aime.parquet", "jsonl": tmp_path / "aime.jsonl"}  # fmt: skip
    frame.to_json(paths["json"], orient="records", force_ascii=False)
    frame.to_csv(paths["csv"], index=False)
    frame.to_json(paths["jsonl"], orient="records", lines=True, force_ascii=False)
    pq.write_table(pa.Table.from_pandas(frame), paths["parquet"], row_group_size=7)
    return paths


def test_json_csv_and_parquet_give_the_jsonl_counts(tmp_path: Path, reference) -> None:  # type: ignore[no-untyped-def]
    paths = write_formats(tmp_path)
    result = count_tokens(list(paths.values()), ["problem", "solution", "answer"])
    rows = [json.loads(line) for line in (BENCH / "aime24.jsonl").read_text().splitlines()]
    want = {f: [len(x) for x in reference([str(r[f]) for r in rows])] for f in ("problem",
            "solution", "answer")}  # fmt: skip
    assert [f.format for f in result.files] == ["json", "csv", "parquet", "jsonl"]
    for file in result.files:
        assert file.records == 30
        for name, counts in want.items():
            assert file.counts[name].tolist() == counts, (file.format, name)
    combined = {s.field: s for s in result.combined()}
    assert combined["problem"].records == 120 and combined["problem"].total == 4 * sum(
        want["problem"]
    )


def test_lists_of_strings_sum_per_record(reference) -> None:  # type: ignore[no-untyped-def]
    (file,) = count_tokens([DATA / "lists.jsonl"], ["thinking"]).files
    parts = [["a b c", "Wait, 1 + 1 = 2."], [], ["<|im_end|> 你好"]]
    assert file.counts["thinking"].tolist() == [sum(len(x) for x in reference(p)) if p else 0
                                                for p in parts]  # fmt: skip


def test_parquet_list_column_and_batches(tmp_path: Path, reference) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "lists.parquet"
    values = [[f"step {i}", "x" * i] if i % 3 else [] for i in range(2500)]
    pq.write_table(pa.table({"thinking": values}), path, row_group_size=1000)
    (file,) = count_tokens([path], ["thinking"]).files
    flat = reference([t for v in values for t in v])
    it = iter(len(x) for x in flat)
    assert file.counts["thinking"].tolist() == [sum(next(it) for _ in v) for v in values]


def test_worker_processes_give_the_same_counts(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    paths = [BENCH / "math500.jsonl", DATA / "lists.jsonl"]
    one = count_tokens(paths, ["problem"], workers=1)
    many = count_tokens(paths, ["problem"], workers=2, parallel_min_bytes=0,
                        progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    for a, b in zip(one.files, many.files, strict=True):
        assert np.array_equal(a.counts["problem"], b.counts["problem"])
    total = sum(p.stat().st_size for p in paths)
    assert calls[-1] == (total, total) and calls == sorted(calls)


def test_a_local_tokenizer_directory(tmp_path: Path, reference) -> None:  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, models, pre_tokenizers

    qwen_dir = tmp_path / "my-qwen"
    reference.tokenizer.save_pretrained(qwen_dir)
    name, encoder = make_encoder(str(qwen_dir))
    assert name == "my-qwen" and isinstance(encoder, ByteLevelBpeEncoder)
    assert encoder.encode(ADVERSARIAL) == reference(ADVERSARIAL)

    words = tmp_path / "words"
    words.mkdir()
    vocab = {"[UNK]": 0, "what": 1, "is": 2, "?": 3}
    plain = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    plain.pre_tokenizer = pre_tokenizers.Whitespace()
    plain.save(str(words / "tokenizer.json"))
    (words / "tokenizer_config.json").write_text('{"tokenizer_class": "PreTrainedTokenizerFast"}')
    name, encoder = make_encoder(str(words))
    assert name == "words" and isinstance(encoder, ReferenceEncoder)
    assert encoder.count(["what is 1+1 ?", ""]) == [6, 0]


# -- the command ---------------------------------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer(cls=ErrorHandlingGroup)
    register(app)
    return app


def invoke(runner: CliRunner, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(cli(), ["tokens", "count", *args])


def test_json_output_is_clean_and_exact(runner: CliRunner, reference) -> None:  # type: ignore[no-untyped-def]
    result = invoke(runner, str(BENCH / "math500.jsonl"), str(BENCH / "aime24.jsonl"),
                    "--field", "problem", "--field", "solution", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["tokenizer"] == "qwen2.5" and data["run"] is None
    math, aime = data["files"]
    assert math["records"] == 500 and aime["records"] == 30
    assert math["fields"]["problem"]["total"] == 35_470
    assert math["fields"]["solution"]["total"] == 109_641
    rows = [json.loads(line) for line in (BENCH / "aime24.jsonl").read_text().splitlines()]
    aime_total = sum(len(x) for x in reference([r["solution"] for r in rows]))
    assert aime["fields"]["solution"]["total"] == aime_total
    assert data["fields"]["solution"]["total"] == 109_641 + aime_total
    assert data["fields"]["solution"]["records"] == 530


def test_table_output(runner: CliRunner) -> None:
    result = invoke(runner, str(BENCH / "math500.jsonl"), "--field", "problem")
    assert result.exit_code == 0, result.output
    assert "35,470" in result.stdout and "problem" in result.stdout and "500" in result.stdout


def test_the_footer_counts_the_tokenizer_build_in_its_time(runner: CliRunner) -> None:
    result = invoke(runner, str(BENCH / "math500.jsonl"), "--field", "problem")
    assert result.exit_code == 0, result.output
    footer = re.fullmatch(
        r"500 records in (\S+) s \(tokenizer (\S+) s, counting (\S+) s\); .+",
        result.stdout.strip().splitlines()[-1],
    )
    assert footer is not None, result.stdout
    total, tokenizer, counting = (float(x) for x in footer.groups())
    assert tokenizer > 0 and abs(total - (tokenizer + counting)) <= 0.011  # rounded parts
    data = json.loads(invoke(runner, str(BENCH / "math500.jsonl"), "--field", "problem",
                             "--json").stdout)  # fmt: skip
    assert data["tokenizer_seconds"] > 0 and data["check_seconds"] == 0
    parts = data["tokenizer_seconds"] + data["seconds"]
    assert data["total_seconds"] == pytest.approx(parts, abs=0.002)


@pytest.mark.parametrize(
    ("name", "args", "needles"),
    [
        ("malformed.jsonl", [], ["malformed.jsonl", "line 3", "malformed JSON"]),
        ("missing_field.jsonl", [], ["line 2", "no field 'solution'", "problem, answer, level"]),
        ("empty.jsonl", [], ["empty.jsonl", "empty file"]),
        ("blank.jsonl", [], ["blank.jsonl", "empty file"]),
        ("binary.jsonl", [], ["binary.jsonl", "binary file"]),
        ("latin1.jsonl", [], ["latin1.jsonl", "line 2", "not UTF-8"]),
        ("surrogate.jsonl", [], ["line 2", "field 'problem' holds a lone surrogate"]),
        ("not_array.json", [], ["not_array.json", "line 1", "expected an object, found a string"]),
        ("number_field.jsonl", [], ["line 2", "field 'problem' is a number, not text"]),
        ("not_object.jsonl", [], ["line 2", "expected an object, found a list"]),
        ("ragged.csv", [], ["ragged.csv", "line 3", "3 cells, the header has 2"]),
        ("header_only.csv", [], ["header_only.csv", "empty file"]),
        ("fake.parquet", [], ["fake.parquet", "not a parquet file"]),
        ("nope.jsonl", [], ["nope.jsonl", "no such file"]),
        ("lists.jsonl", ["--tokenizer", "Qwen/Qwen2.5-7B"], ["never downloads"]),
        ("lists.jsonl", ["--record"], ["--record needs --subject and --stage"]),
        ("lists.jsonl", ["--subject", "s1"], ["only go with --record"]),
    ],
)
def test_bad_input(runner: CliRunner, name: str, args: list[str], needles: list[str]) -> None:
    fields = ["--field", "problem"] + ([] if name == "lists.jsonl" else ["--field", "solution"])
    assert_bad_input(invoke(runner, str(DATA / name), *fields, *args), *needles)


def test_bad_parquet_files(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"problem": ["a", None, "c"], "level": [1, 2, 3]}), path)
    assert_bad_input(invoke(runner, str(path), "--field", "problem"), "record 2", "is null")
    assert_bad_input(invoke(runner, str(path), "--field", "level"), "'level' is int64, not text")
    assert_bad_input(invoke(runner, str(path), "--field", "x"), "no column 'x'", "problem, level")
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(path.read_bytes()[:40])
    assert_bad_input(invoke(runner, str(cut), "--field", "problem"), "cut.parquet", "parquet")


def test_bad_options(runner: CliRunner, tmp_path: Path) -> None:
    good = str(BENCH / "aime24.jsonl")
    assert_bad_input(invoke(runner, good), "--field")
    assert_bad_input(runner.invoke(cli(), ["tokens", "count", "--field", "x"]), "FILE")
    assert_bad_input(invoke(runner, str(tmp_path), "--field", "x"), "is a directory")
    bad_id = invoke(runner, good, "--field", "problem", "--record", "--subject", "bad subject",
                    "--stage", "data")  # fmt: skip
    assert_bad_input(bad_id, "--subject", "not a valid id")


def test_record_writes_a_run_and_usages_and_bad_input_writes_nothing(
    runner: CliRunner, sqlite_url: str
) -> None:
    files = [str(BENCH / "math500.jsonl"), str(BENCH / "aime24.jsonl")]
    result = invoke(runner, *files, "--field", "problem", "--field", "solution", "--record",
                    "--subject", "s1-32B", "--stage", "curation", "--ledger", sqlite_url,
                    "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    with Ledger(sqlite_url) as ledger:
        (run,) = ledger.runs("s1-32B")
        usages = sorted(ledger.usages("s1-32B"), key=lambda u: u.id)
        assert ledger.verify().ok
        before = ledger.head()
    assert run.id == data["run"] and run.status is RunStatus.SUCCEEDED
    assert run.stage == "curation" and run.category.value == "data"
    assert [u.id for u in usages] == sorted(data["usages"]) and len(usages) == 4
    assert len({u.id for u in usages}) == 4
    by_key = {(u.detail["file"], u.detail["field"]): u for u in usages if u.detail}
    math_problem = by_key[(files[0], "problem")]
    assert math_problem.quantity == 35_470 and math_problem.resource == "tokens/qwen2.5"
    assert math_problem.unit is Unit.TOKEN and math_problem.provenance is Provenance.MEASURED
    assert math_problem.detail is not None
    assert {"records", "mean", "median", "p95", "max"} <= set(math_problem.detail)
    assert math_problem.detail["records"] == 500 and math_problem.detail["max"] == 791

    # a good file then a bad one: everything is checked before the run opens
    bad = invoke(runner, files[0], str(DATA / "missing_field.jsonl"), "--field", "problem",
                 "--field", "solution", "--record", "--subject", "s1-32B", "--stage", "curation",
                 "--ledger", sqlite_url)  # fmt: skip
    assert_bad_input(bad, "missing_field.jsonl", "no field 'solution'")
    with Ledger(sqlite_url) as ledger:
        assert ledger.head() == before


def test_library_errors_are_input_errors() -> None:
    with pytest.raises(InputError, match="at least one FILE"):
        count_tokens([], ["problem"])
    with pytest.raises(InputError, match="no field 'nope'"):
        count_tokens([BENCH / "aime24.jsonl"], ["nope"])


def test_the_command_module_imports_nothing_heavy() -> None:
    heavy = ["sqlalchemy", "pydantic", "transformers", "tokenizers", "pandas", "pyarrow", "numpy"]
    code = (f"import sys, probes.tokens.cli; "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
