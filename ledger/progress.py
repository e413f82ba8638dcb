"""Progress on stderr for the steps that make a person wait: building a tokenizer, counting a
large dataset, running an eval, importing a large log, writing an appendix.

One context manager, :func:`activity`, shows a spinner and what is being done, and, once a step
reports how much there is, a bar with the count (or bytes) done. It draws on stderr, and only
when stderr is a terminal: piped or redirected (a CI log, ``2>file``) nothing is written, so a
log holds no cursor moves, and stdout (``--json`` output, tables) is never touched. When nothing
is drawn the activity is a null object and rich is not even imported.

Library functions take the two callables of the :class:`Activity` protocol, never a console::

    with activity("importing api log") as shown:
        calls = parse(lines, progress=shown.advance)   # advance(done, total)
        shown.phase("pricing calls")

A command that forks worker processes while the display is up (``tokens count``) asks for
``threads=False``: the display is then redrawn when it is told something (at most ten times a
second), and no refresh thread exists that a fork could copy mid-draw.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Literal, Protocol

from ledger.printable import printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, Task, TaskID

Unit = Literal["items", "records", "lines", "bytes", "files"]
"""What a step counts; ``bytes`` is shown as sizes (kB, MB) with a rate."""

REDRAW_S = 0.1
"""Without a refresh thread: the least time between two redraws."""


class Activity(Protocol):
    """What a long step tells the person waiting. Both methods are cheap and never fail."""

    def phase(self, description: str, total: float | None = None) -> None:
        """A new step: its description and, where known, how much it has to do."""

    def advance(self, done: float, total: float | None = None) -> None:
        """``done`` of ``total`` (the phase's total where not given) is finished."""


class Quiet:
    """The :class:`Activity` that shows nothing: stderr is not a terminal."""

    def phase(self, description: str, total: float | None = None) -> None:
        return None

    def advance(self, done: float, total: float | None = None) -> None:
        return None


def shown_on(stream: IO[str] | None = None) -> bool:
    """Whether progress is drawn on ``stream`` (stderr by default): a terminal that is not
    ``TERM=dumb``."""
    stream = sys.stderr if stream is None else stream
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False
    return tty and os.environ.get("TERM") != "dumb"


class _Shown:
    """An :class:`Activity` drawn with rich's ``Progress``: one task, re-described per phase."""

    def __init__(self, progress: Progress, task: TaskID, unit: Unit, threads: bool) -> None:
        self.progress = progress
        self.task = task
        self.unit = unit
        self.threads = threads
        self.drawn = 0.0

    def phase(self, description: str, total: float | None = None) -> None:
        self.progress.reset(
            self.task, total=total, completed=0, description=_line(description), unit=self.unit
        )
        self._redraw(force=True)

    def advance(self, done: float, total: float | None = None) -> None:
        if total is None:
            self.progress.update(self.task, completed=done)
        else:
            self.progress.update(self.task, completed=done, total=total)
        self._redraw(force=total is not None and done >= total)

    def _redraw(self, *, force: bool) -> None:
        if self.threads:
            return  # the refresh thread draws
        now = time.monotonic()
        if force or now - self.drawn >= REDRAW_S:
            self.progress.refresh()
            self.drawn = now


def _line(text: str) -> str:
    return printable(text, one_line=True)


@contextmanager
def activity(
    description: str,
    *,
    total: float | None = None,
    unit: Unit = "items",
    threads: bool = True,
    stream: IO[str] | None = None,
) -> Iterator[Activity]:
    """Show ``description`` (a spinner; a bar once a total is known) on stderr while the block
    runs, and erase it afterwards. Shows nothing, and imports nothing, when stderr is not a
    terminal (:func:`shown_on`).

    Args:
        description: what is being done, e.g. ``building the qwen2.5 tokenizer``.
        total: how much there is to do, where known at the start.
        unit: what ``total`` counts (``bytes`` shows sizes and a rate).
        threads: redraw from a background thread (a spinner that turns while nothing is
            reported); ``False`` where the block forks processes.
        stream: where to draw; stderr by default.
    """
    if not shown_on(stream):
        yield Quiet()
        return
    from rich.console import Console

    console = Console(file=stream or sys.stderr, highlight=False)
    progress = _progress(console, threads)
    task = progress.add_task(_line(description), total=total, unit=unit)
    with progress:
        yield _Shown(progress, task, unit, threads)


def _progress(console: Console, threads: bool) -> Progress:
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress_bar import ProgressBar
    from rich.text import Text

    class Bar(BarColumn):
        """The bar, only where a total is known (a bare spinner says "working" well enough)."""

        def render(self, task: Task) -> Text | ProgressBar:  # type: ignore[override]
            return Text("") if task.total is None else super().render(task)

    class Count(ProgressColumn):
        """``1,234/5,000 records`` or ``12.3/45.6 MB 8.1 MB/s``; nothing before a total."""

        def render(self, task: Task) -> Text:
            return Text(_count(task), style="progress.download")

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        Bar(bar_width=30),
        Count(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        auto_refresh=threads,
        redirect_stdout=False,  # stdout is data (JSON, tables): never routed through the display
        redirect_stderr=True,  # warnings printed meanwhile go above the display
    )


def _count(task: Task) -> str:
    if task.total is None:
        return ""
    if task.fields.get("unit") == "bytes":
        from rich.filesize import decimal

        speed = task.finished_speed or task.speed
        rate = f" {decimal(int(speed))}/s" if speed else ""
        return f"{decimal(int(task.completed))}/{decimal(int(task.total))}{rate}"
    return f"{task.completed:,.0f}/{task.total:,.0f} {task.fields.get('unit', '')}".rstrip()
