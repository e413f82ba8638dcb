"""Encoders: text to token ids exactly as the reference does, and the fast path for Qwen2.5.

The *reference* is ``tokenizer(text, add_special_tokens=False, split_special_tokens=True)`` in
transformers, which runs the tokenizer's own Rust pipeline. :class:`ReferenceEncoder` calls that
pipeline (``encode_batch_fast``, parallel over all cores). :class:`ByteLevelBpeEncoder` gives the
same ids faster for tokenizers built like Qwen2.5's (NFC, Qwen's split regex, byte-level BPE): it
cuts text into :func:`chunks` at spaces where the split regex always cuts, splits ASCII chunks with
an exact ASCII transcription of the regex, and caches counts per chunk; chunks holding other
characters go through the tokenizer's own normaliser and pre-tokeniser, and texts holding a
non-special added token go to the reference. The BPE model is tokenizers' own.
bpe-qwen is not used: it differs from the reference on whitespace runs, ``'S`` contractions, some
multi-byte characters and text that is not NFC (see ``docs/tokens.md``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tokenizers import Tokenizer

CACHE_CHUNKS = 1 << 20
"""Chunks remembered per process before the caches are cleared (bounds memory on odd data)."""


class Encoder(Protocol):
    """Turns texts into token ids, exactly as the reference does."""

    description: str
    processes: bool
    """Parallelise with one process per core (else it is parallel inside, in Rust)."""

    def count(self, texts: list[str]) -> list[int]: ...

    def encode(self, texts: list[str]) -> list[list[int]]: ...


class ReferenceEncoder:
    """The tokenizer's own Rust pipeline, batched over all cores: the reference itself."""

    processes = False

    def __init__(self, tokenizer: Tokenizer) -> None:
        tokenizer.encode_special_tokens = True  # special-token strings in data are plain text
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.tokenizer = tokenizer
        self.description = "tokenizers encode_batch_fast"

    def count(self, texts: list[str]) -> list[int]:
        return [len(e) for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]

    def encode(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]


class TransformersEncoder:
    """A tokenizer without a Rust backend (e.g. a slow SentencePiece one), called in batches."""

    processes = False
    description = "transformers tokenizer"

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def encode(self, texts: list[str]) -> list[list[int]]:
        out = self.tokenizer(texts, add_special_tokens=False, split_special_tokens=True)
        return [list(ids) for ids in out["input_ids"]]

    def count(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.encode(texts)]


# Qwen2's split regex, as tokenizer.json has it; and its exact transcription for ASCII text, where
# \p{L} is [A-Za-z], \p{N} is [0-9], \s is [\t\n\v\f\r ] and (?i:'s) is '[sS].
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
    r"\s*[\r\n]+|\s+(?!\S)|\s+"
)
_WS = "\t\n\x0b\x0c\r "
ASCII_SPLIT = re.compile(
    r"'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]"
    r"|[^\r\nA-Za-z0-9]?[A-Za-z]+|[0-9]"
    rf"| ?[^{_WS}A-Za-z0-9]+[\r\n]*|[{_WS}]*[\r\n]+|[{_WS}]+(?![^{_WS}])|[{_WS}]+"
)
_SPACE_AFTER_WS = ("  ", "\t ", "\n ", "\x0b ", "\x0c ", "\r ")
_NOT_A_CUT = re.compile(r"(?:^|(?<=[^!-~])) ")
_ZERO = bytes.maketrans(b"123456789", b"000000000")


def _byte_level_ascii() -> dict[int, str]:
    """GPT-2's byte-to-character map (what the ByteLevel pre-tokenizer applies) for ASCII: a
    printable character is itself, the others are ``chr(256)``, ``chr(257)``, ... in byte order."""
    printable = range(ord("!"), ord("~") + 1)
    others = [b for b in range(128) if b not in printable]
    return {b: chr(b) if b in printable else chr(256 + others.index(b)) for b in range(128)}


_BYTE_LEVEL = _byte_level_ascii()


def chunks(text: str) -> list[str]:
    """``text`` cut before every space that follows a printable ASCII character.

    No piece of the split regex runs from a character other than whitespace into a following
    space (only newlines may follow one), the regex looks behind nothing, and NFC never joins
    across a space, so the text's pieces are those of its chunks, each normalised and split alone.
    Other spaces are not cuts: they come back as ``\x02`` (:func:`unmark` restores them).
    """
    if not text.isascii():
        text = _NOT_A_CUT.sub("\x02", text)
    elif text.startswith(" ") or any(w in text for w in _SPACE_AFTER_WS):
        text = "\x02" + text[1:] if text.startswith(" ") else text
        for w in "\t\n\x0b\x0c\r":
            text = text.replace(w + " ", w + "\x02")
        # no two spaces are left adjacent, so one pass marks every space after a marked one
        text = text.replace("  ", " \x02").replace("\x02 ", "\x02\x02")
    return text.split(" ")


def unmark(chunk: str) -> str:
    """A chunk of :func:`chunks` as text again."""
    return chunk.replace("\x02", " ")


class ByteLevelBpeEncoder:
    """The reference's ids, faster on ASCII text, for tokenizers built like Qwen2.5's.

    ASCII text is cut into :func:`chunks`, split with :data:`ASCII_SPLIT`, and each piece is
    encoded by the BPE model, as the tokenizer does after NFC (a no-op on ASCII) and its byte-level
    mapping. Counts are cached per chunk with its digits read as zeros: a digit is always a piece
    of its own and one token, so the count does not depend on which digit it is. Other chunks go
    through the tokenizer's own normaliser and pre-tokeniser, then the BPE model; text holding a
    non-special added token goes to the reference (:attr:`reference`, the tokenizer's whole
    pipeline).
    """

    processes = True

    def __init__(self, tokenizer: Tokenizer) -> None:
        if not self.supports(tokenizer):
            raise ValueError("not a Qwen2-style byte-level BPE tokenizer")
        self.description = "receipts ASCII fast path + tokenizers (exact)"
        self._tokenizer = tokenizer
        self._reference: ReferenceEncoder | None = None
        self._model = tokenizer.model
        self._normalizer = tokenizer.normalizer
        self._pre_tokenizer = tokenizer.pre_tokenizer
        added = tokenizer.get_added_tokens_decoder().values()
        # "\x02" marks spaces in chunks(); text holding it takes the reference's way too
        slow = [t.content for t in added if not t.special] + ["\x02"]
        self._slow = re.compile("|".join(map(re.escape, slow)))
        self._ids: dict[str, list[int]] = {}  # per ASCII piece, for encode()
        self._lengths: dict[str, int] = {}  # per ASCII piece, for count()
        self._byte_level_ids: dict[str, list[int]] = {}  # per piece of other chunks
        self._first: dict[str, int] = {}  # per first chunk of a text, digits as zeros
        self._later: dict[str, int] = {}  # per later chunk (without its leading space)

    @staticmethod
    def supports(tokenizer: Tokenizer) -> bool:
        """NFC (or none), the Qwen split then ByteLevel without its regex, plain BPE."""
        normalizer = tokenizer.normalizer
        if normalizer is not None and json.loads(normalizer.__getstate__()) != {"type": "NFC"}:
            return False
        pre = tokenizer.pre_tokenizer
        expected = {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": QWEN_SPLIT}, "behavior": "Isolated",
                 "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                 "use_regex": False},
            ],
        }  # fmt: skip
        if pre is None or json.loads(pre.__getstate__()) != expected:
            return False
        model = tokenizer.model
        return (
            type(model).__name__ == "BPE"
            and model.dropout is None
            and not model.continuing_subword_prefix
            and not model.end_of_word_suffix
            and not model.byte_fallback
            and not model.ignore_merges
        )

    @property
    def reference_used(self) -> bool:
        """Whether this encoder has sent a text to the tokenizer's whole pipeline yet."""
        return self._reference is not None

    @property
    def reference(self) -> ReferenceEncoder:
        """The tokenizer's own pipeline (for texts holding a non-special added token)."""
        if self._reference is None:
            self._reference = ReferenceEncoder(self._tokenizer)
        return self._reference

    def _piece_ids(self, piece: str, ascii_text: bool) -> list[int]:
        """Ids of a piece not seen before: ASCII text, or byte-level characters."""
        byte_level = piece.translate(_BYTE_LEVEL) if ascii_text else piece
        return [t.id for t in self._model.tokenize(byte_level)]

    def _other_ids(self, text: str) -> list[int]:
        """Ids of a chunk that is not ASCII: normalised and pre-tokenised by the tokenizer's own
        parts, then BPE per piece (what its pipeline does, less the added tokens)."""
        if self._normalizer is not None:
            text = self._normalizer.normalize_str(text)
        out: list[int] = []
        known = self._byte_level_ids
        for piece, _ in self._pre_tokenizer.pre_tokenize_str(text):
            ids = known.get(piece)
            if ids is None:
                ids = known[piece] = self._piece_ids(piece, ascii_text=False)
            out += ids
        return out

    def _chunk_ids(self, chunk: str) -> list[int]:
        text = unmark(chunk)
        if not text.isascii():
            return self._other_ids(text)
        out: list[int] = []
        for piece in ASCII_SPLIT.findall(text):
            ids = self._ids.get(piece)
            if ids is None:
                ids = self._ids[piece] = self._piece_ids(piece, ascii_text=True)
            out += ids
        return out

    def _chunk_count(self, chunk: str) -> int:
        text = unmark(chunk)
        if not text.isascii():
            return len(self._other_ids(text))
        pieces = ASCII_SPLIT.findall(text)
        try:
            return sum(map(self._lengths.__getitem__, pieces))
        except KeyError:
            for piece in pieces:
                if piece not in self._lengths:
                    self._lengths[piece] = len(self._piece_ids(piece, ascii_text=True))
            return sum(map(self._lengths.__getitem__, pieces))

    def _learn(self, cut: list[str]) -> int:
        if len(self._later) > CACHE_CHUNKS:
            self._first.clear()
            self._later.clear()
            self._lengths.clear()
            self._byte_level_ids.clear()
        total = self._first.get(cut[0])
        if total is None:
            total = self._first[cut[0]] = self._chunk_count(cut[0])
        later = self._later
        for chunk in cut[1:]:
            n = later.get(chunk)
            if n is None:
                n = later[chunk] = self._chunk_count(" " + chunk)
            total += n
        return total

    def count(self, texts: list[str]) -> list[int]:
        out = [0] * len(texts)
        slow: list[int] = []
        first, later, search = self._first, self._later.__getitem__, self._slow.search
        for i, text in enumerate(texts):
            if search(text):
                slow.append(i)
                continue
            # digits as zeros (bytes.translate is several times faster than str.translate)
            cut = chunks(text.encode().translate(_ZERO).decode())
            try:
                out[i] = first[cut[0]] + sum(map(later, cut[1:]))
            except KeyError:
                out[i] = self._learn(cut)
        if slow:
            for i, n in zip(slow, self.reference.count([texts[i] for i in slow]), strict=True):
                out[i] = n
        return out

    def encode(self, texts: list[str]) -> list[list[int]]:
        out: list[list[int]] = []
        for text in texts:
            if self._slow.search(text):
                out += self.reference.encode([text])
                continue
            cut = chunks(text)
            ids = self._chunk_ids(cut[0])
            for chunk in cut[1:]:
                ids += self._chunk_ids(" " + chunk)
            out.append(ids)
        return out


def make_encoder(tokenizer: str = "qwen2.5") -> tuple[str, Encoder]:
    """The resource name (``qwen2.5``, or the directory's name) and the fastest exact encoder.

    ``qwen2.5`` is built with ``tokenizers`` alone (:func:`probes.tokens.tokenizer.qwen25_backend`),
    without importing transformers.
    """
    from probes.tokens.tokenizer import QWEN25, load_tokenizer, qwen25_backend

    backend: Tokenizer | None
    if tokenizer == QWEN25:
        name, backend = QWEN25, qwen25_backend()
    else:
        loaded = load_tokenizer(tokenizer)
        name = Path(tokenizer).resolve().name
        backend = getattr(loaded, "backend_tokenizer", None)
        if backend is None:
            return name, TransformersEncoder(loaded)
    if ByteLevelBpeEncoder.supports(backend):
        return name, ByteLevelBpeEncoder(backend)
    return name, ReferenceEncoder(backend)
