"""Byte-level BPE in Python: the ids of tokenizers' BPE model, from a table that loads in ms.

tokenizers takes about 0.3 s to build Qwen2.5's BPE model (151,643 tokens, 151,387 merges), half
of ``receipts tokens count``'s start-up. :class:`MergeTable` holds the same model as integers:

- the merges, as (left id, right id) -> rank, and each rank's merged id;
- the id of each byte's byte-level character (GPT-2's byte-to-character map);
- a memo of the ids the model itself gave for every ASCII vocabulary string that it encodes as
  that one token (the most frequent pieces of English and math text are such strings).

It is stored as bytes (:meth:`MergeTable.to_bytes`, in the tokenizer cache) and loads from them in
milliseconds; the dictionaries merging uses (about 0.06 s) are made on first use, in the process
that merges. A piece in the memo takes its id from there; any other piece is merged the way
tokenizers' ``Word::merge_all`` does it: one symbol per byte, then, from a heap ordered by rank
and then position, the merge of lowest rank, leftmost first, skipping entries whose pair has
changed since they were queued. Pieces of up to :data:`SHORT_PIECE` bytes are merged by rescanning
their pairs instead, which applies the same merges in the same order and is faster when short.

Only plain BPE has a table: no dropout, continuing-subword prefix, end-of-word suffix or byte
fallback, ``ignore_merges`` off, every byte-level character in the vocabulary, fewer than 2**18
tokens (:meth:`MergeTable.of_model` returns ``None`` otherwise). ``tests/test_bpe.py`` compares it
with tokenizers' model on every vocabulary string and on adversarial pieces.
"""

from __future__ import annotations

import functools
import heapq
import struct
import sys
from array import array
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

PAIR_SHIFT = 18
"""A pair of ids (a, b) is the int ``a << 18 | b``: token ids must be below 2**18 (262,144)."""
SHORT_PIECE = 24
"""Pieces of up to this many bytes are merged by rescanning their pairs, longer ones with a heap."""
_MAGIC = b"receipts merge table 1\n"
_HEADER = struct.Struct("<III")  # merges, memo words, bytes of the memo's words


def byte_level_chars() -> list[str]:
    """GPT-2's byte-to-character map, which the ByteLevel pre-tokenizer applies: byte b is
    ``chr(b)`` if printable, else one of ``chr(256)``, ``chr(257)``, ... in byte order."""
    printable = {*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    chars, extra = [], 256
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(extra))
            extra += 1
    return chars


class MergeTable:
    """A plain byte-level BPE model as integers: the ids it gives any piece, computed in Python.

    Build one with :meth:`of_model` (from tokenizers' model) or :meth:`from_bytes`.
    """

    def __init__(
        self,
        byte_ids: Sequence[int],
        merges: tuple[Sequence[int], Sequence[int], Sequence[int]],
        words: tuple[Sequence[str], Sequence[int]],
    ) -> None:
        """``byte_ids[b]``: the id of byte b; ``merges``: left ids, right ids and merged ids in rank
        order; ``words``: ASCII strings (no NUL) and the single id the model gives each.

        The dictionaries the merging needs are made on first use, in the process that merges
        (after the counting workers are forked, so that they do not delay the start)."""
        left, right, merged = merges
        texts, ids = words
        if len(byte_ids) != 256 or not len(left) == len(right) == len(merged):
            raise ValueError("a merge table needs 256 byte ids and equally many lefts and rights")
        if len(texts) != len(ids):
            raise ValueError("a merge table's words do not match their ids")
        self._byte_ids = list(byte_ids)
        self._chars = dict(zip(byte_level_chars(), self._byte_ids, strict=True))
        self._left, self._right, self._merged = array("i", left), array("i", right), merged
        self._texts, self._ids = texts, array("i", ids)

    @functools.cached_property
    def _ranks(self) -> dict[int, int]:
        # later duplicates of a pair win, as in tokenizers' merge map
        pairs = [a << PAIR_SHIFT | b for a, b in zip(self._left, self._right, strict=True)]
        return dict(zip(pairs, range(len(pairs)), strict=True))

    @functools.cached_property
    def _merged_ids(self) -> list[int]:
        return list(self._merged)

    @functools.cached_property
    def _words(self) -> dict[str, int]:
        return dict(zip(self._texts, self._ids, strict=True))

    @classmethod
    def of_model(
        cls, state: dict[str, Any], tokenize: Callable[[str], list[int]]
    ) -> MergeTable | None:
        """The table of a BPE model, from its JSON state (``vocab``, ``merges`` and options) and
        its ``tokenize`` (byte-level piece to ids), which fills the memo; ``None`` for a model that
        is not plain byte-level BPE."""
        options = ("dropout", "continuing_subword_prefix", "end_of_word_suffix", "byte_fallback",
                   "ignore_merges")  # fmt: skip
        vocab = state.get("vocab")
        if state.get("type") != "BPE" or any(state.get(k) for k in options):
            return None
        chars = byte_level_chars()
        if not isinstance(vocab, dict) or any(c not in vocab for c in chars):
            return None
        if max(vocab.values(), default=0) >> PAIR_SHIFT:
            return None
        pairs = [m.split(" ") if isinstance(m, str) else m for m in state.get("merges", [])]
        try:
            left = [vocab[a] for a, _ in pairs]
            right = [vocab[b] for _, b in pairs]
            merged = [vocab[a + b] for a, b in pairs]
        except (KeyError, ValueError):
            return None
        # each byte-level character to the byte it stands for, as a character (U+0000-U+00FF)
        to_bytes = {ord(c): b for b, c in enumerate(chars)}
        texts, ids = [], []
        for token, token_id in vocab.items():
            raw = token.translate(to_bytes)
            if raw.isascii() and "\0" not in raw and tokenize(token) == [token_id]:
                texts.append(raw)
                ids.append(token_id)
        return cls([vocab[c] for c in chars], (left, right, merged), (texts, ids))

    def to_bytes(self) -> bytes:
        """The table as bytes (little-endian int32 arrays and the memo's words), for a cache."""
        words = "\0".join(self._texts).encode("ascii")
        parts = [array("i", self._byte_ids), self._left, self._right, array("i", self._merged),
                 self._ids]  # fmt: skip
        if sys.byteorder == "big":
            parts = [array("i", a) for a in parts]
            for a in parts:
                a.byteswap()
        header = _HEADER.pack(len(self._left), len(self._ids), len(words))
        return b"".join([_MAGIC, header, *(a.tobytes() for a in parts), words])

    @classmethod
    def from_bytes(cls, data: bytes) -> MergeTable:
        """The table :meth:`to_bytes` wrote.

        Raises:
            ValueError: not such a table, or truncated.
        """
        if not data.startswith(_MAGIC):
            raise ValueError("not a merge table")
        start = len(_MAGIC) + _HEADER.size
        merges, nwords, nbytes = _HEADER.unpack_from(data, len(_MAGIC))
        sizes = [256, merges, merges, merges, nwords]
        if len(data) != start + 4 * sum(sizes) + nbytes:
            raise ValueError("a merge table of the wrong length")
        arrays = []
        for size in sizes:
            values = array("i")
            values.frombytes(data[start : start + 4 * size])
            if sys.byteorder == "big":
                values.byteswap()
            arrays.append(values)
            start += 4 * size
        words = data[start:].decode("ascii").split("\0") if nwords else []
        byte_ids, left, right, merged, word_ids = arrays
        return cls(byte_ids, (left, right, merged), (words, word_ids))

    def ascii_ids(self, piece: str) -> list[int]:
        """The ids of an ASCII piece, given as text (before the byte-level mapping)."""
        found = self._words.get(piece)
        if found is not None:
            return [found]
        byte_ids = self._byte_ids
        return self.merge([byte_ids[b] for b in piece.encode("ascii")])

    def byte_level_ids(self, piece: str) -> list[int]:
        """The ids of a piece in byte-level characters (what the ByteLevel pre-tokenizer gives)."""
        chars = self._chars
        return self.merge([chars[c] for c in piece])

    def merge(self, ids: list[int]) -> list[int]:
        """Apply the merges to a piece's byte ids, as tokenizers does: the ids of its tokens."""
        if len(ids) > SHORT_PIECE:
            return self._merge_heap(ids)
        rank_of, merged = self._ranks.get, self._merged_ids
        none = len(merged)  # "no merge": above every rank
        ranks = [rank_of(a << PAIR_SHIFT | b, none) for a, b in pairwise(ids)]
        while ranks:
            best = min(ranks)
            if best == none:
                break
            i = ranks.index(best)  # the leftmost of the lowest rank
            ids[i : i + 2] = [merged[best]]
            del ranks[i]
            if i > 0:
                ranks[i - 1] = rank_of(ids[i - 1] << PAIR_SHIFT | ids[i], none)
            if i < len(ranks):
                ranks[i] = rank_of(ids[i] << PAIR_SHIFT | ids[i + 1], none)
        return ids

    def _merge_heap(self, ids: list[int]) -> list[int]:
        # tokenizers' Word::merge_all: symbols in a linked list; a heap of (rank, position, merged
        # id); an entry is skipped if its symbol is gone, is last, or now pairs into another id.
        rank_of, merged = self._ranks.get, self._merged_ids
        n = len(ids)
        following = list(range(1, n + 1))
        previous = list(range(-1, n - 1))
        alive = [True] * n
        heap = []
        for i in range(n - 1):
            rank = rank_of(ids[i] << PAIR_SHIFT | ids[i + 1])
            if rank is not None:
                heap.append((rank, i, merged[rank]))
        heapq.heapify(heap)
        while heap:
            _, pos, new_id = heapq.heappop(heap)
            right = following[pos]
            if not alive[pos] or right >= n:
                continue
            rank = rank_of(ids[pos] << PAIR_SHIFT | ids[right])
            if rank is None or merged[rank] != new_id:
                continue
            ids[pos] = new_id
            alive[right] = False
            following[pos] = following[right]
            if following[pos] < n:
                previous[following[pos]] = pos
            before, after = previous[pos], following[pos]
            if before >= 0 and (rank := rank_of(ids[before] << PAIR_SHIFT | new_id)) is not None:
                heapq.heappush(heap, (rank, before, merged[rank]))
            if after < n and (rank := rank_of(new_id << PAIR_SHIFT | ids[after])) is not None:
                heapq.heappush(heap, (rank, pos, merged[rank]))
        return [token for token, kept in zip(ids, alive, strict=True) if kept]
