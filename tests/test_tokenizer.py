"""The built-in Qwen2.5 tokenizer is exactly Qwen2.5's, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.errors import InputError
from probes.tokens.tokenizer import QWEN25_SIZE, load_tokenizer


@pytest.fixture(scope="module")
def qwen():  # type: ignore[no-untyped-def]
    return load_tokenizer("qwen2.5")


def test_size_and_reference_ids(qwen) -> None:  # type: ignore[no-untyped-def]
    assert len(qwen) == QWEN25_SIZE == 151_665
    assert qwen("Hello, world!")["input_ids"] == [9707, 11, 1879, 0]


def test_special_tokens_are_qwen25s_and_only_those(qwen) -> None:  # type: ignore[no-untyped-def]
    assert qwen.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [
        151643, 151644, 151645]  # fmt: skip
    assert qwen.convert_tokens_to_ids("<|file_sep|>") == 151664
    # Qwen3's <think> is not a Qwen2.5 token: it is spelled out in ordinary pieces
    ids = qwen("<think>")["input_ids"]
    assert len(ids) > 1 and max(ids) < 151643


def test_chat_format_matches_qwen25(qwen) -> None:  # type: ignore[no-untyped-def]
    text = qwen.apply_chat_template([{"role": "user", "content": "1+1?"}], tokenize=False,
                                    add_generation_prompt=True)  # fmt: skip
    assert text == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\n<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_unknown_tokenizer_is_never_downloaded(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="never downloads"):
        load_tokenizer("Qwen/Qwen2.5-32B-Instruct")
    with pytest.raises(InputError, match="cannot load"):
        load_tokenizer(str(tmp_path))
