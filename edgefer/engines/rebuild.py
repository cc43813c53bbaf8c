"""Reopen a TensorRT plan that no longer fits this machine by rebuilding it where it lies.

A plan is tied to one TensorRT version and GPU model, so one copied to another machine, or kept
across a TensorRT upgrade, refuses to load. Its sidecar records the source ONNX and every build
option, so the live loop can rebuild the same engine for this machine instead of failing; the
plain opener (:mod:`edgefer.engines.open`) stays free of the builder and never rebuilds.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from edgefer.engines.artifact import read_sidecar, sidecar_path
from edgefer.engines.build import TrtOptions, build_engine
from edgefer.engines.kinds import BACKENDS
from edgefer.errors import EdgeferError


def open_or_rebuild(path: str | Path, threads: int | None = None, **options: Any) -> Any:
    """:func:`~edgefer.engines.open.open_engine`, rebuilding a TensorRT plan that no longer fits.

    A plan that no longer fits this machine (another GPU or TensorRT version) is rebuilt in place by
    :func:`rebuild_plan` and opened again: what the live loop wants from a plan it was given.
    """
    from edgefer.engines.open import open_engine
    from edgefer.engines.trt_module import tensorrt_installed

    try:
        return open_engine(path, threads, **options)
    except EdgeferError as exc:
        path = Path(path)
        if path.suffix not in BACKENDS["tensorrt"].suffixes or not tensorrt_installed():
            raise
        rebuild_plan(path, exc)
        return open_engine(path, threads, **options)


def rebuild_plan(path: Path, why: EdgeferError) -> None:
    """Rebuild a plan in place from the sources its sidecar records.

    It uses the options it was built with (profile batch, workspace, calibrator, timing cache,
    calibration and check sizes), so the rebuilt engine is the one the user asked for, made for this
    machine.
    """
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
