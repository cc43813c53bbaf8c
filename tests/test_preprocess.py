"""The shared preprocessing on real faces and real voices: shapes, ranges, determinism, errors."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from edgefer.errors import EdgeferError
from edgefer.media import read_audio, read_image
from edgefer.preprocess import (
    centre_window,
    clip_tensor,
    clip_window,
    crop_face,
    crop_square,
    face_tensor,
    is_silent,
    log_mel,
    voice_tensor,
)
from edgefer.spec import DEFAULT_CROPS, CropRule, FaceSpec, PreprocessSpec, preset_spec

EDGE = preset_spec("edge")


@pytest.fixture(scope="module")
def real_face(fer_dir):
    return read_image(sorted((fer_dir / "val" / "happy").glob("*.jpg"))[0], grey=True)


@pytest.fixture(scope="module")
def real_clip(ravdess_dir):
    return read_audio(ravdess_dir / "Actor_01" / "03-01-05-02-01-01-01.flac")


def test_face_tensor_of_a_real_crop_has_model_shape_and_unit_range(real_face):
    tensor = face_tensor(real_face, EDGE)
    assert tensor.shape == (64, 64, 1) and tensor.dtype == np.float32
    assert 0.0 <= tensor.min() < 0.2 and 0.8 < tensor.max() <= 1.0
    np.testing.assert_array_equal(tensor, face_tensor(real_face.copy(), EDGE))


def test_face_tensor_of_bgr_equals_grey_conversion(real_face):
    bgr = np.dstack([real_face] * 3)
    np.testing.assert_allclose(face_tensor(bgr, EDGE), face_tensor(real_face, EDGE), atol=1 / 255)
    colour_spec = PreprocessSpec(image_size=32, face=FaceSpec(channels=3))
    assert face_tensor(real_face, colour_spec).shape == (32, 32, 3)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((64, 64), np.float32), np.zeros((1, 64), np.uint8), np.zeros((4, 4, 4, 4), np.uint8)],
)
def test_face_tensor_refuses_wrong_images(bad):
    with pytest.raises(EdgeferError):
        face_tensor(bad, EDGE)


def test_crop_face_frames_each_detectors_box_by_its_rule_and_clips_at_the_border():
    rules = (("yunet", CropRule(scale=0.85, shift_y=0.1)), ("haar", CropRule(scale=1.4)))
    spec = PreprocessSpec(image_size=64, face=FaceSpec(crops=rules))
    frame = np.arange(200 * 300, dtype=np.uint32).reshape(200, 300).astype(np.uint8)
    crop = crop_face(frame, (100, 50, 50, 60), spec, "haar")
    assert crop.shape == (84, 84)  # 1.4 x the longer side (60 px), square
    np.testing.assert_array_equal(crop[0], frame[38, 83:167])  # centred on the box
    crop = crop_face(frame, (100, 50, 50, 60), spec, "yunet")
    assert crop.shape == (51, 51)  # 0.85 x 60
    assert crop_square((100, 50, 50, 60), spec, "yunet") == (100, 60, 51)  # 6 px lower
    corner = crop_face(frame, (0, 0, 40, 40), spec, "haar")
    assert corner.shape == (48, 48)  # 56 px square centred at (20, 20), clipped at 0
    with pytest.raises(EdgeferError, match="outside"):
        crop_face(frame, (500, 500, 20, 20), spec, "haar")
    with pytest.raises(EdgeferError, match="no crop rule for detector 'mtcnn'"):
        crop_face(frame, (100, 50, 50, 60), spec, "mtcnn")


def test_a_version_1_spec_keeps_its_haar_margin_and_gains_the_measured_yunet_rule():
    old = {"image_size": 64, "face": {"channels": 1, "crop_margin": 0.1}, "version": 1}
    spec = PreprocessSpec.from_dict(old)
    assert spec.face.crop_rule("haar") == CropRule(scale=1.2)
    assert spec.face.crop_rule("yunet") == dict(DEFAULT_CROPS)["yunet"]
    assert spec.version == 2 and PreprocessSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(EdgeferError, match="newer"):
        PreprocessSpec.from_dict({**old, "version": 3})
    with pytest.raises(EdgeferError, match="crop scale"):
        CropRule(scale=3.0)


def test_log_mel_matches_librosa_reference(real_clip):
    voice = EDGE.voice
    window = clip_window(real_clip, voice)
    reference = librosa.power_to_db(
        librosa.feature.melspectrogram(
            y=window,
            sr=voice.sample_rate,
            n_fft=voice.n_fft,
            hop_length=voice.hop_length,
            win_length=voice.win_length,
            n_mels=voice.n_mels,
            fmin=voice.fmin,
            fmax=voice.fmax,
            center=True,
            pad_mode="constant",
        ),
        ref=np.max,
        top_db=voice.top_db,
    )
    ours = log_mel(window, voice)
    assert (
        ours.shape
        == reference.shape
        == (voice.n_mels, 1 + voice.window_samples // voice.hop_length)
    )
    assert np.abs(ours - reference).max() < 1e-2


def test_voice_tensor_of_a_real_clip_has_model_shape_and_unit_range(real_clip):
    tensor = clip_tensor(real_clip, EDGE)
    assert tensor.shape == (64, 64, 1) and tensor.dtype == np.float32
    assert tensor.min() >= 0.0 and tensor.max() <= 1.0 and tensor.max() > 0.8
    np.testing.assert_array_equal(tensor, clip_tensor(real_clip.copy(), EDGE))
    # low frequencies (bottom rows) carry more energy than the top for speech
    assert tensor[-16:].mean() > tensor[:16].mean()


def test_clip_window_centres_on_speech_and_pads_short_clips(real_clip):
    voice = EDGE.voice
    window = clip_window(real_clip, voice)
    assert window.size == voice.window_samples
    loudest = np.abs(real_clip).argmax()
    start = int(
        np.flatnonzero(
            np.all(np.lib.stride_tricks.sliding_window_view(real_clip, 64) == window[:64], axis=1)
        )[0]
    )
    assert start <= loudest < start + voice.window_samples
    short = real_clip[loudest - 9000 : loudest + 9000]  # 1.125 s, above the 1 s minimum
    padded = clip_window(short, voice)
    assert padded.size == voice.window_samples and padded[:1000].max() == 0.0


def test_too_short_and_silent_clips_are_refused(real_clip):
    with pytest.raises(EdgeferError, match="shorter"):
        clip_window(real_clip[:8000], EDGE.voice)
    with pytest.raises(EdgeferError, match="silent"):
        clip_window(np.zeros(40000, np.float32), EDGE.voice)
    assert is_silent(np.random.default_rng(0).normal(0, 1e-4, 32000).astype(np.float32), EDGE.voice)
    assert not is_silent(clip_window(real_clip, EDGE.voice), EDGE.voice)


def test_voice_tensor_cuts_or_pads_any_window_length(real_clip):
    assert voice_tensor(real_clip, EDGE).shape == (64, 64, 1)
    assert centre_window(real_clip[:100], 50, 400).size == 400
    with pytest.raises(EdgeferError):
        voice_tensor(np.zeros((2, 100), np.float32), EDGE)
    with pytest.raises(EdgeferError):
        voice_tensor(np.array([np.nan] * 32000, np.float32), EDGE)
