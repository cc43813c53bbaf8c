"""Microphone input through sounddevice (PortAudio).

PortAudio calls our callback from its own thread with each block of samples; the callback only
resamples them to the spec's rate and copies them into the ring, so it never blocks the audio driver.
Many USB microphones (common on a Jetson) record at 44.1 or 48 kHz only, so the stream opens at the
spec's rate when the device takes it and at the device's native rate otherwise (the device and its
settings are chosen in :mod:`edgefer.live.mic_devices`); a streaming soxr resampler then turns each
block into 16 kHz, carrying its filter state across blocks so that block boundaries add no clicks
and the ring holds what resampling the whole recording would give.

A stream that stops on its own (device unplugged), raises in the callback, or goes quiet for
``stall_s`` marks the source failed: the loop then falls back to the face alone and says so.
The tests replay a real WAV through exactly the subset of ``sounddevice.InputStream`` used here
(``tests/live/wav_stream.py``), so this code path runs without a microphone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import soxr

from edgefer.errors import EdgeferError
from edgefer.live.audio import AudioRing
from edgefer.live.clock import SYSTEM_CLOCK, Clock
from edgefer.live.mic_devices import (
    InputDevice,
    choose_input_settings,
    find_input_device,
    import_sounddevice,
    input_devices,
)

Callback = Callable[[np.ndarray, int, Any, Any], None]


class StreamLike(Protocol):
    """The part of ``sounddevice.InputStream`` we use.

    It calls ``callback(indata, frames, time, status)`` with ``indata`` float32 (frames, channels),
    and ``finished_callback()`` once inactive. A stream may also carry ``samplerate`` (the rate it
    really records at; the one asked otherwise).
    """

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
    """A real ``sounddevice.InputStream``; a missing package, PortAudio or device is one line.

    :class:`MicrophoneSource` has already chosen a device index and settings PortAudio accepts;
    opening can still fail (the device was just unplugged, or another program holds it).
    """
    sd = import_sounddevice()
    try:
        return sd.InputStream(**kwargs)
    except (ValueError, sd.PortAudioError) as exc:
        device = kwargs["device"]
        raise EdgeferError(
            f"microphone {device if device is not None else 'default'!s} cannot record at "
            f"{kwargs['samplerate']} Hz ({exc}); list devices with: python -m sounddevice"
        ) from exc


def describe_microphone(
    requested: int | str | None, device: InputDevice | None, device_rate: int, rate: int
) -> str:
    """``microphone 4 (USB Audio, 48000 Hz -> 16000 Hz)``: which device and whether it resamples.

    Without a known device (a test's stream factory) only the spec and a resampling are shown.
    """
    label = device.index if device is not None else requested
    parts = [device.name] if device is not None else []
    if device is not None or device_rate != rate:
        parts.append(f"{device_rate} Hz -> {rate} Hz" if device_rate != rate else f"{rate} Hz")
    name = f"microphone {label if label is not None else 'default'}"
    return f"{name} ({', '.join(parts)})" if parts else name


class MicrophoneSource:
    """Records ``device`` (index, name, or None for the default) into ``ring``, at ``sample_rate``.

    Without ``stream_factory`` the device is looked up among PortAudio's input devices (an unknown or
    ambiguous name is an :class:`EdgeferError` listing them) and opened at ``sample_rate`` if it takes
    it, else at its native rate (:func:`choose_input_settings`); blocks are then resampled to
    ``sample_rate`` in the callback. ``device_rate`` is the rate opened, ``name`` says both.

    stream_factory : builds the stream instead (a WAV replay in the tests); it is asked for
        ``sample_rate`` and may record at another, told by the stream's ``samplerate`` attribute.
    block : frames per callback at ``sample_rate``; scaled to the device rate, so a 48 kHz device
        is called back as often as a 16 kHz one.
    stall_s : no callback for this long after start counts as a failure (a wedged driver).
    clock : what that silence is measured on; real time unless a test drives its own.
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
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.sample_rate = int(sample_rate)
        self.ring = ring if ring is not None else AudioRing(4.0, sample_rate)
        if self.ring.sample_rate != self.sample_rate:
            raise EdgeferError(
                f"ring at {self.ring.sample_rate} Hz, microphone at {sample_rate} Hz"
            )
        self.stall_s, self.clock = stall_s, clock
        self.blocks = self.overflows = 0
        self._failure: str | None = None
        self._started = self._stopping = False
        self._last_block = 0.0
        self._resampler: soxr.ResampleStream | None = None
        self.device: InputDevice | None = None
        target, rate, channels = device, self.sample_rate, 1
        if stream_factory is None:
            target, rate, channels = self._choose_device(device)
        self.device_rate = rate
        self._stream = (stream_factory or sounddevice_stream)(
            device=target,
            samplerate=rate,
            channels=channels,
            blocksize=max(1, round(block * rate / self.sample_rate)),
            dtype="float32",
            callback=self._callback,
            finished_callback=self._finished,
        )
        self.device_rate = int(round(getattr(self._stream, "samplerate", None) or rate))
        if self.device_rate != self.sample_rate:
            self._resampler = soxr.ResampleStream(
                self.device_rate, self.sample_rate, 1, dtype="float32"
            )
        self.name = describe_microphone(device, self.device, self.device_rate, self.sample_rate)

    def _choose_device(self, device: int | str | None) -> tuple[int, int, int]:
        """(index, rate, channels) to open ``device`` with, from PortAudio's own answers."""
        sd = import_sounddevice()
        self.device = find_input_device(device, input_devices(sd))
        rate, channels = choose_input_settings(sd, self.device, self.sample_rate)
        return self.device.index, rate, channels

    def start(self) -> MicrophoneSource:
        self._last_block = self.clock.monotonic()
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
            elif self.clock.monotonic() - self._last_block > self.stall_s:
                self._failure = f"{self.name} delivered no audio for {self.stall_s:.1f} s"
        return self._failure

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        try:
            if status:
                self.overflows += 1
            data = indata[:frames]
            mono = data[:, 0] if data.ndim == 2 and data.shape[1] == 1 else data.mean(1)
            if self.device_rate != self.sample_rate:  # one filter state across blocks: no clicks
                resampler = self._resampler
                if resampler is None:  # drained: the stream has finished
                    return
                mono = resampler.resample_chunk(np.ascontiguousarray(mono, np.float32))
            self.ring.write(mono)
            self.blocks += 1
            self._last_block = self.clock.monotonic()
        except Exception as exc:  # raising here would abort PortAudio's thread silently
            self._failure = f"{self.name} failed: {exc}"

    def _finished(self) -> None:
        self._drain_resampler()
        if not self._stopping and self._failure is None:
            self._failure = f"{self.name} stopped recording (device lost?)"

    def _drain_resampler(self) -> None:
        """Write the few ms the resampler holds back (its filter delay) once no block follows.

        They are recorded audio, and with them the ring equals resampling the whole recording.
        """
        resampler, self._resampler = self._resampler, None
        if resampler is not None:
            with contextlib.suppress(Exception):  # runs on PortAudio's thread: never raise
                self.ring.write(resampler.resample_chunk(np.zeros(0, np.float32), last=True))

    def __enter__(self) -> MicrophoneSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
