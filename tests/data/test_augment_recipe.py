"""The unseen-people augmentation: strong faces, fresh masks, SpecAugment and waveform voices.

Each is deterministic for a seed, really changes the input, and does what its docstring says, on
real FER2013 faces and RAVDESS clips where the property depends on real content.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from edgefer.data.arrays import load_face_array, load_voice_array
from edgefer.data.augment import augment_face_strong, mask_batch, occlude_rectangle, spec_augment
from edgefer.data.datasplit import limit_per_class
from edgefer.data.faces import index_fer2013
from edgefer.data.voice_augment import (
    augment_voice_wave,
    colour_and_noise,
    context_spec,
    resample_speed,
)
from edgefer.data.voices import index_ravdess
from edgefer.masks import COLOURS, SHAPES, apply_mask, sample_style
from edgefer.media import read_image
from edgefer.preprocess import centre_window, face_tensor, voice_tensor
from edgefer.spec import preset_spec

SPEC = preset_spec("edge")
SEEDS = range(400)


@pytest.fixture(scope="module")
def faces(fer_dir):
    samples = limit_per_class(index_fer2013(fer_dir, "val"), 10, 0)
    return load_face_array(samples, SPEC, keep_sources=True)


@pytest.fixture(scope="module")
def voices(ravdess_dir):
    samples = [s for s in index_ravdess(ravdess_dir) if s.group in ("ravdess:01", "ravdess:20")]
    return load_voice_array(samples, SPEC, context=context_spec(SPEC.voice))


# ------------------------------------------------------------------------------------------- faces
def test_strong_face_is_deterministic_changes_the_input_and_keeps_range(faces):
    image = faces.x[0]
    before = image.copy()
    a = augment_face_strong(image, np.random.default_rng(7))
    assert np.array_equal(a, augment_face_strong(image, np.random.default_rng(7)))
    outputs = {augment_face_strong(image, np.random.default_rng(s)).tobytes() for s in range(20)}
    assert len(outputs) == 20 and image.tobytes() not in outputs
    assert a.shape == image.shape and a.dtype == np.float32 and 0 <= a.min() <= a.max() <= 1
    assert np.array_equal(image, before)


def test_strong_face_occludes_about_a_fifth_of_the_faces():
    grey = np.full((64, 64, 1), 0.5, np.float32)  # flat: only an occlusion makes it uneven
    uneven = [np.ptp(augment_face_strong(grey, np.random.default_rng(s))) > 0.02 for s in SEEDS]
    assert abs(np.mean(uneven) - 0.2) < 0.06


def test_strong_face_blurs_about_a_fifth_of_the_faces(monkeypatch, faces):
    from edgefer.data import augment

    real_blur, sigmas, switch = augment.cv2.GaussianBlur, [], {"on": True}

    def blur(image, ksize, sigma):
        sigmas.append(sigma)
        return real_blur(image, ksize, sigma) if switch["on"] else image.copy()

    monkeypatch.setattr(augment.cv2, "GaussianBlur", blur)
    blurred = []
    for seed in SEEDS:
        before = len(sigmas)
        out = augment_face_strong(faces.x[0], np.random.default_rng(seed))
        if len(sigmas) > before:
            switch["on"] = False
            blurred.append(out - augment_face_strong(faces.x[0], np.random.default_rng(seed)))
            switch["on"] = True
    assert abs(len(blurred) / len(SEEDS) - 0.2) < 0.06
    assert min(sigmas) >= 0.4 and max(sigmas) <= 1.2
    assert all(np.abs(diff).max() > 0.01 for diff in blurred)  # the blur really changes the face


def test_occluding_rectangle_size_and_place():
    image = np.zeros((64, 64, 1), np.float32)
    out = occlude_rectangle(image, (0.25, 0.5), (0.999, 0.0), 0.7)
    rows, cols = np.nonzero(out[..., 0])
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (0, 31, 48, 63)
    assert np.all(out[rows, cols] == np.float32(0.7)) and not image.any()


def test_fresh_masks_are_deterministic_new_each_epoch_and_as_at_load_time(faces):
    unmasked = faces.x
    first = mask_batch(faces.sources, unmasked, 0.8, SPEC, np.random.default_rng([0, 1]))
    again = mask_batch(faces.sources, unmasked, 0.8, SPEC, np.random.default_rng([0, 1]))
    second = mask_batch(faces.sources, unmasked, 0.8, SPEC, np.random.default_rng([0, 2]))
    assert np.array_equal(first, again)
    masked = [not np.array_equal(a, b) for a, b in zip(first, unmasked, strict=True)]
    assert 0.6 < np.mean(masked) < 0.95
    both = [i for i, m in enumerate(masked) if m and not np.array_equal(second[i], unmasked[i])]
    assert both and all(not np.array_equal(first[i], second[i]) for i in both)
    # The draws are (coin, seed) per face; a masked face is the load-time path with that seed.
    rng = np.random.default_rng([0, 1])
    for i, source in enumerate(faces.sources):
        coin, seed = rng.random(), int(rng.integers(2**32))
        if coin < 0.8:
            expected = face_tensor(apply_mask(source, seed=seed), SPEC)
            assert np.array_equal(first[i], expected)
    assert np.array_equal(faces.sources[0], read_image(faces.samples[0].path, grey=True))


def test_fresh_masks_cover_every_style():
    rng = np.random.default_rng(0)
    styles = []
    for _ in range(300):
        rng.random()
        styles.append(sample_style(np.random.default_rng(int(rng.integers(2**32)))))
    assert Counter(s.shape for s in styles).keys() == set(SHAPES)
    assert len({s.colour for s in styles}) > 100  # base colours with brightness and hue jitter
    tops = [s.top for s in styles]
    assert max(tops) - min(tops) > 0.05 and len(set(tops)) == len(tops)  # the geometry moves too
    assert len(COLOURS) == 7


# ------------------------------------------------------------------------------------------- voice
def test_spec_augment_blanks_bands_of_bounded_width():
    ones = np.ones((64, 64, 1), np.float32)
    with_mask = 0
    for seed in SEEDS:
        out = spec_augment(ones, np.random.default_rng(seed))[..., 0]
        zero_cols = np.all(out == 0.0, axis=0)
        zero_rows = np.all(out == 0.0, axis=1)
        assert zero_cols.sum() <= 2 * int(0.12 * 64) and zero_rows.sum() <= 2 * int(0.12 * 64)
        assert np.array_equal(out == 0.0, zero_cols[None, :] | zero_rows[:, None])
        with_mask += bool(zero_cols.any() or zero_rows.any())
    assert 0.65 < with_mask / len(SEEDS) < 0.95  # 1 - 0.5^4 = 0.94 minus the zero-width bands
    assert np.array_equal(
        spec_augment(ones, np.random.default_rng(3)), spec_augment(ones, np.random.default_rng(3))
    )


def test_waveform_voice_is_deterministic_and_changes_the_input(voices):
    a = augment_voice_wave(voices.waves[0], np.random.default_rng(4), SPEC)
    assert np.array_equal(a, augment_voice_wave(voices.waves[0], np.random.default_rng(4), SPEC))
    assert a.shape == voices.x[0].shape and a.dtype == np.float32
    assert 0.0 <= a.min() <= a.max() <= 1.0
    outputs = [
        augment_voice_wave(voices.waves[0], np.random.default_rng(s), SPEC) for s in range(8)
    ]
    assert len({o.tobytes() for o in outputs}) == 8
    assert all(np.abs(o - voices.x[0]).mean() > 0.005 for o in outputs)


def test_the_context_centre_is_the_clip_s_own_model_window(voices):
    """With identity draws the waveform path gives the clip's validation input itself."""
    exact = 0
    for wave, image in zip(voices.waves, voices.x, strict=True):
        window = centre_window(wave, wave.size // 2, SPEC.voice.window_samples)
        exact += np.array_equal(voice_tensor(window, SPEC), image)
    assert exact >= 0.9 * len(voices.x)  # clips whose speech nears their ends are cut otherwise
    assert voices.waves.shape[1] == context_spec(SPEC.voice).window_samples
    assert context_spec(SPEC.voice).window_s == pytest.approx(2 * 1.1 + 0.6)


def test_noise_is_added_at_the_asked_snr(voices):
    window = centre_window(voices.waves[0], voices.waves[0].size // 2, 32000)
    for snr in (5.0, 20.0):
        noisy = colour_and_noise(window, SPEC.voice, 0.0, (snr, 3.0, 1))
        noise = noisy.astype(np.float64) - window
        measured = 10 * np.log10(np.mean(window.astype(np.float64) ** 2) / np.mean(noise**2))
        assert measured == pytest.approx(snr, abs=0.05)
    assert colour_and_noise(window, SPEC.voice, 0.0, None) is window


def test_tilt_moves_energy_between_low_and_high_bands(voices):
    window = centre_window(voices.waves[0], voices.waves[0].size // 2, 32000)
    freqs = np.fft.rfftfreq(window.size, 1 / 16000)

    def high_over_low(x: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(x)) ** 2
        return power[freqs > 2000].sum() / power[(freqs > 100) & (freqs < 500)].sum()

    base = high_over_low(window)
    assert high_over_low(colour_and_noise(window, SPEC.voice, 6.0, None)) > 1.5 * base
    assert high_over_low(colour_and_noise(window, SPEC.voice, -6.0, None)) < base / 1.5


def test_speed_changes_the_length_and_the_pitch_by_the_factor():
    audio = np.sin(np.arange(16000) * 0.05).astype(np.float32)
    assert resample_speed(audio, 1.0) is audio

    def crossings_per_sample(x: np.ndarray) -> float:
        return np.count_nonzero(np.diff(np.signbit(x))) / x.size

    for speed in (0.9, 1.1):
        out = resample_speed(audio, speed)
        assert out.size == round(16000 / speed)
        ratio = crossings_per_sample(out) / crossings_per_sample(audio)
        assert ratio == pytest.approx(speed, rel=0.01)  # tempo and pitch move together
