"""Training batches on real data: class-matched pairs, and the voice-mismatch share."""

from __future__ import annotations

import numpy as np
import pytest

from edgefer.data.arrays import load_face_array, load_voice_array
from edgefer.data.faces import index_fer2013
from edgefer.data.voices import index_ravdess
from edgefer.spec import preset_spec
from edgefer.training.batches import train_batches
from edgefer.training.prepare import limit_per_class

SPEC = preset_spec("edge")


@pytest.fixture(scope="module")
def arrays(fer_dir, ravdess_dir):
    faces = load_face_array(limit_per_class(index_fer2013(fer_dir, "val"), 60, 0), SPEC)
    voices = load_voice_array(limit_per_class(index_ravdess(ravdess_dir), 6, 0), SPEC)
    return faces, voices


def _voice_labels(batches, voices) -> tuple[np.ndarray, np.ndarray]:
    """Recover each batch voice's class by matching it to the (unaugmented) voice arrays."""
    flat = voices.x.reshape(len(voices.y), -1)
    got, want = [], []
    for inputs, y in batches:
        for row, label in zip(inputs["voice"].reshape(len(y), -1), y, strict=True):
            got.append(voices.y[np.abs(flat - row).sum(axis=1).argmin()])
            want.append(label)
    return np.array(got), np.array(want)


def test_fusion_batches_pair_every_face_with_a_voice_of_its_class(arrays):
    faces, voices = arrays
    batches = train_batches("middle", faces, voices, 16, np.random.default_rng(0), augment=False)
    got, want = _voice_labels(batches, voices)
    assert got.size == len(faces.y)
    np.testing.assert_array_equal(got, want)


def test_voice_mismatch_draws_that_share_of_voices_from_a_random_class(arrays):
    faces, voices = arrays
    batches = train_batches(
        "middle", faces, voices, 16, np.random.default_rng(0), augment=False, voice_mismatch=0.6
    )
    got, want = _voice_labels(batches, voices)
    # 60 % random voices, a third of which land on the right class anyway: ~40 % mismatched
    assert 0.3 < np.mean(got != want) < 0.5
