"""The issue's fresh-clone path on the shipped models: ``edgefer export`` of a shipped Keras model,
and ``edgefer build-engine`` FP32/FP16/INT8 on ONNX Runtime from a shipped ONNX, INT8 calibrated on
the shipped calibration set without being told where it is."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgefer.calibration import load_calibration
from edgefer.engines.artifact import read_sidecar
from edgefer.engines.open import open_engine
from edgefer.shipped import shipped_calibration, shipped_path, shipped_spec
from tests.cli_helpers import run_cli
from tests.markers import needs_tensorflow

pytestmark = pytest.mark.slow
HELDOUT = ["--heldout-per-class", "30"]


def test_shipped_calibration_set_fits_the_shipped_models():
    path = shipped_calibration(shipped_spec("middle").digest())
    assert path is not None and path.parent.name == "calibration"
    calib = load_calibration(path)
    assert len(calib) >= 300
    assert set(calib.arrays) == {"face", "voice"}
    assert calib.arrays["face"].shape[1:] == shipped_spec("face").input_shape("face")


@needs_tensorflow
def test_export_of_a_shipped_keras_model_reports_parity(tmp_path):
    out = tmp_path / "face.onnx"
    result = run_cli("export", str(shipped_path("face")), "--output", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    parity = read_sidecar(out)["parity"]
    assert parity["max_abs_diff"] < 1e-5 and parity["argmax_agreement"] == 1.0
    assert re.search(r"argmax agreement.*100", result.stdout)


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_build_engine_from_a_shipped_onnx(precision, tmp_path):
    out = tmp_path / f"middle-{precision}.onnx"
    result = run_cli(
        "build-engine", str(shipped_path("middle", ".onnx")), "--precision", precision,
        "--backend", "onnxruntime", "--output", str(out), *HELDOUT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    side = read_sidecar(out)
    assert side["precision"] == precision and side["runtime"] == "onnxruntime"
    if precision == "int8":
        assert "shipped with edgefer" in result.stdout
        assert (
            side["calibration_digest"]
            == load_calibration(shipped_calibration(shipped_spec("middle").digest())).digest
        )
    if precision != "fp32":
        report = side["report"]
        # n=90: one sample is 1.1 points; a gain is no failure, agreement bounds the change
        assert report["agreement"] >= 0.9 and report["drop_points"] <= 3.0
        assert "argmax agreement" in result.stdout
    with open_engine(out) as engine:
        probs = engine.predict(
            {name: np.zeros((2, 64, 64, 1), np.float32) for name in ("face", "voice")}
        )
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-3)
