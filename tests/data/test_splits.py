"""Actor-disjoint voice splits and per-class face holdouts."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from edgefer.data.faces import index_fer2013
from edgefer.data.labels import CLASS_NAMES
from edgefer.data.samples import class_counts
from edgefer.data.splits import actor_folds, split_by_actor, stratified_holdout
from edgefer.data.voices import index_ravdess, index_voices
from edgefer.errors import EdgeferError


@pytest.fixture(scope="module")
def ravdess(ravdess_dir):
    return index_ravdess(ravdess_dir)


@pytest.fixture(scope="module")
def fer_val(fer_dir):
    return index_fer2013(fer_dir, "val")


def _groups(samples):
    return {s.group for s in samples}


def test_split_by_actor_is_disjoint_and_complete(ravdess):
    train, test = split_by_actor(ravdess, test_fraction=0.2, seed=0)
    assert not _groups(train) & _groups(test)
    n_test = round(0.2 * len(_groups(ravdess)))  # 4 of the full data's 20 actors
    assert len(_groups(test)) == n_test and len(_groups(train)) == len(_groups(ravdess)) - n_test
    assert len(train) + len(test) == len(ravdess)
    assert sorted(map(str, (s.path for s in train + test))) == sorted(str(s.path) for s in ravdess)


def test_split_by_actor_is_seeded(ravdess):
    first = split_by_actor(ravdess, seed=3)
    assert split_by_actor(ravdess, seed=3) == first
    shuffled = list(ravdess)
    random.Random(1).shuffle(shuffled)
    assert _groups(split_by_actor(shuffled, seed=3)[1]) == _groups(first[1])
    tests = {frozenset(_groups(split_by_actor(ravdess, seed=s)[1])) for s in range(10)}
    assert len(tests) > 5  # the seed really chooses the actors


def test_explicit_test_actors_win(ravdess, ravdess_dir):
    train, test = split_by_actor(ravdess, test_groups=["01", "ravdess:02"], test_fraction=0.5)
    assert _groups(test) == {"ravdess:01", "ravdess:02"}
    n_test = len(list(ravdess_dir.glob("Actor_0[12]/*.flac")))  # 40 of 400 in the full data
    assert len(test) == n_test and len(train) == len(ravdess) - n_test
    assert not _groups(train) & _groups(test)
    assert split_by_actor(ravdess, test_groups="01, ravdess:02") == (train, test)


def test_unknown_or_all_test_actors_are_errors(ravdess):
    with pytest.raises(EdgeferError, match="test actor '21' is not among the samples"):
        split_by_actor(ravdess, test_groups=["01", "21"])
    with pytest.raises(EdgeferError, match="none left to train on"):
        split_by_actor(ravdess, test_groups=sorted(_groups(ravdess)))
    with pytest.raises(EdgeferError, match="test fraction"):
        split_by_actor(ravdess, test_fraction=1.0)


def test_actor_names_of_two_datasets_stay_apart(data_dir):
    samples = index_voices(data_dir / "voice")
    train, test = split_by_actor(samples, test_groups=["1001", "ravdess:05"])
    assert _groups(test) == {"cremad:1001", "ravdess:05"}
    assert not _groups(train) & _groups(test)


def test_faces_cannot_be_split_by_actor(fer_val):
    with pytest.raises(EdgeferError, match="stratified_holdout"):
        split_by_actor(fer_val[:100])


def test_actor_folds_cover_every_actor_once(ravdess):
    folds = actor_folds(ravdess, k=6, seed=1)
    assert len(folds) == 6
    seen = Counter()
    for train, test in folds:
        assert not _groups(train) & _groups(test)
        assert len(train) + len(test) == len(ravdess)
        seen.update(_groups(test))
    assert seen == dict.fromkeys(_groups(ravdess), 1)
    n = len(_groups(ravdess))  # 20 in the full data: [3, 3, 3, 3, 4, 4]
    assert sorted(len(_groups(test)) for _, test in folds) == sorted(
        n // 6 + (i < n % 6) for i in range(6)
    )
    assert actor_folds(ravdess, k=6, seed=1) == folds
    assert actor_folds(ravdess, k=6, seed=2) != folds


def test_actor_folds_refuse_bad_k(ravdess):
    with pytest.raises(EdgeferError, match="k=1"):
        actor_folds(ravdess, k=1)
    k = len(_groups(ravdess)) + 1  # 21 in the full data
    with pytest.raises(EdgeferError, match=f"k={k}"):
        actor_folds(ravdess, k=k)


def test_stratified_holdout_keeps_the_class_balance(fer_val):
    keep, held = stratified_holdout(fer_val, 0.1, seed=0)
    total = class_counts(fer_val, CLASS_NAMES)
    held_counts = class_counts(held, CLASS_NAMES)
    assert held_counts == {name: round(0.1 * n) for name, n in total.items()}
    assert len(keep) + len(held) == len(fer_val)
    assert not {s.path for s in keep} & {s.path for s in held}
    assert stratified_holdout(fer_val, 0.1, seed=0) == (keep, held)
    assert stratified_holdout(fer_val, 0.1, seed=1)[1] != held
    shuffled = list(fer_val)
    random.Random(0).shuffle(shuffled)
    assert {s.path for s in stratified_holdout(shuffled, 0.1, seed=0)[1]} == {s.path for s in held}


def test_stratified_holdout_edges(fer_val):
    keep, held = stratified_holdout(fer_val, 0.0)
    assert keep == fer_val and held == []
    with pytest.raises(EdgeferError, match="holdout fraction"):
        stratified_holdout(fer_val, 1.0)
