"""Class-balanced loss weights on real indexes, checked against counts taken from the files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from edgefer import CLASS_NAMES
from edgefer.data.arrays import FaceArrays, VoiceArrays
from edgefer.data.datasplit import split_voices
from edgefer.data.faces import index_fer2013
from edgefer.data.samples import labels_of
from edgefer.errors import EdgeferError
from edgefer.spec import preset_spec
from edgefer.training.balance import balanced_class_weights, class_weights_for, describe_weights
from edgefer.training.config import EXTRA_VOICES_DEFAULT, TrainConfig
from edgefer.training.prepare import TrainData
from edgefer.training.recipe import class_weights as _class_weights
from tests.markers import FULL_DATA

FER_CLASS = {"angry": 0, "disgust": 0, "fear": 0, "sad": 0, "neutral": 1, "happy": 2}


def test_weights_of_the_fer2013_val_index_match_its_folder_counts(fer_dir):
    labels = labels_of(index_fer2013(fer_dir, "val"))
    counts = np.zeros(3)
    for emotion, label in FER_CLASS.items():
        counts[label] += len(list((fer_dir / "val" / emotion).glob("*.jpg")))
    weights = balanced_class_weights(labels, 3)
    np.testing.assert_allclose(weights, counts.sum() / (3 * counts))
    per_sample = weights[labels]
    assert per_sample.mean() == pytest.approx(1.0)  # the loss keeps its scale
    totals = [per_sample[labels == c].sum() for c in range(3)]
    np.testing.assert_allclose(totals, counts.sum() / 3)  # every class weighs the same in all
    assert weights[0] < 1.0 < weights[1]  # FER2013 is mostly negative, neutral the rarest


def test_weights_of_the_voice_training_split_with_extra_voices(tmp_path, data_dir):
    """Training actors 1-14: angry + sad + fearful + disgust negative, neutral + calm neutral, happy
    positive (RAVDESS emotion codes 05 04 06 07 / 01 02 / 03 in the file names)."""
    config = TrainConfig(output=tmp_path, fusion="voice", extra_voices=EXTRA_VOICES_DEFAULT)
    train = split_voices(config)["train"]
    code_class = {"05": 0, "04": 0, "06": 0, "07": 0, "01": 1, "02": 1, "03": 2}
    files: Counter[int] = Counter()
    for folder in ("ravdess", "ravdess_more"):
        for path in (data_dir / "voice" / folder).glob("Actor_*/*.flac"):
            code, actor = path.name.split("-")[2], int(path.stem.split("-")[6])
            if actor <= 14 and code in code_class:
                files[code_class[code]] += 1
    counts = np.array([files[c] for c in range(3)], dtype=float)
    weights = balanced_class_weights(labels_of(train), 3)
    expected = counts.sum() / (3 * counts)
    np.testing.assert_allclose(weights, expected)
    described = describe_weights(weights, CLASS_NAMES)
    assert described == {c: round(float(w), 4) for c, w in zip(CLASS_NAMES, expected, strict=True)}
    if FULL_DATA:  # the full data's numbers, pinned (the test sample has a few clips per actor)
        assert counts.tolist() == [448, 168, 112]
        assert described == {"negative": 0.5417, "neutral": 1.4444, "positive": 2.1667}


def test_the_loss_is_weighted_by_the_labels_it_sees(tmp_path):
    """The voice model's weights come from the voices, any other variant's from the faces."""
    faces = FaceArrays(np.zeros((4, 1)), np.array([0, 0, 0, 1]), [])
    voices = VoiceArrays(np.zeros((3, 1)), np.array([0, 1, 2]), [])
    data = TrainData(faces_train=faces, voices_train=voices)
    spec = preset_spec("edge")
    balanced = {"output": Path(tmp_path), "class_weights": "balanced"}
    np.testing.assert_allclose(
        _class_weights(TrainConfig(fusion="voice", **balanced), data, spec), [1.0, 1.0, 1.0]
    )
    with pytest.raises(EdgeferError, match="no training sample of class 2"):
        _class_weights(TrainConfig(fusion="middle", **balanced), data, spec)
    faces.y = np.array([0, 0, 1, 2])
    np.testing.assert_allclose(
        _class_weights(TrainConfig(fusion="middle", **balanced), data, spec), [2 / 3, 4 / 3, 4 / 3]
    )
    assert _class_weights(TrainConfig(fusion="middle", output=Path(tmp_path)), data, spec) is None


def test_none_and_bad_input():
    assert class_weights_for("none", np.array([0, 1, 2]), 3) is None
    assert describe_weights(None, CLASS_NAMES) == dict.fromkeys(CLASS_NAMES, 1.0)
    with pytest.raises(EdgeferError, match="outside"):
        balanced_class_weights(np.array([0, 3]), 3)
    with pytest.raises(EdgeferError, match="non-empty"):
        balanced_class_weights(np.array([], dtype=np.int64), 3)
