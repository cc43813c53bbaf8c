"""A trained ``.keras`` model behind the :class:`~edgefer.engines.base.Engine` interface.

It is the one way the project loads a trained model for inference.

Training side: importing this module imports Keras. ``edgefer bench`` uses it for its reference row
only after :func:`edgefer.bench.keras_ref.keras_available` says Keras is there; export, the training
reports and the shipping script load models through :func:`load_keras`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras  # edgefer.models (this package) imported TensorFlow quietly first
import numpy as np

from edgefer.bench.keras_ref import MODES
from edgefer.engines.base import Engine, TensorSpec
from edgefer.errors import EdgeferError


def load_keras(path: str | Path) -> Any:
    """Load a ``.keras`` model without its optimizer; any failure is one line.

    A model saved by the torch backend names a torch optimizer TensorFlow cannot import; inference
    needs none.
    """
    path = Path(path)
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # zip/h5/deserialisation errors: all "not a usable model"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgeferError(f"cannot load {path.name} with Keras: {first}") from exc


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
