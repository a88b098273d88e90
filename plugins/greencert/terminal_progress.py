"""Progress for long local commands (generate, demo): drawn with rich on stderr, only on a terminal.

Progress is for the person watching. It goes to stderr and is cleared when its step ends
(transient), so stdout carries the commands' printed summaries exactly as without it; off a
terminal (CI logs, tests capturing output, `2>file`) nothing at all is drawn. Callers update per
file, block or step, never per row; rich redraws twice a second from its own thread, so the work
does not slow down measurably.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def _console() -> Console | None:
    """A console on stderr, or None when stderr is not a terminal. rich alone would also draw
    into a pipe when FORCE_COLOR or TTY_COMPATIBLE is set (some CI runners set them): the stream
    itself must be a TTY."""
    console = Console(stderr=True)
    if not (sys.stderr.isatty() and console.is_terminal) or console.is_dumb_terminal:
        return None
    return console


class Task:
    """One line of progress: `update` moves it; does nothing when progress is not drawn."""

    def __init__(self, progress: Progress | None = None, task_id: TaskID | None = None) -> None:
        self._progress, self._id = progress, task_id

    def update(
        self,
        *,
        completed: float | None = None,
        advance: float | None = None,
        note: str | None = None,
    ) -> None:
        """Set or advance the units done; `note` is shown after the bar (the feed, DAG or rows now)."""
        if self._progress is None or self._id is None:
            return
        fields: dict[str, Any] = {} if note is None else {"note": note}
        self._progress.update(self._id, completed=completed, advance=advance, **fields)


@contextmanager
def task(description: str, total: float | None = None, unit: str = "", eta: bool = False) -> Iterator[Task]:
    """Progress while the block runs: a bar with `total` units (e.g. 10 feeds, 3,600,000 chains),
    or a spinner when the total is not known; the elapsed time, and with `eta` the time left
    (only where units take about the same time each). Kept within 80 columns."""
    console = _console()
    if console is None:
        yield Task()
        return
    columns: list[ProgressColumn] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(bar_width=20), TextColumn("{task.completed:,.0f}/{task.total:,.0f} {task.fields[unit]}")]
    columns.append(TimeElapsedColumn())
    if eta:
        columns += [TextColumn("eta"), TimeRemainingColumn()]
    columns.append(TextColumn("{task.fields[note]}", style="dim"))
    # stdout is printed above the drawing only when it is the terminal too: a piped stdout
    # (`greencert demo | tee log`) must keep its own lines, not have them sent to stderr.
    # Redrawing is what costs (measured: ~1 % of a core at 2 a second, twice that at 5).
    with Progress(
        *columns, console=console, transient=True, refresh_per_second=2, redirect_stdout=sys.stdout.isatty()
    ) as progress:
        yield Task(progress, progress.add_task(description, total=total, unit=unit, note=""))
