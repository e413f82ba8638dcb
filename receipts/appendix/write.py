"""Writing appendices to disk: every format rendered in memory first, then each file written to a
temporary file in its target directory and moved into place (``os.replace``), so a reader never
sees a partly written file and a failure leaves none behind.

Markdown and LaTeX read their figures from a folder beside the document (``report-figures/`` for
``report.md``); HTML carries them inside as data URIs; JSON is the appendix record itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.files import write_atomic
from receipts.appendix.errors import AppendixError, AppendixInputError
from receipts.appendix.schema import Appendix

if TYPE_CHECKING:
    from receipts.appendix.plots import FigureFile

FORMATS = ("md", "tex", "html", "json", "pdf")
"""Output formats; ``pdf`` needs the ``pdf`` extra (WeasyPrint)."""
BUNDLE = ("md", "tex", "html", "json")
"""What ``receipts audit CASE --out DIR`` writes, as ``report.<format>``."""
_SUFFIXES = {
    ".md": "md",
    ".markdown": "md",
    ".tex": "tex",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".pdf": "pdf",
}


def check_format(fmt: str | None, path: Path) -> str:
    """The format asked for, or the one the output's suffix names.

    Raises:
        AppendixInputError: an unknown format, none given for an unknown suffix, or ``pdf``
            without WeasyPrint installed.
    """
    chosen = fmt.lower() if fmt else _SUFFIXES.get(path.suffix.lower())
    if chosen is None:
        raise AppendixInputError(
            f"--format not given and {path.name!r} does not name one by its suffix "
            f"(formats: {', '.join(FORMATS)})"
        )
    if chosen not in FORMATS:
        raise AppendixInputError(f"unknown format {fmt!r} (formats: {', '.join(FORMATS)})")
    if chosen == "pdf" and find_spec("weasyprint") is None:
        raise AppendixInputError("PDF output needs WeasyPrint: pip install 'receipts[pdf]'")
    return chosen


def check_formats(fmt: str | Sequence[str] | None, path: Path) -> list[str]:
    """Every format asked for: ``--format`` given once or more, each a name or a comma-separated
    list (``md,html,tex,pdf``), in order, without repeats; none given: the one ``path``'s suffix
    names (see :func:`check_format`).

    Raises:
        AppendixInputError: an unknown or empty format, or ``pdf`` without WeasyPrint.
    """
    given = [fmt] if isinstance(fmt, str) else list(fmt or [])
    names = [name.strip() for item in given for name in item.split(",")]
    if not given:
        return [check_format(None, path)]
    if any(not name for name in names):
        raise AppendixInputError(
            f"--format {','.join(given)!r}: an empty format name (formats: {', '.join(FORMATS)})"
        )
    return list(dict.fromkeys(check_format(name, path) for name in names))


def check_output(path: Path, *, directory: bool = False) -> Path:
    """``path`` where it can be written. A file's directory must exist, and the file must not
    be a directory; a directory (``directory``) may be missing, and is created when written (with
    its missing parents), but must not be a file, nor lie under one.

    Raises:
        AppendixInputError: the directory is missing, or the path is of the wrong kind.
    """
    if directory:
        for folder in (path, *path.parents):
            if folder.exists():
                if not folder.is_dir():
                    raise AppendixInputError(
                        f"output directory {path}: {folder} is a file, not a directory"
                    )
                break
        return path
    folder = path.parent
    if not folder.is_dir():
        raise AppendixInputError(
            f"cannot write {path}: directory {folder} does not exist (create it first, or give "
            "a directory to --out to write report.<format> files into it)"
        )
    if path.is_dir():
        raise AppendixInputError(f"{path} is a directory: name a file, e.g. {path / 'report.md'}")
    return path


def make_directory(directory: Path) -> None:
    """Create ``directory`` and its missing parents.

    Raises:
        AppendixError: it cannot be created.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AppendixError(f"cannot create {directory}: {exc.strerror or exc}") from None


def figure_folder(path: Path) -> str:
    """The folder name beside ``path`` that holds its figures: ``report-figures`` for
    ``report.md`` (only letters, digits, ``.``, ``_`` and ``-``, so LaTeX can read it)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-.") or "appendix"
    return f"{stem}-figures"


def render(
    appendix: Appendix, fmt: str, path: Path, figures: Sequence[FigureFile] | None = None
) -> dict[Path, bytes]:
    """Every file one format writes for ``path`` (the document, its fragment, its figures);
    ``figures`` where they are drawn already."""
    from receipts.appendix.plots import render_figures
    from receipts.appendix.render import figure_refs, render_text

    if fmt == "json":
        return {path: (appendix.model_dump_json(indent=2) + "\n").encode()}
    if figures is None:
        figures = render_figures(appendix, pdf=fmt == "tex", png=False)
    folder = figure_folder(path)
    refs = figure_refs(figures, folder)
    files: dict[Path, bytes] = {}
    if fmt in ("md", "tex"):
        for figure in figures:
            if figure.png is not None:
                files[path.parent / folder / f"{figure.name}.png"] = figure.png
            files[path.parent / folder / f"{figure.name}.svg"] = figure.svg
            if fmt == "tex" and figure.pdf is not None:
                files[path.parent / folder / f"{figure.name}.pdf"] = figure.pdf
    if fmt == "tex":
        body = path.with_name(f"{path.stem}-body.tex")
        files[body] = render_text(appendix, "tex-body", refs, folder).encode()
    if fmt == "pdf":
        files[path] = _pdf(render_text(appendix, "html", refs, folder))
    else:
        files[path] = render_text(appendix, fmt, refs, folder).encode()  # type: ignore[arg-type]
    return files


def _pdf(html: str) -> bytes:
    try:
        from weasyprint import HTML
    except ImportError as exc:  # installed but its system libraries (Pango) are missing
        raise AppendixError(f"PDF output needs WeasyPrint and Pango: {exc}") from None
    return bytes(HTML(string=html).write_pdf())


def write_files(files: dict[Path, bytes]) -> list[Path]:
    """Write rendered files atomically (figures first, the documents that show them last)."""
    figure = {path for path in files if path.parent.name.endswith("-figures")}
    order = sorted(files, key=lambda p: (p not in figure, str(p)))
    for path in order:
        if path in figure:
            try:
                path.parent.mkdir(exist_ok=True)
            except OSError as exc:
                raise AppendixError(f"cannot create {path.parent}: {exc.strerror}") from None
        write_atomic(path, files[path], AppendixError)
    return order


def write_appendix(appendix: Appendix, fmt: str, path: Path) -> list[Path]:
    """Render ``appendix`` in one format and write it to ``path`` (with its figures and, for
    LaTeX, the ``\\input``-able ``<stem>-body.tex``). Returns the files written.

    Raises:
        AppendixInputError: bad format or output path (see :func:`check_format`,
            :func:`check_output`).
        AppendixError: a file cannot be written.
    """
    check_output(path)
    return write_files(render(appendix, check_format(fmt, path), path))


def write_bundle(
    appendix: Appendix, directory: Path, formats: Sequence[str] = BUNDLE
) -> list[Path]:
    """``report.<format>`` in ``directory`` for each format (by default ``report.md``,
    ``report.tex``, ``report.html`` and ``report.json``), all rendered before the first is
    written; the directory is created where it is missing."""
    from receipts.appendix.plots import render_figures

    check_output(directory, directory=True)
    chosen = [check_format(fmt, directory / f"report.{fmt}") for fmt in formats]
    figures = render_figures(appendix, pdf="tex" in chosen, png=False)
    files: dict[Path, bytes] = {}
    for fmt in chosen:
        path = directory / f"report.{fmt}"
        files.update(render(appendix, fmt, path, figures))
    make_directory(directory)
    return write_files(files)
