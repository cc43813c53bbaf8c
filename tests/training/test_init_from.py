"""``--init-from`` and ``--lr-schedule``: a fusion run starts from a trained unimodal run's layers."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from edgefer.errors import EdgeferError
from edgefer.models import build_model
from edgefer.spec import PreprocessSpec
from edgefer.training.init_from import copy_matching_weights
from tests.cli_helpers import error_lines, run_cli


def _weights(model, prefix: str) -> dict[str, list[np.ndarray]]:
    layers = model.layers
    return {x.name: x.get_weights() for x in layers if x.name.startswith(prefix) and x.weights}


def test_middle_takes_the_face_entry_flow_and_nothing_else(trained_face):
    run = trained_face[0]
    spec = PreprocessSpec.load(run / "spec.json")
    face = keras.models.load_model(run / "model.keras")
    middle = build_model("middle", "edge", spec)
    fresh_voice = _weights(middle, "voice_entry")

    copied = copy_matching_weights(middle, [run])

    face_entry = _weights(face, "face_entry")
    assert set(copied) == set(face_entry)  # the face trunk's names differ from the shared trunk's
    for name, weights in _weights(middle, "face_entry").items():
        for got, want in zip(weights, face_entry[name], strict=True):
            np.testing.assert_array_equal(got, want)
    for name, weights in _weights(middle, "voice_entry").items():  # untouched
        for got, want in zip(weights, fresh_voice[name], strict=True):
            np.testing.assert_array_equal(got, want)


def test_late_is_the_face_model_plus_a_voice_model(trained_face):
    run = trained_face[0]
    spec = PreprocessSpec.load(run / "spec.json")
    late = build_model("late", "edge", spec)
    copied = copy_matching_weights(late, [run])
    face = keras.models.load_model(run / "model.keras")
    assert len(copied) == sum(1 for layer in face.layers if layer.weights)
    x = np.random.default_rng(0).random((4, *spec.input_shape("face")), dtype=np.float32)
    face_branch = keras.Model(late.inputs, late.get_layer("face_probs").output)
    voice = np.zeros((4, *spec.input_shape("voice")), np.float32)
    np.testing.assert_allclose(
        face_branch.predict({"face": x, "voice": voice}, verbose=0),
        face.predict({"face": x}, verbose=0),
        atol=1e-5,
    )


def test_nothing_matching_is_refused(trained_face, tmp_path):
    spec = PreprocessSpec.load(trained_face[0] / "spec.json")
    voice = build_model("voice", "edge", spec)
    with pytest.raises(EdgeferError, match="no layer"):
        copy_matching_weights(voice, [trained_face[0]])
    with pytest.raises(EdgeferError, match="no model.keras"):
        copy_matching_weights(voice, [tmp_path])


def test_cli_fusion_run_from_a_face_run_with_cosine_decay(trained_face, tmp_path):
    out = tmp_path / "middle"
    done = run_cli(
        "train", "--fusion", "middle", "--epochs", "1", "--limit-per-class", "10",
        "--batch-size", "10", "--init-from", str(trained_face[0]), "--lr-schedule", "cosine",
        "--output", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "initialised" in done.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["lr_schedule"] == "cosine"
    assert config["init_from"] == [str(trained_face[0])]
    optimizer = keras.models.load_model(out / "checkpoint.keras").optimizer
    assert (
        isinstance(optimizer.learning_rate, keras.Variable) or optimizer.learning_rate is not None
    )
    assert float(optimizer.learning_rate) < 1e-4  # decayed after the epoch's steps


def test_cli_bad_init_from_and_schedule_are_one_line(tmp_path):
    missing = run_cli(
        "train", "--init-from", str(tmp_path / "nope"), "--output", str(tmp_path / "o")
    )
    assert missing.returncode == 2 and len(error_lines(missing)) == 1
    assert "--init-from" in missing.stderr
    bad = run_cli("train", "--lr-schedule", "step", "--output", str(tmp_path / "o2"))
    assert bad.returncode == 2 and "schedule" in bad.stderr


def test_a_face_run_starts_a_face_model_whole_head_included(trained_face):
    run = trained_face[0]
    spec = PreprocessSpec.load(run / "spec.json")
    face = build_model("face", "edge", spec)
    copied = copy_matching_weights(face, [run])
    assert "probs" in copied
    assert len(copied) == sum(1 for layer in face.layers if layer.weights)
