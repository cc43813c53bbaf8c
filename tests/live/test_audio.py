"""Audio on real clips: the ring buffer, a video's own sound track played into it, and the
microphone code path driven by a sounddevice-shaped stream replaying a real WAV."""

from __future__ import annotations

import importlib.util
import threading
import time

import numpy as np
import pytest

from edgefer.errors import EdgeferError
from edgefer.live.audio import AudioRing, FileAudioSource
from edgefer.live.mic_option import open_audio_source
from edgefer.live.microphone import MicrophoneSource
from edgefer.media import read_audio
from tests.live.manual_clock import ManualClock
from tests.live.wav_stream import WavStream

WINDOW = 32000  # the 2 s model window at 16 kHz
HAS_SOUNDDEVICE = importlib.util.find_spec("sounddevice") is not None


def test_ring_keeps_the_last_samples_across_wrap_around():
    ring = AudioRing(seconds=1.0, sample_rate=97)  # 97-sample ring: odd, to catch index slips
    stream = np.zeros(0, np.float32)
    rng = np.random.default_rng(0)
    for size in [0, 1, 50, 96, 97, 98, 300, *rng.integers(0, 150, 60)]:
        chunk = rng.standard_normal(int(size)).astype(np.float32)
        ring.write(chunk)
        stream = np.concatenate([stream, chunk])
        for n in (1, 13, 97):
            expected = np.zeros(n, np.float32)
            tail = stream[-n:] if stream.size else stream
            expected[n - tail.size :] = tail
            np.testing.assert_array_equal(ring.read_last(n), expected)
    assert ring.total_written == stream.size
    with pytest.raises(EdgeferError):
        ring.read_last(98)


def test_ring_reads_are_never_torn_by_a_concurrent_writer():
    ring = AudioRing(seconds=1.0, sample_rate=4000)
    stop = threading.Event()

    def writer():
        value = 0
        while not stop.is_set():
            ring.write((np.arange(value, value + 333) % 65536).astype(np.float32))  # exact in f32
            value += 333

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            window = ring.read_last(1000)
            if ring.total_written >= 1000:
                assert np.all(np.diff(window) % 65536 == 1.0)  # one contiguous run, oldest first
    finally:
        stop.set()
        thread.join()


def test_video_sound_track_fills_the_ring_with_read_audio_samples(flv):
    reference = read_audio(flv)
    source = FileAudioSource(flv, realtime=False)
    for t in np.arange(0.0, 1.5, 1 / 29.97):  # advanced frame by frame, as the loop does
        source.advance_to(t)
    end = source.position
    assert end == round(44 / 29.97 * 16000)  # the 45th frame's media time
    window = source.ring.read_last(WINDOW)  # 1.47 s of sound after 0.53 s of silence
    np.testing.assert_array_equal(window[WINDOW - end :], reference[:end])
    assert not window[: WINDOW - end].any()
    source.advance_to(10.0)
    assert source.finished and source.position == reference.size
    np.testing.assert_array_equal(source.ring.read_last(WINDOW), reference[-WINDOW:])


def test_realtime_file_source_plays_at_the_sample_rate(speech_wav):
    """Each 500-sample block (1/32 s at 16 kHz, exact in binary) is written the moment its duration
    has passed on the clock and not before; a late wake-up writes every block due, then keeps time."""
    reference = read_audio(speech_wav)
    clock = ManualClock()
    with FileAudioSource(speech_wav, realtime=True, block=500, clock=clock) as source:
        for k in range(1, 11):
            clock.advance(1 / 64)
            assert source.position == (k - 1) * 500  # half-way through block k: not yet written
            clock.advance(1 / 64)
            assert source.position == k * 500  # block k is due: written at once
        assert clock.waits == [1 / 32] * 11  # the thread asked to wait one block each time
        clock.advance(0.3)  # woken late: 9.6 blocks due since, the 9 complete ones written
        assert source.position == 19 * 500
        window = source.ring.read_last(8000)
        clock.advance(reference.size / 16000)  # past the end: the player finishes and stops
        assert source.finished and source.position == reference.size
    np.testing.assert_array_equal(window, reference[: 19 * 500][-8000:])
    np.testing.assert_array_equal(source.ring.read_last(reference.size), reference)


def test_looped_file_source_wraps_around(speech_wav):
    reference = read_audio(speech_wav)
    source = FileAudioSource(speech_wav, realtime=False, loop=True)
    source.advance_to(2 * reference.size / 16000 + 0.5)
    assert not source.finished
    expected = np.concatenate([reference, reference[:8000]])[-WINDOW:]
    np.testing.assert_array_equal(source.ring.read_last(WINDOW), expected)


def test_microphone_path_fed_by_a_real_wav_gives_the_file_window(speech_wav):
    """MicrophoneSource's PortAudio callback path, with WavStream in place of the device."""
    size = read_audio(speech_wav).size
    opened: list[WavStream] = []
    mic = MicrophoneSource(0, stream_factory=WavStream.factory(speech_wav, opened, realtime=False))
    with mic:
        assert opened[0].finished.wait(30), "the stream never reached the end of the clip"
    file_source = FileAudioSource(speech_wav, realtime=False)
    file_source.advance_to(60.0)
    assert mic.ring.total_written == size
    np.testing.assert_array_equal(mic.ring.read_last(WINDOW), file_source.ring.read_last(WINDOW))
    assert mic.blocks == -(-size // 512) and mic.overflows == 0  # 512-sample blocks


def _realtime_mic(wav, device, clock, **options) -> MicrophoneSource:
    """A MicrophoneSource on a WavStream whose blocks arrive as ``clock`` moves past them."""
    mic_options = {k: options.pop(k) for k in ("block", "stall_s") if k in options}
    factory = WavStream.factory(wav, realtime=True, clock=clock, **options)
    return MicrophoneSource(device, stream_factory=factory, clock=clock, **mic_options)


def test_microphone_lost_mid_run_is_marked_failed(speech_wav):
    clock = ManualClock()
    mic = _realtime_mic(speech_wav, "USB mic", clock, fail_after_s=0.3)
    with mic:
        clock.advance(0.1)  # 512-sample blocks every 32 ms: three by now
        assert mic.failed is None and mic.ring.total_written == 3 * 512
        clock.advance(0.5, asleep=0)  # the device stops after the block that reaches 0.3 s
        assert mic.failed == "microphone USB mic stopped recording (device lost?)"
    assert mic.blocks == 10 and mic.ring.total_written == 10 * 512  # 0.32 s, none after


def test_microphone_that_goes_quiet_is_marked_failed(speech_wav):
    """A wedged driver: the stream stays active but no block arrives within ``stall_s``. Here one
    block arrives each second, so the gaps before and after the first one are stalls of 0.5 s."""
    clock = ManualClock()
    mic = _realtime_mic(speech_wav, 1, clock, block=16000, stall_s=0.5, loop=True)
    with mic:
        clock.advance(0.5)  # no block yet, but only stall_s since the start
        assert mic.failed is None and mic.blocks == 0
        clock.advance(0.5)  # the first block, at 1 s, restarts the watch
        assert mic.blocks == 1 and mic.failed is None
        clock.advance(0.5)
        assert mic.failed is None  # 0.5 s since that block: not more than stall_s
        clock.advance(0.25)
        assert mic.failed == "microphone 1 delivered no audio for 0.5 s"
        assert mic.blocks == 1


def test_stopping_a_microphone_is_not_a_failure(speech_wav):
    clock = ManualClock()
    mic = _realtime_mic(speech_wav, 0, clock)
    assert mic.failed is None  # not started yet is not a failure either
    mic.start()
    clock.advance(0.1)
    assert mic.blocks == 3 and mic.failed is None  # recording
    mic.stop()  # the stream ends and calls finished_callback, as PortAudio does on stop
    assert mic.failed is None


@pytest.mark.skipif(HAS_SOUNDDEVICE, reason="sounddevice is installed here")
def test_missing_sounddevice_is_one_line_with_a_hint():
    with pytest.raises(EdgeferError, match=r"edgefer\[live\]") as info:
        open_audio_source("0")
    assert "\n" not in str(info.value)


def test_open_audio_source_parses_specs(flv, speech_wav, av_dir, tmp_path):
    assert open_audio_source("none", str(flv)) is None
    assert open_audio_source(None) is None
    for spec in ("video", str(flv)):
        source = open_audio_source(spec, str(flv), realtime=False)
        assert isinstance(source, FileAudioSource) and source.name == str(flv)
    mp3 = open_audio_source(str(av_dir / "1002_DFA_ANG_XX.mp3"), "0", realtime=False)
    assert isinstance(mp3, FileAudioSource) and 2.0 < mp3.duration_s < 3.0
    with pytest.raises(EdgeferError, match="--camera is not a file"):
        open_audio_source("video", "0")
    with pytest.raises(EdgeferError, match="audio file not found"):
        open_audio_source(str(tmp_path / "missing.wav"))
    silent_video = tmp_path / "broken.flv"
    silent_video.write_bytes(b"no media here" * 100)
    with pytest.raises(EdgeferError, match="cannot decode audio"):
        open_audio_source("video", str(silent_video))
