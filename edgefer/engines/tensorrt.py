"""TensorRT backend: build an engine from an ONNX file, and run it (8.5, 8.6, 10.x, 11).

Deliberately thin: every decision is made, and tested, without TensorRT: version capabilities in
:mod:`edgefer.engines.trt_versions`, flags, profile and workspace in :mod:`edgefer.engines.trt_plan`,
Q/DQ checks in :mod:`edgefer.engines.qdq_lint`, sidecar keys in :mod:`edgefer.engines.trt_sidecar`.
What is left here are the documented TensorRT calls, typed by the 10.x stubs
(:mod:`edgefer.engines.trt_module`) and each result checked: a call that reports failure by its
return value (a profile index of -1, a False) becomes one :class:`EdgeferError` line instead of a
crash later. In CI they run against a recording stand-in of TensorRT and CUDA
(``tests/engines/fake_tensorrt.py``); for real only on a Jetson or a desktop GPU with TensorRT.
``tensorrt`` and the CUDA bindings are imported inside functions, so importing this module costs
nothing.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgefer.engines.artifact import atomic_path, atomic_write_bytes, file_sha256, write_sidecar
from edgefer.engines.base import Engine, TensorSpec
from edgefer.engines.gpu_buffers import DeviceBuffers, batch_nbytes, make_buffers
from edgefer.engines.onnx_inspect import onnx_input_shapes, onnx_metadata
from edgefer.engines.qdq_lint import graph_precision, qdq_report
from edgefer.engines.trt_calibrator import (
    CalibrationFeeder,
    CalibrationSetLike,
    make_entropy_calibrator,
)
from edgefer.engines.trt_module import (
    TensorRT,
    builder_flag,
    import_tensorrt,
    network_flag,
    tensorrt_version,
    trt_logger,
)
from edgefer.engines.trt_plan import (
    BuildPlan,
    build_plan_for,
    default_workspace_bytes,
    profile_shapes,
)
from edgefer.engines.trt_sidecar import (
    calibration_hash,
    engine_metadata,
    engine_sidecar_expectations,
    ensure_engine,
    verify_engine_file,
)
from edgefer.engines.trt_versions import trt_caps
from edgefer.errors import EdgeferError

if TYPE_CHECKING:
    import tensorrt

__all__ = ["TrtEngine", "build_trt_engine", "import_tensorrt", "open_trt_engine"]

log = logging.getLogger(__name__)

Profile = dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]


def machine_expectations(trt: TensorRT, buffers: DeviceBuffers) -> dict[str, str]:
    """The sidecar keys this machine decides: a plan loads only on its TensorRT version and GPU.

    The GPU is named by the query that wrote it into the sidecar at build time (and that the engine
    cache key holds), so the same device always matches itself.
    """
    return {
        "runtime": "tensorrt",
        "runtime_version": tensorrt_version(trt),
        **buffers.device_info().sidecar_fields(),
    }


def _check_qdq(onnx_path: Path, report: dict[str, Any]) -> None:
    problems = report["problems"]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise EdgeferError(
            f"TensorRT would reject the Q/DQ graph of {onnx_path.name}: {problems[0]}{more}"
        )
    for warning in report["warnings"]:
        log.warning("%s", warning)


def _parse(
    trt: TensorRT, builder: tensorrt.Builder, plan: BuildPlan, onnx_path: Path
) -> tuple[tensorrt.INetworkDefinition, tensorrt.OnnxParser]:
    """The network of ``onnx_path`` and its parser.

    The network is parsed from the file so external weights next to it resolve; the parser owns the
    weights the network points at: keep it until the build ends.
    """
    flags = 0
    for name in plan.network_flags:
        flags |= 1 << int(network_flag(trt, name))
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, trt_logger(trt))
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EdgeferError(f"TensorRT could not parse {onnx_path.name}: {errors or 'no reason'}")
    return network, parser


def _dims(trt: TensorRT, shape: tuple[int, ...]) -> tensorrt.Dims:
    return trt.Dims([int(d) for d in shape])


def _add_profile(
    trt: TensorRT,
    builder: tensorrt.Builder,
    config: tensorrt.IBuilderConfig,
    profile: Profile,
) -> None:
    opt_profile = builder.create_optimization_profile()
    for name, (lo, mid, hi) in profile.items():
        opt_profile.set_shape(name, _dims(trt, lo), _dims(trt, mid), _dims(trt, hi))
    if config.add_optimization_profile(opt_profile) < 0:
        shapes = ", ".join(f"{n} {lo} .. {hi}" for n, (lo, _, hi) in profile.items())
        raise EdgeferError(f"TensorRT refused the optimisation profile ({shapes})")


def _add_calibrator(
    trt: TensorRT,
    builder: tensorrt.Builder,
    config: tensorrt.IBuilderConfig,
    profile: Profile,
    calib: CalibrationSetLike,
    calib_batch: int,
    cache_dir: Path,
    buffers: DeviceBuffers,
    model_key: str,
) -> CalibrationFeeder:
    """The legacy entropy calibrator (8.5-10) on a fixed-batch profile; returns its feeder."""
    calib_profile = builder.create_optimization_profile()
    for name, (lo, _, _) in profile.items():
        fixed = _dims(trt, (calib_batch, *lo[1:]))
        calib_profile.set_shape(name, fixed, fixed, fixed)
        buffers.allocate(name, batch_nbytes(lo, np.float32, calib_batch))
    if not config.set_calibration_profile(calib_profile):
        raise EdgeferError(f"TensorRT refused the calibration profile of batch {calib_batch}")
    feeder = CalibrationFeeder(calib, list(profile), calib_batch, cache_dir, model_key)
    config.int8_calibrator = make_entropy_calibrator(feeder, buffers)
    return feeder


def _timing_cache(config: tensorrt.IBuilderConfig, path: Path | None) -> None:
    """Start from the tactic timings in ``path`` when it exists.

    A cache made by another TensorRT or GPU (a plan rebuilt after an upgrade meets one) only loses its
    speed-up: warn, start a new one, which replaces the file after the build. A refused new cache is
    an error.
    """
    data = path.read_bytes() if path is not None and path.is_file() else b""
    if data and not config.set_timing_cache(
        config.create_timing_cache(data), ignore_mismatch=False
    ):
        assert path is not None
        warnings.warn(
            f"TensorRT refused the timing cache {path.name} (made by another TensorRT or GPU): "
            "starting a new one, which replaces it after this build",
            stacklevel=3,
        )
        data = b""
    if not data and not config.set_timing_cache(
        config.create_timing_cache(b""), ignore_mismatch=False
    ):
        raise EdgeferError("TensorRT refused a new, empty timing cache (see its log)")


def build_trt_engine(
    onnx_path: str | Path,
    output: str | Path,
    precision: str,
    calib: CalibrationSetLike | None = None,
    max_batch: int = 8,
    workspace_bytes: int | None = None,
    timing_cache: str | Path | None = None,
    use_calibrator: bool = False,
    opt_batch: int | None = None,
    calib_batch: int = 8,
    source_sha256: str | None = None,
) -> dict[str, Any]:
    """Parse ``onnx_path``, build a plan and write it atomically to ``output`` with its sidecar.

    The plan covers batches 1..``max_batch``; returns the sidecar record. ``calib`` is a calibration
    set, used by the legacy calibrator (``use_calibrator``, 8.5-10) and recorded by its digest.

    ``source_sha256`` names the model the parsed graph was made from (the FP32 export behind a
    Q/DQ or FP16 graph); the sidecar keeps it as ``source_onnx_sha256`` and the parsed file's own
    hash as ``parsed_onnx_sha256``. Without it the parsed file is the source.
    """
    import onnx

    onnx_path, output = Path(onnx_path), Path(output)
    model = onnx.load(str(onnx_path))  # external weights beside the file load too
    report = qdq_report(model)
    log.info("Q/DQ report for %s: %s", onnx_path.name, report)
    _check_qdq(onnx_path, report)
    input_shapes = onnx_input_shapes(model)
    profile = profile_shapes(input_shapes, max_batch, opt_batch)
    trt = import_tensorrt()
    version = tensorrt_version(trt)
    caps = trt_caps(version)
    plan = build_plan_for(
        caps, precision, report["has_qdq"], use_calibrator, graph_precision(report) == "fp16"
    )
    if plan.use_calibrator:
        if calib is None:
            raise EdgeferError("--use-calibrator needs a calibration set")
        specs = {name: TensorSpec(name, shape) for name, shape in input_shapes.items()}
        calib.check_fits(specs, calib_batch)
    workspace = int(workspace_bytes or default_workspace_bytes())
    parsed_sha = file_sha256(onnx_path)
    metadata = onnx_metadata(model)
    del model

    buffers = make_buffers()
    try:
        builder = trt.Builder(trt_logger(trt))
        network, parser = _parse(trt, builder, plan, onnx_path)
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
        for name in plan.builder_flags:
            config.set_flag(builder_flag(trt, name, f"a {precision} build ({plan.note})"))
        _add_profile(trt, builder, config, profile)
        feeder = None
        if plan.use_calibrator:
            assert calib is not None
            feeder = _add_calibrator(
                trt, builder, config, profile, calib, calib_batch, output.parent, buffers,
                parsed_sha,
            )  # fmt: skip
        cache_path = Path(timing_cache) if timing_cache else None
        _timing_cache(config, cache_path)

        serialized = builder.build_serialized_network(network, config)
        if feeder is not None and feeder.error is not None:
            raise EdgeferError(f"calibration failed: {feeder.error}") from feeder.error
        del parser  # the plan holds its own copy of the weights now
        if serialized is None:
            raise EdgeferError(f"TensorRT could not build {output.name} (see its log above)")
        with atomic_path(output) as tmp:
            tmp.write_bytes(bytes(serialized))
        if cache_path is not None:
            atomic_write_bytes(cache_path, bytes(config.get_timing_cache().serialize()))
        info = engine_sidecar_expectations(
            source_onnx_sha256=source_sha256 or parsed_sha,
            precision=precision,
            input_shapes=input_shapes,
            profile=profile,
            calibration_digest=calibration_hash(calib, metadata) if precision == "int8" else None,
            tensorrt_version=version,
            **buffers.device_info().sidecar_fields(),
        )
    finally:
        buffers.free()
    info.update(
        parsed_onnx=str(onnx_path.resolve()),
        parsed_onnx_sha256=parsed_sha,
        workspace_bytes=workspace,
        max_batch=int(max_batch),
        build_plan={  # lists, as the sidecar's JSON reads back
            "network": list(plan.network_flags),
            "builder": list(plan.builder_flags),
            "note": plan.note,
        },
        qdq={k: report[k] for k in ("has_qdq", "quantize_linear", "dequantize_linear")},
        onnx_metadata=metadata,
    )
    return write_sidecar(output, info)


class TrtEngine(Engine):
    """A deserialised TensorRT plan; I/O found by tensor name, buffers sized for ``max_batch``.

    ``metadata`` is the edgefer metadata of the ONNX graph it was built from (class names,
    preprocessing spec, inputs), in the same shape as :class:`~edgefer.engines.onnxruntime.OrtEngine`
    gives it, so the live loop and the benchmarks read either alike; ``sidecar`` is the plan's
    own record (TensorRT version, GPU, profile).
    """

    backend = "tensorrt"

    def __init__(
        self,
        path: str | Path,
        expected: dict[str, Any] | None = None,
        *,
        buffers: DeviceBuffers | None = None,
        sidecar: dict[str, Any] | None = None,
    ) -> None:
        """Open ``path``, taking ownership of ``buffers``.

        Its sidecar must match this machine's TensorRT and GPU (and ``expected``) unless an already
        verified ``sidecar`` is given.
        """
        trt = import_tensorrt()
        trt_caps(tensorrt_version(trt))
        self.path = Path(path)
        self._buffers = buffers or make_buffers()
        self._runtime: tensorrt.Runtime | None = None
        self._engine: tensorrt.ICudaEngine | None = None
        self._context: tensorrt.IExecutionContext | None = None
        try:
            if sidecar is None:
                want = {**machine_expectations(trt, self._buffers), **(expected or {})}
                sidecar = verify_engine_file(path, want)
            self._load(trt, self.path, sidecar)
        except BaseException:
            self._buffers.free()
            raise

    def _load(self, trt: TensorRT, path: Path, sidecar: dict[str, Any]) -> None:
        self.sidecar, self.precision = sidecar, str(sidecar["precision"])
        self._max_batch = int(sidecar["max_batch"])
        self._runtime = runtime = trt.Runtime(trt_logger(trt))
        engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None:
            raise EdgeferError(f"TensorRT could not load {path.name}; rebuild it")
        self._engine = engine
        context = engine.create_execution_context()
        if context is None:
            raise EdgeferError(f"TensorRT could not make an execution context for {path.name}")
        self.inputs, self.outputs = {}, {}
        for name in (engine.get_tensor_name(i) for i in range(engine.num_io_tensors)):
            dims = engine.get_tensor_shape(name)
            shape = tuple(int(dims[i]) for i in range(len(dims)))
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            spec = TensorSpec(name, tuple(None if d < 0 else d for d in shape), dtype.name)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self.inputs if is_input else self.outputs)[name] = spec
            ptr = self._buffers.allocate(name, batch_nbytes(shape, dtype, self._max_batch))
            if not context.set_tensor_address(name, ptr):
                raise EdgeferError(f"TensorRT refused the device buffer of {name!r} in {path.name}")
        self._context = context
        self.metadata = engine_metadata(sidecar, self.inputs, self.outputs, path.name)
        wanted = str(self.metadata.get("output", "probs"))
        self._probs = wanted if wanted in self.outputs else next(iter(self.outputs))

    def _run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        context = self._context
        if context is None:
            raise EdgeferError(f"engine {self.path.name} is closed")
        total = next(iter(inputs.values())).shape[0]
        parts = []
        for start in range(0, total, self._max_batch):
            chunk = {k: v[start : start + self._max_batch] for k, v in inputs.items()}
            for name, array in chunk.items():
                if not context.set_input_shape(name, array.shape):
                    raise EdgeferError(f"TensorRT refused input {name!r} of shape {array.shape}")
                self._buffers.upload(name, array)
            if not context.execute_async_v3(self._buffers.stream):
                raise EdgeferError("TensorRT inference failed (see its log)")
            spec = self.outputs[self._probs]
            dims = context.get_tensor_shape(self._probs)
            shape = tuple(int(dims[i]) for i in range(len(dims)))
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
    """Load ``path`` after checking its sidecar against this machine's TensorRT version and GPU.

    The check also covers ``expected`` (source hash, precision, shapes, calibration hash). Refuse a
    mismatch, or call ``rebuild()`` once with ``rebuild_on_mismatch``.
    """
    trt = import_tensorrt()
    buffers = make_buffers()
    try:
        want = {**machine_expectations(trt, buffers), **(expected or {})}
        sidecar = ensure_engine(path, want, rebuild_on_mismatch, rebuild)
        return TrtEngine(path, buffers=buffers, sidecar=sidecar)
    except BaseException:
        buffers.free()
        raise
