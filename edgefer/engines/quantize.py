"""Precision as a graph: INT8 as Q/DQ nodes from a calibration set, FP16 as a converted graph.

Keeping precision in the ONNX file (rather than in builder flags) is what TensorRT 11 accepts, what
TensorRT 8.5-10 and ONNX Runtime also run, and what can be inspected. Two INT8 flavours:

- ``target="onnxruntime"``: unsigned 8-bit activations, signed per-channel weights (U8S8), the
  combination ONNX Runtime's CPU kernels are fastest with (VNNI / NEON dot products).
- ``target="tensorrt"``: signed, symmetric (zero point 0) activations and weights, per-channel weights,
  float biases; TensorRT only implements symmetric INT8 and dequantises only int8 constants
  (``edgefer.engines.qdq_lint.qdq_report`` checks such a graph the way TensorRT's parser will).

The final ``Softmax`` is left in float in both: quantising probabilities to 1/255 steps creates ties
and flips the predicted class of confident samples for nothing (it is a tiny op).
``quant_pre_process(auto_merge=True)`` runs first: the symbolic shape inference behind it needs
``auto_merge`` to reconcile the two inputs' batch axes in the fusion models, and its graph
optimisation folds BatchNorm into the convolutions before ranges are measured.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from edgefer.calibration import CalibrationSet
from edgefer.errors import EdgeferError

INT8_TARGETS: tuple[str, ...] = ("onnxruntime", "tensorrt")
CALIBRATION_METHODS: tuple[str, ...] = ("minmax", "entropy", "percentile")
FLOAT_OPS: tuple[str, ...] = ("Softmax",)
_MAX_BATCH_PIXELS = 32 * 64 * 64  # ~32 edge-size samples per calibration run bounds the memory


def calibration_batch(calib: CalibrationSet, names: list[str]) -> int:
    """Largest batch that divides the set and bounds the calibrator's memory.

    Dividing the set means ``batches`` uses every sample; the calibrator holds memory for every
    intermediate tensor of a batch.
    """
    pixels = max(int(calib.arrays[n].shape[1] * calib.arrays[n].shape[2]) for n in names)
    cap = max(1, min(len(calib), _MAX_BATCH_PIXELS // pixels))
    return next(b for b in range(cap, 0, -1) if len(calib) % b == 0)


def _reader(calib: CalibrationSet, names: list[str], batch_size: int) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        """Feeds ``calib.batches`` to the calibrator; rewindable for multi-pass methods."""

        def __init__(self) -> None:
            self.rewind()

        def get_next(self) -> dict | None:
            return next(self._batches, None)

        def rewind(self) -> None:
            self._batches = calib.batches(batch_size, names)

    return Reader()


def _rewrite_metadata(path: Path, meta: dict[str, Any]) -> None:
    import onnx

    from edgefer.onnx_meta import embed_metadata

    model = onnx.load(str(path))
    embed_metadata(model, meta)
    onnx.save(model, str(path))


def quantize_int8(
    source: str | Path,
    output: str | Path,
    calib: CalibrationSet,
    input_names: list[str],
    meta: dict[str, Any],
    target: str = "onnxruntime",
    method: str = "minmax",
) -> dict[str, Any]:
    """Write a Q/DQ INT8 copy of ``source`` to ``output`` with ``meta`` embedded.

    Returns the recipe.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if target not in INT8_TARGETS:
        raise EdgeferError(f"unknown INT8 target {target!r}: choose {', '.join(INT8_TARGETS)}")
    if method not in CALIBRATION_METHODS:
        raise EdgeferError(f"unknown calibration method {method!r}: {CALIBRATION_METHODS}")
    batch = calibration_batch(calib, input_names)
    symmetric = target == "tensorrt"
    activations = QuantType.QInt8 if symmetric else QuantType.QUInt8
    extra: dict[str, Any] = {"ActivationSymmetric": symmetric, "WeightSymmetric": True}
    if symmetric:  # TensorRT dequantises only int8 constants: biases stay float
        extra["QuantizeBias"] = False
    if method == "minmax":
        extra["CalibMaxIntermediateOutputs"] = 4  # merge ranges every 4 batches: bounded memory
    op_types = sorted((set(QLinearOpsRegistry) | set(QDQRegistry)) - set(FLOAT_OPS))
    with tempfile.TemporaryDirectory(prefix="edgefer-quant-") as work:
        prepared = Path(work) / "prepared.onnx"
        try:
            quant_pre_process(str(source), str(prepared), auto_merge=True)
        except ImportError as exc:
            raise EdgeferError(
                f"INT8 needs sympy for shape inference: pip install sympy ({exc})"
            ) from exc
        quantize_static(
            str(prepared),
            str(output),
            _reader(calib, input_names, batch),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=op_types,
            per_channel=True,
            # 7-bit weights for ONNX Runtime: on x86 CPUs without VNNI (AVX2, plain AVX-512) its
            # u8 x s8 kernels add pairs of products in int16, which saturates with full-range
            # weights (measured: the shipped middle model fell to 63 % agreement with FP32 on an
            # AVX2 EPYC, 95 % with 7-bit weights). TensorRT multiplies in int32: full range.
            reduce_range=not symmetric,
            activation_type=activations,
            weight_type=QuantType.QInt8,
            calibrate_method={
                "minmax": CalibrationMethod.MinMax,
                "entropy": CalibrationMethod.Entropy,
                "percentile": CalibrationMethod.Percentile,
            }[method],
            extra_options=extra,
        )
    recipe = {
        "target": target,
        "method": method,
        "activations": "int8 symmetric" if symmetric else "uint8 asymmetric",
        "weights": "int8 symmetric per-channel" + ("" if symmetric else ", 7-bit range"),
        "biases": "float" if symmetric else "int32",
        "float_ops": list(FLOAT_OPS),
        "calibration_digest": calib.digest,
        "calibration_n": len(calib),
        "calibration_batch": batch,
    }
    _rewrite_metadata(Path(output), {**meta, "precision": "int8", "quantization": recipe})
    return recipe


def convert_fp16(source: str | Path, output: str | Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Write an FP16 copy of ``source`` to ``output``.

    The float32 inputs and output are kept, with casts inside.
    """
    import onnx
    from onnxconverter_common import float16

    from edgefer.onnx_meta import embed_metadata

    model = float16.convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    recipe = {"converter": "onnxconverter_common.float16", "keep_io_types": True}
    embed_metadata(model, {**meta, "precision": "fp16", "conversion": recipe})
    onnx.save(model, str(output))
    return recipe


def copy_fp32(source: str | Path, output: str | Path, meta: dict[str, Any]) -> dict[str, Any]:
    """The FP32 engine of ONNX Runtime is the exported graph itself, with engine metadata."""
    import onnx

    from edgefer.onnx_meta import embed_metadata

    model = onnx.load(str(source))
    embed_metadata(model, {**meta, "precision": "fp32"})
    onnx.save(model, str(output))
    return {}
