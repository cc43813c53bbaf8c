"""The live side must run on a Jetson without TensorFlow: importing it pulls in neither Keras nor
``edgefer.training`` (see :mod:`tests.runtime_guard`)."""

from __future__ import annotations

from tests.runtime_guard import run_without_training


def test_live_modules_import_without_tensorflow():
    modules = "audio capture detect microphone overlay router smoothing sources timing voice"
    code = f"for m in {modules.split()!r}: __import__('edgefer.live.' + m)\n"
    result = run_without_training(code, timeout=120)
    assert result.returncode == 0, result.stderr
