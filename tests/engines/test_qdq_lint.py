"""Q/DQ INT8 graphs as TensorRT parses them: the linter's findings on real quantised graphs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgefer.engines.onnx_inspect import onnx_metadata
from edgefer.engines.qdq_lint import graph_precision, qdq_report
from edgefer.engines.trt_module import tensorrt_installed
from edgefer.engines.trt_plan import (
    build_plan_for,
)
from edgefer.engines.trt_sidecar import (
    calibration_hash,
)
from edgefer.engines.trt_versions import trt_caps
from edgefer.errors import EdgeferError
from tests.engines.trt_helpers import quantize_qdq, real_faces, tiny_onnx

HAS_TRT = tensorrt_installed()  # not find_spec: tensorrt-stubs alone makes a "tensorrt" folder


@pytest.fixture(scope="module")
def faces(fer_dir: Path) -> np.ndarray:
    return real_faces(fer_dir, 24)


@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_onnx(tmp_path_factory.mktemp("qdq") / "tiny.onnx")


@pytest.fixture(scope="module")
def qdq_onnx(fp32_onnx: Path, faces: np.ndarray) -> Path:
    return quantize_qdq(fp32_onnx, fp32_onnx.with_name("tiny.int8.onnx"), faces)


def _producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in model.graph.node for out in node.output}


def test_qdq_graph_feeds_every_weight_through_int8_dequantize(qdq_onnx: Path) -> None:
    model = onnx.load(str(qdq_onnx))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    producer = _producers(model)
    weighted = [n for n in model.graph.node if n.op_type in ("Conv", "Gemm")]
    assert [n.op_type for n in weighted] == ["Conv", "Gemm"]
    for node in weighted:
        for index in (0, 1):  # activation and weight both arrive dequantised
            assert producer[node.input[index]].op_type == "DequantizeLinear", node.name
        dq = producer[node.input[1]]
        assert inits[dq.input[0]].dtype == np.int8
        scales = inits[dq.input[1]]
        assert scales.shape == (inits[dq.input[0]].shape[0],)  # one per output channel
        assert np.all(scales > 0)
        assert [a.i for a in dq.attribute if a.name == "axis"] == [0]
        assert node.input[2] in inits and inits[node.input[2]].dtype == np.float32  # float bias
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            zero = inits[node.input[2]]
            assert zero.dtype == np.int8 and not zero.any(), node.name
            assert np.all(inits[node.input[1]] > 0)


def test_qdq_report_finds_nothing_tensorrt_would_reject(qdq_onnx: Path) -> None:
    report = qdq_report(onnx.load(str(qdq_onnx)))
    assert report["has_qdq"] and report["problems"] == [] and report["warnings"] == []
    assert report["quantized_weights"] == report["per_channel_weights"] == ["conv", "fc"]
    assert report["quantized_activations"] == ["conv", "fc"]
    assert report["zero_point_dtypes"] == ["int8"]
    assert graph_precision(report) == "int8"
    plan = build_plan_for(trt_caps("11.0.0"), "int8", report["has_qdq"])
    assert plan.strongly_typed and plan.builder_flags == ()


def test_qdq_model_still_agrees_with_fp32_on_real_faces(
    fp32_onnx: Path, qdq_onnx: Path, fer_dir: Path
) -> None:
    import onnxruntime as ort

    held_out = real_faces(fer_dir, 16, split="train")  # not the calibration faces
    # Without graph optimisations ONNX Runtime runs Q -> DQ -> float Conv, the graph's own meaning,
    # as TensorRT computes it; its fused s8 x s8 kernels would add int16 saturation on CPUs without
    # VNNI that TensorRT does not have.
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    run = {
        p: ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
        for p in (fp32_onnx, qdq_onnx)
    }
    fp32 = run[fp32_onnx].run(["probs"], {"face": held_out})[0]
    int8 = run[qdq_onnx].run(["probs"], {"face": held_out})[0]
    assert fp32.shape == int8.shape == (16, 3)
    assert np.abs(fp32 - int8).max() < 0.05
    assert fp32.std(axis=0).max() > 0.01  # the faces do move the output, so the check can fail


def test_ort_default_int32_bias_is_flagged_as_tensorrt_parse_failure(
    fp32_onnx: Path, faces: np.ndarray
) -> None:
    path = quantize_qdq(fp32_onnx, fp32_onnx.with_name("bias.onnx"), faces, quantize_bias=None)
    report = qdq_report(onnx.load(str(path)))
    assert len(report["problems"]) == 2  # conv and fc biases
    assert all("int32" in p and "QuantizeBias=False" in p for p in report["problems"])


def test_asymmetric_uint8_activations_are_flagged(fp32_onnx: Path, faces: np.ndarray) -> None:
    from onnxruntime.quantization import QuantType

    path = quantize_qdq(
        fp32_onnx,
        fp32_onnx.with_name("uint8.onnx"),
        faces,
        activation_type=QuantType.QUInt8,
        extra_options={"WeightSymmetric": True, "QuantizeBias": False},
    )
    report = qdq_report(onnx.load(str(path)))
    assert "uint8" in report["zero_point_dtypes"]
    assert any("zero point is uint8" in p for p in report["problems"])
    assert any("not 0 (asymmetric)" in p for p in report["problems"])


def test_unquantised_graph_and_fp16_graph_precision(fp32_onnx: Path) -> None:
    model = onnx.load(str(fp32_onnx))
    report = qdq_report(model)
    assert not report["has_qdq"] and report["float_weights"] == ["conv", "fc"]
    assert report["warnings"] == []  # float is expected in an fp32 graph
    assert graph_precision(report) == "fp32"
    float16 = pytest.importorskip("onnxconverter_common.float16")
    half = float16.convert_float_to_float16(model, keep_io_types=True)
    assert graph_precision(qdq_report(half)) == "fp16"


def test_calibration_digest_comes_from_the_set_or_the_qdq_metadata(
    qdq_onnx: Path, faces: np.ndarray
) -> None:
    from tests.engines.trt_helpers import face_calibration_set

    model = onnx.load(str(qdq_onnx))
    assert calibration_hash(None, onnx_metadata(model)) is None  # nothing recorded
    calib = face_calibration_set(faces)
    entry = {"precision": "int8", "quantization": {"calibration_digest": calib.digest}}
    onnx.helper.set_model_props(model, {"edgefer": json.dumps(entry), "note": "not json"})
    metadata = onnx_metadata(model)
    assert metadata["edgefer"] == entry and metadata["note"] == "not json"
    assert calibration_hash(None, metadata) == calib.digest
    other = face_calibration_set(faces[:8])
    assert calibration_hash(other, metadata) == other.digest != calib.digest


def test_build_refuses_a_bad_qdq_graph_before_touching_tensorrt(
    fp32_onnx: Path, faces: np.ndarray, tmp_path: Path
) -> None:
    from edgefer.engines.tensorrt import build_trt_engine

    bad = quantize_qdq(fp32_onnx, tmp_path / "bias.onnx", faces, quantize_bias=None)
    with pytest.raises(EdgeferError, match="TensorRT would reject.*int32.*and 1 more"):
        build_trt_engine(bad, tmp_path / "bad.engine", "int8")
    dynamic = tiny_onnx(tmp_path / "dyn.onnx", size="S")
    with pytest.raises(EdgeferError, match="axis 1 is dynamic"):
        build_trt_engine(dynamic, tmp_path / "dyn.engine", "fp32")
    assert not (tmp_path / "bad.engine").exists() and not (tmp_path / "dyn.engine").exists()


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here")
def test_without_tensorrt_build_and_open_say_how_to_get_it(qdq_onnx: Path, tmp_path: Path) -> None:
    from edgefer.engines.tensorrt import TrtEngine, build_trt_engine, open_trt_engine

    with pytest.raises(EdgeferError, match=r"TensorRT is not installed.*JetPack ships it"):
        build_trt_engine(qdq_onnx, tmp_path / "m.engine", "int8")
    with pytest.raises(EdgeferError, match="TensorRT is not installed"):
        open_trt_engine(tmp_path / "m.engine")
    with pytest.raises(EdgeferError, match="TensorRT is not installed"):
        TrtEngine(tmp_path / "m.engine")  # how open_engine() opens a .plan
    assert list(tmp_path.iterdir()) == []
