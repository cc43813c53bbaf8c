"""The five variants of both presets: names, shapes, topology, and one real training step each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from edgefer.models import build_model
from edgefer.spec import FUSIONS, fusion_inputs, preset_spec


def _batch(spec, fusion: str, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        name: rng.random((n, *spec.input_shape(name)), dtype=np.float32)
        for name in fusion_inputs(fusion)
    }


def _weights_changed(before: list[np.ndarray], model: keras.Model) -> int:
    return sum(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


@pytest.mark.parametrize("fusion", FUSIONS)
def test_variant_builds_with_named_io_and_answers_probabilities(fusion):
    """Building and one forward pass of every edge variant: quick, so it runs in the quick suite."""
    spec = preset_spec("edge")
    keras.utils.set_random_seed(0)
    model = build_model(fusion, "edge", spec)
    assert [t.name for t in model.inputs] == list(fusion_inputs(fusion))
    assert model.layers[-1].name == "probs"  # the name export gives the ONNX output
    probs = np.asarray(model(_batch(spec, fusion, 2), training=False))
    assert probs.shape == (2, 3) and (probs > 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    keras.backend.clear_session()


def _training_step(fusion: str, preset: str) -> None:
    """One compiled training step of a variant, checked: a finite loss, most weights moved."""
    spec = preset_spec(preset)
    keras.utils.set_random_seed(0)
    model = build_model(fusion, preset, spec)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
    inputs, labels = _batch(spec, fusion, 2), np.array([0, 2])
    before = model.get_weights()
    loss = float(model.train_on_batch(inputs, labels))
    assert np.isfinite(loss) and loss > 0
    assert _weights_changed(before, model) > len(before) // 2
    probs = np.asarray(model.predict_on_batch(inputs))
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    keras.backend.clear_session()


@pytest.mark.slow  # compiles and runs a training step: 10-20 s per variant on two cores
@pytest.mark.parametrize("preset", ["edge", "paper"])
@pytest.mark.parametrize("fusion", FUSIONS)
def test_variant_takes_a_training_step(fusion, preset):
    if preset == "edge":
        _training_step(fusion, preset)
        return
    # A paper variant has over 100 M parameters: its Adam state and 224 px activations take 3-4 GB
    # that clear_session() does not hand back, so each runs in a process of its own (five in one
    # test process reached 12.8 GB).
    code = (
        f"from tests.models.test_fusion import _training_step; _training_step({fusion!r}, 'paper')"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_middle_fusion_has_two_entry_flows_and_one_shared_trunk():
    model = build_model("middle", "edge", preset_spec("edge"))
    names = [layer.name for layer in model.layers]
    assert any(n.startswith("face_entry_") for n in names)
    assert any(n.startswith("voice_entry_") for n in names)
    assert "middle_concat" in names
    concat = model.get_layer("middle_concat")
    assert concat.output.shape[-1] == 2 * 128  # both entry flows' last width
    assert not any(n.startswith("face_middle") for n in names)


def test_early_fusion_stacks_inputs_before_the_first_convolution():
    model = build_model("early", "edge", preset_spec("edge"))
    conv = model.get_layer("early_entry_stem_conv1")
    assert conv.kernel.shape[2] == 2  # face (1 channel) + voice (1 channel)


def test_late_fusion_averages_the_two_networks_softmax():
    spec = preset_spec("edge")
    keras.utils.set_random_seed(1)
    model = build_model("late", "edge", spec)
    inputs = _batch(spec, "late", 4, seed=3)
    branches = keras.Model(
        model.inputs, [model.get_layer("face_probs").output, model.get_layer("voice_probs").output]
    )
    face, voice = (np.asarray(p) for p in branches.predict_on_batch(inputs))
    np.testing.assert_allclose(model.predict_on_batch(inputs), (face + voice) / 2, atol=1e-6)


def test_same_seed_builds_identical_weights():
    spec = preset_spec("edge")
    weights = []
    for _ in range(2):
        keras.utils.set_random_seed(42)
        weights.append(build_model("face", "edge", spec).get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))


def test_paper_preset_is_the_papers_size_and_edge_is_small():
    edge = build_model("middle", "edge", preset_spec("edge")).count_params()
    paper_face = build_model("face", "paper", preset_spec("paper"))
    assert edge < 1_000_000
    assert paper_face.count_params() > 100_000_000
    assert paper_face.get_layer("face_head_dense1").units == 3048
    assert paper_face.get_layer("face_exit_sepconv2").filters == 750
    keras.backend.clear_session()
