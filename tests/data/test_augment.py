"""Augmentation: shapes kept, deterministic, and the documented probabilities and ranges."""

from __future__ import annotations

import numpy as np
import pytest

from edgefer.data.augment import augment_batch, augment_face, augment_voice
from edgefer.errors import EdgeferError
from edgefer.media import read_image
from edgefer.preprocess import face_tensor
from edgefer.spec import PreprocessSpec

SEEDS = range(500)
SIZE = 64


def _bar(length: int = 32) -> np.ndarray:
    """A 2-px horizontal bar through the centre: its principal axes reveal rotation and zoom."""
    image = np.zeros((SIZE, SIZE, 1), np.float32)
    start = (SIZE - length) // 2
    image[SIZE // 2 - 1 : SIZE // 2 + 1, start : start + length] = 1.0
    return image


def _axis(image: np.ndarray) -> tuple[float, float]:
    """(angle in degrees, length in px) of the bright bar, from intensity-weighted moments."""
    weights = image[..., 0].astype(np.float64)
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    total = weights.sum()
    mean_r, mean_c = (weights * rows).sum() / total, (weights * cols).sum() / total
    dr, dc = rows - mean_r, cols - mean_c
    cov = (
        np.array(
            [
                [(weights * dc * dc).sum(), (weights * dc * dr).sum()],
                [(weights * dc * dr).sum(), (weights * dr * dr).sum()],
            ]
        )
        / total
    )
    values, vectors = np.linalg.eigh(cov)
    major = vectors[:, 1]
    angle = np.degrees(np.arctan2(major[1], major[0]))
    angle = (angle + 90.0) % 180.0 - 90.0
    return float(angle), float(np.sqrt(12.0 * values[1]))


@pytest.fixture(scope="module")
def real_face(fer_dir):
    path = sorted((fer_dir / "val" / "happy").glob("*.jpg"))[0]
    return face_tensor(read_image(path, grey=True), PreprocessSpec())


def test_voice_keeps_shape_dtype_and_range():
    image = np.random.default_rng(0).random((SIZE, SIZE, 1), dtype=np.float32)
    before = image.copy()
    for seed in range(20):
        out = augment_voice(image, np.random.default_rng(seed))
        assert out.shape == image.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.array_equal(image, before)  # the input is never modified


def test_voice_is_deterministic_per_seed():
    image = _bar()
    a = augment_voice(image, np.random.default_rng(5))
    assert np.array_equal(a, augment_voice(image, np.random.default_rng(5)))
    outputs = {augment_voice(image, np.random.default_rng(s)).tobytes() for s in range(20)}
    assert len(outputs) > 10


def test_voice_rotation_and_zoom_rates_and_ranges():
    angles, zooms = [], []
    base_angle, base_length = _axis(_bar())
    assert abs(base_angle) < 1e-6 and abs(base_length - 32) < 0.5
    for seed in SEEDS:
        angle, length = _axis(augment_voice(_bar(), np.random.default_rng(seed)))
        angles.append(angle)
        zooms.append(length / base_length)
    angles, zooms = np.abs(np.array(angles)), np.array(zooms)
    assert angles.max() <= 10.3
    rotated = angles > 0.3  # 97 % of rotations exceed 0.3 deg: expect 0.7 * 0.97 = 0.68
    assert abs(rotated.mean() - 0.679) < 0.06
    zoomed = zooms > 1.05
    assert abs(zoomed.mean() - 0.5) < 0.07
    assert zooms[zoomed].min() > 1.07 and zooms[zoomed].max() < 1.53
    assert zooms[~zoomed].min() > 0.97  # never zooms out
    assert zooms[zoomed].max() - zooms[zoomed].min() > 0.3  # the factor really spans 1.1-1.5


def test_voice_border_is_silence():
    ones = np.ones((SIZE, SIZE, 1), np.float32)
    changed = silent = 0
    for seed in SEEDS:
        out = augment_voice(ones, np.random.default_rng(seed))
        if out.min() < 1.0:  # rotated: corners come from outside the image
            changed += 1
            silent += out.min() == 0.0  # filled with silence (0), not replicated
        else:  # zoom alone crops the centre: nothing from outside
            assert np.array_equal(out, ones)
    # Rotation without zoom (0.7 * 0.5) reaches outside; a zoom of >= 1.1 hides a <= 10 deg turn.
    assert abs(changed / len(SEEDS) - 0.35) < 0.06
    assert silent > changed / 2


@pytest.mark.parametrize("channels", [1, 3])
def test_face_keeps_shape_dtype_and_range(channels):
    image = np.random.default_rng(0).random((SIZE, SIZE, channels), dtype=np.float32)
    before = image.copy()
    for seed in range(20):
        out = augment_face(image, np.random.default_rng(seed))
        assert out.shape == image.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert not np.array_equal(out, image)
    assert np.array_equal(image, before)


def test_face_on_a_real_image_is_deterministic(real_face):
    a = augment_face(real_face, np.random.default_rng(1))
    assert a.shape == real_face.shape and a.dtype == np.float32
    assert np.array_equal(a, augment_face(real_face, np.random.default_rng(1)))
    assert not np.array_equal(a, augment_face(real_face, np.random.default_rng(2)))


def test_face_flips_half_the_time():
    image = np.zeros((SIZE, SIZE, 1), np.float32)
    image[:, : SIZE // 2] = 1.0  # bright left half
    flipped = [
        (out := augment_face(image, np.random.default_rng(s)))[:, SIZE // 2 :].mean()
        > out[:, : SIZE // 2].mean()
        for s in SEEDS
    ]
    assert abs(np.mean(flipped) - 0.5) < 0.07


def test_face_brightness_and_replicated_border():
    grey = np.full((SIZE, SIZE, 1), 0.5, np.float32)
    levels = []
    for seed in SEEDS:
        out = augment_face(grey, np.random.default_rng(seed))
        assert np.ptp(out) < 1e-5  # replicated border: no black wedge on a flat image
        levels.append(float(out.mean()))
    levels = np.array(levels)
    assert levels.min() >= 0.5 * 0.85 - 1e-4 and levels.max() <= 0.5 * 1.15 + 1e-4
    assert levels.max() - levels.min() > 0.1


def test_face_shift_stays_within_eight_percent():
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    blob = np.exp(-((xx - 31.5) ** 2 + (yy - 31.5) ** 2) / 20.0).astype(np.float32)[..., None]
    shifts = []
    for seed in SEEDS:
        out = augment_face(blob, np.random.default_rng(seed))[..., 0].astype(np.float64)
        out = out - out.min()
        cx, cy = (out * xx).sum() / out.sum(), (out * yy).sum() / out.sum()
        shifts.append(max(abs(cx - 31.5), abs(cy - 31.5)))
    assert max(shifts) <= 0.08 * SIZE + 0.3
    assert max(shifts) > 0.06 * SIZE  # the shift is real


def test_batch_applies_in_order():
    batch = np.random.default_rng(0).random((4, SIZE, SIZE, 1), dtype=np.float32)
    out = augment_batch(batch, augment_voice, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    expected = np.stack([augment_voice(image, rng) for image in batch])
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert np.array_equal(out, expected)


def test_bad_inputs_are_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(EdgeferError, match="float32"):
        augment_voice(np.zeros((8, 8, 1), np.float64), rng)
    with pytest.raises(EdgeferError, match="shape"):
        augment_face(np.zeros((8, 8), np.float32), rng)
    with pytest.raises(EdgeferError, match="batch"):
        augment_batch(np.zeros((8, 8, 1), np.float32), augment_face, rng)
