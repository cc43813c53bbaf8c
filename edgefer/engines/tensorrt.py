"""TensorRT backend: build an engine from an ONNX file, and run it (8.5, 8.6, 10.x, 11).

Deliberately thin: every decision (version capabilities, flags, profile, Q/DQ checks, sidecar keys)
is made in :mod:`edgefer.engines.trt_compat`, which is tested without TensorRT. What is left here
are the documented TensorRT calls, which cannot run in CI (no TensorRT, no GPU) and run only on a
Jetson or a desktop GPU with TensorRT installed. ``tensorrt`` and the CUDA bindings are imported
inside functions, so importing this module costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.engines.artifact import atomic_path, atomic_write_bytes, file_sha256, write_sidecar
from edgefer.engines.base import Engine, TensorSpec
from edgefer.engines.gpu_buffers import DeviceBuffers, make_buffers
from edgefer.engines.trt_calibrator import make_entropy_calibrator
from edgefer.engines.trt_compat import (
    batch_nbytes,
    build_plan_for,
    calibration_hash,
    default_workspace_bytes,
    engine_sidecar_expectations,
    ensure_engine,
    graph_precision,
    onnx_input_shapes,
    onnx_metadata,
    profile_shapes,
    qdq_report,
    trt_caps,
    verify_engine_file,
)
from edgefer.errors import EdgeferError

log = logging.getLogger(__name__)


def import_tensorrt() -> Any:
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise EdgeferError(
            "TensorRT is not installed here: use the onnxruntime backend, or install it "
            "(JetPack ships it; on desktop pip install 'edgefer[trt]' from NVIDIA's index)"
        ) from exc
    return trt


def _logger(trt: Any) -> Any:
    return trt.Logger(trt.Logger.WARNING)


def machine_expectations(trt: Any, buffers: DeviceBuffers) -> dict[str, str]:
    """The sidecar keys this machine decides: a plan loads only on its TensorRT version and GPU."""
    return {"runtime": "tensorrt", "runtime_version": trt.__version__, **buffers.device_info()}


def build_trt_engine(
    onnx_path: str | Path,
    output: str | Path,
    precision: str,
    calib: Any = None,
    max_batch: int = 8,
    workspace_bytes: int | None = None,
    timing_cache: str | Path | None = None,
    use_calibrator: bool = False,
    opt_batch: int | None = None,
    calib_batch: int = 8,
) -> dict[str, Any]:
    """Parse ``onnx_path``, build a plan for batches 1..``max_batch`` and write it atomically to
    ``output`` with its sidecar; returns the sidecar record. ``calib`` is a calibration set, used
    by the legacy calibrator (``use_calibrator``, 8.5-10) and recorded by its digest."""
    import onnx

    onnx_path, output = Path(onnx_path), Path(output)
    model = onnx.load(str(onnx_path), load_external_data=False)
    report = qdq_report(model)
    log.info("Q/DQ report for %s: %s", onnx_path.name, report)
    if report["problems"]:
        raise EdgeferError(
            f"TensorRT would reject the Q/DQ graph of {onnx_path.name}: {report['problems'][0]}"
            + (f" (and {len(report['problems']) - 1} more)" if len(report["problems"]) > 1 else "")
        )
    for warning in report["warnings"]:
        log.warning("%s", warning)
    input_shapes = onnx_input_shapes(model)
    profile = profile_shapes(input_shapes, max_batch, opt_batch)
    trt = import_tensorrt()
    caps = trt_caps(trt.__version__)
    plan = build_plan_for(
        caps, precision, report["has_qdq"], use_calibrator, graph_precision(report) == "fp16"
    )
    if plan.use_calibrator and calib is None:
        raise EdgeferError("--use-calibrator needs a calibration set")
    if plan.use_calibrator:
        specs = {name: TensorSpec(name, shape) for name, shape in input_shapes.items()}
        calib.check_fits(specs, calib_batch)
    workspace = int(workspace_bytes or default_workspace_bytes())
    source_sha = file_sha256(onnx_path)
    metadata = onnx_metadata(model)

    buffers = make_buffers()
    try:
        logger = _logger(trt)
        builder = trt.Builder(logger)
        flags = 0
        for name in plan.network_flags:
            flags |= 1 << int(getattr(trt.NetworkDefinitionCreationFlag, name))
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(onnx_path.read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise EdgeferError(f"TensorRT could not parse {onnx_path.name}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
        for name in plan.builder_flags:
            config.set_flag(getattr(trt.BuilderFlag, name))
        opt_profile = builder.create_optimization_profile()
        for name, (lo, mid, hi) in profile.items():
            opt_profile.set_shape(name, lo, mid, hi)
        config.add_optimization_profile(opt_profile)

        feeder = None
        if plan.use_calibrator:
            calib_profile = builder.create_optimization_profile()
            for name, (lo, _, _) in profile.items():
                fixed = (calib_batch, *lo[1:])
                calib_profile.set_shape(name, fixed, fixed, fixed)
                buffers.allocate(name, batch_nbytes(lo, np.float32, calib_batch))
            config.set_calibration_profile(calib_profile)
            calibrator = make_entropy_calibrator(
                calib, list(profile), calib_batch, output.parent, buffers, model_key=source_sha
            )
            feeder = calibrator.feeder
            config.int8_calibrator = calibrator

        cache_path = Path(timing_cache) if timing_cache else None
        cache_bytes = cache_path.read_bytes() if cache_path and cache_path.is_file() else b""
        config.set_timing_cache(config.create_timing_cache(cache_bytes), ignore_mismatch=False)

        serialized = builder.build_serialized_network(network, config)
        if feeder is not None and feeder.error is not None:
            raise EdgeferError(f"calibration failed: {feeder.error}") from feeder.error
        if serialized is None:
            raise EdgeferError(f"TensorRT could not build {output.name} (see its log above)")
        with atomic_path(output) as tmp:
            tmp.write_bytes(bytes(serialized))
        if cache_path is not None:
            atomic_write_bytes(cache_path, bytes(config.get_timing_cache().serialize()))
        info = engine_sidecar_expectations(
            source_onnx_sha256=source_sha,
            precision=precision,
            input_shapes=input_shapes,
            profile=profile,
            calibration_digest=calibration_hash(calib, metadata) if precision == "int8" else None,
            tensorrt_version=trt.__version__,
            **buffers.device_info(),
        )
    finally:
        buffers.free()
    info.update(
        parsed_onnx=str(onnx_path.resolve()),
        workspace_bytes=workspace,
        max_batch=int(max_batch),
        build_plan={
            "network": plan.network_flags,
            "builder": plan.builder_flags,
            "note": plan.note,
        },
        qdq={k: report[k] for k in ("has_qdq", "quantize_linear", "dequantize_linear")},
        onnx_metadata=metadata,
    )
    return write_sidecar(output, info)


class TrtEngine(Engine):
    """A deserialised TensorRT plan; I/O found by tensor name, buffers sized for ``max_batch``."""

    backend = "tensorrt"

    def __init__(
        self,
        path: str | Path,
        expected: dict[str, Any] | None = None,
        *,
        buffers: DeviceBuffers | None = None,
        sidecar: dict[str, Any] | None = None,
    ) -> None:
        """Open ``path``: its sidecar must match this machine's TensorRT and GPU (and ``expected``)
        unless an already verified ``sidecar`` is given. Takes ownership of ``buffers``."""
        trt = import_tensorrt()
        trt_caps(trt.__version__)
        self._buffers = buffers or make_buffers()
        try:
            if sidecar is None:
                want = {**machine_expectations(trt, self._buffers), **(expected or {})}
                sidecar = verify_engine_file(path, want)
            self._load(trt, Path(path), sidecar)
        except BaseException:
            self._buffers.free()
            raise

    def _load(self, trt: Any, path: Path, sidecar: dict[str, Any]) -> None:
        self.metadata, self.precision = sidecar, sidecar["precision"]
        self._max_batch = int(sidecar["max_batch"])
        self._runtime = trt.Runtime(_logger(trt))
        self._engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self._engine is None:
            raise EdgeferError(f"TensorRT could not load {path.name}; rebuild it")
        self._context = self._engine.create_execution_context()
        self.inputs, self.outputs = {}, {}
        self._order = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        for name in self._order:
            shape = tuple(int(d) for d in self._engine.get_tensor_shape(name))
            dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(name)))
            spec = TensorSpec(name, tuple(None if d < 0 else d for d in shape), dtype.name)
            is_input = self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self.inputs if is_input else self.outputs)[name] = spec
            ptr = self._buffers.allocate(name, batch_nbytes(shape, dtype, self._max_batch))
            self._context.set_tensor_address(name, ptr)
        self._v3 = hasattr(self._context, "execute_async_v3")
        self._probs = "probs" if "probs" in self.outputs else next(iter(self.outputs))

    def _run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        total = next(iter(inputs.values())).shape[0]
        parts = []
        for start in range(0, total, self._max_batch):
            chunk = {k: v[start : start + self._max_batch] for k, v in inputs.items()}
            for name, array in chunk.items():
                if not self._context.set_input_shape(name, array.shape):
                    raise EdgeferError(f"TensorRT refused input {name!r} of shape {array.shape}")
                self._buffers.upload(name, array)
            stream = self._buffers.stream
            if self._v3:
                ok = self._context.execute_async_v3(stream)
            else:  # TensorRT 8.x without v3 (not expected from 8.5 on): bindings in I/O order
                ok = self._context.execute_async_v2(
                    [self._buffers.ptr(n) for n in self._order], stream
                )
            if not ok:
                raise EdgeferError("TensorRT inference failed (see its log)")
            spec = self.outputs[self._probs]
            shape = tuple(int(d) for d in self._context.get_tensor_shape(self._probs))
            host = self._buffers.download(self._probs, shape, spec.dtype)
            self._buffers.synchronize()
            parts.append(np.array(host, dtype=np.float32))
        return np.concatenate(parts)

    def close(self) -> None:
        self._context = self._engine = self._runtime = None
        self._buffers.free()


def open_trt_engine(
    path: str | Path,
    expected: dict[str, Any] | None = None,
    rebuild_on_mismatch: bool = False,
    rebuild: Callable[[], Any] | None = None,
) -> TrtEngine:
    """Load ``path`` after checking its sidecar against this machine's TensorRT version and GPU
    (plus ``expected``: source hash, precision, shapes, calibration hash); refuse a mismatch, or
    call ``rebuild()`` once with ``rebuild_on_mismatch``."""
    trt = import_tensorrt()
    buffers = make_buffers()
    try:
        want = {**machine_expectations(trt, buffers), **(expected or {})}
        sidecar = ensure_engine(path, want, rebuild_on_mismatch, rebuild)
        return TrtEngine(path, buffers=buffers, sidecar=sidecar)
    except BaseException:
        buffers.free()
        raise
