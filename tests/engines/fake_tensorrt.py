"""A recording stand-in for TensorRT's Python API, in its 8.5, 10 and 11 capability sets.

It stands in for the hardware library, never for edgefer's code: the real ``build_trt_engine``,
``TrtEngine``, calibrator and rebuild path import it as ``tensorrt`` (with
:mod:`tests.engines.fake_cuda` as ``cuda.bindings.runtime``) and run end to end. It implements the
documented calls edgefer makes, with the 10.x stubs' signatures, and their documented ways of
failing (a profile index of -1, a False, a None, a log line), and records every call in order.

What it computes is real: the parser reads the ONNX file (external weights resolve beside a
file, not from bytes), the builder checks the optimisation profile against the network's inputs
and the precision flags against the graph, runs the legacy calibrator protocol (reading each
batch from the device pointers the calibrator returns) and serialises a plan that holds the
graph; the runtime refuses a plan from another TensorRT version or GPU; the execution context
checks shapes against the profile and addresses against device memory, and its inference is the
parsed graph run by ONNX Runtime on the device buffers, queued on the CUDA stream like the copies.

Capability sets (:data:`CAPABILITIES`), from edgefer.engines.trt_versions' table:
8.5 -- precision flags, legacy calibrator, the parser needs an ``EXPLICIT_BATCH`` network,
``execute_async_v2`` still there; 10 -- precision flags and calibrator, ``EXPLICIT_BATCH``
ignored, no v2; 11 -- strongly typed: no ``BuilderFlag.FP16/INT8``, no calibrator classes or
``int8_calibrator``/``set_calibration_profile``, precision only from the graph.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.machinery
import json
import math
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

# Imported now, not when an engine runs: a test may hide onnxruntime from the code under test
# (a TensorRT-only Jetson) while the stand-in still computes with it.
import onnxruntime as ort

from tests.engines.fake_cuda import Calls, CudaError, FakeDevice, install_cuda, install_pycuda

PLAN_MAGIC = b"FAKE-TENSORRT-PLAN v1\n"
CACHE_MAGIC = b"FAKE-TENSORRT-TIMING-CACHE v1\n"
CALIBRATION_HEADER = b"TRT-FAKE-EntropyCalibration2\n"


@dataclass(frozen=True)
class Capabilities:
    """What one TensorRT version offers (the stand-in's switches)."""

    version: str
    precision_flags: bool  # BuilderFlag.FP16 / INT8
    calibrator: bool  # IInt8EntropyCalibrator2, config.int8_calibrator, set_calibration_profile
    explicit_batch_required: bool  # the ONNX parser refuses an implicit-batch network
    v2_execution: bool  # IExecutionContext.execute_async_v2(bindings, stream)
    strongly_typed: bool  # every network takes its precision from the graph


CAPABILITIES: dict[str, Capabilities] = {
    "8.5": Capabilities("8.5.2.2", True, True, True, True, False),
    "10": Capabilities("10.3.0", True, True, False, False, False),
    "11": Capabilities("11.0.0", False, False, False, False, True),
}

_ONNX_TO_TRT = {1: "FLOAT", 10: "HALF", 3: "INT8", 6: "INT32", 7: "INT64", 9: "BOOL", 2: "UINT8"}
_NUMPY = {
    "FLOAT": np.float32,
    "HALF": np.float16,
    "INT8": np.int8,
    "INT32": np.int32,
    "INT64": np.int64,
    "BOOL": np.bool_,
    "UINT8": np.uint8,
}


@dataclass
class FakeTensorRT:
    """One installed stand-in: its capabilities, the shared device and call log, injected
    failures (names of calls that report failure), and the module itself."""

    caps: Capabilities
    device: FakeDevice
    faults: frozenset[str] = frozenset()
    missing_flags: frozenset[str] = frozenset()
    module: types.ModuleType = field(init=False)
    loggers: list[Any] = field(default_factory=list)
    calibration_batches: int = 0

    @property
    def calls(self) -> Calls:
        return self.device.calls

    def errors(self) -> list[str]:
        """Every ERROR line TensorRT logged."""
        return [m for logger in self.loggers for sev, m in logger.messages if sev <= 1]


class Severity(enum.IntEnum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class Dims:
    """``tensorrt.Dims``: ``Dims(shape: list[int])``, indexable, ``len()``; -1 is dynamic."""

    def __init__(self, shape: Any = ()) -> None:
        self._dims = [int(d) for d in shape]

    def __len__(self) -> int:
        return len(self._dims)

    def __getitem__(self, index: int) -> int:
        return self._dims[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Dims):
            return self._dims == other._dims
        if isinstance(other, (list, tuple)):
            return self._dims == [int(d) for d in other]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"({', '.join(map(str, self._dims))})"

    def tolist(self) -> list[int]:
        return list(self._dims)


def _dims_of(value: Any) -> list[int]:
    """What the bindings accept for a shape argument: Dims, a tuple or a list."""
    if isinstance(value, Dims):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [int(d) for d in value]
    raise TypeError(f"incompatible function arguments: expected Dims, got {type(value).__name__}")


class IHostMemory:
    """Serialised bytes owned by TensorRT (a plan, a timing cache); ``bytes()`` copies them."""

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self.nbytes = len(self._data)

    def __bytes__(self) -> bytes:
        return self._data


def _graph_io(model: onnx.ModelProto) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Network inputs and outputs of a graph: name, dims (-1 dynamic), TensorRT dtype name."""
    initializers = {init.name for init in model.graph.initializer}

    def describe(value: Any) -> dict[str, Any]:
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
        return {"name": value.name, "dims": dims, "dtype": _ONNX_TO_TRT.get(tensor.elem_type)}

    inputs = [describe(v) for v in model.graph.input if v.name not in initializers]
    return inputs, [describe(v) for v in model.graph.output]


def make_tensorrt(state: FakeTensorRT) -> types.ModuleType:
    """The ``tensorrt`` module of ``state`` (its classes close over it)."""
    caps, device, calls = state.caps, state.device, state.calls
    module = types.ModuleType("tensorrt")
    module.__version__ = caps.version
    module.__spec__ = importlib.machinery.ModuleSpec("tensorrt", None, origin="stand-in")

    def failing(name: str) -> bool:
        return name in state.faults

    def log_error(message: str) -> None:
        """What TensorRT logs through the process's logger when a call reports failure."""
        for logger in state.loggers:
            logger.log(Severity.ERROR, message)

    # ------------------------------------------------------------------------------- enums
    builder_flags = {"FP16": 0, "INT8": 1, "DEBUG": 2, "GPU_FALLBACK": 3, "REFIT": 5, "TF32": 7}
    if not caps.precision_flags:
        builder_flags = {k: v for k, v in builder_flags.items() if k not in ("FP16", "INT8")}
    builder_flags = {k: v for k, v in builder_flags.items() if k not in state.missing_flags}
    BuilderFlag = enum.IntEnum("BuilderFlag", builder_flags)
    network_flags = {"EXPLICIT_BATCH": 0}
    if caps.version.startswith("8."):
        network_flags["EXPLICIT_PRECISION"] = 1
    else:
        network_flags["STRONGLY_TYPED"] = 1
    NetworkDefinitionCreationFlag = enum.IntEnum("NetworkDefinitionCreationFlag", network_flags)
    MemoryPoolType = enum.IntEnum("MemoryPoolType", {"WORKSPACE": 0, "DLA_MANAGED_SRAM": 1})
    TensorIOMode = enum.IntEnum("TensorIOMode", {"NONE": 0, "INPUT": 1, "OUTPUT": 2})
    DataType = enum.IntEnum("DataType", {name: i for i, name in enumerate(_NUMPY)})

    def nptype(trt_type: Any) -> type:
        return _NUMPY[DataType(trt_type).name]

    # ------------------------------------------------------------------------------ logging
    class ILogger:
        Severity = Severity
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = tuple(Severity)

    class Logger(ILogger):
        def __init__(self, min_severity: Severity = Severity.WARNING) -> None:
            calls.record("Logger", min_severity=Severity(min_severity).name)
            self.min_severity = Severity(min_severity)
            self.messages: list[tuple[int, str]] = []
            state.loggers.append(self)

        def log(self, severity: Severity, msg: str) -> None:
            if severity <= self.min_severity:
                self.messages.append((int(severity), msg))

    def need_logger(logger: Any) -> Any:
        if not isinstance(logger, ILogger):
            raise TypeError("incompatible function arguments: logger must be a tensorrt.ILogger")
        return logger

    # ------------------------------------------------------------------------------ network
    class INetworkDefinition:
        def __init__(self, flags: int, logger: Any) -> None:
            self.flags = int(flags)
            self.logger = logger
            self.model: onnx.ModelProto | None = None
            self.inputs: list[dict[str, Any]] = []
            self.outputs: list[dict[str, Any]] = []

        def _has_flag(self, name: str) -> bool:
            member = NetworkDefinitionCreationFlag.__members__.get(name)
            return member is not None and bool(self.flags & (1 << int(member)))

        @property
        def num_inputs(self) -> int:
            return len(self.inputs)

        @property
        def num_outputs(self) -> int:
            return len(self.outputs)

    class ParserError:
        def __init__(self, node: int, desc: str) -> None:
            self._node, self._desc = node, desc

        def desc(self) -> str:
            return self._desc

        def node(self) -> int:
            return self._node

        def __str__(self) -> str:
            return f"In node {self._node} (importModel): {self._desc}"

    class OnnxParser:
        def __init__(self, network: INetworkDefinition, logger: Any) -> None:
            calls.record("OnnxParser")
            if not isinstance(network, INetworkDefinition):
                raise TypeError("incompatible function arguments: network")
            self.network, self.logger = network, need_logger(logger)
            self._errors: list[ParserError] = []

        @property
        def num_errors(self) -> int:
            return len(self._errors)

        def get_error(self, index: int) -> ParserError:
            return self._errors[index]

        def clear_errors(self) -> None:
            self._errors.clear()

        def _fail(self, desc: str, node: int = -1) -> bool:
            self._errors.append(ParserError(node, desc))
            self.logger.log(Severity.ERROR, desc)
            return False

        def parse(self, model: bytes, path: str | None = None) -> bool:
            """The documented way: external weights are found relative to ``path`` only."""
            calls.record("OnnxParser.parse", nbytes=len(model), path=path)
            try:
                proto = onnx.load_from_string(bytes(model))
            except Exception as exc:  # noqa: BLE001 - the parser reports, it does not raise
                return self._fail(f"failed to parse the ONNX model: {exc}")
            external = [t for t in proto.graph.initializer if t.data_location == 1]
            if external:
                if path is None:
                    location = next(
                        e.value for e in external[0].external_data if e.key == "location"
                    )
                    return self._fail(
                        f"failed to open file {location} of the external weights of "
                        f"{external[0].name}: no model path to resolve it against"
                    )
                onnx.external_data_helper.load_external_data_for_model(
                    proto, str(Path(path).parent)
                )
            return self._import(proto)

        def parse_from_file(self, model: str) -> bool:
            calls.record("OnnxParser.parse_from_file", model=model)
            if not isinstance(model, str):
                raise TypeError("incompatible function arguments: model must be a str path")
            if not Path(model).is_file():
                return self._fail(f"failed to open file {model}")
            try:
                proto = onnx.load(model)  # external weights beside the file
            except Exception as exc:  # noqa: BLE001
                return self._fail(f"failed to parse the ONNX file {model}: {exc}")
            return self._import(proto)

        def _import(self, proto: onnx.ModelProto) -> bool:
            network = self.network
            if caps.explicit_batch_required and not network._has_flag("EXPLICIT_BATCH"):
                return self._fail(
                    "The ONNX parser only supports networks with an explicit batch dimension"
                )
            try:
                onnx.checker.check_model(proto)
            except Exception as exc:  # noqa: BLE001
                return self._fail(f"invalid ONNX model: {str(exc).splitlines()[0]}")
            for index, node in enumerate(proto.graph.node):
                if node.domain not in ("", "ai.onnx"):
                    return self._fail(
                        f"No importer registered for op: {node.op_type} ({node.domain})", index
                    )
            inputs, outputs = _graph_io(proto)
            for tensor in inputs + outputs:
                if tensor["dtype"] is None:
                    return self._fail(f"unsupported data type of tensor {tensor['name']}")
            network.model, network.inputs, network.outputs = proto, inputs, outputs
            return True

    # ------------------------------------------------------------------------------ builder
    class IOptimizationProfile:
        def __init__(self) -> None:
            self.shapes: dict[str, tuple[list[int], list[int], list[int]]] = {}
            self.valid = True

        def set_shape(self, input: str, min: Any, opt: Any, max: Any) -> None:  # noqa: A002
            lo, mid, hi = _dims_of(min), _dims_of(opt), _dims_of(max)
            calls.record("IOptimizationProfile.set_shape", input=input, min=lo, opt=mid, max=hi)
            ok = len(lo) == len(mid) == len(hi) and all(
                0 < a <= b <= c for a, b, c in zip(lo, mid, hi, strict=True)
            )
            self.valid = self.valid and ok
            self.shapes[input] = (lo, mid, hi)

        def get_shape(self, input: str) -> list[Dims]:  # noqa: A002
            return [Dims(s) for s in self.shapes[input]]

    class ITimingCache:
        def __init__(self, origin: tuple[str, str] | None, entries: int) -> None:
            self.origin, self.entries = origin, entries

        def serialize(self) -> IHostMemory:
            calls.record("ITimingCache.serialize")
            head = json.dumps({"origin": self.origin, "entries": self.entries}).encode()
            return IHostMemory(CACHE_MAGIC + head)

    here = (caps.version, device.name)

    class IInt8Calibrator:
        def __init__(self) -> None:
            self._base_initialised = True

    class IInt8EntropyCalibrator2(IInt8Calibrator):
        pass

    class IBuilderConfig:
        def __init__(self) -> None:
            self.pool_limits: dict[str, int] = {}
            self.flags: set[str] = set()
            self.profiles: list[IOptimizationProfile] = []
            self.calibration_profile: IOptimizationProfile | None = None
            self.calibrator: Any = None
            self.timing_cache: ITimingCache | None = None

        def set_memory_pool_limit(self, pool: Any, pool_size: int) -> None:
            calls.record("IBuilderConfig.set_memory_pool_limit", pool=pool, pool_size=pool_size)
            self.pool_limits[MemoryPoolType(pool).name] = int(pool_size)

        def set_flag(self, flag: Any) -> None:
            if not isinstance(flag, BuilderFlag):
                raise TypeError("incompatible function arguments: flag must be a BuilderFlag")
            calls.record("IBuilderConfig.set_flag", flag=flag.name)
            self.flags.add(flag.name)

        def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
            calls.record("IBuilderConfig.add_optimization_profile", shapes=dict(profile.shapes))
            if failing("add_optimization_profile") or not profile.valid or not profile.shapes:
                log_error("optimization profile is invalid")
                return -1
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def create_timing_cache(self, serialized_timing_cache: bytes) -> ITimingCache:
            data = bytes(serialized_timing_cache)
            calls.record("IBuilderConfig.create_timing_cache", nbytes=len(data))
            if not data:
                return ITimingCache(here, 0)
            if not data.startswith(CACHE_MAGIC):
                return ITimingCache(None, 0)
            head = json.loads(data[len(CACHE_MAGIC) :])
            return ITimingCache(tuple(head["origin"]), int(head["entries"]))

        def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
            calls.record("IBuilderConfig.set_timing_cache", ignore_mismatch=ignore_mismatch)
            if failing("set_timing_cache") or (cache.origin != here and not ignore_mismatch):
                log_error("timing cache was made elsewhere")
                return False
            self.timing_cache = cache
            return True

        def get_timing_cache(self) -> ITimingCache:
            calls.record("IBuilderConfig.get_timing_cache")
            assert self.timing_cache is not None, "no timing cache was set"
            return self.timing_cache

    class CalibratingConfig(IBuilderConfig):
        """8.5-10: the legacy calibrator's two entries."""

        def set_calibration_profile(self, profile: IOptimizationProfile) -> bool:
            calls.record("IBuilderConfig.set_calibration_profile", shapes=dict(profile.shapes))
            fixed = all(lo == mid == hi for lo, mid, hi in profile.shapes.values())
            if failing("set_calibration_profile") or not profile.valid or not fixed:
                return False
            self.calibration_profile = profile
            return True

        @property
        def int8_calibrator(self) -> Any:
            return self.calibrator

        @int8_calibrator.setter
        def int8_calibrator(self, calibrator: Any) -> None:
            calls.record("IBuilderConfig.int8_calibrator")
            if not isinstance(calibrator, IInt8Calibrator):
                raise TypeError("int8_calibrator must be a tensorrt.IInt8Calibrator")
            if not getattr(calibrator, "_base_initialised", False):
                raise TypeError("tensorrt.IInt8Calibrator.__init__() must be called")
            self.calibrator = calibrator

    def calibrate(network: INetworkDefinition, config: Any, log: Any) -> dict[str, float] | None:
        """The legacy calibration protocol: batch size, cache, batches from device pointers."""
        calibrator, profile = config.calibrator, config.calibration_profile
        if profile is None:
            log(Severity.ERROR, "dynamic shapes need a calibration profile")
            return None
        batch = int(calibrator.get_batch_size())
        cached = calibrator.read_calibration_cache()
        if cached:
            text = bytes(cached)
            if not text.startswith(CALIBRATION_HEADER):
                log(Severity.ERROR, "calibration cache is not an entropy-2 cache")
                return None
            lines = text[len(CALIBRATION_HEADER) :].decode().splitlines()
            return {name: float(v) for name, v in (line.split(": ") for line in lines)}
        names = [t["name"] for t in network.inputs]
        ranges = dict.fromkeys(names, 0.0)
        served = 0
        while True:
            pointers = calibrator.get_batch(names)
            if not pointers:
                break
            if len(pointers) != len(names):
                log(Severity.ERROR, f"get_batch gave {len(pointers)} pointers for {names}")
                return None
            for tensor, pointer in zip(network.inputs, pointers, strict=True):
                shape = profile.shapes[tensor["name"]][0]
                if shape[0] != batch:
                    log(Severity.ERROR, "calibration profile batch != get_batch_size()")
                    return None
                dtype = np.dtype(_NUMPY[tensor["dtype"]])
                nbytes = math.prod(shape) * dtype.itemsize
                try:
                    data = device.view(int(pointer), nbytes).view(dtype)
                except CudaError as exc:
                    log(Severity.ERROR, f"calibration batch pointer: {exc}")
                    return None
                ranges[tensor["name"]] = max(ranges[tensor["name"]], float(np.abs(data).max()))
            served += 1
        state.calibration_batches += served
        if not served:
            log(Severity.ERROR, "calibration failed: no batches")
            return None
        scales = {name: value / 127.0 for name, value in ranges.items()}
        payload = "".join(f"{name}: {scale!r}\n" for name, scale in scales.items())
        calibrator.write_calibration_cache(memoryview(CALIBRATION_HEADER + payload.encode()))
        return scales

    class Builder:
        def __init__(self, logger: Any) -> None:
            calls.record("Builder")
            self.logger = need_logger(logger)

        def create_network(self, flags: int = 0) -> INetworkDefinition:
            calls.record("Builder.create_network", flags=int(flags))
            return INetworkDefinition(flags, self.logger)

        def create_builder_config(self) -> IBuilderConfig:
            calls.record("Builder.create_builder_config")
            return CalibratingConfig() if caps.calibrator else IBuilderConfig()

        def create_optimization_profile(self) -> IOptimizationProfile:
            calls.record("Builder.create_optimization_profile")
            return IOptimizationProfile()

        def build_serialized_network(
            self, network: INetworkDefinition, config: IBuilderConfig
        ) -> IHostMemory | None:
            calls.record("Builder.build_serialized_network", flags=sorted(config.flags))

            def log(severity: Severity, message: str) -> None:
                self.logger.log(severity, message)

            if failing("build_serialized_network"):
                log(Severity.ERROR, "out of memory (injected)")
                return None
            if network.model is None:
                log(Severity.ERROR, "network has no inputs: nothing was parsed")
                return None
            if not config.profiles:
                log(Severity.ERROR, "dynamic inputs need an optimization profile")
                return None
            profile = config.profiles[0]
            for tensor in network.inputs:
                shapes = profile.shapes.get(tensor["name"])
                dynamic = any(d < 0 for d in tensor["dims"])
                if shapes is None:
                    if dynamic:
                        log(Severity.ERROR, f"no profile shapes for input {tensor['name']}")
                        return None
                    continue
                for shape in shapes:
                    fits = len(shape) == len(tensor["dims"]) and all(
                        d < 0 or d == s for d, s in zip(tensor["dims"], shape, strict=True)
                    )
                    if not fits:
                        log(Severity.ERROR, f"profile {shape} does not fit {tensor['dims']}")
                        return None
            strongly = caps.strongly_typed or network._has_flag("STRONGLY_TYPED")
            if strongly and config.flags & {"FP16", "INT8"}:
                log(Severity.ERROR, "precision flags are not allowed on a strongly typed network")
                return None
            ops = {node.op_type for node in network.model.graph.node}
            qdq = bool(ops & {"QuantizeLinear", "DequantizeLinear"})
            if qdq and not strongly and "INT8" not in config.flags:
                log(Severity.ERROR, "a network with Q/DQ layers needs the INT8 builder flag")
                return None
            scales = None
            if "INT8" in config.flags and not qdq:
                if config.calibrator is None:
                    log(Severity.ERROR, "INT8 without Q/DQ layers or a calibrator: no scales")
                    return None
                scales = calibrate(network, config, log)
                if scales is None:
                    return None
            if config.timing_cache is not None:
                config.timing_cache.entries += len(network.model.graph.node)
            header = {
                "version": caps.version,
                "device": device.name,
                "compute_capability": device.capability(),
                "inputs": network.inputs,
                "outputs": network.outputs,
                "profile": {name: list(s) for name, s in profile.shapes.items()},
                "flags": sorted(config.flags),
                "workspace": config.pool_limits.get("WORKSPACE"),
                "calibration": scales,
            }
            body = json.dumps(header).encode() + b"\n" + network.model.SerializeToString()
            return IHostMemory(PLAN_MAGIC + body)

    # ------------------------------------------------------------------------------ runtime
    class ICudaEngine:
        def __init__(self, header: dict[str, Any], graph: bytes) -> None:
            self.header = header
            self.tensors = {t["name"]: ("INPUT", t) for t in header["inputs"]}
            self.tensors.update({t["name"]: ("OUTPUT", t) for t in header["outputs"]})
            self.order = [t["name"] for t in header["inputs"] + header["outputs"]]
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

        @property
        def num_io_tensors(self) -> int:
            return len(self.order)

        def get_tensor_name(self, index: int) -> str:
            calls.record("ICudaEngine.get_tensor_name", index=index)
            return self.order[index]

        def _tensor(self, name: str) -> tuple[str, dict[str, Any]]:
            if name not in self.tensors:
                raise ValueError(f"no tensor named {name!r}")
            return self.tensors[name]

        def get_tensor_shape(self, name: str) -> Dims:
            return Dims(self._tensor(name)[1]["dims"])

        def get_tensor_dtype(self, name: str) -> Any:
            return DataType[self._tensor(name)[1]["dtype"]]

        def get_tensor_mode(self, name: str) -> Any:
            return TensorIOMode[self._tensor(name)[0]]

        def create_execution_context(self) -> IExecutionContext | None:
            calls.record("ICudaEngine.create_execution_context")
            if failing("create_execution_context"):
                return None
            return ContextClass(self)

    class IExecutionContext:
        def __init__(self, engine: ICudaEngine) -> None:
            self.engine = engine
            self.shapes: dict[str, list[int]] = {}
            self.addresses: dict[str, int] = {}

        def set_input_shape(self, name: str, shape: Any) -> bool:
            dims = _dims_of(shape)
            calls.record("IExecutionContext.set_input_shape", name=name, shape=dims)
            mode, tensor = self.engine.tensors.get(name, ("NONE", None))
            if failing("set_input_shape") or mode != "INPUT" or tensor is None:
                return False
            lo, _, hi = self.engine.header["profile"][name]
            inside = len(dims) == len(lo) and all(
                a <= d <= b for a, d, b in zip(lo, dims, hi, strict=True)
            )
            if not inside:
                return False
            self.shapes[name] = dims
            return True

        def set_tensor_address(self, name: str, memory: int) -> bool:
            calls.record("IExecutionContext.set_tensor_address", name=name, memory=memory)
            if failing("set_tensor_address") or name not in self.engine.tensors:
                return False
            if not isinstance(memory, int) or not device.is_device_pointer(memory):
                return False
            self.addresses[name] = memory
            return True

        def get_tensor_shape(self, name: str) -> Dims:
            mode, tensor = self.engine._tensor(name)
            if mode == "INPUT":
                return Dims(self.shapes.get(name, tensor["dims"]))
            batch = next(iter(self.shapes.values()), [-1])[0]
            return Dims([batch if d < 0 else d for d in tensor["dims"]])

        def _run(self, stream: int, addresses: dict[str, int]) -> bool:
            inputs = [n for n, (mode, _) in self.engine.tensors.items() if mode == "INPUT"]
            missing = [n for n in inputs if n not in self.shapes]
            if missing or set(addresses) != set(self.engine.order):
                log_error(f"shapes or addresses unset: {missing}")
                return False

            def infer() -> None:
                feeds = {}
                for name in inputs:
                    dtype = np.dtype(_NUMPY[self.engine.tensors[name][1]["dtype"]])
                    shape = self.shapes[name]
                    raw = device.view(addresses[name], math.prod(shape) * dtype.itemsize)
                    feeds[name] = raw.view(dtype).reshape(shape).copy()
                outputs = [n for n, (mode, _) in self.engine.tensors.items() if mode == "OUTPUT"]
                for name, value in zip(
                    outputs, self.engine.session.run(outputs, feeds), strict=True
                ):
                    value = np.ascontiguousarray(value)
                    device.view(addresses[name], value.nbytes)[:] = value.reshape(-1).view(np.uint8)

            try:
                device.enqueue(int(stream), infer)
            except CudaError:
                return False
            return True

        def execute_async_v3(self, stream_handle: int) -> bool:
            calls.record("IExecutionContext.execute_async_v3", stream_handle=stream_handle)
            if failing("execute_async_v3"):
                return False
            return self._run(stream_handle, self.addresses)

    class V2ExecutionContext(IExecutionContext):
        """8.x: the bindings-list execution is still there."""

        def execute_async_v2(self, bindings: list[int], stream_handle: int) -> bool:
            calls.record("IExecutionContext.execute_async_v2", stream_handle=stream_handle)
            return self._run(stream_handle, dict(zip(self.engine.order, bindings, strict=True)))

    ContextClass = V2ExecutionContext if caps.v2_execution else IExecutionContext

    class Runtime:
        def __init__(self, logger: Any) -> None:
            calls.record("Runtime")
            self.logger = need_logger(logger)

        def deserialize_cuda_engine(self, serialized_engine: bytes) -> ICudaEngine | None:
            data = bytes(serialized_engine)
            calls.record("Runtime.deserialize_cuda_engine", nbytes=len(data))
            if failing("deserialize_cuda_engine") or not data.startswith(PLAN_MAGIC):
                self.logger.log(Severity.ERROR, "engine plan file is corrupt (magic tag)")
                return None
            head, _, graph = data[len(PLAN_MAGIC) :].partition(b"\n")
            header = json.loads(head)
            if header["version"] != caps.version:
                self.logger.log(
                    Severity.ERROR,
                    f"the engine plan was made by TensorRT {header['version']}, not {caps.version}",
                )
                return None
            if (header["device"], header["compute_capability"]) != (
                device.name,
                device.capability(),
            ):
                self.logger.log(Severity.ERROR, "the engine plan was built for another device")
                return None
            return ICudaEngine(header, graph)

    exported: dict[str, Any] = {
        "Builder": Builder,
        "Logger": Logger,
        "ILogger": ILogger,
        "OnnxParser": OnnxParser,
        "ParserError": ParserError,
        "Runtime": Runtime,
        "Dims": Dims,
        "IHostMemory": IHostMemory,
        "INetworkDefinition": INetworkDefinition,
        "IBuilderConfig": IBuilderConfig,
        "IOptimizationProfile": IOptimizationProfile,
        "ITimingCache": ITimingCache,
        "ICudaEngine": ICudaEngine,
        "IExecutionContext": IExecutionContext,
        "BuilderFlag": BuilderFlag,
        "NetworkDefinitionCreationFlag": NetworkDefinitionCreationFlag,
        "MemoryPoolType": MemoryPoolType,
        "TensorIOMode": TensorIOMode,
        "DataType": DataType,
        "nptype": nptype,
    }
    if caps.calibrator:
        exported.update(
            IInt8Calibrator=IInt8Calibrator, IInt8EntropyCalibrator2=IInt8EntropyCalibrator2
        )
    for name, value in exported.items():
        setattr(module, name, value)
    return module


@dataclass
class FakeGpu:
    """The installed stand-ins of one test: TensorRT, CUDA, their device and call log."""

    trt: FakeTensorRT
    device: FakeDevice
    cudart: types.ModuleType

    @property
    def calls(self) -> Calls:
        return self.device.calls

    @property
    def module(self) -> types.ModuleType:
        return self.trt.module


def install(
    monkeypatch: Any,
    version: str = "10",
    *,
    device: FakeDevice | None = None,
    faults: tuple[str, ...] = (),
    missing_flags: tuple[str, ...] = (),
    binding: str = "cuda-python",
) -> FakeGpu:
    """Install the stand-ins as ``tensorrt`` and ``cuda.bindings.runtime`` (or, with
    ``binding="pycuda"``, ``pycuda.driver``) for one test.

    ``version`` picks a capability set ("8.5", "10", "11") or is a version string of one
    ("10.4.0": the 10 set under that version); ``device`` keeps the GPU (and its memory and call
    log) across installs, e.g. to change the TensorRT version under an existing plan."""
    key = version if version in CAPABILITIES else version.split(".")[0]
    caps = CAPABILITIES["8.5" if key == "8" else key]
    if version not in CAPABILITIES:
        caps = dataclasses.replace(caps, version=version)
    device = device or FakeDevice()
    installer = install_pycuda if binding == "pycuda" else install_cuda
    cudart = installer(monkeypatch, device)
    state = FakeTensorRT(caps, device, frozenset(faults), frozenset(missing_flags))
    state.module = make_tensorrt(state)
    monkeypatch.setitem(sys.modules, "tensorrt", state.module)
    return FakeGpu(state, device, cudart)
