"""A real ONNX Runtime engine behind the project's ``Engine`` interface, with a known output.

The trained engines are being built elsewhere; the live tests only need something that takes
``face``/``voice`` inputs of the model's shape and returns class probabilities through real ONNX
Runtime sessions: softmax(mean of each input @ W + b).
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from edgefer.engines.base import Engine, TensorSpec


class TinyOrtEngine(Engine):
    """softmax(mean(input_i) @ W + b): a real ONNX model, small enough to reason about."""

    backend, precision = "onnxruntime", "fp32"

    def __init__(self, names: tuple[str, ...], seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.weights = rng.standard_normal((len(names), 3)).astype(np.float32) * 4
        self.bias = rng.standard_normal(3).astype(np.float32)
        nodes, means = [], []
        for name in names:
            nodes.append(helper.make_node("Flatten", [name], [f"{name}_flat"]))
            nodes.append(
                helper.make_node("ReduceMean", [f"{name}_flat"], [f"{name}_mean"], axes=[1])
            )
            means.append(f"{name}_mean")
        nodes += [
            helper.make_node("Concat", means, ["features"], axis=1),
            helper.make_node("MatMul", ["features", "W"], ["logits0"]),
            helper.make_node("Add", ["logits0", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        ]
        graph = helper.make_graph(
            nodes,
            "tiny",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 64, 64, 1]) for n in names],
            [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [None, 3])],
            [numpy_helper.from_array(self.weights, "W"), numpy_helper.from_array(self.bias, "b")],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8  # readable by older ONNX Runtimes too (the py3.10 CI job's)
        onnx.checker.check_model(model)
        self.session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        self.inputs = {n: TensorSpec(n, (None, 64, 64, 1)) for n in names}
        self.outputs = {"probs": TensorSpec("probs", (None, 3))}
        self.metadata = {}

    def _run(self, inputs):
        return self.session.run(["probs"], inputs)[0]

    def expected(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        features = np.stack([inputs[n].reshape(len(inputs[n]), -1).mean(1) for n in self.inputs], 1)
        logits = features @ self.weights + self.bias
        e = np.exp(logits - logits.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
