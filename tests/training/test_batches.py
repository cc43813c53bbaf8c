"""Training batches on real data: class-matched pairs, the voice-mismatch share, the unseen-people
augmentation plan (deterministic per seed, new each epoch) and the prefetching thread."""

from __future__ import annotations

import numpy as np
import pytest

from edgefer.data.arrays import load_face_array, load_voice_array
from edgefer.data.datasplit import limit_per_class
from edgefer.data.faces import index_fer2013
from edgefer.data.voices import index_ravdess
from edgefer.errors import EdgeferError
from edgefer.spec import preset_spec
from edgefer.training.batches import AugmentPlan, prefetch, train_batches

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


@pytest.fixture(scope="module")
def recipe_arrays(fer_dir, ravdess_dir):
    from edgefer.data.voice_augment import context_spec

    samples = limit_per_class(index_fer2013(fer_dir, "val"), 8, 0)
    faces = load_face_array(samples, SPEC, keep_sources=True)
    clips = limit_per_class(index_ravdess(ravdess_dir), 3, 0)
    voices = load_voice_array(clips, SPEC, context=context_spec(SPEC.voice))
    return faces, voices


def _epoch(fusion, arrays, seed, epoch, plan):
    faces, voices = arrays
    rng = np.random.default_rng([seed, epoch])
    return list(train_batches(fusion, faces, voices, 8, rng, voice_repeats=2, plan=plan))


def _same(a, b) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(y1, y2) and all(np.array_equal(x1[k], x2[k]) for k in x1)
        for (x1, y1), (x2, y2) in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("fusion", ["voice", "middle"])
def test_recipe_batches_are_deterministic_per_seed_and_new_each_epoch(recipe_arrays, fusion):
    plan = AugmentPlan("strong", "strong", 0.8, SPEC)
    first = _epoch(fusion, recipe_arrays, 0, 1, plan)
    assert _same(first, _epoch(fusion, recipe_arrays, 0, 1, plan))
    second = _epoch(fusion, recipe_arrays, 0, 2, plan)
    assert not _same(first, second)
    plain = _epoch(fusion, recipe_arrays, 0, 1, AugmentPlan("none", "none"))
    for (x, _), (x0, _) in zip(first, plain, strict=True):
        for name in x:  # same order, so any difference is the augmentation's
            assert x[name].shape == x0[name].shape and not np.array_equal(x[name], x0[name])


def test_fresh_masks_mask_that_share_of_faces_and_others_stay_as_loaded(recipe_arrays):
    faces, _ = recipe_arrays
    plan = AugmentPlan("none", "none", 0.5, SPEC)
    batches = _epoch("face", recipe_arrays, 3, 1, plan)
    order = np.random.default_rng([3, 1]).permutation(len(faces.y))
    rows = np.concatenate([x["face"] for x, _ in batches])
    masked = [not np.array_equal(row, faces.x[i]) for row, i in zip(rows, order, strict=True)]
    assert 0.25 < np.mean(masked) < 0.75


def test_prefetch_gives_the_same_batches_and_raises_the_generator_s_errors(recipe_arrays):
    plan = AugmentPlan("strong", "strong", 0.8, SPEC)
    faces, voices = recipe_arrays
    rng = np.random.default_rng([0, 1])
    ahead = list(prefetch(train_batches("middle", faces, voices, 8, rng, plan=plan)))
    assert _same(ahead, _epoch("middle", recipe_arrays, 0, 1, plan)[: len(ahead)])

    def broken():
        yield from ahead[:1]
        raise EdgeferError("batch 2 failed")

    got = []
    with pytest.raises(EdgeferError, match="batch 2 failed"):
        for batch in prefetch(broken()):
            got.append(batch)
    assert len(got) == 1


def test_strong_voices_without_their_audio_are_an_error(recipe_arrays):
    _, voices = recipe_arrays
    bare = type(voices)(voices.x, voices.y, voices.samples)
    with pytest.raises(EdgeferError, match="audio"):
        next(
            train_batches(
                "voice",
                None,
                bare,
                4,
                np.random.default_rng(0),
                plan=AugmentPlan(voice="strong", spec=SPEC),
            )
        )
