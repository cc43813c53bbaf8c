"""The live loop's pace: which frames get an inference at ``--rate``, and the FPS drawn on screen.

Both are small, but they decide what a run records: the inference clock counts the frames' media time,
not wall time, so an offline run infers on the same frames on a fast machine and a slow one.
"""

from __future__ import annotations

__all__ = ["InferenceClock", "running_fps"]


class InferenceClock:
    """Says whether a frame is due for an inference at ``hz`` per second of media time.

    hz : None or 0 infers on every frame. Otherwise a frame is due once its timestamp reaches the
        next due time; that time then moves on by one period, but never to less than half a period
        after the frame, so a late frame does not let a burst of frames through to catch up.
    """

    def __init__(self, hz: float | None) -> None:
        self.hz = hz
        self._next_due: float | None = None

    def due(self, timestamp: float) -> bool:
        """Whether the frame at ``timestamp`` (seconds of media time) gets an inference."""
        hz = self.hz
        if not hz:
            return True
        period = 1.0 / hz
        if self._next_due is None or timestamp + 1e-6 >= self._next_due:
            base = self._next_due if self._next_due is not None else timestamp
            self._next_due = max(base + period, timestamp + period / 2)
            return True
        return False


def running_fps(current: float | None, last: float | None, now: float) -> float | None:
    """The FPS drawn on screen: an EMA of the tick rate (steady enough to read)."""
    if last is None or now <= last:
        return current
    instant = 1.0 / (now - last)
    return instant if current is None else 0.9 * current + 0.1 * instant
