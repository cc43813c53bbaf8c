"""A clock for the tests that moves only when the test advances it (an ``edgefer.live.clock.Clock``).

Real-time sources run their own threads (the file player, a stream's replay thread) that wait on the
clock. :meth:`ManualClock.advance` moves time on and returns only once every thread it woke has done
its work and is waiting again past the new time (or has ended), so what the test then reads is what
the source did by that time -- exactly, however slowly a loaded machine runs the threads.
"""

from __future__ import annotations

import threading
import time


class ManualClock:
    """Time in seconds from 0 that moves only in :meth:`advance`.

    waits : every wait asked of the clock, in seconds, in order (a paced source's schedule).
    timeout_s : real seconds :meth:`advance` waits for the threads before failing the test; a
        safety net for a hung thread, never reached when the code works.
    """

    POLL_S = (
        0.005  # how often a waiting thread looks at its stop event (Event.set wakes no one here)
    )

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s
        self.waits: list[float] = []
        self._now = 0.0
        self._cond = threading.Condition()
        self._asleep: dict[threading.Thread, float] = {}  # waiting thread -> its deadline
        self._woken: set[threading.Thread] = set()  # woken by advance, not waiting again yet

    def monotonic(self) -> float:
        with self._cond:
            return self._now

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Block until the clock reaches ``seconds`` from now, or ``event`` is set (as a stop)."""
        me = threading.current_thread()
        with self._cond:
            self.waits.append(seconds)
            deadline = self._now + seconds
            if deadline <= self._now or event.is_set():
                return event.is_set()  # no wait: the thread runs on, still counted as awake
            self._woken.discard(me)
            self._asleep[me] = deadline
            self._cond.notify_all()
            while me in self._asleep and not event.is_set():
                self._cond.wait(self.POLL_S)
            self._asleep.pop(me, None)
            return event.is_set()

    def advance(self, seconds: float, asleep: int = 1) -> None:
        """Move time on by ``seconds`` once ``asleep`` threads wait on the clock (the sources' threads
        have started), and return once they have caught up: every thread woken waits again or ended.
        """
        with self._cond:
            self._settle(asleep)
            self._now += seconds
            for thread, deadline in list(self._asleep.items()):
                if deadline <= self._now:
                    del self._asleep[thread]
                    self._woken.add(thread)
            self._cond.notify_all()
            self._settle(0)

    def _settle(self, asleep: int) -> None:
        give_up = time.monotonic() + self.timeout_s
        while len(self._asleep) < asleep or any(t.is_alive() for t in self._woken):
            if time.monotonic() > give_up:
                raise AssertionError(
                    f"threads did not settle on the clock at {self._now} s: "
                    f"{len(self._asleep)} asleep, {len(self._woken)} still running"
                )
            self._cond.wait(self.POLL_S)  # a thread ending notifies no one: look again shortly
        self._woken.clear()
