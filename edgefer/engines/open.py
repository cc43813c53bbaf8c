"""``open_engine(path)``: the one way the live loop and the benchmarks get an Engine from a file.

The backend follows from the file type: ``.onnx`` runs on ONNX Runtime, ``.plan``/``.engine`` on
TensorRT (imported only then, so a machine without it opens ONNX files fine). A TensorRT plan is tied
to one GPU and TensorRT version; opening one that no longer fits this machine fails here, and
:func:`edgefer.engines.rebuild.open_or_rebuild` is the function that rebuilds it instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgefer.engines.artifact import sidecar_path
from edgefer.engines.base import Engine
from edgefer.engines.kinds import AUTO, BACKENDS, backend_of_suffix, known_suffixes
from edgefer.engines.trt_module import import_tensorrt, tensorrt_installed, tensorrt_version
from edgefer.errors import EdgeferError
from edgefer.platform_info import has_gpu


def resolve_backend(backend: str) -> str:
    """``auto`` is TensorRT where it is installed and a GPU is present, else ONNX Runtime."""
    if backend != AUTO and backend not in BACKENDS:
        choices = ", ".join((AUTO, *BACKENDS))
        raise EdgeferError(f"unknown backend {backend!r}: choose {choices}")
    trt_here = tensorrt_installed()
    if backend == "auto":
        return "tensorrt" if trt_here and has_gpu() else "onnxruntime"
    if backend == "tensorrt" and not trt_here:
        raise EdgeferError(
            "TensorRT is not installed here: install JetPack's python3-libnvinfer or "
            "pip install 'edgefer[trt]', or use --backend onnxruntime"
        )
    return backend


def runtime_version(backend: str) -> str:
    if backend == "onnxruntime":
        from edgefer.engines.onnxruntime import runtime_version as ort_version

        return ort_version()
    # The module's own version, as the builder records it in the plan's sidecar: package metadata
    # is missing on a JetPack install (TensorRT comes from apt there), and the key and the sidecar
    # must name one TensorRT the same way.
    if not tensorrt_installed():
        return "?"
    return tensorrt_version(import_tensorrt())


def open_engine(path: str | Path, threads: int | None = None, **options: Any) -> Engine:
    """Open an engine file with the backend its suffix names.

    ``options`` go to the backend (``providers`` for ONNX Runtime). ``threads`` is ONNX Runtime's
    intra-op thread count; a TensorRT plan or a ``grpc://``/``http://`` model on a Triton server
    (:mod:`edgefer.engines.triton`) has none, so callers need not ask which backend they open.
    """
    from edgefer.engines.triton import is_remote

    if is_remote(path):
        from edgefer.engines.triton import TritonEngine

        return TritonEngine(str(path))
    path = Path(path)
    if path.suffix == ".rejected":
        raise EdgeferError(
            f"{path.name} failed its accuracy check (see {sidecar_path(path).name}); "
            "rebuild it with another calibration set or a larger --max-drop"
        )
    if not path.is_file():
        raise EdgeferError(f"engine not found: {path}")
    kind = backend_of_suffix(path.suffix)
    if kind == "onnxruntime":
        from edgefer.engines.onnxruntime import OrtEngine

        if threads is not None:
            options["intra_op_threads"] = threads
        return OrtEngine(path, **options)
    if kind != "tensorrt":
        known = ", ".join(known_suffixes())
        raise EdgeferError(f"cannot tell the backend of {path.name}: expected one of {known}")
    try:
        from edgefer.engines.tensorrt import TrtEngine
    except ImportError as exc:
        raise EdgeferError(
            f"TensorRT is not installed here: cannot open {path.name} ({exc})"
        ) from exc
    return TrtEngine(path, **options)
