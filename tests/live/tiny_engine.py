"""A tiny real ONNX model, opened by the project's own :class:`~edgefer.engines.onnxruntime.OrtEngine`.

The live tests need engines whose output they can predict: the graph computes
softmax(mean of each input @ W + b) on ``face``/``voice`` inputs of the edge shape. It is written to
a file and opened like any user's ONNX file, so the router and the pipeline run through the real
engine class (metadata fallback, input checks, batching); :func:`tiny_expected` recomputes the output
in NumPy from the weights stored in that file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgefer.engines.onnxruntime import OrtEngine

_FOLDER = Path(tempfile.mkdtemp(prefix="edgefer-tiny-onnx-"))


def tiny_ort_engine(names: tuple[str, ...], seed: int) -> OrtEngine:
    """An :class:`OrtEngine` of softmax(mean(input_i) @ W + b), W and b drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((len(names), 3)).astype(np.float32) * 4
    bias = rng.standard_normal(3).astype(np.float32)
    nodes, means = [], []
    for name in names:
        nodes.append(helper.make_node("Flatten", [name], [f"{name}_flat"]))
        nodes.append(helper.make_node("ReduceMean", [f"{name}_flat"], [f"{name}_mean"], axes=[1]))
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
        [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by older ONNX Runtimes too (the py3.10 CI job's)
    onnx.checker.check_model(model)
    path = _FOLDER / f"tiny-{'-'.join(names)}-{seed}.onnx"
    onnx.save(model, str(path))
    return OrtEngine(path)


def tiny_expected(engine: OrtEngine, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """What the tiny graph in ``engine``'s file gives for ``inputs``, computed in NumPy."""
    stored = {
        t.name: numpy_helper.to_array(t) for t in onnx.load(str(engine.path)).graph.initializer
    }
    features = np.stack([inputs[n].reshape(len(inputs[n]), -1).mean(1) for n in engine.inputs], 1)
    logits = features @ stored["W"] + stored["b"]
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)
