"""ONNX Runtime backend: any of our ONNX files as an Engine.

The files are the FP32 export, the FP16 graph and the INT8 Q/DQ graph.

The CPU provider by default, CUDA first when onnxruntime-gpu provides it. The TensorRT execution
provider only when asked for (``providers=["tensorrt", ...]``): it builds an engine when the session
starts, which takes minutes on a Jetson; the TensorRT backend (``edgefer.engines.tensorrt``) builds
once and caches instead.

Before a session is made the sidecar, when there is one, must describe these exact bytes (a
truncated or swapped file is refused with one line), and the embedded metadata must agree with the
graph (see :func:`edgefer.onnx_meta.resolve_metadata`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.engines.artifact import read_sidecar, sidecar_path
from edgefer.engines.base import Engine, TensorSpec
from edgefer.errors import EdgeferError

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64"}


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise EdgeferError(
            "ONNX Runtime is not installed: pip install 'edgefer[cpu]' (or onnxruntime-gpu)"
        ) from exc
    return onnxruntime


def runtime_version() -> str:
    return str(_ort().__version__)


def resolve_providers(providers: Sequence[str] | None) -> list[str]:
    """Full provider names; default CUDA (when available) then CPU.

    Unknown or unavailable names are refused rather than silently dropped, so a benchmark never runs
    on another device than asked.
    """
    available = _ort().get_available_providers()
    if providers is None:
        wanted = [p for p in ("CUDAExecutionProvider",) if p in available]
        return [*wanted, "CPUExecutionProvider"]
    names = [PROVIDER_ALIASES.get(p.lower(), p) for p in providers]
    missing = [p for p in names if p not in available]
    if missing:
        raise EdgeferError(
            f"ONNX Runtime here lacks {', '.join(missing)} (available: {', '.join(available)})"
        )
    return names


def _spec(arg: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) else None for d in arg.shape)
    return TensorSpec(arg.name, shape, _DTYPES.get(arg.type, arg.type))


class OrtEngine(Engine):
    """An ONNX file run by ONNX Runtime.

    ``precision`` comes from the embedded metadata (or the sidecar); ``metadata`` is the embedded
    (or, for a foreign file, assumed) metadata.
    """

    backend = "onnxruntime"

    def __init__(
        self,
        path: str | Path,
        providers: Sequence[str] | None = None,
        intra_op_threads: int | None = None,
    ) -> None:
        from edgefer.onnx_meta import parse_metadata, resolve_metadata

        ort = _ort()
        self.path = Path(path)
        if not self.path.is_file():
            raise EdgeferError(f"engine not found: {self.path}")
        self.sidecar = read_sidecar(self.path) if sidecar_path(self.path).is_file() else None
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if intra_op_threads is not None:
            options.intra_op_num_threads = int(intra_op_threads)
        self.providers = resolve_providers(providers)
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=self.providers)
        except Exception as exc:  # InvalidProtobuf, InvalidGraph, NotImplemented, Fail, ...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EdgeferError(
                f"ONNX Runtime cannot load {self.path.name} (corrupt, truncated or unsupported): "
                f"{first}"
            ) from exc
        self.inputs = {a.name: _spec(a) for a in self._session.get_inputs()}
        self.outputs = {a.name: _spec(a) for a in self._session.get_outputs()}
        props = self._session.get_modelmeta().custom_metadata_map
        meta = parse_metadata(props, self.path.name)
        self.metadata = resolve_metadata(meta, self.inputs, self.outputs, self.path.name)
        precision = self.metadata.get("precision", "unknown")
        if precision == "unknown" and self.sidecar is not None:
            precision = self.sidecar.get("precision", "unknown")
        self.precision = str(precision)
        self._output = str(self.metadata.get("output", next(iter(self.outputs))))
        if self._output not in self.outputs:
            raise EdgeferError(f"{self.path.name} has no output {self._output!r}")

    def _run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if self._session is None:
            raise EdgeferError(f"engine {self.path.name} is closed")
        probs: np.ndarray = self._session.run([self._output], inputs)[0]
        return probs

    def close(self) -> None:
        self._session = None

    def describe(self) -> str:
        device = self.providers[0].replace("ExecutionProvider", "")
        return f"{super().describe()} ({device})"
