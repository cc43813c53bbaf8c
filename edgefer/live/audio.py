"""Audio for the live loop: one ring buffer of the last seconds, fed by a file or a microphone.

Every audio source writes into an :class:`AudioRing`; the voice input is always "the last window of
the ring" (:mod:`.voice`), whatever fills it. A file (WAV/FLAC/MP3, or a video's own sound track,
decoded by :func:`edgefer.media.read_audio`) plays in real time from a thread, as a microphone would,
or -- with ``realtime=False`` -- is advanced by the loop to each video frame's media time, so audio
and video stay in step however fast the loop runs. Microphones live in :mod:`.microphone`;
``--mic SPEC`` is turned into a source by :mod:`.mic_option`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.live.clock import SYSTEM_CLOCK, Clock
from edgefer.media import read_audio


class AudioRing:
    """Fixed-capacity float32 ring of the most recent samples.

    Thread-safe (one writer thread, any readers). Memory is allocated once, so a run of any length
    holds it flat.
    """

    def __init__(self, seconds: float = 4.0, sample_rate: int = 16000) -> None:
        self.sample_rate = int(sample_rate)
        self.capacity = int(round(seconds * sample_rate))
        if self.capacity <= 0:
            raise EdgeferError(f"audio ring of {seconds} s holds no samples")
        self._buffer = np.zeros(self.capacity, dtype=np.float32)
        self._total = 0
        self._lock = threading.Lock()

    @property
    def total_written(self) -> int:
        """Samples written since creation (the ring's clock; it never wraps)."""
        return self._total

    def write(self, samples: np.ndarray) -> None:
        """Append samples (any shape, flattened); only the last ``capacity`` of them are kept."""
        data = np.asarray(samples, dtype=np.float32).reshape(-1)
        n = data.size
        if n == 0:
            return
        kept = data[-self.capacity :]
        with self._lock:
            start = (self._total + n - kept.size) % self.capacity
            first = min(kept.size, self.capacity - start)
            self._buffer[start : start + first] = kept[:first]
            self._buffer[: kept.size - first] = kept[first:]
            self._total += n

    def read_last(self, n: int) -> np.ndarray:
        """A copy of the last ``n`` samples, oldest first; zeros (silence) before the first write."""
        if not 0 < n <= self.capacity:
            raise EdgeferError(f"cannot read {n} samples from a ring of {self.capacity}")
        out = np.zeros(n, dtype=np.float32)
        with self._lock:
            have = min(n, self._total)
            end = self._total % self.capacity
            index = np.arange(end - have, end) % self.capacity
            out[n - have :] = self._buffer[index]
        return out


class AudioSource(Protocol):
    """What the loop needs of any audio source."""

    ring: AudioRing
    name: str

    def start(self) -> AudioSource: ...
    def stop(self) -> None: ...
    @property
    def failed(self) -> str | None: ...  # why it stopped delivering, or None while healthy


class FileAudioSource:
    """Plays an audio file (or a video's sound track) into ``ring``.

    realtime : a thread writes ``block`` samples each time that much audio would have been recorded;
        otherwise nothing moves until :meth:`advance_to` is called (by the loop, with media time).
    loop : wrap around at the end (soaks on a looped clip); otherwise the source just stops writing.
    clock : what the realtime thread reads and waits on; real time unless a test drives its own.
    """

    def __init__(
        self,
        path: str | Path,
        sample_rate: int = 16000,
        realtime: bool = True,
        block: int = 512,
        ring: AudioRing | None = None,
        loop: bool = False,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.name = str(path)
        self.clock = clock
        self.samples = read_audio(path, sample_rate)
        self.sample_rate, self.realtime, self.block, self.loop = sample_rate, realtime, block, loop
        self.ring = ring if ring is not None else AudioRing(4.0, sample_rate)
        if self.ring.sample_rate != sample_rate:
            raise EdgeferError(f"ring at {self.ring.sample_rate} Hz, source at {sample_rate} Hz")
        self.position = 0  # samples written so far (keeps counting over loops)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def duration_s(self) -> float:
        return self.samples.size / self.sample_rate

    @property
    def finished(self) -> bool:
        """True once the whole file was written (never with ``loop``)."""
        return not self.loop and self.position >= self.samples.size

    @property
    def failed(self) -> str | None:
        return None  # a decoded file cannot fail mid-run

    def advance_to(self, seconds: float) -> None:
        """Write every sample up to media time ``seconds`` (no-op when already there)."""
        target = int(round(seconds * self.sample_rate))
        if not self.loop:
            target = min(target, self.samples.size)
        with self._lock:
            while self.position < target:
                start = self.position % self.samples.size
                n = min(target - self.position, self.samples.size - start)
                self.ring.write(self.samples[start : start + n])
                self.position += n

    def start(self) -> FileAudioSource:
        if self.realtime and self._thread is None:
            self._thread = threading.Thread(target=self._play, name="audio:file", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _play(self) -> None:
        clock = self.clock
        t0 = clock.monotonic() - self.position / self.sample_rate
        while not self._stop.is_set() and not self.finished:
            due = (self.position + self.block) / self.sample_rate
            if clock.wait(self._stop, max(0.0, t0 + due - clock.monotonic())):
                break
            self.advance_to(due)

    def __enter__(self) -> FileAudioSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
