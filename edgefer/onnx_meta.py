"""Our metadata inside ONNX files: what to write, how to read it back, and what to do without it.

An exported or built ONNX file carries one metadata entry, ``edgefer``, holding JSON: class names, the
preprocessing spec, the source model's hash, input shapes, precision and versions. A loaded model thus
knows how to make its own inputs (the live loop and the benchmarks rebuild them from the spec) and
whether it matches a calibration set. A file from elsewhere without the entry is accepted, with a
warning and an assumed spec, only when its inputs look like ours (``face``/``voice`` square images);
anything else is refused, because we could not make its inputs.

Needs the ``onnx`` package only for :func:`load_onnx`/:func:`embed_metadata`; the rest is plain Python,
so ONNX Runtime can hand us its ``custom_metadata_map`` without a second parse of the file.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgefer import CLASS_NAMES, __version__
from edgefer.engines.base import TensorSpec
from edgefer.errors import EdgeferError
from edgefer.spec import PreprocessSpec, preset_spec

METADATA_KEY = "edgefer"
METADATA_FORMAT = 1
INPUT_NAMES: tuple[str, ...] = ("face", "voice")
OUTPUT_NAME = "probs"
_REQUIRED = ("format", "class_names", "preprocess", "inputs", "precision")


def make_metadata(
    spec: PreprocessSpec,
    inputs: Mapping[str, tuple[int | None, ...]],
    precision: str = "fp32",
    **extra: Any,
) -> dict[str, Any]:
    """The metadata dict of a model whose inputs are made with ``spec``.

    ``extra`` adds provenance: source model hash, fusion, exporter versions.
    """
    return {
        "format": METADATA_FORMAT,
        "edgefer_version": __version__,
        "class_names": list(spec.class_names),
        "preprocess": spec.to_dict(),
        "spec_digest": spec.digest(),
        "inputs": {name: list(shape) for name, shape in inputs.items()},
        "output": OUTPUT_NAME,
        "precision": precision,
        **extra,
    }


def embed_metadata(model: Any, meta: Mapping[str, Any]) -> None:
    """Write ``meta`` into an ``onnx.ModelProto``'s ``metadata_props``, replacing an older entry."""
    props = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(props)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(dict(meta), sort_keys=True)


def parse_metadata(props: Mapping[str, str], where: str) -> dict[str, Any] | None:
    """Our metadata from a key -> value map, ``None`` when absent; corrupt metadata is an error."""
    text = props.get(METADATA_KEY)
    if text is None:
        return None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EdgeferError(f"{where}: corrupt edgefer metadata ({exc})") from exc
    missing = [k for k in _REQUIRED if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise EdgeferError(f"{where}: edgefer metadata lacks {', '.join(missing)}; re-export it")
    if meta["format"] != METADATA_FORMAT:
        raise EdgeferError(
            f"{where}: edgefer metadata format {meta['format']} is not {METADATA_FORMAT}; "
            "re-export it with this edgefer"
        )
    PreprocessSpec.from_dict(meta["preprocess"])  # raises a one-line error if it is unusable
    return meta


def model_metadata(model: Any, where: str) -> dict[str, Any] | None:
    """Our metadata from an ``onnx.ModelProto``, or ``None``."""
    return parse_metadata({p.key: p.value for p in model.metadata_props}, where)


def spec_of(meta: Mapping[str, Any]) -> PreprocessSpec:
    return PreprocessSpec.from_dict(meta["preprocess"])


def load_onnx(path: str | Path) -> Any:
    """Parse and check an ONNX file.

    A missing, empty, corrupt or truncated file is one clear error.
    """
    import onnx

    path = Path(path)
    if not path.is_file():
        raise EdgeferError(f"ONNX model not found: {path}")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # protobuf DecodeError, onnx ValidationError, ...: all "bad file"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgeferError(
            f"{path.name} is not a valid ONNX model (corrupt or truncated?): {first}"
        ) from exc
    return model


def _dims(value_info: Any) -> tuple[int | None, ...]:
    dims = value_info.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)


_ONNX_DTYPES = {1: "float32", 10: "float16", 11: "float64"}


def graph_specs(model: Any) -> tuple[dict[str, TensorSpec], dict[str, TensorSpec]]:
    """Input and output :class:`TensorSpec` of an ``onnx.ModelProto`` (initializers left out)."""
    initializers = {i.name for i in model.graph.initializer}

    def spec(v: Any) -> TensorSpec:
        dtype = _ONNX_DTYPES.get(v.type.tensor_type.elem_type, "unsupported")
        return TensorSpec(v.name, _dims(v), dtype)

    inputs = {v.name: spec(v) for v in model.graph.input if v.name not in initializers}
    outputs = {v.name: spec(v) for v in model.graph.output}
    return inputs, outputs


def _fit_problem(inputs: Mapping[str, TensorSpec], outputs: Mapping[str, TensorSpec]) -> str | None:
    """Why a model without metadata cannot be an edgefer model, or ``None`` when it fits."""
    names = set(inputs)
    if not names or not names <= set(INPUT_NAMES):
        return f"inputs {sorted(names)} are not 'face' and/or 'voice'"
    sizes = set()
    for spec in inputs.values():
        shape = spec.shape
        if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or spec.dtype != "float32":
            return f"input {spec.describe()} is not a float32 N x S x S x C image"
        channels = (1, 3) if spec.name == "face" else (1,)
        if shape[3] not in channels:
            return f"input {spec.describe()} has {shape[3]} channels"
        sizes.add(shape[1])
    if len(sizes) != 1:
        return f"inputs have different sizes {sorted(sizes)}"
    if len(outputs) != 1 or next(iter(outputs.values())).shape[-1] in (None, 0, 1):
        return "it does not have one class-probability output"
    return None


def resolve_metadata(
    meta: dict[str, Any] | None,
    inputs: Mapping[str, TensorSpec],
    outputs: Mapping[str, TensorSpec],
    where: str,
) -> dict[str, Any]:
    """Our metadata checked against the graph.

    For a file without it: assumed metadata and a warning when the inputs fit, else a refusal.
    """
    if meta is not None:
        declared = {name: tuple(shape) for name, shape in meta["inputs"].items()}
        actual = {name: spec.shape for name, spec in inputs.items()}
        if declared != actual:
            raise EdgeferError(
                f"{where}: its metadata declares inputs {declared} but the graph has {actual}"
            )
        return meta
    problem = _fit_problem(inputs, outputs)
    if problem is not None:
        raise EdgeferError(
            f"{where} carries no edgefer metadata and is not an edgefer model: {problem}"
        )
    first = next(iter(inputs.values()))
    size, channels = int(first.shape[1]), inputs["face"].shape[3] if "face" in inputs else 1
    spec = preset_spec("paper") if size == 224 else preset_spec("edge", image_size=max(size, 32))
    if channels == 3:
        spec = PreprocessSpec.from_dict({**spec.to_dict(), "face": {"channels": 3}})
    n_classes = int(next(iter(outputs.values())).shape[-1])
    classes = (
        CLASS_NAMES
        if n_classes == len(CLASS_NAMES)
        else tuple(f"class{i}" for i in range(n_classes))
    )
    spec = PreprocessSpec.from_dict({**spec.to_dict(), "class_names": list(classes)})
    warnings.warn(
        f"{where} carries no edgefer metadata: assuming the {'paper' if size == 224 else 'edge'} "
        f"preprocessing at {size} px and classes {', '.join(classes)} (export with edgefer to embed them)",
        stacklevel=2,
    )
    meta = make_metadata(spec, {n: s.shape for n, s in inputs.items()}, precision="unknown")
    meta["assumed"] = True
    meta["output"] = next(iter(outputs))
    return meta
