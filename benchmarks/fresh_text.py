"""Text that does not repeat, for timing token counting: built offline from installed packages.

Models and datasets cannot be downloaded where the benchmarks run, and a corpus made of a few
hundred items copied over and over flatters any per-chunk cache. So this builds a JSONL file of
records with two fields, ``problem`` and ``solution`` (the names the math corpus uses), from the
text that the Python packages in this environment ship, mixed by a seeded generator:

- *prose*: paragraphs of the docstrings of :data:`PACKAGES` (English technical writing, with its
  doctests, parameter lists and formulas), each used at most once, in a seeded order;
- *generated prose*: sentences from a word-level Markov chain (order 2) trained on those
  paragraphs, with numbers of every shape (counts, decimals, percentages, years, money) put in;
- *math*: LaTeX made up from a small grammar (fractions, powers, indices, roots, sums, Greek
  letters, numbers), inline and displayed;
- *code*: runs of 3 to 30 lines of the packages' own source (not docstrings), each used once;
- *the shipped benchmark items* (AIME24 and MATH500, ``probes/data/bench``), each once: about 2 %.

The same seed and the same installed packages give the same file, byte for byte (the script
prints its SHA-256). No record is repeated; the script prints how many of its lines are unique.

    .venv/bin/python benchmarks/fresh_text.py --mb 20 --out /tmp/fresh.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import random
import re
from collections import defaultdict
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "probes" / "data" / "bench"
PACKAGES = ("sympy", "scipy", "statsmodels", "pandas", "numpy", "matplotlib", "torch")
"""Where the text comes from (their versions are part of what makes the file)."""
FIELDS = ("problem", "solution")
SEED = 20261125

_DOCSTRING = re.compile(r'"""(.*?)"""', re.DOTALL)
_GREEK = ("alpha", "beta", "gamma", "delta", "epsilon", "theta", "lambda", "mu", "pi", "sigma",
          "phi", "omega", "xi", "rho", "tau")  # fmt: skip


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def sources(packages: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    """Unique docstring paragraphs, and the code of each source file (docstrings taken out)."""
    seen: set[str] = set()
    paragraphs: list[str] = []
    code: list[list[str]] = []
    for name in packages:
        for path in sorted(package_dir(name).rglob("*.py")):
            try:
                source = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for doc in _DOCSTRING.findall(source):
                for para in re.split(r"\n\s*\n", doc):
                    para = "\n".join(line.strip() for line in para.strip().splitlines())
                    if len(para) >= 40 and para not in seen:
                        seen.add(para)
                        paragraphs.append(para)
            lines = [ln for ln in _DOCSTRING.sub('""', source).splitlines() if ln.strip()]
            if len(lines) >= 3:
                code.append(lines)
    return paragraphs, code


class Markov:
    """Order-2 word chain: each pair of words, and the words that follow it in the text."""

    def __init__(self, paragraphs: list[str]) -> None:
        self.next: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.starts: list[tuple[str, str]] = []
        for para in paragraphs:
            words = para.split()
            if len(words) < 3:
                continue
            self.starts.append((words[0], words[1]))
            for a, b, c in zip(words, words[1:], words[2:], strict=False):
                self.next[a, b].append(c)

    def sentence(self, rng: random.Random, most: int) -> str:
        a, b = rng.choice(self.starts)
        words = [a, b]
        while len(words) < most:
            follow = self.next.get((a, b))
            if not follow:
                break
            c = rng.choice(follow)
            words.append(c)
            a, b = b, c
            if c.endswith(".") and len(words) > 6:
                break
        return " ".join(words)


def number(rng: random.Random) -> str:
    kind = rng.randrange(7)
    if kind == 0:
        return str(rng.randint(0, 100))
    if kind == 1:
        return f"{rng.randint(0, 10 ** rng.randint(2, 7)):,}"
    if kind == 2:
        return f"{rng.uniform(-1000, 1000):.{rng.randint(1, 5)}f}"
    if kind == 3:
        return f"{rng.uniform(0, 100):.1f}%"
    if kind == 4:
        return str(rng.randint(1700, 2030))
    if kind == 5:
        return f"${rng.uniform(0, 10 ** rng.randint(1, 6)):,.2f}"
    return f"{rng.uniform(1, 10):.3g}e{rng.randint(-12, 12)}"


def math(rng: random.Random, depth: int = 0) -> str:
    """A made-up LaTeX expression."""
    index = f"{rng.choice('xyzabn')}_{{{rng.randint(0, 20)}}}"
    atoms = [rng.choice("abcdefghknmpqrstuvwxyzABCNPQ"), str(rng.randint(0, 999)),
             "\\" + rng.choice(_GREEK), index]  # fmt: skip
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(atoms)
    a, b = math(rng, depth + 1), math(rng, depth + 1)
    return rng.choice([
        f"{a} + {b}", f"{a} - {b}", f"{a} \\cdot {b}", f"\\frac{{{a}}}{{{b}}}", f"{a}^{{{b}}}",
        f"\\sqrt{{{a}}}", f"({a})^2", f"\\sum_{{i=1}}^{{{b}}} {a}", f"{a} = {b}", f"|{a}|",
        f"\\log {a}", f"\\sin({a})", f"{a} \\le {b}", f"\\binom{{{a}}}{{{b}}}",
    ])  # fmt: skip


def blocks(
    rng: random.Random, paragraphs: list[str], code: list[list[str]], chain: Markov
) -> Iterator[str]:
    """An endless stream of text blocks in the proportions the module docstring gives."""
    paras = iter(rng.sample(paragraphs, len(paragraphs)))
    files = rng.sample(code, len(code))
    while True:
        kind = rng.random()
        if kind < 0.45:
            block = next(paras, None)
            if block is not None:
                yield block
                continue
        if kind < 0.72:
            words = chain.sentence(rng, rng.randint(8, 60)).split()
            for _ in range(rng.randint(0, 3)):
                words.insert(rng.randrange(len(words) + 1), number(rng))
            yield " ".join(words)
        elif kind < 0.87:
            expr = math(rng)
            yield f"$${expr}$$" if rng.random() < 0.3 else f"so ${expr}$ and ${math(rng)}$."
        else:
            lines = files[rng.randrange(len(files))]
            start = rng.randrange(len(lines))
            take = lines[start : start + rng.randint(3, 30)]
            del lines[start : start + len(take)]  # each line of code is used once
            if not lines:
                files.remove(lines)
            yield "```python\n" + "\n".join(take) + "\n```"


def build(path: Path, megabytes: float, seed: int = SEED) -> list[str]:
    """Write the corpus to ``path``; return its field texts in file order (problem, solution,
    problem, ...)."""
    rng = random.Random(seed)
    paragraphs, code = sources(PACKAGES)
    chain = Markov(paragraphs)
    stream = blocks(rng, paragraphs, code, chain)
    items = []
    for name in ("aime24.jsonl", "math500.jsonl"):
        for line in (BENCH / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            items.append((row["problem"], row["solution"]))
    texts: list[str] = []
    size = 0
    with path.open("w", encoding="utf-8") as out:
        while size < megabytes * 1e6:
            if items and rng.random() < 0.12:  # the shipped items, each once, early on
                pair = items.pop(rng.randrange(len(items)))
            else:
                pair = (field(rng, stream, rng.randint(100, 1500)),
                        field(rng, stream, int(rng.lognormvariate(7.8, 0.9))))  # fmt: skip
            out.write(json.dumps(dict(zip(FIELDS, pair, strict=True)), ensure_ascii=False) + "\n")
            texts += pair
            size += sum(len(t.encode("utf-8")) for t in pair)
    return texts


def field(rng: random.Random, stream: Iterator[str], length: int) -> str:
    parts: list[str] = []
    total = 0
    while total < length:
        parts.append(next(stream))
        total += len(parts[-1]) + 2
    return ("\n\n" if rng.random() < 0.7 else "\n").join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0, help="MB of field text (default 20)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    args = parser.parse_args()
    texts = build(args.out, args.mb, args.seed)
    lines = args.out.read_bytes().splitlines()
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    print(f"{args.out}: {len(lines):,} records, {len(set(lines)):,} unique; "
          f"{megabytes:.1f} MB of field text; sha256 {digest}")  # fmt: skip
    print("from " + ", ".join(f"{p} {version(p)}" for p in PACKAGES))


if __name__ == "__main__":
    main()
