"""A test double of the external ``sounddevice`` package whose devices record a real speech WAV.

It implements only the documented calls edgefer makes -- ``query_devices``, ``query_hostapis``,
``check_input_settings``, ``InputStream``, ``PortAudioError`` and ``default.device`` -- and copies
PortAudio's answers: a rate or channel count the "hardware" refuses raises ``PortAudioError``
("Invalid sample rate [PaErrorCode -9997]"), as ``Pa_IsFormatSupported`` does; an unknown dtype or
an output-only device asked for input raises ``ValueError``. An opened stream replays the WAV with
:class:`~edgefer.live.microphone.WavStream`, read at the stream's own rate, so a device that records
only at 48 kHz really delivers 48 kHz speech to the callback. Install it for one test with
``monkeypatch.setitem(sys.modules, "sounddevice", FakeSounddevice(...))``.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.live.wav_stream import WavStream

DTYPES = ("float32", "int32", "int16", "int8", "uint8")


class PortAudioError(Exception):
    """sounddevice's exception for an error code from PortAudio."""


@dataclass(frozen=True)
class FakeDevice:
    """One device as ``Pa_GetDeviceInfo`` describes it, plus what its hardware accepts.

    rates : the sample rates it records at; any other is refused.
    mono : False for a device that only opens with all its input channels (some USB ``hw:``).
    """

    name: str
    max_input_channels: int
    default_samplerate: float
    rates: tuple[int, ...] = ()
    max_output_channels: int = 0
    mono: bool = True


class FakeInputStream:
    """``sounddevice.InputStream``'s interface over a :class:`WavStream` of the recording.

    finished : set once the stream has ended *and* the caller's ``finished_callback`` returned, so a
        test waits on it instead of sleeping.
    """

    def __init__(
        self,
        recording: Path,
        *,
        device: int,
        samplerate: float,
        blocksize: int,
        channels: int,
        dtype: str,
        callback: Callable[..., None],
        finished_callback: Callable[[], None] | None,
    ) -> None:
        self.device, self.samplerate, self.blocksize = device, float(samplerate), blocksize
        self.channels, self.dtype = channels, dtype
        self.finished = threading.Event()
        self.closed = False
        self._finished_callback = finished_callback
        self._wav = WavStream(
            recording,
            samplerate=int(samplerate),
            blocksize=blocksize,
            callback=callback,
            finished_callback=self._done,
            channels=channels,
            dtype=dtype,
            realtime=False,  # as fast as the callback takes it
        )

    @property
    def active(self) -> bool:
        return self._wav.active

    def start(self) -> None:
        if self.closed:
            raise PortAudioError("Error starting stream: Stream is closed")
        self._wav.start()

    def stop(self) -> None:
        self._wav.stop()

    def close(self) -> None:
        self._wav.stop()
        self.closed = True

    def _done(self) -> None:
        try:
            if self._finished_callback is not None:
                self._finished_callback()
        finally:
            self.finished.set()


class FakeSounddevice(types.ModuleType):
    """The ``sounddevice`` module with ``devices`` attached, each recording ``recording``.

    default_input : index of the default input device (-1: none, as ``Pa_GetDefaultInputDevice``).
    checks : every ``check_input_settings`` call as (device, channels, samplerate), in order.
    streams : every stream opened, newest last.
    """

    PortAudioError = PortAudioError

    def __init__(
        self, devices: Sequence[FakeDevice], recording: str | Path, default_input: int = -1
    ) -> None:
        super().__init__("sounddevice")
        self.__spec__ = ModuleSpec("sounddevice", None)  # importlib.util.find_spec finds it
        self.devices = list(devices)
        self.recording = Path(recording)
        self.default = SimpleNamespace(device=[default_input, -1])
        self.checks: list[tuple[int, int, int]] = []
        self.streams: list[FakeInputStream] = []

    def query_hostapis(self, index: int | None = None) -> Any:
        api = {"name": "ALSA", "devices": list(range(len(self.devices)))}
        return api if index is not None else (api,)

    def query_devices(self, device: int | str | None = None, kind: str | None = None) -> Any:
        if device is None and kind is None:
            return [self._info(index) for index in range(len(self.devices))]
        info = self._info(self._index(device, kind))
        if kind is not None and info[f"max_{kind}_channels"] < 1:
            raise ValueError(f"Not an {kind} device: {device!r}")
        return info

    def check_input_settings(
        self,
        device: int | str | None = None,
        channels: int | None = None,
        dtype: str | None = None,
        extra_settings: Any = None,
        samplerate: float | None = None,
    ) -> None:
        index = self._index(device, "input")
        fake = self.devices[index]
        rate = int(samplerate or fake.default_samplerate)
        self.checks.append((index, int(channels or 1), rate))
        self._validate(fake, int(channels or 1), dtype or "float32", rate)

    def InputStream(  # noqa: N802  (sounddevice's class name)
        self,
        samplerate: float | None = None,
        blocksize: int | None = None,
        device: int | str | None = None,
        channels: int | None = None,
        dtype: str | None = None,
        callback: Callable[..., None] | None = None,
        finished_callback: Callable[[], None] | None = None,
        **options: Any,
    ) -> FakeInputStream:
        index = self._index(device, "input")
        fake = self.devices[index]
        rate = int(samplerate or fake.default_samplerate)
        self._validate(fake, int(channels or 1), dtype or "float32", rate)
        if callback is None:
            raise ValueError("this fake only opens callback streams")
        stream = FakeInputStream(
            self.recording,
            device=index,
            samplerate=rate,
            blocksize=blocksize or 512,
            channels=int(channels or 1),
            dtype=dtype or "float32",
            callback=callback,
            finished_callback=finished_callback,
        )
        self.streams.append(stream)
        return stream

    def _info(self, index: int) -> dict[str, Any]:
        fake = self.devices[index]
        return {
            "name": fake.name,
            "index": index,
            "hostapi": 0,
            "max_input_channels": fake.max_input_channels,
            "max_output_channels": fake.max_output_channels,
            "default_samplerate": float(fake.default_samplerate),
        }

    def _index(self, device: int | str | None, kind: str | None) -> int:
        """PortAudio's index for ``device``; None is the default, a name a case-blind substring."""
        if device is None:
            device = self.default.device[0 if kind != "output" else 1]
        if isinstance(device, str):
            wanted = device.lower()
            found = [i for i, fake in enumerate(self.devices) if wanted in fake.name.lower()]
            if len(found) != 1:
                raise ValueError(f"No single {kind or 'input/output'} device matching {device!r}")
            return found[0]
        if not 0 <= int(device) < len(self.devices):
            raise PortAudioError(f"Error querying device {device}")
        return int(device)

    @staticmethod
    def _validate(fake: FakeDevice, channels: int, dtype: str, rate: int) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"Invalid input sample format: {dtype!r}")
        refused_mono = channels < fake.max_input_channels and not fake.mono
        if not 1 <= channels <= fake.max_input_channels or refused_mono:
            raise PortAudioError(
                "Error opening InputStream: Invalid number of channels [PaErrorCode -9998]"
            )
        if rate not in fake.rates:
            raise PortAudioError(
                "Error opening InputStream: Invalid sample rate [PaErrorCode -9997]"
            )
