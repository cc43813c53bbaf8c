"""``edgefer export`` on real trained models: graph shape, metadata, parity with Keras, bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest

from edgefer.engines.artifact import read_sidecar
from edgefer.engines.onnxruntime import OrtEngine
from edgefer.evalsets import heldout_set
from edgefer.onnx_meta import METADATA_KEY, model_metadata
from edgefer.spec import PreprocessSpec
from tests.cli_helpers import error_lines, run_cli

pytestmark = pytest.mark.slow


def _dims(value) -> list:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


@pytest.mark.parametrize("which", ["trained_middle", "trained_face"])
def test_export_prints_parity_on_real_inputs_within_1e5_and_full_agreement(which, request):
    run, result = request.getfixturevalue(which)
    sidecar = read_sidecar(run / "model.onnx")
    parity = sidecar["parity"]
    assert parity["n"] >= 50
    assert parity["max_abs_diff"] < 1e-5 and parity["argmax_agreement"] == 1.0
    assert "argmax agreement" in result.stdout and "100.0%" in result.stdout
    assert "max abs diff" in result.stdout


def test_fusion_onnx_has_named_inputs_dynamic_batch_probs_and_metadata(trained_middle):
    run, _ = trained_middle
    model = onnx.load(str(run / "model.onnx"))
    assert [i.name for i in model.graph.input] == ["face", "voice"]
    assert [o.name for o in model.graph.output] == ["probs"]
    for value in model.graph.input:
        assert _dims(value) == ["N", 64, 64, 1]
    assert _dims(model.graph.output[0]) == ["N", 3]
    assert model.opset_import[0].version == 17
    meta = model_metadata(model, "model.onnx")
    spec = PreprocessSpec.load(run / "spec.json")
    assert meta["class_names"] == ["negative", "neutral", "positive"]
    assert PreprocessSpec.from_dict(meta["preprocess"]) == spec
    assert meta["spec_digest"] == spec.digest()
    assert meta["precision"] == "fp32" and meta["fusion"] == "middle"
    assert len(meta["source_model_sha256"]) == 16 and meta["edgefer_version"]
    side = read_sidecar(run / "model.onnx")
    assert side["source_model_sha256"] == meta["source_model_sha256"]
    assert side["runtime"] == "tf2onnx" and side["runtime_version"]
    assert side["inputs"] == {"face": [None, 64, 64, 1], "voice": [None, 64, 64, 1]}


def test_face_onnx_takes_only_face_and_runs_any_batch(trained_face):
    run, _ = trained_face
    spec = PreprocessSpec.load(run / "spec.json")
    data = heldout_set(spec, ["face"], limit_per_class=3)
    with OrtEngine(run / "model.onnx") as engine:
        assert list(engine.inputs) == ["face"]
        for batch in (1, 5, 9):
            probs = engine.predict({"face": data.inputs["face"][:batch]})
            assert probs.shape == (batch, 3)
            np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_export_of_a_folder_without_a_model_is_one_line_and_exit_2(tmp_path):
    result = run_cli("export", str(tmp_path))
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "model.keras" in lines[0]


def test_export_of_a_corrupt_keras_file_leaves_nothing_behind(trained_face, tmp_path):
    run, _ = trained_face
    broken = tmp_path / "run"
    broken.mkdir()
    shutil.copy(run / "spec.json", broken / "spec.json")
    data = (run / "model.keras").read_bytes()
    (broken / "model.keras").write_bytes(data[: len(data) // 3])
    result = run_cli("export", str(broken))
    assert result.returncode == 2
    assert len(error_lines(result)) == 1 and "model.keras" in error_lines(result)[0]
    assert sorted(p.name for p in broken.iterdir()) == ["model.keras", "spec.json"]


def test_export_into_an_unwritable_folder_is_one_line_and_exit_2(trained_face, tmp_path):
    run, _ = trained_face
    blocker = tmp_path / "somefile"
    blocker.write_text("a file, not a folder")
    result = run_cli("export", str(run), "--output", str(blocker / "out.onnx"))
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "cannot write" in lines[0]


def test_metadata_is_one_json_entry(trained_middle):
    run, _ = trained_middle
    props = {p.key: p.value for p in onnx.load(str(run / "model.onnx")).metadata_props}
    assert json.loads(props[METADATA_KEY])["output"] == "probs"
