"""The Keras model an ONNX file was exported from, as an :class:`~edgefer.engines.base.Engine`.

It is the benchmark's reference point ("how much faster is the deployed engine than the training
framework?"). Two ways of calling it are timed, because they differ ten-fold at batch 1 and a ratio
against only one would mislead: ``predict`` (what the issue's target names; it builds a dataset and
a step function around every call) and ``predict_on_batch`` (one compiled step, the fastest plain
Keras call). TensorFlow is imported only when a KerasEngine is made, so a Jetson without it can still
run every other row; :func:`keras_available` says whether it can be made at all.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.engines.artifact import file_sha256
from edgefer.engines.base import Engine, TensorSpec
from edgefer.errors import EdgeferError

MODES: tuple[str, ...] = ("predict", "predict_on_batch")


def keras_available() -> str | None:
    """None when Keras with TensorFlow can be imported here, else why not (one line)."""
    for module in ("tensorflow", "keras"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'edgefer[train]')"
    return None


def find_source(onnx_path: Path, meta: dict[str, Any], sidecar: dict[str, Any] | None) -> Path:
    """The ``.keras`` file ``onnx_path`` was exported from, checked by hash; raises with why not.

    Looked for beside the ONNX file first (by the recorded name, ``<stem>.keras``, ``model.keras``:
    a run folder, a shipped model, a fresh clone), then where the export recorded it (the sidecar's
    absolute path, which in another checkout names that checkout's copy).
    """
    want = meta.get("source_model_sha256") or (sidecar or {}).get("source_model_sha256")
    names = [
        meta.get("source_model") and str(onnx_path.parent / Path(meta["source_model"]).name),
        str(onnx_path.with_suffix(".keras")),
        str(onnx_path.parent / "model.keras"),
        (sidecar or {}).get("source_model"),
    ]
    seen: list[Path] = []
    for name in names:
        if not name or not Path(name).is_file() or Path(name).resolve() in seen:
            continue
        path = Path(name).resolve()
        seen.append(path)
        if want is None or file_sha256(path) == want:
            return path
    if seen:
        raise EdgeferError(
            f"{seen[0].name} is not the model {onnx_path.name} was exported from "
            f"(sha256 {want}): re-export it"
        )
    raise EdgeferError(f"no Keras source found for {onnx_path.name} (looked beside it)")


class KerasEngine(Engine):
    """A ``.keras`` model called with ``predict`` or ``predict_on_batch`` (``mode``)."""

    backend = "keras"
    precision = "fp32"

    def __init__(self, path: str | Path, mode: str = "predict", model: Any = None) -> None:
        if mode not in MODES:
            raise EdgeferError(f"unknown Keras mode {mode!r}: choose {', '.join(MODES)}")
        self.path, self.mode = Path(path), mode
        self._model = model if model is not None else load_keras(self.path)
        self.inputs = {
            t.name: TensorSpec(t.name, (None, *(int(d) for d in t.shape[1:])), "float32")
            for t in self._model.inputs
        }
        out = self._model.outputs[0]
        self.outputs = {"probs": TensorSpec("probs", (None, int(out.shape[-1])), "float32")}
        self.metadata = {"source_model": str(self.path), "mode": mode}

    @property
    def model(self) -> Any:
        """The loaded Keras model (shared by the two modes, so it is loaded once)."""
        return self._model

    def _run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if self.mode == "predict":
            return np.asarray(self._model.predict(inputs, verbose=0, batch_size=_rows(inputs)))
        return np.asarray(self._model.predict_on_batch(inputs))

    def close(self) -> None:
        self._model = None


def _rows(inputs: dict[str, np.ndarray]) -> int:
    return int(len(next(iter(inputs.values()))))


def load_keras(path: Path) -> Any:
    """Load a ``.keras`` model without its optimizer; any failure is one line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    reason = keras_available()
    if reason is not None:
        raise EdgeferError(f"cannot load {path.name}: {reason}")
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # zip/h5/deserialisation errors: all "not a usable model"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgeferError(f"cannot load {path.name} with Keras: {first}") from exc
