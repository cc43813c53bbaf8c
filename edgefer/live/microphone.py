"""Microphone input through sounddevice (PortAudio), and a WAV replay stream of the same shape.

PortAudio calls our callback from its own thread with each block of samples; the callback only copies
them into the ring, so it never blocks the audio driver. A stream that stops on its own (device
unplugged), raises in the callback, or goes quiet for ``stall_s`` marks the source failed: the loop
then falls back to the face alone and says so. :class:`WavStream` replays a real WAV through exactly
the subset of ``sounddevice.InputStream`` used here, so that code path is tested without a microphone.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.live.audio import AudioRing
from edgefer.media import read_audio

Callback = Callable[[np.ndarray, int, Any, Any], None]
INSTALL_HINT = (
    "pip install 'edgefer[live]' (sounddevice + PortAudio), or use --mic FILE / --mic none"
)


class StreamLike(Protocol):
    """The part of ``sounddevice.InputStream`` we use; it calls ``callback(indata, frames, time,
    status)`` with ``indata`` float32 (frames, channels), and ``finished_callback()`` once inactive."""

    @property
    def active(self) -> bool: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


class StreamFactory(Protocol):
    def __call__(
        self,
        *,
        device: int | str | None,
        samplerate: int,
        channels: int,
        blocksize: int,
        dtype: str,
        callback: Callback,
        finished_callback: Callable[[], None],
    ) -> StreamLike: ...


def sounddevice_stream(**kwargs: Any) -> StreamLike:
    """A real ``sounddevice.InputStream``; a missing package, PortAudio or device is one line."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise EdgeferError(f"microphone input is unavailable ({exc}): {INSTALL_HINT}") from exc
    device = kwargs["device"]
    try:
        sd.check_input_settings(
            device=device,
            channels=kwargs["channels"],
            samplerate=kwargs["samplerate"],
            dtype=kwargs["dtype"],
        )
        return sd.InputStream(**kwargs)
    except (ValueError, sd.PortAudioError) as exc:
        raise EdgeferError(
            f"microphone {device if device is not None else 'default'!s} cannot record mono at "
            f"{kwargs['samplerate']} Hz ({exc}); list devices with: python -m sounddevice"
        ) from exc


class MicrophoneSource:
    """Records ``device`` (index, name, or None for the default) into ``ring``.

    stream_factory : builds the stream (default :func:`sounddevice_stream`; :class:`WavStream` in tests).
    stall_s : no callback for this long after start counts as a failure (a wedged driver).
    """

    def __init__(
        self,
        device: int | str | None,
        sample_rate: int = 16000,
        *,
        ring: AudioRing | None = None,
        block: int = 512,
        stream_factory: StreamFactory | None = None,
        stall_s: float = 2.0,
    ) -> None:
        self.name = f"microphone {device if device is not None else 'default'}"
        self.ring = ring if ring is not None else AudioRing(4.0, sample_rate)
        self.stall_s = stall_s
        self.blocks = self.overflows = 0
        self._failure: str | None = None
        self._started = self._stopping = False
        self._last_block = 0.0
        factory = stream_factory or sounddevice_stream
        self._stream = factory(
            device=device,
            samplerate=sample_rate,
            channels=1,
            blocksize=block,
            dtype="float32",
            callback=self._callback,
            finished_callback=self._finished,
        )

    def start(self) -> MicrophoneSource:
        self._last_block = time.monotonic()
        try:
            self._stream.start()
        except Exception as exc:  # PortAudioError and friends: the device went away
            raise EdgeferError(f"{self.name} cannot start recording: {exc}") from exc
        self._started = True
        return self

    def stop(self) -> None:
        self._stopping = True
        for step in (self._stream.stop, self._stream.close):
            with contextlib.suppress(Exception):  # closing a dead stream may fail; nothing to do
                step()

    @property
    def failed(self) -> str | None:
        """Why the microphone stopped delivering, or None while it is healthy."""
        if self._failure is None and self._started and not self._stopping:
            if not self._stream.active:
                self._failure = f"{self.name} stopped recording"
            elif time.monotonic() - self._last_block > self.stall_s:
                self._failure = f"{self.name} delivered no audio for {self.stall_s:.1f} s"
        return self._failure

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        try:
            if status:
                self.overflows += 1
            data = indata[:frames]
            self.ring.write(data[:, 0] if data.ndim == 2 and data.shape[1] == 1 else data.mean(1))
            self.blocks += 1
            self._last_block = time.monotonic()
        except Exception as exc:  # raising here would abort PortAudio's thread silently
            self._failure = f"{self.name} failed: {exc}"

    def _finished(self) -> None:
        if not self._stopping and self._failure is None:
            self._failure = f"{self.name} stopped recording (device lost?)"

    def __enter__(self) -> MicrophoneSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class WavStream:
    """Replays a real audio file through the ``sounddevice.InputStream`` interface, from a thread.

    realtime : one block per block-duration, as a device would; otherwise as fast as possible.
    fail_after_s : stop delivering after this much audio, as an unplugged device does (the stream
        turns inactive and calls ``finished_callback``). At the end of the file the same happens,
        unless ``loop``.
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
    ) -> None:
        if dtype != "float32":
            raise EdgeferError(f"WavStream only replays float32, not {dtype}")
        self.samples = read_audio(path, samplerate)
        self.samplerate, self.blocksize, self.channels = samplerate, blocksize or 512, channels
        self.realtime, self.fail_after_s, self.loop = realtime, fail_after_s, loop
        self._callback, self._finished_cb = callback, finished_callback
        self._active = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def factory(cls, path: str | Path, **options: Any) -> StreamFactory:
        """A ``stream_factory`` for :class:`MicrophoneSource` replaying ``path``."""
        return lambda **kwargs: cls(path, **kwargs, **options)

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
        sent, t0, size = 0, time.monotonic(), self.samples.size
        limit = None if self.fail_after_s is None else int(self.fail_after_s * self.samplerate)
        while not self._stop.is_set() and (self.loop or sent < size):
            if limit is not None and sent >= limit:
                break
            n = self.blocksize if self.loop else min(self.blocksize, size - sent)
            index = np.arange(sent, sent + n) % size
            block = np.repeat(self.samples[index, None], self.channels, axis=1)
            due = t0 + (sent + n) / self.samplerate
            if self.realtime and self._stop.wait(max(0.0, due - time.monotonic())):
                break
            info = SimpleNamespace(
                inputBufferAdcTime=sent / self.samplerate, currentTime=time.monotonic()
            )
            self._callback(block, n, info, _NoStatus())
            sent += n
        self._active = False
        if self._finished_cb is not None:
            self._finished_cb()


class _NoStatus:
    """sounddevice's ``CallbackFlags`` with no flag set (falsy)."""

    def __bool__(self) -> bool:
        return False
