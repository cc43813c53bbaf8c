"""Fixtures of the TensorRT tests run through the stand-in (``fake_tensorrt``, ``fake_cuda``):
real graphs (the tiny classifier as fp32, Q/DQ int8 and fp16 ONNX) and real FER2013 faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.engines.fake_tensorrt import FakeGpu, install
from tests.engines.trt_helpers import fp16_onnx, quantize_qdq, real_faces, tiny_onnx


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory, fer_dir: Path) -> dict[str, Path]:
    """The tiny classifier as each precision's graph: fp32, Q/DQ int8 (calibrated on real faces)
    and fp16 (converted; float32 input and output)."""
    folder = tmp_path_factory.mktemp("graphs")
    fp32 = tiny_onnx(folder / "tiny.onnx")
    return {
        "fp32": fp32,
        "int8": quantize_qdq(fp32, folder / "tiny.int8.onnx", real_faces(fer_dir, 24)),
        "fp16": fp16_onnx(fp32, folder / "tiny.fp16.onnx"),
    }


@pytest.fixture(scope="module")
def faces(fer_dir: Path) -> np.ndarray:
    """Six real faces from the training split (never seen by the Q/DQ calibration)."""
    return real_faces(fer_dir, 6, split="train")


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> FakeGpu:
    """TensorRT 10 and CUDA stand-ins installed for one test."""
    return install(monkeypatch, "10")
