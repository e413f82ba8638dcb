"""Escaping text from input files (claim quotes, run names, citations) for each output format.

Control characters (terminal escape sequences, bidi overrides) are dropped from every document
by :func:`ledger.printable.printable` (:func:`receipts.appendix.render.render_text`). HTML is
escaped by jinja2's autoescape. LaTeX and Markdown have no such thing, so their template
environments pass every ``{{ value }}`` through :func:`escape_latex` or :func:`escape_markdown`
(jinja2's ``finalize``); only a :class:`Raw` string, made by a filter that escaped its own input,
goes through as it is.

LaTeX is compiled by pdflatex, which knows only the characters its font encodings cover. Chinese,
Japanese kana and full-width forms go into ``\\receiptscjk{...}``, which the preamble typesets
with the CJK package and its Arphic font where they are installed, and otherwise replaces with a
note; the few symbols the encodings lack get math equivalents; any other character becomes its
code point in brackets, so the build never breaks on input text.
"""

from __future__ import annotations

import re
import unicodedata

from ledger.printable import printable


class Raw(str):
    """Text already in the target format (escaped by the filter that made it)."""

    __slots__ = ()


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "%": r"\%",
    "&": r"\&",
    "_": r"\_",
    "$": r"\$",
    "#": r"\#",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "`": r"\textasciigrave{}",
    "/": r"/\allowbreak{}",
    "\n": " ",
    "\r": " ",
    "\t": " ",
    "\u00a0": "~",
}
"""ASCII that LaTeX reads as markup, and ``/`` (a place to break long ids and paths)."""

_TEX_SYMBOLS = {
    "\u2248": r"\ensuremath{\approx}",
    "\u2264": r"\ensuremath{\leq}",
    "\u2265": r"\ensuremath{\geq}",
    "\u2260": r"\ensuremath{\neq}",
    "\u2212": r"\ensuremath{-}",
    "\u2192": r"\ensuremath{\rightarrow}",
    "\u2190": r"\ensuremath{\leftarrow}",
    "\u2194": r"\ensuremath{\leftrightarrow}",
    "\u221e": r"\ensuremath{\infty}",
    "\u2208": r"\ensuremath{\in}",
    "\u00b1": r"\ensuremath{\pm}",
    "\u00d7": r"\texttimes{}",
    "\u2026": r"\dots{}",
    "\u2032": r"\ensuremath{'}",
    "\u2009": r"\,",
    "\u200b": r"\allowbreak{}",
}
"""Characters the T1 and TS1 encodings lack, written as LaTeX commands."""

_TEX_TEXT = set(
    "\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e\u2020\u2021\u2022\u2030\u2039\u203a"
    "\u20ac\u2122\u2116"
)
"""Punctuation outside Latin-1 that LaTeX's UTF-8 input maps (dashes, quotes, daggers, euro)."""

_CJK_CHARS = (
    "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60\uffe0-\uffe6"
)
_CJK = re.compile(f"[{_CJK_CHARS}]+(?:[A-Za-z0-9 ,.]+[{_CJK_CHARS}]+)*")
"""Runs of Chinese characters, Japanese kana, CJK punctuation and full-width forms, with the plain
letters, digits and spaces between them (one CJK environment, which typesets those as usual)."""


def _tex_char(char: str) -> str:
    if char in _TEX_SPECIAL:
        return _TEX_SPECIAL[char]
    code = ord(char)
    if code < 0x80:
        return char if char.isprintable() else " "
    if char in _TEX_SYMBOLS:
        return _TEX_SYMBOLS[char]
    if (0xA0 <= code <= 0x17F and code not in (0xAD,)) or char in _TEX_TEXT:
        return char  # Latin-1 and Latin Extended-A: T1 and TS1 cover them
    greek = _greek(char)
    if greek:
        return greek
    folded = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    if folded and folded.isprintable():
        return "".join(_tex_char(c) for c in folded)
    if unicodedata.category(char).startswith(("M", "C")):
        return ""  # combining marks and controls
    return rf"\textup{{[U+{code:04X}]}}"


_GREEK_CAPITALS = {
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Pi",
    "Sigma",
    "Upsilon",
    "Phi",
    "Psi",
    "Omega",
}


def _greek(char: str) -> str | None:
    """A Greek letter as a math symbol (``\\alpha``, ``\\Omega``); capitals like Alpha as Latin."""
    name = unicodedata.name(char, "")
    found = re.fullmatch(r"GREEK (SMALL|CAPITAL) LETTER (FINAL SIGMA|[A-Z]+)", name)
    if not found:
        return None
    letter = found.group(2).capitalize()
    if letter == "Final sigma":
        return r"\ensuremath{\varsigma}"
    if letter == "Lamda":
        letter = "Lambda"
    if found.group(1) == "SMALL":
        return "o" if letter == "Omicron" else rf"\ensuremath{{\{letter.lower()}}}"
    if letter in _GREEK_CAPITALS:
        return rf"\ensuremath{{\{letter}}}"
    folded = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    return folded or {"Eta": "H", "Chi": "X", "Rho": "P"}.get(letter, letter[0])


_OPENS = frozenset(" \t\n([{<\u2014\u2013/")
"""Characters after which a straight quote opens rather than closes."""
_MINUS = re.compile(r"(?:(?<=^)|(?<=[\s(\[{,;:=/]))-(?=\.?\d)")
"""A hyphen-minus that is a minus sign: at a word's start, before a number (``-3.3``)."""


def escape_latex(text: str, *, prose: bool = True) -> str:
    """``text`` as LaTeX that typesets it literally, CJK runs wrapped in ``\\receiptscjk``.

    As ``prose`` (the default), straight quotes become typographic ones (``"a"`` reads “a”,
    ``it's`` reads it’s) and a hyphen before a number becomes a true minus sign (``-3.3`` reads
    −3.3); otherwise (ids, commands, code) they stay as typed, in the typewriter forms.
    """
    out: list[str] = []
    last = 0
    for match in _CJK.finditer(text):
        out.append(_escape_plain(text[last : match.start()], prose))
        out.append(rf"\receiptscjk{{{match.group()}}}")
        last = match.end()
    out.append(_escape_plain(text[last:], prose))
    return "".join(out)


def _quotes_and_minus(text: str) -> str:
    """Straight quotes as typographic ones, minus signs as math minus (placeholders first)."""
    text = _MINUS.sub("\u2212", text)
    out = []
    for i, char in enumerate(text):
        if char in "\"'":
            before = text[i - 1] if i else " "
            opening = before in _OPENS or (char == '"' and before in "\u2018'")
            if char == '"':
                out.append("\u201c" if opening else "\u201d")
            else:
                out.append("\u2018" if opening else "\u2019")
        else:
            out.append(char)
    return "".join(out)


def _escape_plain(text: str, prose: bool = True) -> str:
    if prose:
        text = _quotes_and_minus(text)
    escaped = "".join(
        {"'": r"\textquotesingle{}", '"': r"\textquotedbl{}"}.get(c) or _tex_char(c) for c in text
    )
    # Ligatures: -- and --- would become dashes, !` and ?` inverted marks.
    escaped = re.sub(r"-(?=-)", "-{}", escaped)
    escaped = re.sub(r"([!?])(?=\\textasciigrave)", r"\1{}", escaped)
    return escaped


_MD_SPECIAL = frozenset("\\`*_{}[]<>|~^&#")
"""Characters CommonMark and GitHub read as markup anywhere in a line."""
_MD_DOLLAR = re.compile(r"\$(?!\d)")
"""A ``$`` that could close GitHub's inline math: one not followed by a digit. A ``$`` before a
digit (``$13.80``) cannot close math (GitHub and pandoc rule), and with every other ``$``
escaped none can, so amounts stay bare and nothing turns into math."""
_MD_LINE_START = re.compile(r"^(\s*)([-+=](?=\s|$|[-=])|\d+[.)](?=\s|$))")
"""A list marker or a setext underline at the start of the text."""


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that renders literally, on one line (fit for a table cell), without
    control characters."""
    flat = printable(" ".join(text.split("\n")).replace("\r", " "))
    escaped = _MD_DOLLAR.sub(r"\\$", "".join("\\" + c if c in _MD_SPECIAL else c for c in flat))
    return _MD_LINE_START.sub(
        lambda m: m.group(1) + (m.group(2)[:-1] + "\\" + m.group(2)[-1]), escaped, count=1
    )


def escape_matplotlib(text: str) -> str:
    """``text`` for a matplotlib label: ``$`` would start mathtext; no control characters
    (they are not allowed in the SVG's XML)."""
    return printable(text).replace("\\", "\\\\").replace("$", r"\$")
