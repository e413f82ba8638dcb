"""Token counts of dataset fields, counted exactly as the reference tokenizer does.

Modules: :mod:`~probes.tokens.read` (JSONL, JSON arrays, CSV and parquet, streamed),
:mod:`~probes.tokens.encode` (text to token ids, with the fast path for Qwen2.5),
:mod:`~probes.tokens.tokenizer` (the built-in ``qwen2.5`` and local Hugging Face tokenizers),
:mod:`~probes.tokens.count` (the counting, in parallel, and the usages it records) and
:mod:`~probes.tokens.cli` (``receipts tokens count``).

Public API: :func:`count_tokens` and its :class:`CountResult`, :class:`RecordTo` (where counts
are recorded as usages), :func:`load_tokenizer` and :data:`QWEN25`. Nothing here imports numpy,
pyarrow, tokenizers, transformers, pydantic or SQLAlchemy at import time.
"""

from probes.tokens.count import CountResult, RecordTo, count_tokens
from probes.tokens.tokenizer import QWEN25, load_tokenizer

__all__ = ["QWEN25", "CountResult", "RecordTo", "count_tokens", "load_tokenizer"]
