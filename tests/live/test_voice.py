"""The live voice input on real audio: real silence is an absent modality, real speech becomes
exactly the shared preprocessing's log-mel image, refreshed once per hop of audio."""

from __future__ import annotations

import numpy as np
import pytest

from edgefer.errors import EdgeferError
from edgefer.live.audio import AudioRing, FileAudioSource
from edgefer.live.voice import VoiceWindow
from edgefer.media import read_audio
from edgefer.preprocess import voice_tensor
from edgefer.spec import preset_spec

EDGE = preset_spec("edge")


@pytest.fixture(scope="module")
def real_silence(ravdess_dir):
    """The recorded room tone before a RAVDESS actor speaks (about -95 dBFS), tiled to 3 s."""
    clip = read_audio(ravdess_dir / "Actor_01" / "03-01-01-01-01-01-01.flac")
    return np.tile(clip[:8000], 6)


def test_real_silence_is_an_absent_voice(real_silence):
    ring = AudioRing(4.0)
    ring.write(real_silence)
    voice = VoiceWindow(ring, EDGE).update()
    assert not voice.present and voice.silent and voice.refreshed
    assert voice.level_dbfs < -70 and voice.spectrogram_ms > 0


def test_real_speech_is_the_shared_log_mel_image(speech_wav):
    source = FileAudioSource(speech_wav, realtime=False)
    window = VoiceWindow(source.ring, EDGE, hop_s=0.25)
    source.advance_to(1.5)
    voice = window.update()
    assert voice.present and not voice.silent and voice.level_dbfs > -40
    assert voice.tensor.shape == (64, 64, 1) and voice.tensor.dtype == np.float32
    expected = voice_tensor(source.ring.read_last(EDGE.voice.window_samples), EDGE)
    np.testing.assert_array_equal(voice.tensor, expected)


def test_window_is_recomputed_once_per_hop_of_audio(speech_wav):
    source = FileAudioSource(speech_wav, realtime=False)
    window = VoiceWindow(source.ring, EDGE, hop_s=0.25)
    assert not window.update().present  # nothing recorded yet
    source.advance_to(1.0)
    first = window.update()
    source.advance_to(1.2)  # 0.2 s of new audio: less than a hop
    again = window.update()
    assert first.refreshed and not again.refreshed and again.spectrogram_ms == 0.0
    assert again.tensor is first.tensor
    source.advance_to(1.25)
    later = window.update()
    assert later.refreshed and not np.array_equal(later.tensor, first.tensor)


def test_voice_then_silence_switches_the_modality_off(speech_wav, real_silence):
    ring = AudioRing(4.0)
    window = VoiceWindow(ring, EDGE, hop_s=0.1)
    ring.write(read_audio(speech_wav))
    assert window.update().present
    ring.write(real_silence[:32000])  # two seconds of room tone push the speech out
    assert not window.update().present


def test_voice_window_refuses_a_mismatched_ring():
    with pytest.raises(EdgeferError, match="Hz"):
        VoiceWindow(AudioRing(4.0, 8000), EDGE)
    with pytest.raises(EdgeferError, match="shorter than"):
        VoiceWindow(AudioRing(1.0), EDGE)
