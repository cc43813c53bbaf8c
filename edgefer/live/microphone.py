"""Microphone input through sounddevice (PortAudio).

PortAudio calls our callback from its own thread with each block of samples; the callback only
resamples them to the spec's rate and copies them into the ring, so it never blocks the audio driver.
Many USB microphones (common on a Jetson) record at 44.1 or 48 kHz only, so the stream opens at the
spec's rate when the device takes it and at the device's native rate otherwise; a streaming soxr
resampler then turns each block into 16 kHz, carrying its filter state across blocks so that block
boundaries add no clicks and the ring holds what resampling the whole recording would give.

A stream that stops on its own (device unplugged), raises in the callback, or goes quiet for
``stall_s`` marks the source failed: the loop then falls back to the face alone and says so.
The tests replay a real WAV through exactly the subset of ``sounddevice.InputStream`` used here
(``tests/live/wav_stream.py``), so this code path runs without a microphone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import soxr

from edgefer.errors import EdgeferError
from edgefer.live.audio import AudioRing

Callback = Callable[[np.ndarray, int, Any, Any], None]
INSTALL_HINT = (
    "pip install 'edgefer[live]' (sounddevice + PortAudio), or use --mic FILE / --mic none"
)
# Rates tried, in order, after the spec's rate and the device's own default: what USB and onboard
# codecs commonly accept. A device taking none of them is reported with the list of devices.
FALLBACK_RATES = (48000, 44100, 32000, 22050)


class StreamLike(Protocol):
    """The part of ``sounddevice.InputStream`` we use; it calls ``callback(indata, frames, time,
    status)`` with ``indata`` float32 (frames, channels), and ``finished_callback()`` once inactive.
    A stream may also carry ``samplerate`` (the rate it really records at; the one asked otherwise).
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


@dataclass(frozen=True)
class InputDevice:
    """One device PortAudio can record from: the input side of ``python -m sounddevice``.

    index : PortAudio's device index (what ``--mic 4`` names).
    channels : the most input channels it offers.
    default_samplerate : its native rate, the one it is most likely to accept.
    is_default : PortAudio's (or ``sounddevice.default.device``'s) default input.
    hostapi : the host API's name (ALSA, PulseAudio, ...); matched by ``--mic NAME`` too.
    """

    index: int
    name: str
    channels: int
    default_samplerate: float
    is_default: bool = False
    hostapi: str = ""

    def details(self) -> str:
        """``'USB Audio' (1 ch, 48000 Hz)``: name, channels and native rate."""
        return f"'{self.name}' ({self.channels} ch, {self.default_samplerate:.0f} Hz)"

    def describe(self) -> str:
        """``4 'USB Audio' (1 ch, 48000 Hz)``: how error messages list a device."""
        return f"{self.index} {self.details()}"


def import_sounddevice() -> ModuleType:
    """The ``sounddevice`` module; a missing package or PortAudio library (OSError) is one line."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise EdgeferError(f"microphone input is unavailable ({exc}): {INSTALL_HINT}") from exc
    return sd


def input_devices(sd: ModuleType | None = None) -> list[InputDevice]:
    """Every device with at least one input channel, in PortAudio's order.

    Raises
    ------
    EdgeferError
        sounddevice or PortAudio is missing, or PortAudio cannot list its devices.
    """
    sd = sd if sd is not None else import_sounddevice()
    try:
        listed = list(sd.query_devices())
        hostapis = _hostapi_names(sd)
        default = _default_input_spec(sd)
    except (ValueError, sd.PortAudioError) as exc:
        raise EdgeferError(f"cannot list audio devices ({exc}): {INSTALL_HINT}") from exc
    devices = [
        InputDevice(
            index=int(info.get("index", position)),
            name=str(info["name"]),
            channels=int(info["max_input_channels"]),
            default_samplerate=float(info["default_samplerate"]),
            hostapi=hostapis.get(info.get("hostapi", -1), ""),
        )
        for position, info in enumerate(listed)
        if int(info["max_input_channels"]) > 0
    ]
    if isinstance(default, str):  # sounddevice.default.device set to a name
        named = _matching(default, devices)
        default = named[0].index if len(named) == 1 else None
    return [replace(device, is_default=device.index == default) for device in devices]


def _hostapi_names(sd: ModuleType) -> dict[int, str]:
    query = getattr(sd, "query_hostapis", None)
    return {} if query is None else {i: str(api["name"]) for i, api in enumerate(query())}


def _default_input_spec(sd: ModuleType) -> int | str | None:
    """The input half of ``sounddevice.default.device``: an index (-1: none), a name, or None."""
    value = sd.default.device
    if value is not None and not isinstance(value, (int, str)):
        value = value[0]  # an (input, output) pair
    return value if isinstance(value, (int, str)) else None


def _matching(query: str, devices: Sequence[InputDevice]) -> list[InputDevice]:
    """Devices whose "name, host API" holds each space-separated part of ``query`` in order, case
    ignored: the rule sounddevice applies to a device name, so names that work there work here."""
    parts = query.lower().split()
    found = []
    for device in devices:
        text, position = f"{device.name}, {device.hostapi}".lower(), 0
        for part in parts:
            position = text.find(part, position)
            if position < 0:
                break
            position += len(part)
        else:
            found.append(device)
    return found


def _listing(devices: Sequence[InputDevice]) -> str:
    if not devices:
        return "no input devices found"
    return "input devices: " + ", ".join(device.describe() for device in devices)


def find_input_device(spec: int | str | None, devices: Sequence[InputDevice]) -> InputDevice:
    """The device ``--mic SPEC`` names: an index, a name (see :func:`_matching`), or None (default).

    Raises
    ------
    EdgeferError
        Nothing or several devices match, or the index is no input device; the one line lists the
        input devices, so the user can pick one without another tool.
    """
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec)
    if spec is None:
        default = [device for device in devices if device.is_default]
        if default:
            return default[0]
        raise EdgeferError(f"no default input device; {_listing(devices)}")
    if isinstance(spec, int):
        for device in devices:
            if device.index == spec:
                return device
        raise EdgeferError(f"no input device {spec}; {_listing(devices)}")
    matches = _matching(spec, devices)
    if len(matches) == 1:
        return matches[0]
    query = spec.strip().lower()
    exact = [d for d in matches if query in (d.name.lower(), f"{d.name}, {d.hostapi}".lower())]
    if len(exact) == 1:  # "USB Audio" beside "USB Audio #2", as sounddevice decides
        return exact[0]
    if not matches:
        raise EdgeferError(f"no input device matches {spec!r}; {_listing(devices)}")
    raise EdgeferError(
        f"{spec!r} matches {len(matches)} input devices: "
        + ", ".join(device.describe() for device in matches)
        + "; give its index or more of its name"
    )


def candidate_rates(wanted: int, device: InputDevice) -> list[int]:
    """Rates to try, best first: the spec's (no resampling), the device's own, then common ones.

    None below ``wanted``: upsampled 8 kHz telephone audio would leave the upper half of the voice
    image empty, which the model never saw in training, so such a device is refused instead.
    """
    rates = [int(wanted), int(round(device.default_samplerate)), *FALLBACK_RATES]
    return [rate for i, rate in enumerate(rates) if rate >= wanted and rate not in rates[:i]]


def choose_input_settings(
    sd: ModuleType, device: InputDevice, wanted: int, dtype: str = "float32"
) -> tuple[int, int]:
    """(sample rate, channels) the device accepts, asking PortAudio with ``check_input_settings``.

    Mono is tried at every rate first; a device that refuses mono (a stereo USB codec's ``hw:``
    device, a microphone array's raw channels) is opened in stereo or with all its channels, which
    the callback averages.

    Raises
    ------
    EdgeferError
        The device takes none of the rates; the line says which were tried and lists the devices.
    """
    rates = candidate_rates(wanted, device)
    channel_options = sorted({1, min(device.channels, 2), device.channels})
    last: Exception | None = None
    for channels in channel_options:
        for rate in rates:
            try:
                sd.check_input_settings(
                    device=device.index, channels=channels, samplerate=rate, dtype=dtype
                )
            except (ValueError, sd.PortAudioError) as exc:
                last = exc
                continue
            return rate, channels
    tried = ", ".join(str(rate) for rate in rates)
    raise EdgeferError(
        f"microphone {device.describe()} records at none of {tried} Hz ({last}); "
        f"{_listing(input_devices(sd))}"
    )


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
        self.sample_rate = int(sample_rate)
        self.ring = ring if ring is not None else AudioRing(4.0, sample_rate)
        if self.ring.sample_rate != self.sample_rate:
            raise EdgeferError(
                f"ring at {self.ring.sample_rate} Hz, microphone at {sample_rate} Hz"
            )
        self.stall_s = stall_s
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
            mono = data[:, 0] if data.ndim == 2 and data.shape[1] == 1 else data.mean(1)
            if self.device_rate != self.sample_rate:  # one filter state across blocks: no clicks
                resampler = self._resampler
                if resampler is None:  # drained: the stream has finished
                    return
                mono = resampler.resample_chunk(np.ascontiguousarray(mono, np.float32))
            self.ring.write(mono)
            self.blocks += 1
            self._last_block = time.monotonic()
        except Exception as exc:  # raising here would abort PortAudio's thread silently
            self._failure = f"{self.name} failed: {exc}"

    def _finished(self) -> None:
        self._drain_resampler()
        if not self._stopping and self._failure is None:
            self._failure = f"{self.name} stopped recording (device lost?)"

    def _drain_resampler(self) -> None:
        """Write the few ms the resampler holds back (its filter delay) once no block follows:
        they are recorded audio, and with them the ring equals resampling the whole recording."""
        resampler, self._resampler = self._resampler, None
        if resampler is not None:
            with contextlib.suppress(Exception):  # runs on PortAudio's thread: never raise
                self.ring.write(resampler.resample_chunk(np.zeros(0, np.float32), last=True))

    def __enter__(self) -> MicrophoneSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
