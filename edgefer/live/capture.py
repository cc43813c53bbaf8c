"""The capture thread behind every video source: latest frame wins, reconnects with back-off.

Capture runs in its own thread so a slow detector or engine never stalls the camera driver, whose own
buffer would otherwise fill and serve seconds-old frames: the consumer always gets the newest frame and
older unread ones are dropped and counted (one frame held, so memory stays flat). A file can instead be
read as fast as possible with every frame delivered, for offline runs and deterministic tests. A live
source that stops delivering is reopened with exponential back-off and says so through ``on_event``.
The capture is anything shaped like ``cv2.VideoCapture``, made by an ``opener`` callable, so the same
thread serves devices, files, network streams and GStreamer pipelines (see :mod:`.sources`).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# OpenCV's FFmpeg prints its own complaints about broken files ("moov atom not found"); our one-line
# EdgeferError says it instead. Read when OpenCV first opens a capture, so set before that.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from edgefer.errors import EdgeferError  # noqa: E402
from edgefer.live.clock import SYSTEM_CLOCK, Clock  # noqa: E402


@dataclass(frozen=True)
class Frame:
    """One captured frame.

    image : uint8 BGR (H, W, 3).
    index : frames captured from this source so far, 0-based (continues over loops and reconnects).
    timestamp : seconds; media time (index / fps) for files, time since start for live sources.
    capture_ms : time spent in the driver/decoder read.
    """

    image: np.ndarray
    index: int
    timestamp: float
    capture_ms: float


@dataclass(frozen=True)
class SourceEvent:
    """Something the loop should tell the user.

    One of ``lost``, ``retry``, ``reconnected``, ``gave_up``.
    """

    kind: str
    message: str
    attempt: int = 0
    delay_s: float = 0.0


class Capture(Protocol):
    """The subset of ``cv2.VideoCapture`` a source uses."""

    def isOpened(self) -> bool: ...  # noqa: N802 (OpenCV's name)
    def read(self) -> tuple[bool, Any]: ...
    def get(self, prop_id: int) -> float: ...
    def release(self) -> None: ...


Opener = Callable[[], Capture]
_END = object()


class VideoSource:
    """A capture thread over ``opener()``; read frames with :meth:`read_latest`.

    live : reconnect on a failed read (cameras, streams); a file instead ends at EOF (or reopens
        from the start with ``loop=True``).
    paced : a file is read at its own fps with latest-frame-wins; ``paced=False`` reads it as fast
        as the consumer takes frames and delivers every one (no drops). Live sources are always
        latest-frame-wins, paced by the device.
    backoff_s, backoff_max_s, max_reconnects : the reconnect schedule (delays double up to the cap;
        ``None`` retries until stopped).
    clock : what pacing, live timestamps and back-off read and wait on; real time unless a test
        drives its own.
    """

    def __init__(
        self,
        opener: Opener,
        *,
        name: str,
        live: bool,
        paced: bool = True,
        loop: bool = False,
        backoff_s: float = 0.5,
        backoff_max_s: float = 8.0,
        max_reconnects: int | None = None,
        on_event: Callable[[SourceEvent], None] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.name, self.live, self.loop, self.clock = name, live, loop, clock
        self.deliver_all = not live and not paced
        self._opener, self._on_event = opener, on_event
        self.backoff_s, self.backoff_max_s = backoff_s, backoff_max_s
        self.max_reconnects = max_reconnects
        self.events: deque[SourceEvent] = deque(maxlen=256)
        self.captured = self.delivered = self.dropped = self.reconnects = 0
        self.error: str | None = None
        self._cap, self._pending = self._open_first()
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if np.isfinite(fps) and 1.0 <= fps <= 240.0 else 30.0
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._queue: deque[Any] = deque()
        self._ended = False
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    # ------------------------------------------------------------------------------- consumer side
    def start(self) -> VideoSource:
        if self._thread is None:
            self._t0 = self.clock.monotonic()
            self._thread = threading.Thread(
                target=self._run, name=f"video:{self.name}", daemon=True
            )
            self._thread.start()
        return self

    def read_latest(self, timeout: float | None = None) -> Frame | None:
        """The newest frame not yet read, or None on timeout or once the source has ended.

        With ``deliver_all``, every frame in order. On None, check :attr:`finished` and
        :attr:`error`.
        """
        with self._cond:
            ready = self._cond.wait_for(
                lambda: self._queue or self._slot is not None or self._ended, timeout
            )
            if not ready:
                return None
            if self.deliver_all:
                item = self._queue.popleft() if self._queue else _END
                self._cond.notify_all()
                return None if item is _END else item
            frame, self._slot = self._slot, None
            return frame

    @property
    def finished(self) -> bool:
        """True once the source has ended (EOF, gave up, stopped) and every frame was read."""
        with self._cond:
            return self._ended and self._slot is None and not self._queue

    @property
    def pending(self) -> int:
        """Frames captured but not yet read.

        At most 1 (latest frame wins), 2 with ``deliver_all``.
        """
        with self._cond:
            return len(self._queue) + (self._slot is not None)

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        # A thread still stuck in a driver read releases the capture itself when it returns.
        if thread is None or not thread.is_alive():
            self._release()
        if thread is None:
            with self._cond:
                self._ended = True

    def __enter__(self) -> VideoSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------ capture thread
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                image, ms = self._next_image()
                if image is None:
                    break
                stamp = (
                    self.captured / self.fps if not self.live else self.clock.monotonic() - self._t0
                )
                self._publish(Frame(image, self.captured, stamp, ms))
                self.captured += 1
        except Exception as exc:  # a driver or decoder bug must end the source, not hang the loop
            self.error = f"video source {self.name} failed: {exc}"
        finally:
            self._release()
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def _next_image(self) -> tuple[np.ndarray | None, float]:
        if self._pending is not None:
            image, self._pending = self._pending, None
            return self._pace(image, 0.0)
        while not self._stop.is_set():
            start = time.perf_counter()
            ok, image = self._cap.read() if self._cap is not None else (False, None)
            ms = (time.perf_counter() - start) * 1000.0
            if ok and image is not None:
                return self._pace(image, ms)
            if not self.live and not self.loop:
                return None, 0.0
            if not self.live:
                self._release()
                self._cap, image = self._try_open()
                if image is None:
                    self.error = f"video file {self.name} could not be reopened for looping"
                    return None, 0.0
                return self._pace(image, ms)
            if not self._reconnect():
                return None, 0.0
            image, self._pending = self._pending, None
            return image, ms
        return None, 0.0

    def _pace(self, image: np.ndarray, ms: float) -> tuple[np.ndarray, float]:
        if not self.live and not self.deliver_all:
            delay = self._t0 + self.captured / self.fps - self.clock.monotonic()
            if delay > 0:
                self.clock.wait(self._stop, delay)
        return image, ms

    def _publish(self, frame: Frame) -> None:
        with self._cond:
            if self.deliver_all:  # back-pressure: wait for the consumer, never drop
                self._cond.wait_for(lambda: len(self._queue) < 2 or self._stop.is_set())
                self._queue.append(frame)
            else:
                if self._slot is not None:
                    self.dropped += 1
                self._slot = frame
            self.delivered += 1
            self._cond.notify_all()

    def _reconnect(self) -> bool:
        self._release()
        self._emit(SourceEvent("lost", f"{self.name}: no frame from the source; reconnecting"))
        delay, attempt = self.backoff_s, 0
        while not self._stop.is_set():
            attempt += 1
            if self.max_reconnects is not None and attempt > self.max_reconnects:
                self.error = f"{self.name}: lost, and {self.max_reconnects} reconnects failed"
                self._emit(SourceEvent("gave_up", self.error, attempt - 1))
                return False
            if self.clock.wait(self._stop, delay):
                return False
            self._cap, self._pending = self._try_open()
            if self._pending is not None:
                self.reconnects += 1
                message = f"{self.name}: reconnected after {attempt} attempt(s)"
                self._emit(SourceEvent("reconnected", message, attempt, delay))
                return True
            message = f"{self.name}: reconnect attempt {attempt} failed (waited {delay:.2f} s)"
            self._emit(SourceEvent("retry", message, attempt, delay))
            delay = min(delay * 2.0, self.backoff_max_s)
        return False

    # ------------------------------------------------------------------------------------ opening
    def _try_open(self) -> tuple[Capture | None, np.ndarray | None]:
        """Open and read the first frame; (None, None) when either fails."""
        cap = None
        try:
            with _quiet_opencv():
                cap = self._opener()
                if cap is not None and cap.isOpened():
                    ok, image = cap.read()
                    if ok and image is not None:
                        return cap, image
        except cv2.error:
            pass
        if cap is not None:
            cap.release()
        return None, None

    def _open_first(self) -> tuple[Capture, np.ndarray]:
        cap, image = self._try_open()
        if cap is None or image is None:
            raise EdgeferError(_open_failure(self.name, self.live))
        return cap, image

    def _release(self) -> None:
        cap, self._cap = getattr(self, "_cap", None), None
        if cap is not None:
            cap.release()

    def _emit(self, event: SourceEvent) -> None:
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)


class _quiet_opencv:  # noqa: N801 (used as a context manager)
    """Silence OpenCV's own log lines (V4L2, obsensor) while opening.

    Our error says it in one line.
    """

    def __enter__(self) -> None:
        self._level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

    def __exit__(self, *exc: object) -> None:
        cv2.utils.logging.setLogLevel(self._level)


def _open_failure(name: str, live: bool) -> str:
    if name.startswith("camera "):
        found = sorted(str(p) for p in Path("/dev").glob("video*")) if os.name == "posix" else []
        listed = ", ".join(found) if found else "none"
        return f"{name} cannot be opened (no such device or busy; video devices here: {listed})"
    if live:
        return f"cannot open video stream {name} (unreachable, refused, or no video in it)"
    return f"cannot decode video file {name} (not a video OpenCV's FFmpeg can read)"
