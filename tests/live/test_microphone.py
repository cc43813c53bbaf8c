"""Microphones as devices are: native 44.1/48 kHz devices resampled to the spec's 16 kHz, and device
names and indices that match nothing, all through our real MicrophoneSource code on a test double of
the sounddevice package whose devices record a real CREMA-D speech clip at their own rate."""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soxr

from edgefer.doctor import microphone_rows, report
from edgefer.errors import EdgeferError
from edgefer.live.mic_devices import input_devices
from edgefer.live.mic_option import open_audio_source
from edgefer.live.microphone import MicrophoneSource
from edgefer.media import read_audio
from edgefer.preprocess import voice_tensor
from edgefer.spec import preset_spec
from tests.live.fake_sounddevice import FakeDevice, FakeSounddevice

SPEC = preset_spec("edge")
WINDOW = SPEC.voice.window_samples
ANY_RATE = (8000, 16000, 22050, 32000, 44100, 48000, 96000)
# A Jetson with an HDMI output, the carrier board's codec, two USB microphones and PulseAudio.
DEVICES = (
    FakeDevice("NVIDIA Jetson HDMI: HDMI 0 (hw:0,3)", 0, 48000, (48000,), max_output_channels=8),
    FakeDevice("HDA Intel PCH: ALC3246 Analog (hw:1,0)", 2, 44100, (44100, 48000), 2),
    FakeDevice("USB Audio Device: - (hw:2,0)", 1, 48000, (48000,)),
    FakeDevice("USB PnP Sound Device: Audio (hw:3,0)", 1, 44100, (44100,)),
    FakeDevice("pulse", 32, 44100, ANY_RATE, 32),
    FakeDevice("Stereo Codec (hw:4,0)", 2, 48000, (48000,), mono=False),
    FakeDevice("Odd Codec (hw:5,0)", 1, 96000, (32000,)),  # claims 96 kHz, takes only 32 kHz
)
LISTING = (
    "input devices: 1 'HDA Intel PCH: ALC3246 Analog (hw:1,0)' (2 ch, 44100 Hz), "
    "2 'USB Audio Device: - (hw:2,0)' (1 ch, 48000 Hz), "
    "3 'USB PnP Sound Device: Audio (hw:3,0)' (1 ch, 44100 Hz), 4 'pulse' (32 ch, 44100 Hz), "
    "5 'Stereo Codec (hw:4,0)' (2 ch, 48000 Hz), 6 'Odd Codec (hw:5,0)' (1 ch, 96000 Hz)"
)


@pytest.fixture
def install(monkeypatch, speech_wav) -> Callable[..., FakeSounddevice]:
    """Puts a fake sounddevice with ``devices`` (default: the Jetson above) in ``sys.modules``."""

    def install_fake(
        devices: tuple[FakeDevice, ...] = DEVICES, default_input: int = 2
    ) -> FakeSounddevice:
        fake = FakeSounddevice(devices, speech_wav, default_input=default_input)
        monkeypatch.setitem(sys.modules, "sounddevice", fake)
        return fake

    return install_fake


@pytest.fixture(scope="module")
def reference_image(speech_wav: Path) -> np.ndarray:
    """The voice input a 16 kHz microphone gives for the clip (recorded below, not computed)."""
    return voice_tensor(_ring_window(_record_all(_fake(speech_wav, 16000), 0)), SPEC)


def _fake(wav: Path, rate: int) -> FakeSounddevice:
    return FakeSounddevice([FakeDevice(f"{rate} Hz mic", 1, rate, (rate,))], wav, default_input=0)


def _record_all(fake: FakeSounddevice, device: int | str | None, **options) -> MicrophoneSource:
    """Records the whole clip through MicrophoneSource, waiting on the stream's end, not a sleep."""
    saved = sys.modules.get("sounddevice")
    sys.modules["sounddevice"] = fake
    try:
        mic = MicrophoneSource(device, **options)
        with mic:
            assert fake.streams[-1].finished.wait(30), "the fake device never finished the clip"
    finally:
        if saved is None:
            del sys.modules["sounddevice"]
        else:
            sys.modules["sounddevice"] = saved
    return mic


def _ring_window(mic: MicrophoneSource) -> np.ndarray:
    return mic.ring.read_last(WINDOW)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_native_rate_microphone_gives_the_voice_input_of_a_16k_one(
    install, speech_wav, reference_image, rate
):
    fake = install((FakeDevice("USB Audio", 1, rate, (rate,)),), default_input=0)
    mic = _record_all(fake, "usb audio")
    assert mic.device_rate == rate and fake.streams[-1].samplerate == rate
    assert mic.name == f"microphone 0 (USB Audio, {rate} Hz -> 16000 Hz)"
    assert fake.streams[-1].blocksize == round(512 * rate / 16000)  # same block duration
    diff = np.abs(voice_tensor(_ring_window(mic), SPEC) - reference_image)[..., 0]
    # Measured: 0.098 in the top row, the mel band at 7.5-8 kHz that lies beyond the resampler's
    # pass band (about 7.3 kHz) and so is lost from any 44.1/48 kHz recording; 0.008 in the next
    # band; < 1e-4 below; mean 3.3e-4. Unresampled audio differs by 0.93, a 44.1/48 kHz mix-up by
    # 0.65 (mean 0.11).
    assert diff[0].max() < 0.15
    assert diff[1:].max() < 0.02
    assert diff.mean() < 1e-3


@pytest.mark.parametrize(("rate", "block"), [(44100, 333), (48000, 512), (22050, 1000)])
def test_blockwise_resampling_equals_resampling_the_whole_recording(
    install, speech_wav, rate, block
):
    """No clicks at block boundaries: streaming the device's blocks through the resampler gives the
    samples that resampling the device's whole recording at once gives."""
    fake = install((FakeDevice("mic", 1, rate, (rate,)),), default_input=0)
    mic = _record_all(fake, None, block=block)
    whole = soxr.resample(read_audio(speech_wav, rate), rate, 16000)
    assert mic.ring.total_written == whole.size
    np.testing.assert_allclose(mic.ring.read_last(whole.size), whole, atol=1e-6, rtol=0)
    assert mic.blocks > 20 and mic.overflows == 0


def test_a_device_that_takes_16k_is_opened_at_16k_without_resampling(install, speech_wav):
    fake = install()
    mic = _record_all(fake, "PULSE")
    assert mic.device_rate == 16000 and mic.name == "microphone 4 (pulse, 16000 Hz)"
    assert fake.checks == [(4, 1, 16000)]
    clip = read_audio(speech_wav)
    np.testing.assert_array_equal(mic.ring.read_last(clip.size), clip)


def test_the_native_rate_chosen_is_the_devices_own_then_the_common_ones(install):
    fake = install()
    codec = MicrophoneSource(1)  # takes 44.1 and 48 kHz; its own is 44.1 kHz
    assert codec.device_rate == 44100 and "44100 Hz -> 16000 Hz" in codec.name
    assert fake.checks == [(1, 1, 16000), (1, 1, 44100)]
    fake.checks.clear()
    odd = MicrophoneSource("odd codec")  # its default (96 kHz) is refused: down the list
    assert odd.device_rate == 32000
    assert [rate for _, _, rate in fake.checks] == [16000, 96000, 48000, 44100, 32000]
    default = MicrophoneSource(None)  # PortAudio's default input: the 48 kHz USB microphone
    assert default.device_rate == 48000 and default.device.index == 2
    assert default.name == "microphone 2 (USB Audio Device: - (hw:2,0), 48000 Hz -> 16000 Hz)"


def test_a_stereo_only_device_is_opened_in_stereo_and_averaged(install, reference_image):
    fake = install()
    mic = _record_all(fake, "stereo")
    assert fake.streams[-1].channels == 2 and mic.device_rate == 48000
    diff = np.abs(voice_tensor(_ring_window(mic), SPEC) - reference_image)[..., 0]
    assert diff[1:].max() < 0.02 and diff.mean() < 1e-3


def test_a_lost_native_rate_device_is_marked_failed_by_its_full_name(install):
    fake = install()
    mic = MicrophoneSource(3)
    mic.start()
    try:
        assert fake.streams[-1].finished.wait(30)  # the clip's end: the device "went away"
        assert mic.failed == (
            "microphone 3 (USB PnP Sound Device: Audio (hw:3,0), 44100 Hz -> 16000 Hz) "
            "stopped recording (device lost?)"
        )
    finally:
        mic.stop()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("USB mic", f"no input device matches 'USB mic'; {LISTING}"),
        ("7", f"no input device 7; {LISTING}"),  # out of range
        ("0", f"no input device 0; {LISTING}"),  # the HDMI output
        (
            "usb",
            "'usb' matches 2 input devices: 2 'USB Audio Device: - (hw:2,0)' (1 ch, 48000 Hz), "
            "3 'USB PnP Sound Device: Audio (hw:3,0)' (1 ch, 44100 Hz); give its index or more of "
            "its name",
        ),
    ],
)
def test_a_microphone_that_is_not_there_is_one_line_listing_the_devices(install, spec, message):
    install()
    with pytest.raises(EdgeferError) as info:
        open_audio_source(spec)  # the --mic path of the CLI and the loop
    assert str(info.value) == message


def test_names_match_as_in_sounddevice(install):
    install()
    devices = input_devices()
    assert [d.index for d in devices] == [1, 2, 3, 4, 5, 6]
    assert [d.index for d in devices if d.is_default] == [2]
    assert MicrophoneSource("usb PNP").device.index == 3  # case-blind, parts in order
    with pytest.raises(EdgeferError, match="no input device matches 'alsa pulse'"):
        MicrophoneSource("alsa pulse")  # the parts must come in order
    assert MicrophoneSource("pulse, ALSA").device.index == 4  # "name, host API" as sounddevice


def test_no_input_devices_at_all_is_said_so(install):
    install(DEVICES[:1], default_input=-1)  # only the HDMI output
    assert input_devices() == []
    with pytest.raises(EdgeferError) as info:
        MicrophoneSource("USB mic")
    assert str(info.value) == "no input device matches 'USB mic'; no input devices found"
    with pytest.raises(EdgeferError, match="^no default input device; no input devices found$"):
        MicrophoneSource(None)


def test_a_device_taking_no_usable_rate_is_one_line(install):
    install((FakeDevice("8 kHz headset", 1, 8000, (8000,)),), default_input=0)
    with pytest.raises(EdgeferError) as info:
        MicrophoneSource(0)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(
        "microphone 0 '8 kHz headset' (1 ch, 8000 Hz) records at none of "
        "16000, 48000, 44100, 32000, 22050 Hz (Error opening InputStream: Invalid sample rate"
    )
    assert text.endswith("input devices: 0 '8 kHz headset' (1 ch, 8000 Hz)")


def test_doctor_lists_the_input_devices_with_their_rates(install):
    install()
    rows = microphone_rows()
    assert rows[:2] == [
        ("microphone 1", "ok", "'HDA Intel PCH: ALC3246 Analog (hw:1,0)' (2 ch, 44100 Hz)"),
        ("microphone 2", "ok", "'USB Audio Device: - (hw:2,0)' (1 ch, 48000 Hz), default"),
    ]
    assert len(rows) == 6 and rows[-1][0] == "microphone 6"
    assert rows == [row for row in report() if row[0].startswith("microphone")]


def test_doctor_says_why_there_are_no_microphones(install, monkeypatch):
    install(DEVICES[:1], default_input=-1)
    assert microphone_rows() == [("microphones", "none", "none found")]

    fake = install()

    def broken_query(*args, **kwargs):
        raise fake.PortAudioError("Error querying device -1")

    monkeypatch.setattr(fake, "query_devices", broken_query)
    [(item, status, detail)] = microphone_rows()
    assert (item, status) == ("microphones", "error") and "Error querying device -1" in detail

    monkeypatch.setitem(sys.modules, "sounddevice", None)  # the package is not installed
    assert microphone_rows() == [
        ("microphones", "missing", "sounddevice missing: pip install 'edgefer[live]'")
    ]


def test_doctor_survives_a_missing_portaudio_library(monkeypatch):
    """sounddevice installed without libportaudio: its import raises OSError."""

    class NoPortAudio(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        """Finds sounddevice, whose module code then fails to load libportaudio (ffi.dlopen)."""

        def find_spec(self, name, path=None, target=None):
            return importlib.util.spec_from_loader(name, self) if name == "sounddevice" else None

        def exec_module(self, module):
            raise OSError("PortAudio library not found")

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPortAudio(), *sys.meta_path])
    [(item, status, detail)] = microphone_rows()
    assert (item, status) == ("microphones", "missing")
    assert detail.startswith("PortAudio library missing (PortAudio library not found)")
    with pytest.raises(EdgeferError, match=r"edgefer\[live\]"):
        input_devices()
