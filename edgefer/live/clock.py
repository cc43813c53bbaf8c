"""The clock the live sources read and wait on, so that tests can drive time themselves.

A source that plays at a rate (a file in real time) or notices an absence (a microphone gone quiet)
reads the time and waits on it. Passed a :class:`Clock`, it does both through that object; the
default, :data:`SYSTEM_CLOCK`, is ``time.monotonic`` and ``Event.wait``, so a run behaves exactly as
without one, while a test can hand in a clock that moves only when told and check exact positions
instead of sleeping and hoping the machine kept up.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


class Clock(Protocol):
    """Monotonic seconds, and a wait that a stop event cuts short."""

    def monotonic(self) -> float: ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` or until ``event`` is set; whether it is set (as ``Event.wait``)."""
        ...


class SystemClock:
    """Real time: ``time.monotonic`` and ``Event.wait``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(seconds)


SYSTEM_CLOCK = SystemClock()
