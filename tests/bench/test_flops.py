"""The FLOP counter against hand-computed MACs of a tiny graph built with onnx.helper."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgefer.bench.flops import count_flops
from edgefer.errors import EdgeferError
from edgefer.shipped import shipped_path


def _init(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)


def tiny_model() -> onnx.ModelProto:
    """x (N,3,8,8) -> dense 3x3 conv 3->4 (pad 1) -> depthwise 3x3 stride 2 (group 4) -> 1x1 conv
    4->6 -> global pool -> flatten -> MatMul 6->5 -> Gemm (transB) 5->3 -> Relu."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node(
            "Conv",
            ["c1", "w2"],
            ["c2"],
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            strides=[2, 2],
            group=4,
        ),  # fmt: skip
        helper.make_node("Conv", ["c2", "w3"], ["c3"], kernel_shape=[1, 1]),
        helper.make_node("GlobalAveragePool", ["c3"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("MatMul", ["f", "m"], ["h"]),
        helper.make_node("Gemm", ["h", "g", "gb"], ["o"], transB=1),
        helper.make_node("Relu", ["o"], ["y"]),
    ]
    inits = [
        _init("w1", (4, 3, 3, 3)),
        _init("b1", (4,)),
        _init("w2", (4, 1, 3, 3)),
        _init("w3", (6, 4, 1, 1)),
        _init("m", (6, 5)),
        _init("g", (3, 5)),
        _init("gb", (3,)),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


# By hand, per sample: dense conv 4*8*8 outputs x 3*3*3 = 6912; depthwise 4*4*4 outputs x 1*3*3 = 576;
# pointwise 6*4*4 x 4 = 384; MatMul 5 outputs x 6 = 30; Gemm 3 outputs x 5 = 15.
HAND_CONV = 6912 + 576 + 384
HAND_MATMUL, HAND_GEMM = 30, 15


@pytest.mark.parametrize("batch", [1, 4])
def test_tiny_model_counts_match_hand_computation(batch):
    count = count_flops(tiny_model(), batch)
    assert count.macs_by_op == {
        "Conv": batch * HAND_CONV,
        "MatMul": batch * HAND_MATMUL,
        "Gemm": batch * HAND_GEMM,
    }
    assert count.nodes_by_op == {"Conv": 3, "MatMul": 1, "Gemm": 1}
    assert count.flops == 2 * batch * (HAND_CONV + HAND_MATMUL + HAND_GEMM)
    assert count.flops_per_sample == 2 * (HAND_CONV + HAND_MATMUL + HAND_GEMM)
    assert count.unresolved == []


def test_gemm_with_transposed_a():
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["a", "b"], ["y"], transA=1)],
        "gemm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [7, 2])],  # A^T is (2, 7)
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [_init("b", (7, 4))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert count_flops(model).macs == 2 * 4 * 7


def test_shipped_model_scales_with_batch_and_counts_every_conv():
    path = shipped_path("middle", ".onnx")
    one, eight = count_flops(path, 1), count_flops(path, 8)
    convs = sum(n.op_type == "Conv" for n in onnx.load(str(path)).graph.node)
    assert one.unresolved == [] and one.nodes_by_op["Conv"] == convs
    assert eight.flops == 8 * one.flops and eight.flops_per_sample == one.flops_per_sample


def test_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(EdgeferError, match="not a valid ONNX model"):
        count_flops(bad)
    with pytest.raises(EdgeferError, match="batch"):
        count_flops(tiny_model(), 0)
