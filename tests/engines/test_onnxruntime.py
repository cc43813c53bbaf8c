"""The ONNX Runtime engine on real exported models: specs, metadata, bad files and bad inputs."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgefer.engines.artifact import sidecar_path
from edgefer.engines.onnxruntime import OrtEngine
from edgefer.engines.open import open_engine
from edgefer.errors import EdgeferError
from edgefer.evalsets import heldout_set
from edgefer.onnx_meta import spec_of

pytestmark = pytest.mark.slow


def strip_metadata(source, target) -> None:
    model = onnx.load(str(source))
    del model.metadata_props[:]
    onnx.save(model, str(target))


def foreign_model(path) -> None:
    """A valid ONNX file that is not an edgefer model: input x[N, 10] -> softmax."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 10])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])
    graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"])], "foreign", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by older ONNX Runtimes too (JetPack's, the py3.10 CI job's)
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def middle(trained_middle):
    return trained_middle[0] / "model.onnx"


def test_engine_exposes_specs_precision_and_metadata(middle):
    with OrtEngine(middle, intra_op_threads=1) as engine:
        assert engine.backend == "onnxruntime" and engine.precision == "fp32"
        assert {n: s.shape for n, s in engine.inputs.items()} == {
            "face": (None, 64, 64, 1),
            "voice": (None, 64, 64, 1),
        }
        assert list(engine.outputs) == ["probs"]
        assert engine.metadata["class_names"] == ["negative", "neutral", "positive"]
        assert "CPU" in engine.describe()


def test_predict_gives_probabilities_for_real_inputs(middle):
    with OrtEngine(middle) as engine:
        data = heldout_set(spec_of(engine.metadata), list(engine.inputs), limit_per_class=3)
        probs = engine.predict(data.inputs)
    assert probs.shape == (9, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_wrong_input_names_or_shapes_at_predict_are_one_line_errors(middle):
    face = np.zeros((2, 64, 64, 1), np.float32)
    with OrtEngine(middle) as engine:
        with pytest.raises(EdgeferError, match="wrong input names"):
            engine.predict({"face": face, "audio": face})
        with pytest.raises(EdgeferError, match="wrong input names"):
            engine.predict({"face": face})
        with pytest.raises(EdgeferError, match="axis 1"):
            engine.predict({"face": face, "voice": np.zeros((2, 32, 32, 1), np.float32)})
        with pytest.raises(EdgeferError, match="batch size"):
            engine.predict({"face": face, "voice": face[:1]})


def test_onnx_without_metadata_whose_inputs_fit_is_accepted_with_a_warning(middle, tmp_path):
    bare = tmp_path / "bare.onnx"
    strip_metadata(middle, bare)
    with pytest.warns(UserWarning, match="no edgefer metadata"), OrtEngine(bare) as engine:
        assert engine.metadata["assumed"] and engine.precision == "unknown"
        assert engine.predict(
            {n: np.zeros((1, 64, 64, 1), np.float32) for n in engine.inputs}
        ).shape == (1, 3)


def test_onnx_without_metadata_that_does_not_fit_is_refused(tmp_path):
    foreign_model(tmp_path / "foreign.onnx")
    with pytest.raises(EdgeferError, match="not an edgefer model"):
        OrtEngine(tmp_path / "foreign.onnx")


def test_corrupt_truncated_and_mismatched_files_are_refused(middle, tmp_path):
    data = middle.read_bytes()
    (tmp_path / "garbage.onnx").write_bytes(b"not a model at all")
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    for name in ("garbage.onnx", "cut.onnx"):
        with pytest.raises(EdgeferError, match="cannot load"):
            OrtEngine(tmp_path / name)
    # the same truncation next to the sidecar of the full file: caught before parsing
    shutil.copy(sidecar_path(middle), sidecar_path(tmp_path / "cut.onnx"))
    with pytest.raises(EdgeferError, match="does not match its metadata"):
        open_engine(tmp_path / "cut.onnx")


def test_unknown_or_missing_providers_and_files_are_refused(middle, tmp_path):
    with pytest.raises(EdgeferError, match="lacks"):
        OrtEngine(middle, providers=["NoSuchExecutionProvider"])
    with pytest.raises(EdgeferError, match="not found"):
        open_engine(tmp_path / "missing.onnx")
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(EdgeferError, match="cannot tell the backend"):
        open_engine(tmp_path / "model.bin")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an engine with metadata opens without warnings
        open_engine(middle).close()
