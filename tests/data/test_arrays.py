"""Sample lists -> arrays through the shared preprocessing, on real images and clips."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest

from edgefer.data.arrays import is_masked, load_face_array, load_voice_array, mask_seed
from edgefer.data.faces import index_fer2013
from edgefer.data.samples import Sample
from edgefer.data.voices import index_cremad, index_ravdess
from edgefer.errors import EdgeferError
from edgefer.media import read_audio, read_image
from edgefer.preprocess import clip_tensor, face_tensor
from edgefer.spec import FaceSpec, PreprocessSpec

SPEC = PreprocessSpec()  # 64 px, grey faces


@pytest.fixture(scope="module")
def faces(fer_dir):
    """The first 20 images of each emotion folder the default map keeps (120 images)."""
    samples = index_fer2013(fer_dir, "train")
    per_emotion: dict[str, list[Sample]] = {}
    for s in samples:
        per_emotion.setdefault(s.emotion, []).append(s)
    return [s for group in per_emotion.values() for s in group[:20]]


@pytest.fixture(scope="module")
def voices(ravdess_dir, cremad_dir):
    """Two RAVDESS actors (40 clips) and the six kept CREMA-D clips."""
    ravdess = [s for s in index_ravdess(ravdess_dir) if s.group in ("ravdess:01", "ravdess:02")]
    return ravdess + index_cremad(cremad_dir)


def _check(arrays, samples, shape):
    assert arrays.x.shape == (len(samples), *shape)
    assert arrays.x.dtype == np.float32 and arrays.y.dtype == np.int64
    assert arrays.x.min() >= 0.0 and arrays.x.max() <= 1.0
    assert arrays.x.std() > 0.05  # real content, not a blank array
    assert arrays.samples == list(samples)
    assert arrays.y.tolist() == [s.label for s in samples]


def test_real_faces_load_through_the_shared_preprocessing(faces):
    calls = []
    arrays = load_face_array(faces, SPEC, progress=lambda done, total: calls.append((done, total)))
    _check(arrays, faces, (64, 64, 1))
    assert arrays.skipped == [] and not arrays.masked.any()
    for i in (0, 57, len(faces) - 1):
        expected = face_tensor(read_image(faces[i].path, grey=True), SPEC)
        assert np.array_equal(arrays.x[i], expected)
    assert calls[-1] == (len(faces), len(faces)) and len(calls) == len(faces)


def test_colour_faces(faces):
    spec = replace(SPEC, image_size=48, face=FaceSpec(channels=3))
    arrays = load_face_array(faces[:10], spec)
    _check(arrays, faces[:10], (48, 48, 3))


def test_faces_load_identically_twice_and_in_threads(faces):
    first = load_face_array(faces, SPEC)
    assert np.array_equal(first.x, load_face_array(faces, SPEC).x)
    assert np.array_equal(first.x, load_face_array(faces, SPEC, workers=4).x)


def test_corrupt_image_is_skipped_and_counted(tmp_path, faces):
    copies = []
    for s in faces[:5]:
        shutil.copy(s.path, tmp_path / s.path.name)
        copies.append(replace(s, path=tmp_path / s.path.name))
    bad = tmp_path / "Training_0000.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    samples = copies[:2] + [replace(copies[0], path=bad)] + copies[2:]
    with pytest.warns(UserWarning, match="skipped 1 of 6 face image files"):
        arrays = load_face_array(samples, SPEC)
    assert arrays.x.shape[0] == 5 and arrays.samples == copies
    assert [p for p, _ in arrays.skipped] == [bad]
    assert "truncated JPEG" in arrays.skipped[0][1] or "cannot decode" in arrays.skipped[0][1]
    with pytest.warns(UserWarning), pytest.raises(EdgeferError, match="none of the 1"):
        load_face_array([replace(copies[0], path=bad)], SPEC)
    with pytest.raises(EdgeferError, match="no face image samples"):
        load_face_array([], SPEC)


def test_real_clips_load_through_the_shared_preprocessing(voices):
    arrays = load_voice_array(voices, SPEC)
    _check(arrays, voices, (64, 64, 1))
    assert arrays.skipped == []
    for i in (0, len(voices) - 1):
        expected = clip_tensor(read_audio(voices[i].path, SPEC.voice.sample_rate), SPEC)
        assert np.array_equal(arrays.x[i], expected)
    again = load_voice_array(voices, SPEC, workers=3)
    assert np.array_equal(arrays.x, again.x)


def test_video_and_mp3_clips_load(data_dir):
    """One clip of each container (FLV video with its sound track, MP3): decoding is the slow part."""
    samples = index_cremad(data_dir / "av" / "cremad")
    one_each = [next(s for s in samples if s.path.suffix == suffix) for suffix in (".flv", ".mp3")]
    _check(load_voice_array(one_each, SPEC), one_each, (64, 64, 1))


def test_corrupt_and_short_clips_are_skipped_and_counted(tmp_path, voices):
    good = voices[:3]
    corrupt = tmp_path / "03-01-01-01-01-01-03.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage")
    short = tmp_path / "1001_DFA_NEU_XX.wav"  # a real clip cut to 0.1 s
    original = voices[-1].path
    shutil.copy(original, short)
    short.write_bytes(original.read_bytes()[:3244])
    samples = [good[0], replace(good[0], path=corrupt), good[1], replace(good[1], path=short)]
    samples.append(good[2])
    with pytest.warns(UserWarning, match="skipped 2 of 5 voice clip files"):
        arrays = load_voice_array(samples, SPEC)
    assert arrays.samples == good and arrays.x.shape[0] == 3
    reasons = dict(arrays.skipped)
    assert set(reasons) == {corrupt, short}
    assert "cannot decode audio" in reasons[corrupt]
    assert "shorter than" in reasons[short]


def test_mask_seed_is_stable():
    # Pinned: the same on every machine and Python run (hashlib, not hash()).
    assert mask_seed("/data/fer2013/train/happy/Training_1.jpg", 0) == 999506731
    assert mask_seed("happy/Training_1.jpg", 0) == mask_seed("/x/y/happy/Training_1.jpg", 0)
    assert mask_seed("happy/Training_1.jpg", 0) != mask_seed("happy/Training_1.jpg", 1)
    assert mask_seed("happy/Training_1.jpg", 0) != mask_seed("happy/Training_2.jpg", 0)
    assert 0 <= mask_seed("happy/Training_1.jpg", 123) < 2**32


def test_masked_subset_is_deterministic(faces):
    from edgefer.masks import apply_mask

    plain = load_face_array(faces, SPEC)
    half = load_face_array(faces, SPEC, mask_fraction=0.5, seed=4)
    flags = np.array([is_masked(s.path, 4, 0.5) for s in faces])
    assert np.array_equal(half.masked, flags)
    assert 0.3 < flags.mean() < 0.7
    differs = np.array([not np.array_equal(a, b) for a, b in zip(plain.x, half.x, strict=True)])
    assert np.array_equal(differs, flags)  # exactly the chosen files are masked
    i = int(np.flatnonzero(flags)[0])
    image = read_image(faces[i].path, grey=True)
    masked = apply_mask(image, seed=mask_seed(faces[i].path, 4))
    assert np.array_equal(half.x[i], face_tensor(masked, SPEC))  # masked before face_tensor

    again = load_face_array(faces, SPEC, mask_fraction=0.5, seed=4)
    assert np.array_equal(half.x, again.x)
    other = load_face_array(faces, SPEC, mask_fraction=0.5, seed=5)
    assert not np.array_equal(other.masked, half.masked)
    every = load_face_array(faces, SPEC, mask_fraction=1.0, seed=4)
    assert every.masked.all()
    assert np.array_equal(every.x[flags], half.x[flags])  # a file's mask depends on file and seed
    with pytest.raises(EdgeferError, match="mask fraction"):
        load_face_array(faces, SPEC, mask_fraction=1.5)
