"""Readers of a loaded ``onnx.ModelProto`` for the TensorRT builder.

They read its graph inputs (for the optimisation profile) and the metadata export embedded (for the
plan's sidecar: a serialised plan keeps no ONNX metadata of its own). They take the loaded model, so
the builder loads the file once for them and for the Q/DQ lint.
"""

from __future__ import annotations

import json
from typing import Any


def onnx_input_shapes(model: Any) -> dict[str, tuple[int | None, ...]]:
    """Graph inputs (not initializers) of an ``onnx.ModelProto``: name -> shape, None if dynamic."""
    initializers = {init.name for init in model.graph.initializer}
    shapes = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
    return shapes


def onnx_metadata(model: Any) -> dict[str, Any]:
    """The ONNX file's ``metadata_props``, with JSON values decoded.

    Export writes one JSON entry, ``edgefer``: class names, preprocessing spec, hashes. Its values
    are decoded so the engine's sidecar carries them.
    """
    out: dict[str, Any] = {}
    for prop in model.metadata_props:
        try:
            out[prop.key] = json.loads(prop.value)
        except ValueError:
            out[prop.key] = prop.value
    return out
