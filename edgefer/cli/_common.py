"""Printing helpers every command shares, so each command's tables and bars look alike.

``err`` is the one stderr console: progress bars, warnings and errors go there, so that stdout keeps
only what a command produces (tables, JSON lines) and can be piped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import TaskID

err = Console(stderr=True)


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A transient Rich bar per labelled step (``update(label, done, total)``), on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
        transient=True,
    ) as bar:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        yield update


def _dims(shape: list[int | None]) -> str:
    """A tensor shape as ``N,3,64,64``: a dynamic (batch) dimension reads as ``N``, not ``None``.

    Parameters
    ----------
    shape : the dimensions, ``None`` where the model leaves one open.
    """
    return ",".join("N" if d is None else str(d) for d in shape)


def _table(title: str, rows: list[tuple[str, str]]) -> None:
    """Print a two-column item/value table on stdout, the shape every command's result takes.

    Values are escaped, so a path or a message with ``[brackets]`` prints as written instead of
    being read as Rich markup.

    Parameters
    ----------
    title : the table's caption (the command, e.g. ``edgefer export``).
    rows : (item, value) pairs, in the order shown.
    """
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value", overflow="fold")
    for item, value in rows:
        table.add_row(item, escape(value))
    Console().print(table)
