"""A linter for the Q/DQ (quantize/dequantize) ONNX graph that TensorRT's parser will read.

ONNX Runtime accepts Q/DQ graphs that TensorRT refuses (asymmetric zero points, int32 biases,
per-channel scales on the wrong axis), and TensorRT says so only deep in a build, on the device.
Reading the graph here names each such node up front, and tells the builder which precision the
graph itself carries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def _constants(model: Any) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    values = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
    return values


def _output_channel_axis(node: Any, weight: np.ndarray | None) -> int | None:
    """Axis of the output channels in a weighted node's weight (where per-channel scales go)."""
    attrs = {a.name: a.i for a in node.attribute}
    if node.op_type == "Conv":
        return 0
    if node.op_type == "ConvTranspose":
        return 1
    if node.op_type == "Gemm":
        return 0 if attrs.get("transB", 0) else 1
    return None if weight is None else weight.ndim - 1  # MatMul: (..., in, out)


def qdq_report(model: Any) -> dict[str, Any]:
    """What TensorRT's explicit-quantisation parser will see in an ``onnx.ModelProto``.

    TensorRT quantises symmetrically to signed INT8: every zero point must be int8 0, every scale
    positive, and a DequantizeLinear may only take int8 (not the int32 biases that ONNX Runtime
    writes by default: pass ``QuantizeBias=False``). Weights reach Conv/Gemm/MatMul through a
    DequantizeLinear of an int8 initializer, per output channel if per channel. ``problems``
    lists what TensorRT would reject; ``warnings`` the weighted layers it would leave in float.
    """
    consts = _constants(model)
    producer = {out: node for node in model.graph.node for out in node.output}
    q_nodes = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    dq_nodes = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    problems: list[str] = []
    zp_dtypes: set[str] = set()

    for node in q_nodes + dq_nodes:
        label = f"{node.op_type} {node.name or node.output[0]}"
        scale = consts.get(node.input[1]) if len(node.input) > 1 else None
        if scale is None:
            problems.append(f"{label}: scale is not a constant")
        elif not (np.all(np.isfinite(scale)) and np.all(scale > 0)):
            problems.append(f"{label}: scale not positive ({np.min(scale)})")
        zero = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        data = consts.get(node.input[0]) if node.op_type == "DequantizeLinear" else None
        if data is not None and data.dtype != np.int8:
            problems.append(
                f"{label}: dequantises a {data.dtype} constant; TensorRT takes only int8 here "
                "(int32 is a quantised bias: quantise with QuantizeBias=False)"
            )
        elif zero is not None and zero.dtype != np.int8:
            problems.append(f"{label}: zero point is {zero.dtype}, TensorRT needs int8")
        if zero is not None:
            zp_dtypes.add(str(zero.dtype))
            if np.any(zero != 0):
                problems.append(f"{label}: zero point not 0 (asymmetric); TensorRT is symmetric")

    quantized_w: list[str] = []
    float_w: list[str] = []
    per_channel: list[str] = []
    quantized_x: list[str] = []
    float_x: list[str] = []
    weighted = [n for n in model.graph.node if n.op_type in _WEIGHTED_OPS]
    for node in weighted:
        label = node.name or node.output[0]
        x_src, w_src = producer.get(node.input[0]), producer.get(node.input[1])
        x_quantized = x_src is not None and x_src.op_type == "DequantizeLinear"
        (quantized_x if x_quantized else float_x).append(label)
        if w_src is not None and w_src.op_type == "DequantizeLinear":
            quantized_w.append(label)
            scale = consts.get(w_src.input[1])
            if scale is not None and np.size(scale) > 1:
                per_channel.append(label)
                axis = next((a.i for a in w_src.attribute if a.name == "axis"), 1)
                want = _output_channel_axis(node, consts.get(w_src.input[0]))
                if want is not None and axis != want:
                    problems.append(
                        f"{label}: per-channel weight scales on axis {axis}; TensorRT needs the "
                        f"output-channel axis {want}"
                    )
        elif node.input[1] in consts:
            float_w.append(label)
    has_qdq = bool(q_nodes or dq_nodes)
    # Parses fine, but the layer then runs in float: worth a line in the build log.
    warnings = []
    if has_qdq:
        warnings += [f"{name}: float weights, runs unquantised" for name in float_w]
        warnings += [f"{name}: float input activation, runs unquantised" for name in float_x]
    fp16 = sum(1 for v in consts.values() if v.dtype == np.float16) + sum(
        1
        for n in model.graph.node
        if n.op_type == "Cast" and any(a.name == "to" and a.i == 10 for a in n.attribute)
    )
    return {
        "has_qdq": has_qdq,
        "quantize_linear": len(q_nodes),
        "dequantize_linear": len(dq_nodes),
        "weighted_nodes": len(weighted),
        "quantized_weights": quantized_w,
        "float_weights": float_w,
        "per_channel_weights": per_channel,
        "quantized_activations": quantized_x,
        "float_activations": float_x,
        "zero_point_dtypes": sorted(zp_dtypes),
        "float16_tensors": fp16,
        "problems": problems,
        "warnings": warnings,
    }


def graph_precision(report: dict[str, Any]) -> str:
    """Precision the graph itself carries: "int8" (Q/DQ), "fp16" (converted graph) or "fp32"."""
    if report["has_qdq"]:
        return "int8"
    return "fp16" if report["float16_tensors"] else "fp32"
