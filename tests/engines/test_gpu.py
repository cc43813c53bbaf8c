"""GPU buffers and real TensorRT engines. The ``gpu`` tests run on a Jetson or a desktop GPU with
TensorRT and CUDA Python bindings, and skip with the reason elsewhere (as in CI: no GPU here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edgefer.engines.artifact import read_sidecar
from edgefer.engines.gpu_buffers import DeviceBuffers, available_bindings, make_buffers
from edgefer.engines.trt_module import tensorrt_installed
from edgefer.errors import EdgeferError
from edgefer.platform_info import gpu_identity
from tests.engines.trt_helpers import face_calibration_set, quantize_qdq, real_faces, tiny_onnx

BINDINGS = available_bindings()
HAS_TRT = tensorrt_installed()  # not find_spec: tensorrt-stubs alone makes a "tensorrt" folder
needs_trt = pytest.mark.skipif(
    not HAS_TRT,
    reason="TensorRT is not installed (JetPack ships it; desktop: 'edgefer[trt]' from NVIDIA's index)",
)


@pytest.mark.skipif(bool(BINDINGS), reason=f"CUDA bindings present: {BINDINGS}")
def test_without_cuda_bindings_make_buffers_says_what_to_install() -> None:
    with pytest.raises(
        EdgeferError, match=r"no CUDA Python bindings: pip install 'edgefer\[trt\]'"
    ):
        make_buffers()


@pytest.mark.skipif("pycuda" in BINDINGS, reason="pycuda is installed")
def test_asking_for_a_missing_binding_names_it() -> None:
    with pytest.raises(EdgeferError, match="pycuda is not installed here"):
        make_buffers(backend="pycuda")


@pytest.fixture
def buffers() -> Iterator[DeviceBuffers]:
    if not BINDINGS:
        pytest.skip("no CUDA Python bindings (pip install 'edgefer[trt]' for cuda-python)")
    try:
        buf = make_buffers()
    except EdgeferError as exc:
        pytest.skip(f"no usable CUDA device: {exc}")
    yield buf
    buf.free()


@pytest.mark.gpu
def test_device_buffers_round_trip_real_faces(buffers: DeviceBuffers, fer_dir: Path) -> None:
    faces = real_faces(fer_dir, 8)
    other = faces[::-1].astype(np.float16)
    buffers.allocate("face", faces.nbytes)
    buffers.allocate("half", other.nbytes)
    assert buffers.ptr("face") != buffers.ptr("half") and buffers.stream >= 0
    buffers.upload("face", faces)
    buffers.upload("half", other)
    back = buffers.download("face", faces.shape, faces.dtype)
    back_half = buffers.download("half", other.shape, other.dtype)
    buffers.synchronize()
    np.testing.assert_array_equal(back, faces)
    np.testing.assert_array_equal(back_half, other)
    buffers.upload("face", faces[:3] * 0.5)  # a smaller batch in the same buffer
    part = buffers.download("face", (3, 64, 64, 1), np.float32)
    buffers.synchronize()
    np.testing.assert_array_equal(part, faces[:3] * 0.5)
    with pytest.raises(EdgeferError, match="holds"):
        buffers.upload("face", np.concatenate([faces, faces]))
    info = buffers.device_info()
    assert info.name and info.compute_capability.count(".") == 1
    assert info == gpu_identity()  # the cache key's GPU is the buffers' (and the sidecar's) GPU


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, fer_dir: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("trt")
    fp32 = tiny_onnx(folder / "tiny.onnx")
    int8 = quantize_qdq(fp32, folder / "tiny.int8.onnx", real_faces(fer_dir, 24))
    return {"fp32": fp32, "int8": int8}


def _onnxruntime_probs(path: Path, faces: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["probs"], {"face": faces})[0]


@pytest.mark.gpu
@needs_trt
@pytest.mark.parametrize(("precision", "tolerance"), [("fp32", 1e-3), ("int8", 0.05)])
def test_tensorrt_engine_agrees_with_onnxruntime_on_real_faces(
    models: dict[str, Path], fer_dir: Path, tmp_path: Path, precision: str, tolerance: float
) -> None:
    from edgefer.engines.tensorrt import TrtEngine, build_trt_engine, open_trt_engine

    engine_path = tmp_path / f"tiny.{precision}.engine"
    cache = tmp_path / "timing.cache"
    record = build_trt_engine(
        models[precision], engine_path, precision, max_batch=4, timing_cache=cache
    )
    assert cache.is_file() and engine_path.is_file()
    assert record == read_sidecar(engine_path)
    assert record["runtime"] == "tensorrt" and record["precision"] == precision
    assert record["profile_shapes"]["face"][2] == [4, 64, 64, 1]
    faces = real_faces(fer_dir, 6, split="train")  # 6 > max batch 4: two chunks
    with open_trt_engine(engine_path, expected={"precision": precision}) as engine:
        assert set(engine.inputs) == {"face"} and set(engine.outputs) == {"probs"}
        probs = engine.predict({"face": faces})
        single = engine.predict({"face": faces[:1]})
    reference = _onnxruntime_probs(models[precision], faces)
    assert probs.shape == (6, 3)
    np.testing.assert_allclose(probs, reference, atol=tolerance)
    np.testing.assert_allclose(single[0], probs[0], atol=1e-5)
    with TrtEngine(engine_path) as again:  # as open_engine() opens it: checked against this GPU
        np.testing.assert_allclose(again.predict({"face": faces[:2]}), probs[:2], atol=1e-5)
    with pytest.raises(EdgeferError, match="precision"):
        open_trt_engine(engine_path, expected={"precision": "fp16"})


@pytest.mark.gpu
@needs_trt
def test_legacy_calibrator_builds_int8_and_reuses_its_cache(
    models: dict[str, Path], fer_dir: Path, tmp_path: Path
) -> None:
    import tensorrt as trt

    from edgefer.engines.tensorrt import build_trt_engine, open_trt_engine
    from edgefer.engines.trt_versions import trt_caps

    if not trt_caps(trt.__version__).has_legacy_calibrator:
        pytest.skip(f"TensorRT {trt.__version__} has no calibrator (11+)")
    calib = face_calibration_set(real_faces(fer_dir, 32))
    out = tmp_path / "calibrated.engine"
    kwargs = dict(calib=calib, max_batch=4, use_calibrator=True, calib_batch=8)
    record = build_trt_engine(models["fp32"], out, "int8", **kwargs)
    assert record["calibration_digest"] == calib.digest
    caches = list(tmp_path.glob(f"trt-calib-{calib.digest}-*.cache"))
    assert len(caches) == 1
    build_trt_engine(models["fp32"], out, "int8", **kwargs)  # second build reads the cache
    faces = real_faces(fer_dir, 4, split="train")
    with open_trt_engine(out) as engine:
        probs = engine.predict({"face": faces})
    np.testing.assert_allclose(probs, _onnxruntime_probs(models["fp32"], faces), atol=0.05)
