"""A test double of ``sounddevice.InputStream``: a real audio file replayed from a thread.

It implements the documented calls :class:`~edgefer.live.microphone.MicrophoneSource` uses
(``start``, ``stop``, ``close``, ``active``, the PortAudio-thread callback with ``(indata, frames,
time, status)`` and ``finished_callback``), so the real microphone code runs without a device.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.live.clock import SYSTEM_CLOCK, Clock
from edgefer.live.microphone import Callback, StreamFactory
from edgefer.media import read_audio


class WavStream:
    """Replays a real audio file through the ``sounddevice.InputStream`` interface, from a thread.

    realtime : one block per block-duration, as a device would; otherwise as fast as possible.
    fail_after_s : stop delivering after this much audio, as an unplugged device does (the stream
        turns inactive and calls ``finished_callback``). At the end of the file the same happens,
        unless ``loop``.
    clock : the time ``realtime`` follows; a test's :class:`~tests.live.manual_clock.ManualClock`
        makes each block arrive exactly when the test moves time past it.
    finished : set once the stream has ended and ``finished_callback`` returned, so a test waits on
        it instead of polling.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        samplerate: int,
        blocksize: int,
        callback: Callback,
        finished_callback: Callable[[], None] | None = None,
        channels: int = 1,
        dtype: str = "float32",
        device: int | str | None = None,
        realtime: bool = True,
        fail_after_s: float | None = None,
        loop: bool = False,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if dtype != "float32":
            raise EdgeferError(f"WavStream only replays float32, not {dtype}")
        self.samples = read_audio(path, samplerate)
        self.samplerate, self.blocksize, self.channels = samplerate, blocksize or 512, channels
        self.realtime, self.fail_after_s, self.loop = realtime, fail_after_s, loop
        self.clock = clock
        self.finished = threading.Event()
        self._callback, self._finished_cb = callback, finished_callback
        self._active = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def factory(
        cls, path: str | Path, opened: list[WavStream] | None = None, **options: Any
    ) -> StreamFactory:
        """A ``stream_factory`` for :class:`MicrophoneSource` replaying ``path``; each stream it
        makes is appended to ``opened``, so a test can wait on its :attr:`finished`."""

        def make(**kwargs: Any) -> WavStream:
            stream = cls(path, **kwargs, **options)
            if opened is not None:
                opened.append(stream)
            return stream

        return make

    @property
    def active(self) -> bool:
        return self._active

    def start(self) -> None:
        self._active = True
        self._thread = threading.Thread(target=self._run, name="audio:wavstream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._active = False

    def close(self) -> None:
        self.stop()

    def _run(self) -> None:
        clock = self.clock
        sent, t0, size = 0, clock.monotonic(), self.samples.size
        limit = None if self.fail_after_s is None else int(self.fail_after_s * self.samplerate)
        while not self._stop.is_set() and (self.loop or sent < size):
            if limit is not None and sent >= limit:
                break
            n = self.blocksize if self.loop else min(self.blocksize, size - sent)
            index = np.arange(sent, sent + n) % size
            block = np.repeat(self.samples[index, None], self.channels, axis=1)
            due = t0 + (sent + n) / self.samplerate
            if self.realtime and clock.wait(self._stop, max(0.0, due - clock.monotonic())):
                break
            info = SimpleNamespace(
                inputBufferAdcTime=sent / self.samplerate, currentTime=clock.monotonic()
            )
            self._callback(block, n, info, _NoStatus())
            sent += n
        self._active = False
        try:
            if self._finished_cb is not None:
                self._finished_cb()
        finally:
            self.finished.set()


class _NoStatus:
    """sounddevice's ``CallbackFlags`` with no flag set (falsy)."""

    def __bool__(self) -> bool:
        return False
