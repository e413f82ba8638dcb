"""Token-counting throughput: Hugging Face one string at a time and batched, bpe-qwen, receipts.

Builds a JSONL corpus with fields ``problem`` and ``solution`` and counts it with every method in
one run. ``--corpus math`` (the default): >= 50 MB from the shipped AIME24 and MATH500 items, each
copy with its digits permuted by a seeded generator (the same few hundred texts over and over,
which flatters the per-chunk cache); ``--corpus fresh``: text that does not repeat, built from the
installed packages by ``benchmarks/fresh_text.py``. The methods:

- transformers, one string at a time: ``tokenizer(text, add_special_tokens=False,
  split_special_tokens=True)``, the reference definition of a count;
- transformers, batched: the same call on lists of ``--chunk`` strings;
- tokenizers, one string at a time and batched (``encode``, ``encode_batch``,
  ``encode_batch_fast``);
- bpe-qwen, batched: ``QwenTokenizer.encode_batch_parallel`` over every core;
- ``receipts tokens count FILE --field problem --field solution --json``, as a child process, end
  to end (interpreter start, imports, tokenizer load, reading and parsing the JSONL, statistics),
  and, with ``--baseline DIR``, the same command from another checkout of receipts in turn;
- the same command on a file of one record: its start-up;
- the receipts library in this process, whose per-record counts are compared one by one.

Throughput is MB/s of field text (UTF-8 bytes of every ``problem`` and ``solution``). Every
method's count of every string is compared with the reference. Load times are not timed, except in
the receipts command, which pays for everything.

    .venv/bin/python benchmarks/token_count.py            # 50 MB of math
    .venv/bin/python benchmarks/token_count.py --corpus fresh --mb 20 --baseline /tmp/old --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH = ROOT / "probes" / "data" / "bench"
FIELDS = ("problem", "solution")


def build_corpus(path: Path, megabytes: float, seed: int) -> list[str]:
    """Write the JSONL file; return its field texts in file order (problem, solution, ...)."""
    items = []
    for name in ("aime24.jsonl", "math500.jsonl"):
        for line in (BENCH / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            items.append((row["problem"], row["solution"]))
    rng = random.Random(seed)
    texts: list[str] = []
    size = 0
    with path.open("w", encoding="utf-8") as out:
        copy = 0
        while size < megabytes * 1e6:
            digits = list("0123456789")
            if copy:
                rng.shuffle(digits)
            table = str.maketrans("0123456789", "".join(digits))
            for problem, solution in items:
                pair = (problem.translate(table), solution.translate(table))
                out.write(json.dumps(dict(zip(FIELDS, pair, strict=True)), ensure_ascii=False))
                out.write("\n")
                texts += pair
                size += sum(len(t.encode("utf-8")) for t in pair)
            copy += 1
    return texts


def chunks(texts: list[str], size: int) -> list[list[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def timed(run: Callable[[], list[int]]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    counts = run()
    return time.perf_counter() - start, np.asarray(counts, dtype=np.int64)


def receipts_command(corpus: Path, tree: Path = ROOT) -> tuple[float, dict[str, Any]]:
    """Wall seconds of the command as a child process, and its JSON; ``tree``: the checkout of
    receipts to run it from (``python -m`` puts it first on the import path)."""
    options = [arg for f in FIELDS for arg in ("--field", f)]
    command = [sys.executable, "-m", "receipts", "tokens", "count", str(corpus), *options, "--json"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=tree, check=True)
    return time.perf_counter() - start, json.loads(done.stdout)


def same_stats(result: dict[str, Any], reference: np.ndarray) -> bool:
    """The command's totals, max, median and p95 equal those of the reference counts."""
    fields = result["fields"]
    return all(
        fields[f]["total"] == int(c.sum())
        and fields[f]["max"] == int(c.max())
        and fields[f]["median"] == float(np.median(c))
        and fields[f]["p95"] == float(np.percentile(c, 95))
        for f, c in ((f, reference[i :: len(FIELDS)]) for i, f in enumerate(FIELDS))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        choices=("math", "fresh"),
        default="math",
        help="repeated math items (default) or text that does not repeat",
    )
    parser.add_argument("--mb", type=float, default=50.0, help="corpus size in MB (default 50)")
    parser.add_argument("--chunk", type=int, default=1000, help="strings per batched call")
    parser.add_argument("--repeat", type=int, default=3, help="runs of bpe-qwen and receipts")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--out", type=Path, help="keep the corpus here (default: temporary)")
    parser.add_argument("--baseline", type=Path, help="another checkout: its command, in turn")
    parser.add_argument("--json", action="store_true", help="also print one JSON result line")
    args = parser.parse_args()

    from bpe_qwen import bpe_qwen

    from probes.tokens.count import count_tokens
    from probes.tokens.tokenizer import _qwen_files, load_tokenizer, qwen25_backend

    workdir = Path(tempfile.mkdtemp(prefix="token-bench-")) if args.out is None else args.out
    workdir.mkdir(parents=True, exist_ok=True)
    corpus = workdir / f"{args.corpus}_corpus.jsonl"
    if args.corpus == "fresh":
        sys.path.insert(0, str(Path(__file__).parent))
        from fresh_text import build

        texts = build(corpus, args.mb, args.seed)
    else:
        texts = build_corpus(corpus, args.mb, args.seed)
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    cores = len(os.sched_getaffinity(0))
    print(f"corpus: {corpus} ({len(texts):,} strings, {megabytes:.1f} MB of field text; "
          f"{corpus.stat().st_size / 1e6:.1f} MB file); {cores} cores; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip

    hf = load_tokenizer("qwen2.5")
    backend = qwen25_backend()
    backend.encode_special_tokens = True
    bpe = bpe_qwen.QwenTokenizer(str(_qwen_files()))
    batches = chunks(texts, args.chunk)

    def hf_call(batch: list[str]) -> list[int]:
        out = hf(batch, add_special_tokens=False, split_special_tokens=True)["input_ids"]
        return [len(ids) for ids in out]

    def bpe_call() -> list[int]:
        return [
            len(ids) for b in batches for ids in bpe.encode_batch_parallel(b, num_workers=cores)
        ]

    slow: dict[str, Callable[[], list[int]]] = {
        "transformers, one string at a time": lambda: [hf_call([t])[0] for t in texts],
        "transformers, batched": lambda: [n for b in batches for n in hf_call(b)],
        "tokenizers, one string at a time": lambda: [
            len(backend.encode(t, add_special_tokens=False)) for t in texts
        ],
        "tokenizers, batched (encode_batch)": lambda: [
            len(e) for b in batches for e in backend.encode_batch(b, add_special_tokens=False)
        ],
        "tokenizers, batched (encode_batch_fast)": lambda: [
            len(e) for b in batches for e in backend.encode_batch_fast(b, add_special_tokens=False)
        ],
    }
    rows: list[dict[str, Any]] = []
    reference: np.ndarray | None = None
    for name, run in slow.items():
        seconds, counts = timed(run)
        reference = counts if reference is None else reference
        rows.append(row(name, [seconds], megabytes, counts, reference))
        print(f"  {rows[-1]}", flush=True)
    assert reference is not None

    # bpe-qwen and the command in turn, so that both see the same load
    bpe_s, end_s, phase_s, base_s, bpe_counts = [], [], [], [], reference
    exact = base_exact = True
    for _ in range(args.repeat):
        seconds, bpe_counts = timed(bpe_call)
        bpe_s.append(seconds)
        seconds, result = receipts_command(corpus)
        end_s.append(seconds)
        phase_s.append(float(result["seconds"]))
        exact = exact and same_stats(result, reference)
        if args.baseline:
            seconds, result = receipts_command(corpus, args.baseline)
            base_s.append(seconds)
            base_exact = base_exact and same_stats(result, reference)
    rows.append(row(f"bpe-qwen, batched (encode_batch_parallel, {cores} workers)", bpe_s,
                    megabytes, bpe_counts, reference))  # fmt: skip
    command_rows = {  # name: (seconds of each run, every run's statistics equal the reference's)
        "receipts tokens count, end to end (child process)": (end_s, exact),
        "receipts tokens count, counting phase (as it reports)": (phase_s, exact),
    }
    if args.baseline:
        command_rows[f"receipts tokens count from {args.baseline}, end to end"] = (
            base_s, base_exact)  # fmt: skip
    stats = "totals, max, median and p95 of each field"
    for name, (spent, equal) in command_rows.items():
        found = {"tokens": int(reference.sum()) if equal else -1, "exact": stats if equal else "NO"}
        rows.append(row(name, spent, megabytes, reference, reference) | found)
    for r in rows[-len(command_rows) - 1 :]:
        print(f"  {r}", flush=True)
    startup = start_up(workdir, args.repeat)
    print(f"  start-up (the command on one record, median of {args.repeat}): {startup:.2f} s")

    start = time.perf_counter()
    (file,) = count_tokens([corpus], list(FIELDS)).files
    seconds = time.perf_counter() - start
    mine = np.empty_like(reference)
    for i, f in enumerate(FIELDS):
        mine[i :: len(FIELDS)] = file.counts[f]
    name = "receipts library in this process (tokenizer load included)"
    rows.append(row(name, [seconds], megabytes, mine, reference))
    print(f"  {rows[-1]}", flush=True)

    ratios = {
        "end to end": round(float(np.median(np.array(bpe_s) / np.array(end_s))), 2),
        "counting phase": round(float(np.median(np.array(bpe_s) / np.array(phase_s))), 2),
    }
    if args.baseline:  # > 1: this checkout's command is faster than the baseline's
        base_ratio = np.median(np.array(base_s) / np.array(end_s))
        ratios["baseline end to end"] = round(float(base_ratio), 2)
    wrong = bpe_differs(bpe, backend)
    print_table(rows)
    for k, v in ratios.items():
        over = "baseline" if k.startswith("baseline") else "bpe-qwen"
        print(f"receipts / {over} throughput, {k}: {v:.2f}x (median of {args.repeat} paired runs)")
    print(f"receipts tokens count start-up (one record): {startup:.2f} s")
    print(f"bpe-qwen differs from the reference on {wrong} of {len(TRICKY)} tricky strings; "
          f"load average at the end {os.getloadavg()[0]:.2f}")  # fmt: skip
    if args.json:
        print(json.dumps({
            "machine": {"cores": cores, "platform": platform.platform(),
                        "python": platform.python_version()},
            "megabytes": round(megabytes, 2), "strings": len(texts), "rows": rows,
            "receipts_over_bpe_qwen": ratios, "bpe_qwen_wrong_on_tricky": wrong,
            "receipts_start_up_s": round(startup, 2),
        }))  # fmt: skip


def start_up(workdir: Path, repeat: int) -> float:
    """Median wall seconds of the command on a file of one short record."""
    one = workdir / "one_record.jsonl"
    one.write_text(json.dumps(dict.fromkeys(FIELDS, "What is 1 + 1?")) + "\n", encoding="utf-8")
    return float(np.median([receipts_command(one)[0] for _ in range(repeat)]))


def row(
    name: str, seconds: list[float], megabytes: float, counts: np.ndarray, reference: np.ndarray
) -> dict[str, Any]:
    """Median seconds (and the range over repeats), MB/s, tokens, equality with the reference."""
    wrong = int((counts != reference).sum())
    median = float(np.median(seconds))
    return {
        "method": name,
        "seconds": round(median, 2),
        "range_s": [round(min(seconds), 2), round(max(seconds), 2)],
        "mb_per_s": round(megabytes / median, 2),
        "tokens": int(counts.sum()),
        "exact": "every string" if wrong == 0 else f"NO: {wrong} strings differ",
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\n| method | seconds (median; range) | MB/s | tokens | equal to the reference |")
    print("| --- | ---: | ---: | ---: | --- |")
    for r in rows:
        low, high = r["range_s"]
        spread = f" ({low}-{high})" if low != high else ""
        print(f"| {r['method']} | {r['seconds']}{spread} | {r['mb_per_s']} | {r['tokens']:,} | "
              f"{r['exact']} |")  # fmt: skip


# Where bpe-qwen 0.1.5 and the reference part ways (whitespace runs, 'S, multi-byte characters,
# un-normalised text); receipts gives the reference's ids on all of them (tests/test_tokens.py).
TRICKY = ["\t ", " \t\t", "  \n\n  x  \t", "  \u0663", "a \u216b", "\x0b'S\u3002", "a \x85",
          " \u2028", "<|im_end|> hi <think>x</think>"]  # fmt: skip


def bpe_differs(bpe: object, backend: object) -> int:
    """How many :data:`TRICKY` strings bpe-qwen's batched call encodes unlike the reference."""
    got = bpe.encode_batch_parallel(TRICKY, num_workers=1)  # type: ignore[attr-defined]
    want = backend.encode_batch_fast(TRICKY, add_special_tokens=False)  # type: ignore[attr-defined]
    return sum(g != w.ids for g, w in zip(got, want, strict=True))


if __name__ == "__main__":
    main()
