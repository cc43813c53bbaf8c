"""``open_engine(path)``: the one way the live loop and the benchmarks get an Engine from a file.

The backend follows from the file type: ``.onnx`` runs on ONNX Runtime, ``.plan``/``.engine`` on
TensorRT (imported only then, so a machine without it opens ONNX files fine). A TensorRT plan is tied
to one GPU and TensorRT version; with ``rebuild_on_mismatch`` a plan that no longer fits this machine
is rebuilt from the ONNX graph and calibration set its sidecar names, instead of failing.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

from edgefer.engines.artifact import read_sidecar, sidecar_path
from edgefer.engines.base import Engine
from edgefer.engines.kinds import AUTO, BACKENDS, backend_of_suffix, known_suffixes
from edgefer.engines.trt_module import tensorrt_installed
from edgefer.errors import EdgeferError


def gpu_info() -> tuple[str | None, str | None]:
    """(GPU name, compute capability) from ``nvidia-smi``, or (None, None) on a CPU machine."""
    if shutil.which("nvidia-smi") is None:
        return None, None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    name, _, cap = out.splitlines()[0].partition(",") if out else ("", "", "")
    return name.strip() or None, cap.strip() or None


def _has_gpu() -> bool:
    return gpu_info()[0] is not None or Path("/etc/nv_tegra_release").is_file()


def resolve_backend(backend: str) -> str:
    """``auto`` is TensorRT where it is installed and a GPU is present, else ONNX Runtime."""
    if backend != AUTO and backend not in BACKENDS:
        choices = ", ".join((AUTO, *BACKENDS))
        raise EdgeferError(f"unknown backend {backend!r}: choose {choices}")
    trt_here = tensorrt_installed()
    if backend == "auto":
        return "tensorrt" if trt_here and _has_gpu() else "onnxruntime"
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
    from edgefer.doctor import package_version

    return package_version("tensorrt", ("tensorrt", "tensorrt-cu12", "tensorrt-libs")) or "?"


def open_engine(path: str | Path, rebuild_on_mismatch: bool = False, **options: Any) -> Engine:
    """Open an engine file with the backend its suffix names; ``options`` go to the backend
    (``providers``, ``intra_op_threads`` for ONNX Runtime). A ``grpc://`` or ``http://`` URL
    opens a model on a Triton server (:mod:`edgefer.engines.triton`); file options do not apply."""
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
    try:
        return TrtEngine(path, **options)
    except EdgeferError as exc:
        if not (rebuild_on_mismatch and tensorrt_installed()):
            raise
        _rebuild(path, exc)
        return TrtEngine(path, **options)


def _rebuild(path: Path, why: EdgeferError) -> None:
    """Rebuild a plan in place from the sources its sidecar records, with the options it was
    built with (profile batch, workspace, calibrator, timing cache, calibration and check sizes),
    so the rebuilt engine is the one the user asked for, made for this machine."""
    from edgefer.engines.build import TrtOptions, build_engine

    if not sidecar_path(path).is_file():
        raise EdgeferError(f"cannot rebuild {path.name}: its sidecar is missing ({why})") from why
    record = read_sidecar(path, verify_hash=False)
    source = record.get("source_onnx")
    if not source or not Path(source).is_file():
        raise EdgeferError(f"cannot rebuild {path.name}: source ONNX {source} is gone ({why})")
    options = dict(record.get("tensorrt") or {})
    cache = record.get("timing_cache")
    trt = TrtOptions(
        max_batch=int(options.get("max_batch", TrtOptions.max_batch)),
        workspace_mb=options.get("workspace_mb"),
        timing_cache=Path(cache) if cache else None,
        use_calibrator=bool(options.get("use_calibrator", False)),
    )
    recipe = record.get("recipe") or {}
    extra: dict[str, Any] = {"int8_method": recipe.get("int8_method") or "minmax"}
    for key in ("min_calib", "heldout_per_class"):
        if record.get(key) is not None:
            extra[key] = int(record[key])
    warnings.warn(f"{path.name} does not fit this machine ({why}); rebuilding it", stacklevel=3)
    build_engine(
        source,
        record["precision"],
        backend="tensorrt",
        calib=record.get("calibration_path"),
        output=path,
        max_drop=float(record.get("max_drop", 1.0)),
        force=True,
        trt=trt,
        **extra,
    )
