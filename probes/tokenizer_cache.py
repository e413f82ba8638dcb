"""A verified on-disk cache of built BPE tokenizers, so that Qwen2.5's loads in tens of ms, not 1 s.

Building Qwen2.5's tokenizer from its source takes about a second: Python parses the 11 MB
``tokenizer.json`` to drop the tokens Qwen2.5 does not have and writes it out again, and
``tokenizers`` parses the result once more. Most of that is the BPE model's 151,643 tokens and
151,387 merges. So the first build splits the tokenizer into an *entry*:

- ``vocab.json`` and ``merges.txt``: the model's vocabulary and merges, which ``tokenizers``
  reads fastest (``BPE.from_file``, about 0.3 s);
- ``merges.bin``: the same model as a :class:`~probes.bpe.MergeTable` (Python, milliseconds);
- ``pipeline.json``: everything else (normaliser, pre-tokeniser, post-processor, decoder, added
  tokens, the model's options);
- ``manifest.json``, written last: the entry's key and the SHA-256 of every other file.

It keeps the entry only if the tokenizer assembled from the files serialises exactly as the one it
was split from (the merge table is checked against the model when it is made). The key is the
SHA-256 of the sources' content, the versions the caller names (the source package's), those of
``tokenizers`` and receipts, and :data:`FORMAT`; the entry's directory is named after it. A later
load hashes the sources again (about 10 ms) and uses the entry only if its manifest has the same
key and every file still has its digest: a missing, partial, corrupt or foreign entry is rebuilt
from the source. An entry is written in a temporary directory and renamed into place, so no
reader sees half of one. If nothing can be written, the tokenizer is built from the source every
time. Nothing is ever downloaded.

A load returns :class:`TokenizerParts`: what the counting fast path needs at once (the pipeline
and the merge table), and the full ``tokenizers.Tokenizer`` built only when asked for.

The cache lives in ``$RECEIPTS_CACHE_DIR``, else the user cache directory (platformdirs'
``user_cache_dir("receipts")``), under ``tokenizers/``; deleting it is always safe. Each load from
an entry marks it used (its manifest's modification time). Other versions of receipts, of
``tokenizers`` or of the source package leave entries of their own (about 7.5 MB each for
Qwen2.5): whenever an entry is written, the other entries of its name that no load used for
:data:`UNUSED_FOR_S` go (:func:`prune`), and so do staging directories that a killed writer left.
(An installation that can only read a shared cache cannot mark its entry used: after 30 days a
writing one may remove it, and the reader builds its tokenizer from the source, as it would
without a cache.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from probes.bpe import MergeTable

if TYPE_CHECKING:
    from tokenizers import Tokenizer

FORMAT = 2
"""Version of the entry layout and of how it is assembled; a change makes every old entry unused."""
CACHE_ENV = "RECEIPTS_CACHE_DIR"
VOCAB, MERGES, TABLE, PIPELINE = "vocab.json", "merges.txt", "merges.bin", "pipeline.json"
MANIFEST = "manifest.json"
UNUSED_FOR_S = 30 * 24 * 3600.0
"""An entry no load used for this long is removed when another entry of its name is written."""
ABANDONED_FOR_S = 24 * 3600.0
"""A staging directory (an entry being written) this old was left by a writer that died."""
_BPE_OPTIONS = ("dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
                "fuse_unk", "byte_fallback", "ignore_merges")  # fmt: skip


@dataclass(frozen=True)
class TokenizerParts:
    """A tokenizer as the counting fast path uses it, without building its model until asked."""

    pipeline: Tokenizer
    """Its normaliser, pre-tokeniser, post-processor and decoder, and a model of the same kind
    and options; the model's vocabulary may be empty and the added tokens absent (see
    :attr:`added`). Never encode with it."""
    added: dict[str, bool]
    """Each added token's text, and whether it is special."""
    merges: MergeTable | None
    """The BPE model in Python, where the model is plain byte-level BPE."""
    load: Callable[[], Tokenizer]
    """The full tokenizer (building it may take 0.3 s: keep the result)."""

    @classmethod
    def of(cls, tokenizer: Tokenizer) -> TokenizerParts:
        """The parts of a tokenizer already built (no merge table)."""
        added = {t.content: t.special for t in tokenizer.get_added_tokens_decoder().values()}
        return cls(tokenizer, added, None, lambda: tokenizer)


def cache_root() -> Path:
    """Where entries live: ``$RECEIPTS_CACHE_DIR/tokenizers``, else the user cache directory's."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured) / "tokenizers"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("receipts", appauthor=False)) / "tokenizers"


def entry_key(name: str, sources: Sequence[Path], versions: Sequence[str] = ()) -> str:
    """SHA-256 (hex) of everything an entry depends on: the sources' content, the versions.

    Raises:
        OSError: a source cannot be read.
    """
    import tokenizers

    key = hashlib.sha256()
    for part in (f"format {FORMAT}", name, f"tokenizers {tokenizers.__version__}",
                 f"receipts {_receipts_version()}", *versions):  # fmt: skip
        key.update(part.encode() + b"\0")
    for source in sources:
        with source.open("rb") as f:
            key.update(hashlib.file_digest(f, "sha256").digest())
    return key.hexdigest()


def load_cached(
    name: str,
    sources: Sequence[Path],
    build: Callable[[], str],
    *,
    versions: Sequence[str] = (),
    root: Path | None = None,
) -> TokenizerParts:
    """The tokenizer whose JSON ``build()`` returns, from the cache when a valid entry is there.

    Args:
        name: names the entry's directory (``qwen2.5``).
        sources: the files ``build`` reads; their content is part of the key.
        build: the tokenizer's JSON, computed from ``sources`` (the slow way, used on a miss).
        versions: anything else the result depends on (the source package's version).
        root: the cache directory (default :func:`cache_root`).

    The full tokenizer is always ``Tokenizer.from_str(build())`` or one that serialises exactly as
    it does; a cache that cannot be read or written only makes the load slower.
    """
    from tokenizers import Tokenizer

    root = cache_root() if root is None else root
    key = entry_key(name, sources, versions)
    entry = root / f"{name}-{key[:32]}"
    cached = read_entry(entry, key, build)
    if cached is not None:
        return cached
    built = Tokenizer.from_str(build())
    merges = None
    # A read-only or full disk: the tokenizer is still right, only built the slow way each time.
    with contextlib.suppress(OSError):
        merges = write_entry(entry, key, built)
        prune(root, name, keep=entry.name)
    return dataclasses.replace(TokenizerParts.of(built), merges=merges)


def prune(root: Path, name: str, *, keep: str, now: float | None = None) -> list[Path]:
    """Remove the entries of ``name`` in ``root``, other than ``keep``, that no load used for
    :data:`UNUSED_FOR_S`, and the staging directories of ``name`` older than
    :data:`ABANDONED_FOR_S`; what was removed. An entry's last use is its manifest's
    modification time (its directory's where it has no manifest)."""
    now = time.time() if now is None else now
    # An entry is NAME-<32 hex digits>; a staging directory .NAME-<32 hex digits>-<mkdtemp's>
    # (or -trash<pid> and the like, from _discard).
    entry_name = re.compile(rf"(\.)?{re.escape(name)}-[0-9a-f]{{32}}(?(1)-[0-9a-z_-]+)")
    removed = []
    for path in root.iterdir() if root.is_dir() else ():
        if path.name == keep or not path.is_dir() or not entry_name.fullmatch(path.name):
            continue
        staging = path.name.startswith(".")
        try:
            used = (path if staging else _last_use(path)).stat().st_mtime
        except OSError:
            continue
        if now - used > (ABANDONED_FOR_S if staging else UNUSED_FOR_S) and _discard(path, now):
            removed.append(path)
    return removed


def _discard(path: Path, now: float) -> bool:
    """Remove an entry or staging directory, unless a load marked it used meanwhile: it is first
    renamed out of readers' way (to a staging-like name, which a later prune removes if this one
    is killed), then checked again."""
    trash = path.with_name(f".{path.name.lstrip('.')}-trash{os.getpid()}")
    try:
        path.rename(trash)
    except OSError:  # gone already, or another process is pruning it
        return False
    if not path.name.startswith("."):
        with contextlib.suppress(OSError):
            if now - _last_use(trash).stat().st_mtime <= UNUSED_FOR_S:  # used since the check
                trash.rename(path)
                return False
    shutil.rmtree(trash, ignore_errors=True)
    return True


def _last_use(entry: Path) -> Path:
    manifest = entry / MANIFEST
    return manifest if manifest.exists() else entry


def read_entry(entry: Path, key: str, build: Callable[[], str]) -> TokenizerParts | None:
    """The parts stored in ``entry`` if its manifest has ``key`` and its files their digests.

    ``pipeline.json`` and ``merges.bin`` are checked now, ``vocab.json`` and ``merges.txt`` when
    the full tokenizer is asked for; if they fail then, the tokenizer is built with ``build`` and
    the entry written again.
    """
    try:
        manifest = json.loads((entry / MANIFEST).read_bytes())
        digests = manifest["files"] if manifest["key"] == key else {}
        if not {VOCAB, MERGES, PIPELINE} <= set(digests) <= {VOCAB, MERGES, PIPELINE, TABLE}:
            return None
        contents = {name: (entry / name).read_bytes() for name in (PIPELINE, TABLE)
                    if name in digests}  # fmt: skip
        if any(_sha256(data) != digests[name] for name, data in contents.items()):
            return None
        pipeline = json.loads(contents[PIPELINE])
        merges = MergeTable.from_bytes(contents[TABLE]) if TABLE in contents else None
        shell = _pipeline_tokenizer(pipeline)
        added = {t["content"]: bool(t["special"]) for t in pipeline["added_tokens"]}
    except Exception:  # OSError, bad JSON, tokenizers' bare Exception: the entry is rebuilt
        return None
    with contextlib.suppress(OSError):  # used now (a read-only cache just cannot say so)
        os.utime(entry / MANIFEST)

    def load() -> Tokenizer:
        from tokenizers import Tokenizer

        try:
            if all(_sha256((entry / n).read_bytes()) == digests[n] for n in (VOCAB, MERGES)):
                return _assemble(entry, pipeline)
        except Exception:  # changed or removed since it was checked: built again below
            pass
        built = Tokenizer.from_str(build())
        with contextlib.suppress(OSError):
            write_entry(entry, key, built)
        return built

    return TokenizerParts(shell, added, merges, load)


def write_entry(entry: Path, key: str, tokenizer: Tokenizer) -> MergeTable | None:
    """Split ``tokenizer`` into ``entry`` if what is assembled from the split is the same tokenizer.

    Returns the entry's merge table (``None`` if the model is not plain byte-level BPE, or if the
    tokenizer could not be split: not BPE, merges that cannot be written one per line, or a
    reassembly that differs; then nothing is written).

    Raises:
        OSError: the cache directory cannot be written.
    """
    state = json.loads(tokenizer.to_str())
    model = state.get("model") or {}
    if model.get("type") != "BPE" or not isinstance(model.get("vocab"), dict):
        return None
    merges = [m.split(" ") if isinstance(m, str) else m for m in model.get("merges", [])]
    joined = "".join(a + b for a, b in merges) if all(len(m) == 2 for m in merges) else " "
    if any(c in joined for c in " \n\r"):  # not two parts, or not writable one merge a line
        return None
    pipeline = state | {"model": {k: v for k, v in model.items() if k not in ("vocab", "merges")}}
    entry.parent.mkdir(parents=True, exist_ok=True)
    files = {
        VOCAB: json.dumps(model["vocab"], ensure_ascii=False).encode(),
        MERGES: "".join(["#version: 0.2\n", *(f"{a} {b}\n" for a, b in merges)]).encode(),
        PIPELINE: json.dumps(pipeline, ensure_ascii=False).encode(),
    }
    bpe = tokenizer.model
    table = MergeTable.of_model(model, lambda piece: [t.id for t in bpe.tokenize(piece)])
    if table is not None:
        files[TABLE] = table.to_bytes()
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        try:
            same = json.loads(_assemble(staging, pipeline).to_str()) == state
        except Exception:  # ValueError or tokenizers' bare Exception: it cannot be split
            same = False
        if not same:
            return None
        digests = {name: _sha256(data) for name, data in files.items()}
        manifest = {"format": FORMAT, "key": key, "files": digests}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        if entry.exists() and not _whole(entry, key):  # damaged or stale: replace it
            shutil.rmtree(entry, ignore_errors=True)
        with contextlib.suppress(OSError):  # another process put its (equally valid) entry first
            staging.rename(entry)
        return table
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _pipeline_tokenizer(pipeline: dict[str, Any]) -> Tokenizer:
    """The pipeline's parts, parsed by tokenizers, around a model with an empty vocabulary."""
    from tokenizers import Tokenizer

    empty = pipeline["model"] | {"vocab": {}, "merges": []}
    return Tokenizer.from_str(json.dumps(pipeline | {"model": empty, "added_tokens": []}))


def _assemble(entry: Path, pipeline: dict[str, Any]) -> Tokenizer:
    """A tokenizer from an entry's ``vocab.json`` and ``merges.txt`` and its parsed pipeline."""
    from tokenizers import AddedToken, Tokenizer, models

    options = {k: v for k, v in pipeline["model"].items() if k in _BPE_OPTIONS}
    model = models.BPE.from_file(str(entry / VOCAB), str(entry / MERGES), **options)
    shell = _pipeline_tokenizer(pipeline)
    tokenizer = Tokenizer(model)
    for part in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        if getattr(shell, part) is not None:
            setattr(tokenizer, part, getattr(shell, part))
    # Added tokens take the next free ids in turn: add them in id order, then check the ids.
    added = sorted(pipeline["added_tokens"], key=lambda t: int(t["id"]))
    flags = ("single_word", "lstrip", "rstrip", "normalized", "special")
    tokenizer.add_tokens([AddedToken(t["content"], **{k: t[k] for k in flags}) for t in added])
    if sorted(tokenizer.get_added_tokens_decoder()) != [t["id"] for t in added]:
        raise ValueError(f"{entry}: added tokens do not get their ids")
    return tokenizer


def _whole(entry: Path, key: str) -> bool:
    """Whether ``entry`` has ``key`` and every file its digest (another process may just have
    written it)."""
    try:
        manifest = json.loads((entry / MANIFEST).read_bytes())
        files = manifest["files"] if manifest["key"] == key else {}
        return bool(files) and all(
            _sha256((entry / name).read_bytes()) == digest for name, digest in files.items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _receipts_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("receipts")
    except PackageNotFoundError:
        return "unknown"
