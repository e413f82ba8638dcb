"""The Python BPE (`probes.bpe.MergeTable`) gives tokenizers' BPE model's ids: every vocabulary
string, random pieces of every kind, short and long; its byte form loads back the same."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import probes.bpe
from probes.bpe import MergeTable, byte_level_chars
from probes.tokenizer import qwen25_backend

CHARS = byte_level_chars()


@pytest.fixture(scope="module")
def model() -> Any:
    """tokenizers' BPE model of Qwen2.5, the reference for every piece."""
    return qwen25_backend().model


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    """The model's JSON state: vocabulary, merges and options."""
    return dict(json.loads(qwen25_backend().to_str())["model"])


@pytest.fixture(scope="module")
def table(model: Any, state: dict[str, Any]) -> MergeTable:
    built = MergeTable.of_model(state, lambda piece: [t.id for t in model.tokenize(piece)])
    assert built is not None
    return built


def ids(model: Any, byte_level: str) -> list[int]:
    return [t.id for t in model.tokenize(byte_level)]


def to_byte_level(text: str) -> str:
    return "".join(CHARS[b] for b in text.encode())


def test_the_byte_level_map_is_gpt2s() -> None:
    assert len(set(CHARS)) == 256
    assert CHARS[ord(" ")] == "\u0120" and CHARS[ord("\n")] == "\u010a" and CHARS[ord("a")] == "a"
    assert CHARS[0] == "\u0100" and CHARS[0xAD] == "\u0143" and CHARS[0xFF] == "\xff"


@pytest.mark.parametrize("short_piece", [probes.bpe.SHORT_PIECE, 0])
def test_every_vocabulary_string_merges_as_the_model_does(
    table: MergeTable, model: Any, state: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
    short_piece: int,
) -> None:  # fmt: skip
    # with short_piece 0 every piece takes the heap, as long pieces do
    monkeypatch.setattr(probes.bpe, "SHORT_PIECE", short_piece)
    vocab: dict[str, int] = state["vocab"]
    assert len(vocab) == 151_643
    wrong = [s for s in vocab if table.byte_level_ids(s) != ids(model, s)]
    assert wrong == []


def test_random_pieces_merge_as_the_model_does(table: MergeTable, model: Any) -> None:
    rng = random.Random(20261125)
    alphabet = [*"abeht xyzAZ019 .,-=_\\{}()[]'\"\n\t\r", "é", "e\u0301", "你", "。", "🎉",
                "\u3000", "\xa0", "\x00", "\x7f", "Ⅻ", "ñ", "\U0010ffff"]  # fmt: skip
    texts = ["".join(rng.choices(alphabet, k=rng.randint(1, 120))) for _ in range(6000)]
    texts += ["x" * 5000, " " * 4000, "-" * 300, "ab" * 700, "\n" * 200, "1" * 64]
    for text in texts:
        assert table.byte_level_ids(to_byte_level(text)) == ids(model, to_byte_level(text)), text
        if text.isascii():
            assert table.ascii_ids(text) == ids(model, to_byte_level(text)), text


def test_the_memo_holds_what_the_model_gives(table: MergeTable, model: Any) -> None:
    for word in ["Hello", " world", " the", "frac", "0", "\n\n", "    "]:
        assert table.ascii_ids(word) == ids(model, to_byte_level(word))
        assert len(table.ascii_ids(word)) == 1


def test_the_byte_form_loads_back_the_same_table(table: MergeTable, model: Any) -> None:
    data = table.to_bytes()
    again = MergeTable.from_bytes(data)
    assert again.to_bytes() == data
    for text in ["Hello, world!", " antidisestablishmentarianism", "你好", "x" * 100]:
        assert again.byte_level_ids(to_byte_level(text)) == ids(model, to_byte_level(text))
    for bad in [b"", data[:-1], data + b"\0", b"not a table" + data[20:], data[:100]]:
        with pytest.raises(ValueError):
            MergeTable.from_bytes(bad)


def test_only_plain_byte_level_bpe_has_a_table(state: dict[str, Any]) -> None:
    def never(_piece: str) -> list[int]:
        raise AssertionError("not called for a model that has no table")

    assert MergeTable.of_model({"type": "WordLevel", "vocab": {"a": 0}}, never) is None
    assert MergeTable.of_model(state | {"continuing_subword_prefix": "##"}, never) is None
    assert MergeTable.of_model(state | {"byte_fallback": True}, never) is None
    assert MergeTable.of_model(state | {"ignore_merges": True}, never) is None
    few = {c: i for i, c in enumerate(CHARS[:200])}  # bytes missing from the vocabulary
    assert MergeTable.of_model({"type": "BPE", "vocab": few, "merges": []}, never) is None
    unknown = {c: i for i, c in enumerate(CHARS)}
    plain = {"type": "BPE", "vocab": unknown, "merges": [["a", "b"]]}  # "ab" is not a token
    assert MergeTable.of_model(plain, never) is None
