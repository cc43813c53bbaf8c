"""The runtime side installs on a Jetson without TensorFlow: importing it must not pull Keras in."""

from __future__ import annotations

import subprocess
import sys

RUNTIME_MODULES = [
    "edgefer.engines",
    "edgefer.engines.base",
    "edgefer.engines.artifact",
    "edgefer.engines.onnxruntime",
    "edgefer.engines.quantize",
    "edgefer.engines.build",
    "edgefer.engines.open",
    "edgefer.calibration",
    "edgefer.evalsets",
    "edgefer.onnx_meta",
]


def test_engine_modules_import_without_tensorflow_keras_or_tf2onnx():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in RUNTIME_MODULES)
        + "heavy = [m for m in ('tensorflow', 'keras', 'tf2onnx') if m in sys.modules]\n"
        + "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_fp16_conversion_and_onnx_runtime_engine_run_without_tensorflow(trained_face, tmp_path):
    run, _ = trained_face
    fp16 = tmp_path / "fp16.onnx"
    code = (
        "import sys, numpy as np\n"
        "from edgefer.engines.open import open_engine\n"
        "from edgefer.engines.quantize import convert_fp16\n"
        f"source = {str(run / 'model.onnx')!r}\n"
        f"convert_fp16(source, {str(fp16)!r}, open_engine(source).metadata)\n"
        f"engine = open_engine({str(fp16)!r})\n"
        "assert engine.precision == 'fp16'\n"
        "engine.predict({'face': np.zeros((2, 64, 64, 1), np.float32)})\n"
        "assert not [m for m in ('tensorflow', 'keras', 'tf2onnx') if m in sys.modules]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
