"""FLOPs of one inference, counted from the ONNX graph (not from a runtime's profile).

Why count from the graph: the achieved GFLOP/s of an engine only means something against a fixed
amount of work, the same for every engine of a model (an INT8 graph does the same multiply-adds in
another number format). Shapes come from ONNX shape inference with the batch axis pinned to 1.

What is counted: the multiply-accumulates (MACs) of Conv (grouped and depthwise included, through the
weight's ``C/group`` axis), Gemm and MatMul, and of their integer/quantised forms; ``flops = 2 * MACs``.
Bias adds, activations, pooling and Softmax are left out (one operation per element, under 2% of the
total for these models): the figure is the one a peak matmul GFLOP/s is comparable with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgefer.errors import EdgeferError

# op type -> (input index of the data, input index of the weight)
_CONV_OPS = {"Conv": (0, 1), "ConvInteger": (0, 1), "QLinearConv": (0, 3)}
_MATMUL_OPS = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3)}


@dataclass
class FlopCount:
    """MACs per op type for ``batch`` samples.

    ``unresolved`` names nodes whose shapes were unknown.
    """

    batch: int
    macs_by_op: dict[str, int] = field(default_factory=dict)
    nodes_by_op: dict[str, int] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)
    grouped_nodes: int = 0  # grouped (incl. depthwise) convolutions among the Conv nodes
    grouped_macs: int = 0
    conv_channels: tuple[int, int] | None = None  # fewest and most output channels of a conv
    conv_maps: tuple[int, int] | None = None  # smallest and largest output map side

    @property
    def macs(self) -> int:
        return sum(self.macs_by_op.values())

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def flops_per_sample(self) -> float:
        return self.flops / self.batch

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "macs": self.macs,
            "flops": self.flops,
            "flops_per_sample": self.flops_per_sample,
            "macs_by_op": dict(self.macs_by_op),
            "nodes_by_op": dict(self.nodes_by_op),
            "unresolved": list(self.unresolved),
            "grouped_conv_nodes": self.grouped_nodes,
            "grouped_conv_macs": self.grouped_macs,
            "conv_channels": list(self.conv_channels) if self.conv_channels else None,
            "conv_maps": list(self.conv_maps) if self.conv_maps else None,
            "counted": "2 x MACs of Conv/Gemm/MatMul (bias, activations, pooling left out)",
        }


def _pin_batch(model: Any, batch: int) -> None:
    """Give every graph input a fixed first axis (symbolic batch axes block shape inference)."""
    initializers = {i.name for i in model.graph.initializer}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        if len(dims) and not dims[0].HasField("dim_value"):
            dims[0].ClearField("dim_param")
            dims[0].dim_value = batch


def _shapes(model: Any) -> dict[str, tuple[int, ...] | None]:
    """Static shape of every named value (None where any axis is unknown)."""
    shapes: dict[str, tuple[int, ...] | None] = {}
    for init in model.graph.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
    for value in (*model.graph.input, *model.graph.value_info, *model.graph.output):
        tensor = value.type.tensor_type
        if not tensor.HasField("shape"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        shapes[value.name] = None if any(d is None for d in dims) else tuple(int(d) for d in dims)
    return shapes


def _prod(values: tuple[int, ...] | list[int]) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _node_macs(node: Any, shapes: dict[str, tuple[int, ...] | None]) -> int | None:
    """MACs of one node, 0 for uncounted op types, None when a needed shape is unknown."""

    def shape(i: int) -> tuple[int, ...] | None:
        return shapes.get(node.input[i]) if i < len(node.input) else None

    out = shapes.get(node.output[0])
    if node.op_type in _CONV_OPS:
        weight = shape(_CONV_OPS[node.op_type][1])
        if weight is None or out is None:
            return None
        # out (N, M, *spatial); weight (M, C/group, *kernel): each output element is C/group * kernel MACs
        return _prod(out) * _prod(weight[1:])
    if node.op_type in _MATMUL_OPS:
        a = shape(_MATMUL_OPS[node.op_type][0])
        if a is None or out is None:
            return None
        return _prod(out) * int(a[-1])
    if node.op_type == "Gemm":
        a = shape(0)
        if a is None or out is None:
            return None
        trans_a = any(att.name == "transA" and att.i for att in node.attribute)
        return _prod(out) * int(a[0] if trans_a else a[1])
    return 0


def count_flops(model: Any, batch: int = 1) -> FlopCount:
    """Count MACs/FLOPs of an ONNX model for ``batch`` samples.

    The model is a path or an ``onnx.ModelProto``.
    """
    import onnx

    if isinstance(model, str | Path):
        from edgefer.onnx_meta import load_onnx

        model = load_onnx(model)
    if batch < 1:
        raise EdgeferError(f"batch must be >= 1, got {batch}")
    pinned = onnx.ModelProto()
    pinned.CopyFrom(model)
    _pin_batch(pinned, batch)
    try:
        inferred = onnx.shape_inference.infer_shapes(pinned, strict_mode=False)
    except Exception as exc:  # an inference error names the node; report it in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgeferError(f"ONNX shape inference failed, cannot count FLOPs: {first}") from exc
    shapes = _shapes(inferred)
    count = FlopCount(batch)
    for node in inferred.graph.node:
        macs = _node_macs(node, shapes)
        if macs is None:
            count.unresolved.append(node.name or node.op_type)
            continue
        if macs:
            count.macs_by_op[node.op_type] = count.macs_by_op.get(node.op_type, 0) + macs
            count.nodes_by_op[node.op_type] = count.nodes_by_op.get(node.op_type, 0) + 1
        if macs and node.op_type in _CONV_OPS:
            _describe_conv(count, node, shapes[node.output[0]], macs)
    return count


def _describe_conv(count: FlopCount, node: Any, out: tuple[int, ...] | None, macs: int) -> None:
    """Track what kind of convolutions the model has (the report explains speed with it)."""
    group = next((int(a.i) for a in node.attribute if a.name == "group"), 1)
    if group > 1:
        count.grouped_nodes += 1
        count.grouped_macs += macs
    if out is None or len(out) < 3:
        return
    channels, side = int(out[1]), int(min(out[2:]))
    lo, hi = count.conv_channels or (channels, channels)
    count.conv_channels = (min(lo, channels), max(hi, channels))
    lo, hi = count.conv_maps or (side, side)
    count.conv_maps = (min(lo, side), max(hi, side))
