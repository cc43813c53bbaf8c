"""One split for training and the runtime: a TrainConfig and its DataSplit give the same files, and
the held-out set the engines are checked on is training's ``test_masked`` set."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from edgefer.data.datasplit import (
    TEST_SEED_OFFSET,
    DataSplit,
    limit_per_class,
    split_faces,
    split_voices,
)
from edgefer.data.evalset import heldout_arrays, heldout_mask_seed
from edgefer.errors import EdgeferError
from edgefer.evalsets import heldout_set
from edgefer.shipped import shipped_spec
from edgefer.training.config import EXTRA_VOICES_DEFAULT, TrainConfig
from edgefer.training.prepare import prepare_data


def _files(samples):
    return [(s.path.as_posix(), s.label, s.group) for s in samples]


def test_data_split_defaults_are_training_defaults():
    assert TrainConfig(output=Path("x")).data_split() == DataSplit()
    train_fields = {f.name for f in fields(TrainConfig)}
    assert {f.name for f in fields(DataSplit)} <= train_fields


def test_train_config_and_its_data_split_split_alike():
    config = TrainConfig(
        output=Path("x"), seed=3, limit_per_class=4, extra_voices=EXTRA_VOICES_DEFAULT
    )
    split = config.data_split()
    for of_config, of_split in (
        (split_faces(config), split_faces(split)),
        (split_voices(config), split_voices(split)),
    ):
        assert of_config.keys() == of_split.keys()
        for key in of_config:
            assert _files(of_config[key]) == _files(of_split[key]), key


def test_data_split_refuses_what_train_config_refuses():
    for kwargs in ({"limit_per_class": 1}, {"face_val_fraction": 0.0}):
        with pytest.raises(EdgeferError):
            DataSplit(**kwargs)
        with pytest.raises(EdgeferError):
            TrainConfig(output=Path("x"), **kwargs)


def test_the_test_split_is_limited_and_masked_with_the_test_seed():
    assert heldout_mask_seed(5) == 5 + TEST_SEED_OFFSET == 7
    whole = split_faces(DataSplit(seed=5))["test"]
    limited = split_faces(DataSplit(seed=5, limit_per_class=3))["test"]
    assert _files(limited) == _files(limit_per_class(whole, 3, 5 + TEST_SEED_OFFSET))


def test_runtime_held_out_set_is_trainings_test_masked_set():
    spec = shipped_spec("middle")
    config = TrainConfig(output=Path("x"), fusion="face", seed=1, limit_per_class=3)
    trained = prepare_data(config, spec)
    assert trained.faces_test_masked is not None and trained.faces_test_unmasked is not None
    runtime = heldout_set(spec, ["face"], limit_per_class=3, seed=1)
    np.testing.assert_array_equal(runtime.inputs["face"], trained.faces_test_masked.x)
    np.testing.assert_array_equal(runtime.y, trained.faces_test_masked.y)
    held = heldout_arrays(config.data_split(), spec, ["face"], (False,))
    assert held.faces_masked is None and held.voices is None
    assert held.faces_unmasked is not None
    np.testing.assert_array_equal(held.faces_unmasked.x, trained.faces_test_unmasked.x)
