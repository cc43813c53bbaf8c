"""Keras -> ONNX (tf2onnx, opset 17) with our metadata, checked against Keras on real inputs.

The exported graph has inputs ``face``/``voice`` (N x S x S x C, dynamic batch ``N``) and one output
``probs``, and carries the class names, the preprocessing spec and the source model's hash (see
:mod:`edgefer.onnx_meta`), so everything downstream works from the ``.onnx`` alone. The export is
refused, and nothing is left behind, unless ONNX Runtime reproduces Keras on held-out real faces and
voices to within ``PARITY_ATOL`` with the same predicted class for every sample.

This module and the training package are the only ones that import Keras; they do it inside functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.engines.artifact import atomic_path, ensure_writable, file_sha256, write_sidecar
from edgefer.errors import EdgeferError
from edgefer.evalsets import heldout_set, predict_batched
from edgefer.model_source import resolve_source
from edgefer.onnx_meta import OUTPUT_NAME, embed_metadata, make_metadata
from edgefer.spec import PreprocessSpec

PARITY_ATOL = 1e-5
DEFAULT_OPSET = 17
BATCH_DIM = "N"


@dataclass(frozen=True)
class Parity:
    """How closely ONNX Runtime reproduces Keras on ``n`` real samples."""

    n: int
    max_abs_diff: float
    argmax_agreement: float  # fraction in [0, 1]
    batch_sizes: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return self.max_abs_diff < PARITY_ATOL and self.argmax_agreement == 1.0


@dataclass
class ExportResult:
    path: Path
    metadata: dict[str, Any]
    parity: Parity
    sidecar: dict[str, Any]


def _check_model(model: Any, spec: PreprocessSpec, where: str) -> list[str]:
    names = [t.name for t in model.inputs]
    if not names or not set(names) <= {"face", "voice"}:
        raise EdgeferError(f"{where}: inputs {names} are not 'face' and/or 'voice'")
    for tensor in model.inputs:
        want = spec.input_shape(tensor.name)
        if tuple(tensor.shape[1:]) != want:
            raise EdgeferError(
                f"{where}: input {tensor.name!r} is {tuple(tensor.shape[1:])}, the spec says {want}"
            )
    if len(model.outputs) != 1 or model.outputs[0].shape[-1] != len(spec.class_names):
        raise EdgeferError(f"{where}: expected one output of {len(spec.class_names)} probabilities")
    return names


def _convert(model: Any, names: list[str], opset: int) -> Any:
    """tf2onnx on a ``tf.function`` with named, batch-dynamic inputs and one output ``probs``."""
    from edgefer.quiet_tf import import_tensorflow

    import_tensorflow()
    import tensorflow as tf
    import tf2onnx

    shapes = {t.name: tuple(t.shape[1:]) for t in model.inputs}
    signature = [tf.TensorSpec((None, *shapes[n]), tf.float32, name=n) for n in names]

    @tf.function(input_signature=signature)
    def forward(*tensors: Any) -> dict[str, Any]:
        return {OUTPUT_NAME: model(dict(zip(names, tensors, strict=True)), training=False)}

    proto, _ = tf2onnx.convert.from_function(forward, input_signature=signature, opset=opset)
    for value in (*proto.graph.input, *proto.graph.output):  # one readable name for the batch axis
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = BATCH_DIM
    proto.doc_string = f"edgefer {model.name}: inputs {', '.join(names)} -> {OUTPUT_NAME}"
    return proto


def check_parity(
    onnx_path: Path, model: Any, inputs: dict[str, np.ndarray], batch_size: int = 16
) -> Parity:
    """Run Keras and ONNX Runtime on the same real inputs, in batches and one sample alone."""
    from edgefer.engines.onnxruntime import OrtEngine

    with OrtEngine(onnx_path, providers=["cpu"]) as engine:
        got = predict_batched(engine.predict, inputs, batch_size)
        single = engine.predict({k: v[:1] for k, v in inputs.items()})
    want = predict_batched(lambda x: np.asarray(model.predict_on_batch(x)), inputs, batch_size)
    diff = max(float(np.abs(got - want).max()), float(np.abs(single - want[:1]).max()))
    agreement = float(np.mean(got.argmax(axis=1) == want.argmax(axis=1)))
    return Parity(len(want), diff, agreement, (batch_size, 1))


def export_model(
    source: str | Path,
    output: str | Path | None = None,
    opset: int = DEFAULT_OPSET,
    parity_samples: int = 60,
    progress: Callable[[str, int, int], None] | None = None,
) -> ExportResult:
    """Export a run folder or ``.keras`` model to ONNX; refuse (leaving nothing) if parity fails."""
    keras_path, spec_path, config = resolve_source(source)
    spec = PreprocessSpec.load(spec_path)
    output = Path(output) if output is not None else keras_path.with_suffix(".onnx")
    if output.suffix != ".onnx":
        raise EdgeferError(f"the output must end in .onnx: {output}")
    ensure_writable(output.parent)  # before minutes of loading and converting
    from edgefer.models.keras_engine import load_keras

    model = load_keras(keras_path)
    names = _check_model(model, spec, keras_path.name)
    proto = _convert(model, names, opset)
    import tensorflow as tf
    import tf2onnx

    model_hash = file_sha256(keras_path)
    meta = make_metadata(
        spec,
        {n: (None, *spec.input_shape(n)) for n in names},
        source_model=keras_path.name,
        source_model_sha256=model_hash,
        fusion=config.get("fusion"),
        preset=config.get("preset"),
        model_name=model.name,
        opset=opset,
        exporter={"tf2onnx": tf2onnx.__version__, "tensorflow": tf.__version__},
    )
    embed_metadata(proto, meta)
    per_class = -(-parity_samples // len(spec.class_names))
    data = heldout_set(spec, names, limit_per_class=per_class, progress=progress)
    sample = {k: v[:parity_samples] for k, v in data.inputs.items()}
    with atomic_path(output) as tmp:
        tmp.write_bytes(proto.SerializeToString())
        parity = check_parity(tmp, model, sample)
        if not parity.ok:
            raise EdgeferError(
                f"ONNX does not reproduce Keras: max abs diff {parity.max_abs_diff:.2e} "
                f"(limit {PARITY_ATOL:.0e}), argmax agreement {parity.argmax_agreement:.1%}"
            )
    sidecar = write_sidecar(
        output,
        {
            "kind": "onnx",
            "precision": "fp32",
            "source_model": str(keras_path.resolve()),
            "source_model_sha256": model_hash,
            "inputs": meta["inputs"],
            "output": OUTPUT_NAME,
            "class_names": meta["class_names"],
            "preprocess": meta["preprocess"],
            "spec_digest": meta["spec_digest"],
            "runtime": "tf2onnx",
            "runtime_version": tf2onnx.__version__,
            "opset": opset,
            "parity": asdict(parity),
            "gpu_name": None,
            "compute_capability": None,
        },
    )
    return ExportResult(output, meta, parity, sidecar)
