"""Real inputs for the TensorRT-side tests: FER2013 faces through the shared preprocessing, a small
ONNX classifier built with ``onnx.helper`` (no TensorFlow), and its Q/DQ quantisation by ONNX
Runtime calibrated on those faces: the graph TensorRT would parse; and calibration sets of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgefer.calibration import CalibrationSet
from edgefer.media import read_image
from edgefer.preprocess import face_tensor
from edgefer.spec import preset_spec

CLASSES = ("angry", "happy", "neutral", "sad")


def real_faces(fer_dir: Path, n: int, split: str = "val") -> np.ndarray:
    """``n`` FER2013 faces, round-robin over a few classes in sorted file order: (n, 64, 64, 1)."""
    spec = preset_spec("edge")
    lists = [sorted((fer_dir / split / c).glob("*.jpg")) for c in CLASSES]
    files = [lists[i % len(lists)][i // len(lists)] for i in range(n)]
    return np.stack([face_tensor(read_image(f, grey=True), spec) for f in files])


def tiny_onnx(path: Path, batch: str | int = "N", size: int | str = 64) -> Path:
    """Transpose(NHWC->NCHW) -> Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> Softmax,
    input ``face`` (batch, 64, 64, 1), output ``probs`` (batch, 3), opset 17, fixed seed."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    weights = {
        "conv_w": (rng.standard_normal((8, 1, 3, 3)) * 0.4).astype(np.float32),
        "conv_b": (rng.standard_normal(8) * 0.1).astype(np.float32),
        "fc_w": (rng.standard_normal((3, 8)) * 2.0).astype(np.float32),
        "fc_b": np.array([0.1, 0.0, -0.1], np.float32),
    }
    nodes = [
        helper.make_node("Transpose", ["face"], ["x"], perm=[0, 3, 1, 2], name="to_nchw"),
        helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1, name="softmax"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_face",
        [helper.make_tensor_value_info("face", TensorProto.FLOAT, [batch, size, size, 1])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, 3])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def quantize_qdq(
    src: Path, dst: Path, faces: np.ndarray, quantize_bias: bool | None = False, **overrides
) -> Path:
    """Static Q/DQ quantisation calibrated on ``faces``: QInt8 symmetric activations and weights,
    per channel (the TensorRT recipe). ``quantize_bias=None`` keeps ONNX Runtime's default."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"face": faces[i : i + 4]} for i in range(0, len(faces), 4)])

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    extra = {"ActivationSymmetric": True, "WeightSymmetric": True}
    if quantize_bias is not None:
        extra["QuantizeBias"] = quantize_bias
    options = dict(
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        extra_options=extra,
    )
    options.update(overrides)
    quantize_static(str(src), str(dst), Reader(), **options)
    return dst


def face_calibration_set(faces: np.ndarray, **more: np.ndarray) -> CalibrationSet:
    """A real :class:`CalibrationSet` of these faces (and any further inputs by name)."""
    return CalibrationSet.from_arrays({"face": faces, **more}, preset_spec("edge").digest())


def fp16_onnx(src: Path, dst: Path) -> Path:
    """``src`` converted to float16 inside (float32 input and output kept): TensorRT 11's fp16."""
    import onnx
    from onnxconverter_common import float16

    onnx.save(float16.convert_float_to_float16(onnx.load(str(src)), keep_io_types=True), str(dst))
    return dst


def external_weights_onnx(src: Path, dst: Path) -> Path:
    """``src`` saved with its weights in ``<dst stem>.weights`` beside it (ONNX external data)."""
    import onnx

    onnx.save(
        onnx.load(str(src)),
        str(dst),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=f"{dst.stem}.weights",
        size_threshold=0,
    )
    return dst


def custom_op_onnx(src: Path, dst: Path) -> Path:
    """``src`` with its Relu replaced by an op of a custom domain, which no parser imports."""
    import onnx
    from onnx import helper

    model = onnx.load(str(src))
    for node in model.graph.node:
        if node.op_type == "Relu":
            node.op_type, node.domain = "FancyRelu", "com.example"
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    onnx.save(model, str(dst))
    return dst
