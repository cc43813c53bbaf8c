"""Reading real audio from WAV, FLAC, MP3 and the sound track of the FLV videos."""

from __future__ import annotations

import numpy as np
import pytest

from edgefer.errors import EdgeferError
from edgefer.media import read_audio, read_image


def test_flv_sound_track_equals_the_published_wav(data_dir):
    video = read_audio(data_dir / "av" / "cremad" / "1001_DFA_ANG_XX.flv")
    wav = read_audio(data_dir / "voice" / "cremad" / "1001_DFA_ANG_XX.wav")
    n = min(video.size, wav.size)
    assert abs(video.size - wav.size) < 1600
    correlation = np.corrcoef(video[:n], wav[:n])[0, 1]
    assert correlation > 0.95


def test_mp3_and_flac_decode_to_16k_mono_float(data_dir):
    mp3 = read_audio(data_dir / "av" / "cremad" / "1002_DFA_HAP_XX.mp3")
    flac = read_audio(next((data_dir / "voice" / "ravdess" / "Actor_02").glob("*.flac")))
    for audio in (mp3, flac):
        assert audio.ndim == 1 and audio.dtype == np.float32
        assert 1.5 * 16000 < audio.size < 6 * 16000 and 0.01 < np.abs(audio).max() <= 1.0


def test_resampling_keeps_duration(data_dir):
    path = data_dir / "voice" / "cremad" / "1001_DFA_NEU_XX.wav"
    assert abs(read_audio(path, 8000).size * 2 - read_audio(path).size) <= 2


def test_missing_and_corrupt_files_are_user_errors(tmp_path):
    with pytest.raises(EdgeferError, match="not found"):
        read_audio(tmp_path / "nope.wav")
    for name in ("bad.wav", "bad.mp3", "bad.jpg"):
        (tmp_path / name).write_bytes(b"this is not media" * 10)
    with pytest.raises(EdgeferError, match="decode"):
        read_audio(tmp_path / "bad.wav")
    with pytest.raises(EdgeferError):
        read_audio(tmp_path / "bad.mp3")
    with pytest.raises(EdgeferError, match="truncated JPEG"):
        read_image(tmp_path / "bad.jpg")
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    with pytest.raises(EdgeferError, match="cannot decode"):
        read_image(tmp_path / "bad.png")


def test_truncated_jpeg_is_refused_not_grey_filled(fer_dir, tmp_path):
    original = sorted((fer_dir / "val" / "neutral").glob("*.jpg"))[0]
    assert read_image(original, grey=True).shape == (48, 48)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(original.read_bytes()[:400])
    with pytest.raises(EdgeferError, match="truncated"):
        read_image(cut)
