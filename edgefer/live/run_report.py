"""What ``edgefer run`` prints while the live loop runs and when it ends.

The loop (:func:`edgefer.live.loop.run_live`) only reports records, events and a summary through
callbacks; the words and the streams are decided here, so the command line stays a parser and the
loop stays silent for other callers (the demo, the benchmark, tests).

The streams matter: stdout carries the results (a status line per second, or one JSON line per
inference that a script can read), stderr carries what a person should notice (fall-backs, the
engine build, the timing summary when stdout is JSON). Messages are escaped, since paths and
device names can hold ``[brackets]`` that Rich would otherwise read as markup.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from edgefer.live.loop import RunSummary

__all__ = [
    "StatusPrinter",
    "event_printer",
    "log_printer",
    "print_json_line",
    "print_summary",
    "summary_text",
]


class StatusPrinter:
    """The human-readable ``on_record`` callback: one line on stdout per second of stream time.

    A line per inference would scroll faster than anyone can read at camera rates; stream time
    (the record's ``t``), not wall time, keeps the lines evenly spaced with ``--no-realtime`` too.

    Parameters
    ----------
    every_s : the least stream time between two lines, in seconds.
    """

    def __init__(self, every_s: float = 1.0) -> None:
        self.every_s = every_s
        self._last = float("-inf")

    def __call__(self, record: dict[str, Any]) -> None:
        """Print ``record`` as ``t  label  p  modalities`` (or why there is no label), when due.

        Parameters
        ----------
        record : one inference tick's record, as :func:`~edgefer.live.loop.run_live` reports it.
        """
        if record["t"] - self._last < self.every_s:
            return
        self._last = record["t"]
        if record["label"] is None:
            print(f"{record['t']:8.2f} s  -  ({record.get('reason', 'no prediction')})", flush=True)
        else:
            used = "+".join(record["modalities"])
            p = record["probs"][record["label"]]
            print(f"{record['t']:8.2f} s  {record['label']:<9} {p:.2f}  {used}", flush=True)


def print_json_line(record: dict[str, Any]) -> None:
    """The ``--json`` ``on_record`` callback: every record as one compact JSON line on stdout.

    Flushed per line, so a reader of a pipe sees each inference as it happens.

    Parameters
    ----------
    record : one inference tick's record.
    """
    print(json.dumps(record, separators=(",", ":")), flush=True)


def event_printer(console: Console) -> Callable[[str], None]:
    """The ``on_event`` callback: each event as one yellow line.

    An event (a fall-back, a reconnect, a lost microphone) changes what the results mean.

    Parameters
    ----------
    console : where the lines go (stderr, so stdout stays results only).
    """

    def on_event(message: str) -> None:
        console.print(f"[yellow]{escape(message)}[/yellow]", soft_wrap=True)

    return on_event


def log_printer(console: Console) -> Callable[[str], None]:
    """The ``log`` callback: progress notes (the one-off engine build) as plain lines.

    Parameters
    ----------
    console : where the lines go (stderr, so stdout stays results only).
    """

    def log(message: str) -> None:
        console.print(escape(message), soft_wrap=True)

    return log


def summary_text(summary: RunSummary) -> str:
    """The end-of-run summary, one item a line.

    Frames and end-to-end rate, the audio source, the engine of each role, the saved video and the
    per-stage timings.

    Parameters
    ----------
    summary : what the run did.
    """
    rows = [
        f"frames {summary.frames} ({summary.dropped} dropped), {summary.inferences} inferences "
        f"in {summary.seconds:.1f} s: {summary.fps:.1f} FPS end to end",
        f"audio: {summary.audio or 'none'}",
        *(f"engine {role}: {text}" for role, text in summary.engines.items()),
        *([f"saved: {summary.saved}"] if summary.saved else []),
        summary.timer.format_summary(),
    ]
    return "\n".join(rows)


def print_summary(summary: RunSummary, console: Console) -> None:
    """Print :func:`summary_text` on ``console``, as written (no markup, no highlighting).

    Printed also after an error or Ctrl-C, so the timings of what did run are not lost.

    Parameters
    ----------
    summary : what the run did.
    console : stdout for a person; stderr with ``--json``, where stdout is for machines.
    """
    console.print(escape(summary_text(summary)), highlight=False, soft_wrap=True)
