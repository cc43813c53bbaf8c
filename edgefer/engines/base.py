"""The one ``Engine`` interface every backend implements, and the input checks they share.

Everything downstream (the live loop, the benchmarks, the accuracy checks of ``build-engine``) talks
to an ``Engine``: ``predict({"face": ..., "voice": ...}) -> probabilities``. Backends live in their own
modules and import their runtime lazily, so this module needs only NumPy.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (``None`` for a dynamic axis, e.g. the batch) and dtype of one engine tensor."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str = "float32"

    def describe(self) -> str:
        dims = ", ".join("N" if d is None else str(d) for d in self.shape)
        return f"{self.name}[{dims}] {self.dtype}"


def validate_inputs(
    specs: dict[str, TensorSpec], inputs: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Check names, ranks, fixed dimensions and a common batch size of the inputs.

    Returns C-contiguous arrays of the engine's dtype. Raises :class:`EdgeferError` naming the first
    problem.
    """
    if not isinstance(inputs, dict):
        raise EdgeferError("inputs must be a dict of arrays keyed by input name")
    missing, extra = set(specs) - set(inputs), set(inputs) - set(specs)
    if missing or extra:
        expected = ", ".join(s.describe() for s in specs.values())
        raise EdgeferError(f"wrong input names: got {sorted(inputs)}, expected {expected}")
    out: dict[str, np.ndarray] = {}
    batch: int | None = None
    for name, spec in specs.items():
        array = np.asarray(inputs[name])
        if array.ndim != len(spec.shape):
            raise EdgeferError(
                f"input {name!r} has shape {array.shape}, expected {spec.describe()}"
            )
        for axis, (got, want) in enumerate(zip(array.shape, spec.shape, strict=True)):
            if want is not None and got != want:
                raise EdgeferError(
                    f"input {name!r} has shape {array.shape}, expected {spec.describe()} "
                    f"(axis {axis})"
                )
        if not np.issubdtype(array.dtype, np.floating):
            raise EdgeferError(f"input {name!r} must be floating point, got {array.dtype}")
        if batch is not None and array.shape[0] != batch:
            raise EdgeferError(f"inputs disagree on the batch size: {array.shape[0]} vs {batch}")
        batch = array.shape[0]
        out[name] = np.ascontiguousarray(array, dtype=spec.dtype)
    return out


class Engine(abc.ABC):
    """A built model that maps named inputs to class probabilities.

    Attributes
    ----------
    backend : "onnxruntime" | "tensorrt" | "keras"
    precision : "fp32" | "fp16" | "int8"
    inputs, outputs : TensorSpec per tensor name
    metadata : what made the artefact (class names, preprocessing spec, hashes, versions)
    """

    backend: str
    precision: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]
    metadata: dict[str, Any]

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Class probabilities, shape (batch, n_classes).

        The inputs are validated against ``inputs`` first.
        """
        return self._run(validate_inputs(self.inputs, inputs))

    @abc.abstractmethod
    def _run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Backend-specific inference on already validated inputs."""

    def close(self) -> None:
        """Release runtime resources (GPU memory, sessions); the engine is unusable afterwards."""
        return None  # backends holding resources override this

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        ins = ", ".join(s.describe() for s in self.inputs.values())
        return f"{self.backend} {self.precision}: {ins}"
