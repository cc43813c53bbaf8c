"""``build-engine``: an exported ONNX -> an FP32/FP16/INT8 engine for ONNX Runtime or TensorRT.

The steps are separate callables (load + check the ONNX, pick the calibration set, make the precision
graph, hand it to a runtime, compare with FP32), composed here. Every engine is named and reused by a
cache key over what determines it: the source ONNX hash, precision, backend, runtime version,
calibration-set digest and recipe. A built engine is compared with the FP32 export on a held-out real
set (:mod:`edgefer.evalsets`): when its accuracy drops by more than ``max_drop`` points the build
fails and the file is kept as ``<name>.rejected`` for inspection, never under its real name.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgefer.calibration import DEFAULT_SAMPLES, CalibrationSet, load_calibration
from edgefer.engines.artifact import (
    atomic_path,
    cache_key,
    ensure_writable,
    file_sha256,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)
from edgefer.engines.kinds import BACKENDS, check_precision
from edgefer.engines.open import resolve_backend, runtime_version
from edgefer.errors import EdgeferError
from edgefer.platform_info import gpu_identity

RECIPE_VERSION = 2  # bump when a change here makes different engines from the same inputs


@dataclass(frozen=True)
class TrtOptions:
    """TensorRT-only build settings; each one changes the plan, so each is part of its cache key.

    max_batch : the optimisation profile covers batches 1..max_batch.
    workspace_mb : builder workspace cap (None: 256 MiB on a Jetson, 1 GiB on a desktop GPU).
    timing_cache : a file of measured tactic timings, read before and updated after a build, so the
        next build of a similar model skips most measurements (not part of the key: it only saves time).
    use_calibrator : INT8 through the legacy entropy calibrator (TensorRT 8.5-10) on the FP32 graph,
        fed by the same calibration set, instead of the Q/DQ graph.
    """

    max_batch: int = 8
    workspace_mb: int | None = None
    timing_cache: Path | None = None
    use_calibrator: bool = False

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise EdgeferError(f"--max-batch must be at least 1, got {self.max_batch}")
        if self.workspace_mb is not None and self.workspace_mb < 16:
            raise EdgeferError(f"--workspace-mb must be at least 16, got {self.workspace_mb}")

    def key_fields(self) -> dict[str, Any]:
        return {
            "max_batch": self.max_batch,
            "workspace_mb": self.workspace_mb,
            "use_calibrator": self.use_calibrator,
        }


@dataclass
class BuildResult:
    """What ``build_engine`` made (or reused) and how it compares with FP32 (``report``)."""

    path: Path
    backend: str
    precision: str
    cache_key: str
    cached: bool
    sidecar: dict[str, Any]
    report: dict[str, Any] | None = None
    calibration: str | None = None
    seconds: float = 0.0


class BuildRejectedError(EdgeferError):
    """The engine lost more accuracy than allowed; ``result.path`` is the ``.rejected`` file."""

    def __init__(self, message: str, result: BuildResult) -> None:
        super().__init__(message)
        self.result = result


def _calibration(
    calib: CalibrationSet | str | Path | None, meta: dict[str, Any], min_calib: int, progress: Any
) -> tuple[CalibrationSet, str, Path | None]:
    """The set to calibrate on.

    The one given; else the set shipped for the model's preprocessing; else one built from the
    training data and kept under ``calibration/`` (named by spec digest, size and seed) for the next
    build.
    """
    from edgefer.onnx_meta import spec_of

    if isinstance(calib, CalibrationSet):
        return calib, "given set", None
    if calib is not None:
        return load_calibration(calib), str(calib), Path(calib)
    from edgefer.calibration import (
        build_calibration_set,
        default_calibration_path,
        save_calibration,
    )
    from edgefer.shipped import shipped_calibration

    shipped = shipped_calibration(meta.get("spec_digest", ""))
    if shipped is not None:
        shipped_set = load_calibration(shipped)
        if len(shipped_set) >= min_calib:
            return shipped_set, f"{shipped} (shipped with edgefer)", shipped
    spec, n = spec_of(meta), max(min_calib, DEFAULT_SAMPLES)
    path = default_calibration_path(spec, n)
    if path.is_file():
        return load_calibration(path), f"{path} (reused)", path
    built = build_calibration_set(spec, n=n, seed=0, progress=progress)
    save_calibration(built, path)
    return built, f"{path} (built from the training split)", path


def _check_calibration(calib: CalibrationSet, meta: dict[str, Any], inputs: Any, n: int) -> None:
    calib.check_fits(inputs, n)
    if calib.spec_digest and not meta.get("assumed") and calib.spec_digest != meta["spec_digest"]:
        raise EdgeferError(
            f"calibration set was made with preprocessing {calib.spec_digest}, the model uses "
            f"{meta['spec_digest']}: build one for this model (`edgefer calibrate MODEL.onnx`)"
        )


def build_engine(
    onnx_path: str | Path,
    precision: str,
    backend: str = "auto",
    calib: CalibrationSet | str | Path | None = None,
    output: str | Path | None = None,
    max_drop: float = 1.0,
    heldout: Any = None,
    *,
    force: bool = False,
    min_calib: int = DEFAULT_SAMPLES,
    heldout_per_class: int | None = None,
    int8_method: str = "minmax",
    engines_dir: str | Path = "engines",
    progress: Any = None,
    trt: TrtOptions | None = None,
) -> BuildResult:
    """Build (or reuse) one engine; raise :class:`BuildRejectedError` when it loses > ``max_drop`` points.

    ``heldout`` is an :class:`~edgefer.training.batches.EvalSet`; by default the masked FER2013
    ``val`` faces (+ held-out voices) at ``heldout_per_class`` samples per class (None: all).
    """
    from edgefer.onnx_meta import graph_specs, load_onnx, model_metadata, resolve_metadata

    started = time.perf_counter()
    check_precision(precision)
    source = Path(onnx_path)
    if source.suffix != ".onnx":
        raise EdgeferError(f"build-engine takes an exported .onnx model, got {source.name}")
    if sidecar_path(source).is_file():
        read_sidecar(source)  # truncated or replaced since export: refuse before parsing
    model = load_onnx(source)
    inputs, outputs = graph_specs(model)
    meta = resolve_metadata(model_metadata(model, source.name), inputs, outputs, source.name)
    del model
    if meta.get("precision") not in ("fp32", "unknown"):
        raise EdgeferError(
            f"{source.name} is already {meta['precision']}: build from the FP32 export"
        )
    backend = resolve_backend(backend)
    if trt is not None and trt != TrtOptions() and backend != "tensorrt":
        raise EdgeferError(
            "--max-batch, --workspace-mb, --timing-cache and --use-calibrator apply to TensorRT "
            f"engines only; this build uses {backend}"
        )
    trt = trt or TrtOptions()
    ensure_writable(Path(output).parent if output is not None else Path(engines_dir))
    calib_set, calib_note, calib_path = None, None, None
    if precision == "int8":
        calib_set, calib_note, calib_path = _calibration(calib, meta, min_calib, progress)
        _check_calibration(calib_set, meta, inputs, min_calib)
    source_hash = file_sha256(source)
    recipe = {"version": RECIPE_VERSION, "int8_method": int8_method if calib_set else None}
    key_fields: dict[str, Any] = {
        "source_onnx_sha256": source_hash,
        "precision": precision,
        "backend": backend,
        "runtime_version": runtime_version(backend),
        "calibration_digest": calib_set.digest if calib_set else None,
        "recipe": recipe,
    }
    gpu = gpu_identity() if backend == "tensorrt" else None
    if backend == "tensorrt":
        # Asked through the CUDA binding TensorRT's builder uses, by the query that names the GPU
        # in the plan's sidecar: a key and the plan it names agree on the device.
        key_fields["gpu"] = gpu.as_list() if gpu is not None else [None, None]
        key_fields["tensorrt"] = trt.key_fields()
    key = cache_key(key_fields)
    name = f"{source.stem}-{backend}-{precision}-{key}{BACKENDS[backend].suffixes[0]}"
    target = Path(output) if output is not None else Path(engines_dir) / name

    def done(path: Path, cached: bool, sidecar: dict[str, Any]) -> BuildResult:
        return BuildResult(
            path, backend, precision, key, cached, sidecar, sidecar.get("report"), calib_note,
            time.perf_counter() - started,
        )  # fmt: skip

    cached = _cached(target, key)
    if cached is not None and not force:
        return done(target, True, cached)

    info = {
        "kind": "engine",
        "cache_key": key,
        **key_fields,
        "source_onnx": str(source.resolve()),
        "source_model_sha256": meta.get("source_model_sha256"),
        "inputs": {n: list(s.shape) for n, s in inputs.items()},
        "class_names": meta["class_names"],
        "spec_digest": meta["spec_digest"],
        "runtime": backend,
        "calibration_path": str(calib_path.resolve()) if calib_path else None,
        "calibration_n": len(calib_set) if calib_set else None,
        "gpu_name": gpu.name if gpu is not None else None,  # the TensorRT builder's, below, agree
        "compute_capability": gpu.compute_capability if gpu is not None else None,
        "max_drop": max_drop,
        # what a rebuild on another machine needs to make the same engine, checked the same way
        "heldout_per_class": heldout_per_class,
        "min_calib": min_calib,
        "timing_cache": str(trt.timing_cache) if trt.timing_cache is not None else None,
    }
    engine_meta = {**meta, "precision": precision, "backend": backend, "cache_key": key}
    engine_meta["source_onnx_sha256"] = source_hash
    with atomic_path(target) as tmp:
        try:
            info.update(_make(source, tmp, target, engine_meta, calib_set, int8_method, trt))
            if precision != "fp32" or backend != "onnxruntime":
                if heldout is None:
                    from edgefer.checkset import heldout_for
                    from edgefer.onnx_meta import spec_of

                    spec = spec_of(meta)
                    heldout, held = heldout_for(
                        spec, list(inputs), heldout_per_class, progress=progress
                    )
                else:
                    from edgefer.checkset import HeldoutInfo

                    held = HeldoutInfo("given", len(heldout))
                info["heldout"] = held.to_dict()  # which set the guard ran on, and its n
                info["report"] = {**_compare(source, tmp, backend, heldout), "set": held.source}
        finally:  # the TensorRT builder's sidecar of the temporary plan
            sidecar_path(tmp).unlink(missing_ok=True)
        report = info.get("report")
        if report is not None and 100.0 / report["n"] > max_drop > 0:
            warnings.warn(
                f"the held-out set has {report['n']} samples: one sample is "
                f"{100.0 / report['n']:.2f} points, coarser than --max-drop {max_drop:g}",
                stacklevel=2,
            )
        if report is not None and report["drop_points"] > max_drop:
            rejected = target.with_name(target.name + ".rejected")
            os.replace(tmp, rejected)
            result = done(rejected, False, write_sidecar(rejected, {**info, "rejected": True}))
            raise BuildRejectedError(
                f"{precision} engine loses {report['drop_points']:.2f} accuracy points against FP32 "
                f"(limit {max_drop:g}, agreement {report['agreement']:.1%}, "
                f"{report['set']} n={report['n']}); kept as {rejected}",
                result,
            )
    return done(target, False, write_sidecar(target, info))


# Keys of the TensorRT builder's own sidecar that describe its temporary file, not the engine.
_FILE_KEYS = ("file", "file_sha256", "size_bytes", "created", "sidecar_version", "edgefer_version")


def _make(
    source: Path,
    out: Path,
    target: Path,
    meta: dict[str, Any],
    calib: CalibrationSet | None,
    int8_method: str,
    trt: TrtOptions,
) -> dict[str, Any]:
    """Write the engine to ``out`` (the temporary name of ``target``); return what its sidecar adds.

    ONNX Runtime runs the precision graph itself. TensorRT builds from it, kept beside the plan as
    ``<target stem>.onnx`` (for trtexec and rebuilds); its builder's sidecar fields (profile, batch,
    GPU) go into ours, since its runner reads them back.
    """
    from edgefer.engines import quantize

    precision, backend = meta["precision"], meta["backend"]

    def make(path: Path) -> dict[str, Any]:
        if precision == "int8":
            assert calib is not None
            names = list(meta["inputs"])
            return quantize.quantize_int8(source, path, calib, names, meta, backend, int8_method)
        if precision == "fp16":
            return quantize.convert_fp16(source, path, meta)
        return quantize.copy_fp32(source, path, meta)

    if backend == "onnxruntime":
        return {"recipe_detail": make(out)}
    graph, recipe = source, {}
    if precision != "fp32" and not trt.use_calibrator:  # the calibrator reads the fp32 graph
        graph = target.with_suffix(".onnx")
        with atomic_path(graph) as tmp_graph:
            recipe = make(tmp_graph)
        write_sidecar(graph, {"kind": "onnx", "precision": precision, "recipe_detail": recipe})
    try:
        from edgefer.engines.tensorrt import build_trt_engine
    except ImportError as exc:
        raise EdgeferError(f"TensorRT is not installed here: {exc}") from exc
    built = build_trt_engine(
        onnx_path=graph,
        output=out,
        precision=precision,
        calib=calib,
        max_batch=trt.max_batch,
        workspace_bytes=trt.workspace_mb * 2**20 if trt.workspace_mb else None,
        timing_cache=trt.timing_cache,
        use_calibrator=trt.use_calibrator,
        source_sha256=meta["source_onnx_sha256"],  # the export, not the Q/DQ or FP16 graph
    )
    trt_fields = {k: v for k, v in (built or {}).items() if k not in _FILE_KEYS}
    return {"recipe_detail": recipe, "graph_onnx": str(graph), **trt_fields}


def _compare(source: Path, candidate: Path, backend: str, heldout: Any) -> dict[str, Any]:
    """FP32 export (ONNX Runtime) against the candidate engine on the held-out set."""
    from edgefer.engines.onnxruntime import OrtEngine
    from edgefer.engines.open import open_engine
    from edgefer.evalsets import compare

    with OrtEngine(source) as reference, open_engine(candidate) as engine:
        return compare(reference.predict, engine.predict, heldout).to_dict()


def _cached(path: Path, key: str) -> dict[str, Any] | None:
    """The sidecar of an intact engine at ``path`` built with ``key``, else None (rebuild)."""
    if not path.is_file() or not sidecar_path(path).is_file():
        return None
    try:
        record = read_sidecar(path)
    except EdgeferError:
        return None  # truncated or replaced: rebuild over it
    return record if record.get("cache_key") == key else None
