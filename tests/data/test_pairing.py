"""Face-voice pairing: class-matched (and evenly spread) versus random."""

from __future__ import annotations

import numpy as np
import pytest

from edgefer.data.faces import index_fer2013
from edgefer.data.pairing import pair_by_class, pair_random
from edgefer.data.samples import labels_of
from edgefer.data.voices import index_ravdess
from edgefer.errors import EdgeferError


@pytest.fixture(scope="module")
def real_labels(fer_dir, ravdess_dir):
    return labels_of(index_fer2013(fer_dir, "val")), labels_of(index_ravdess(ravdess_dir))


def test_pairs_are_class_matched(real_labels):
    faces, voices = real_labels
    index = pair_by_class(faces, voices, np.random.default_rng(0))
    assert index.shape == faces.shape and index.dtype == np.int64
    assert np.array_equal(voices[index], faces)


def test_voices_are_spread_evenly(real_labels):
    faces, voices = real_labels
    index = pair_by_class(faces, voices, np.random.default_rng(0))
    for label in np.unique(faces):
        pool = np.flatnonzero(voices == label)
        uses = np.bincount(index[faces == label], minlength=voices.size)[pool]
        assert uses.max() - uses.min() <= 1, label  # sampling with replacement would spread wider


def test_pairing_is_seeded(real_labels):
    faces, voices = real_labels
    first = pair_by_class(faces, voices, np.random.default_rng(7))
    assert np.array_equal(first, pair_by_class(faces, voices, np.random.default_rng(7)))
    assert not np.array_equal(first, pair_by_class(faces, voices, np.random.default_rng(8)))


def test_random_pairing_mismatches_at_the_expected_rate(real_labels):
    faces, voices = real_labels
    faces = np.tile(faces, -(-30_000 // faces.size))  # ~30k draws: 10 copies of the full val set
    index = pair_random(faces, voices, np.random.default_rng(0))
    assert index.shape == faces.shape
    p_face = np.bincount(faces, minlength=3) / faces.size
    p_voice = np.bincount(voices, minlength=3) / voices.size
    expected = 1.0 - float(p_face @ p_voice)  # about 0.64 for these label shares
    mismatch = float(np.mean(voices[index] != faces))
    assert abs(mismatch - expected) < 0.02
    assert np.ptp(np.bincount(index, minlength=voices.size)) <= 1  # every clip used evenly


def test_a_class_without_voices_is_an_error():
    faces = np.array([0, 1, 2, 2])
    voices = np.array([0, 1, 1])
    with pytest.raises(EdgeferError, match="class 'positive' has faces but no voice clips"):
        pair_by_class(faces, voices, np.random.default_rng(0))
    with pytest.raises(EdgeferError, match="class 'happy'"):
        pair_by_class(faces, voices, np.random.default_rng(0), class_names=("a", "b", "happy"))
    # Voices of a class without faces are simply unused.
    assert pair_by_class(np.array([1, 1]), voices, np.random.default_rng(0)).tolist() in (
        [1, 2],
        [2, 1],
    )


def test_bad_label_arrays_are_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(EdgeferError, match="1-D"):
        pair_by_class(np.zeros((2, 2), np.int64), np.zeros(3, np.int64), rng)
    with pytest.raises(EdgeferError, match="integers"):
        pair_random(np.zeros(3, np.float32), np.zeros(3, np.int64), rng)
    with pytest.raises(EdgeferError, match="no voice clips"):
        pair_random(np.zeros(3, np.int64), np.zeros(0, np.int64), rng)
