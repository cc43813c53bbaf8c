"""Everything about a TensorRT build that can be decided without TensorRT.

The TensorRT module itself stays thin (it cannot run in CI); the decisions live here so they are
tested for real: which TensorRT version can do what (8.5, 8.6, 10.x, 11), which network and builder
flags a precision needs on each, the optimisation profile for batch 1..N, the Jetson workspace
default, what the Q/DQ graph that TensorRT will parse looks like, and whether a cached engine's
sidecar still matches this machine and these inputs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.engines.artifact import mismatches, read_sidecar
from edgefer.engines.base import TensorSpec
from edgefer.engines.kinds import check_precision
from edgefer.errors import EdgeferError

# JetPack release -> the TensorRT it ships (NVIDIA's JetPack release notes; design.md).
JETPACK_TENSORRT: dict[str, str] = {
    "4.6": "8.0.1",
    "4.6.1": "8.2.1",
    "4.6.2": "8.2.1",
    "4.6.3": "8.2.1",
    "4.6.4": "8.2.1",
    "5.1": "8.5.2",
    "5.1.1": "8.5.2",
    "5.1.2": "8.5.2",
    "5.1.3": "8.5.2",
    "6.0": "8.6.2",
    "6.1": "10.3.0",
    "6.2": "10.3.0",
}

MIB = 1 << 20
JETSON_WORKSPACE = 256 * MIB  # the GPU shares the board's 4-8 GB with the OS, camera and audio
DESKTOP_WORKSPACE = 1024 * MIB


@dataclass(frozen=True)
class TrtCaps:
    """What one TensorRT version offers the builder and the runner.

    strongly_typed : networks are always strongly typed (11): precision comes from the ONNX graph,
        and ``BuilderFlag.FP16/INT8`` are gone (they exist in 8.5-10).
    has_legacy_calibrator : ``IInt8EntropyCalibrator2`` and ``config.int8_calibrator`` exist (8.5-10).
    needs_explicit_batch_flag : ``create_network`` needs ``EXPLICIT_BATCH`` (8.x; ignored in 10).

    Every supported version (8.5+) runs with name-based I/O (``set_tensor_address`` +
    ``execute_async_v3``), so the runner has one path.
    """

    version: str
    strongly_typed: bool
    has_legacy_calibrator: bool
    needs_explicit_batch_flag: bool


def trt_caps(version: str) -> TrtCaps:
    """Capabilities of TensorRT ``version`` (``tensorrt.__version__``, e.g. "8.5.2.2", "10.3.0")."""
    match = re.match(r"^\s*(\d+)\.(\d+)", str(version))
    if not match:
        raise EdgeferError(f"cannot read the TensorRT version {version!r}")
    major, minor = int(match.group(1)), int(match.group(2))
    if (major, minor) < (8, 5):
        raise EdgeferError(
            f"TensorRT {version} is too old: edgefer needs TensorRT 8.5 or newer "
            "(JetPack 5.1+ on a Jetson; JetPack 4.x ships 8.0/8.2)"
        )
    return TrtCaps(
        version=str(version).strip(),
        strongly_typed=major >= 11,
        has_legacy_calibrator=major < 11,
        needs_explicit_batch_flag=major < 10,
    )


def tensorrt_for_jetpack(jetpack: str) -> str:
    """TensorRT version JetPack ``jetpack`` ships ("5.1.2" -> "8.5.2"; "6.1" -> "10.3.0")."""
    parts = str(jetpack).strip().split(".")
    for length in range(len(parts), 1, -1):  # "5.1.2" then "5.1"
        key = ".".join(parts[:length])
        if key in JETPACK_TENSORRT:
            return JETPACK_TENSORRT[key]
    raise EdgeferError(f"unknown JetPack {jetpack!r}; known: {', '.join(JETPACK_TENSORRT)}")


# ------------------------------------------------------------------------------------- workspace
def is_jetson(
    release_file: str | Path = "/etc/nv_tegra_release",
    model_file: str | Path = "/proc/device-tree/model",
) -> bool:
    """True on a Jetson (L4T release file present, or a device-tree model naming Jetson/Tegra)."""
    if Path(release_file).is_file():
        return True
    try:
        model = Path(model_file).read_bytes().decode(errors="replace").lower()
    except OSError:
        return False
    return "jetson" in model or "tegra" in model


def default_workspace_bytes(jetson: bool | None = None) -> int:
    """Builder workspace cap: 256 MiB on a Jetson (unified memory shared with everything else,
    and more tactics rarely help a model this small), 1 GiB on a desktop GPU."""
    jetson = is_jetson() if jetson is None else jetson
    return JETSON_WORKSPACE if jetson else DESKTOP_WORKSPACE


# ---------------------------------------------------------------------------------------- shapes
def _is_dynamic(dim: Any) -> bool:
    return dim is None or isinstance(dim, str) or (isinstance(dim, int) and dim < 0)


def profile_shapes(
    input_shapes: dict[str, tuple], max_batch: int, opt_batch: int | None = None
) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """(min, opt, max) per input for batches 1..``max_batch``; every other dimension is fixed.

    ``opt_batch`` defaults to 1: the live loop runs one frame at a time, so TensorRT should pick
    its kernels for batch 1. A dynamic non-batch dimension is refused: our inputs are fixed-size
    images and a profile over their size would only slow the kernels down.
    """
    if int(max_batch) < 1:
        raise EdgeferError(f"max batch must be >= 1, got {max_batch}")
    opt = 1 if opt_batch is None else int(opt_batch)
    if not 1 <= opt <= max_batch:
        raise EdgeferError(f"opt batch {opt_batch} must lie in 1..{max_batch}")
    if not input_shapes:
        raise EdgeferError("the model has no inputs")
    profiles = {}
    for name, shape in input_shapes.items():
        shape = tuple(shape)
        if not shape:
            raise EdgeferError(f"input {name!r} is a scalar; expected (batch, ...)")
        rest = shape[1:]
        bad = [axis + 1 for axis, dim in enumerate(rest) if _is_dynamic(dim) or int(dim) < 1]
        if bad:
            raise EdgeferError(
                f"input {name!r} has shape {shape}: axis {bad[0]} is dynamic; only the batch axis "
                "may be (export with fixed image sizes)"
            )
        rest = tuple(int(d) for d in rest)
        batch = shape[0]
        if _is_dynamic(batch):
            lo, mid, hi = 1, opt, int(max_batch)
        elif int(batch) == int(max_batch) == opt:
            lo = mid = hi = int(batch)
        else:
            raise EdgeferError(
                f"input {name!r} has a fixed batch of {batch}; export with a dynamic batch "
                f"or build with max batch {batch}"
            )
        profiles[name] = ((lo, *rest), (mid, *rest), (hi, *rest))
    return profiles


def onnx_input_shapes(model: Any) -> dict[str, tuple[int | None, ...]]:
    """Graph inputs (not initializers) of an ``onnx.ModelProto``: name -> shape, None if dynamic."""
    initializers = {init.name for init in model.graph.initializer}
    shapes = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
    return shapes


def onnx_metadata(model: Any) -> dict[str, Any]:
    """The ONNX file's ``metadata_props`` (export writes one JSON entry, ``edgefer``: class names,
    preprocessing spec, hashes); JSON values are decoded so the engine's sidecar carries them."""
    out: dict[str, Any] = {}
    for prop in model.metadata_props:
        try:
            out[prop.key] = json.loads(prop.value)
        except ValueError:
            out[prop.key] = prop.value
    return out


def engine_metadata(
    sidecar: dict[str, Any],
    inputs: dict[str, TensorSpec],
    outputs: dict[str, TensorSpec],
    where: str,
) -> dict[str, Any]:
    """A plan's edgefer metadata in the one shape every :class:`~edgefer.engines.base.Engine`
    exposes: what the parsed ONNX embedded (recorded by the builder as ``onnx_metadata``), checked
    against the plan's tensors, with the plan's own precision. A plan from a foreign ONNX gets
    the assumed metadata ONNX Runtime would give it (or the same refusal)."""
    from edgefer.onnx_meta import METADATA_KEY, parse_metadata, resolve_metadata

    recorded = sidecar.get("onnx_metadata")
    entry = recorded.get(METADATA_KEY) if isinstance(recorded, dict) else None
    props: dict[str, str] = {}
    if entry is not None:  # onnx_metadata decoded the JSON; parse_metadata reads the text
        props[METADATA_KEY] = entry if isinstance(entry, str) else json.dumps(entry)
    meta = resolve_metadata(parse_metadata(props, where), inputs, outputs, where)
    return {**meta, "precision": sidecar.get("precision", meta.get("precision"))}


def calibration_hash(calib: Any, metadata: dict[str, Any]) -> str | None:
    """Digest of the calibration set behind this build: the set passed in, else the one a Q/DQ
    ONNX records in its ``edgefer`` metadata (``quantization.calibration_digest``), else None."""
    if calib is not None:
        return str(calib.digest)
    entry = metadata.get("edgefer")
    recipe = entry.get("quantization") if isinstance(entry, dict) else None
    return recipe.get("calibration_digest") if isinstance(recipe, dict) else None


# ----------------------------------------------------------------------------------------- Q/DQ
_WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def _constants(model: Any) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    values = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
    return values


def _output_channel_axis(node: Any, weight: np.ndarray | None) -> int | None:
    """Axis of the output channels in a weighted node's weight (where per-channel scales go)."""
    attrs = {a.name: a.i for a in node.attribute}
    if node.op_type == "Conv":
        return 0
    if node.op_type == "ConvTranspose":
        return 1
    if node.op_type == "Gemm":
        return 0 if attrs.get("transB", 0) else 1
    return None if weight is None else weight.ndim - 1  # MatMul: (..., in, out)


def qdq_report(model: Any) -> dict[str, Any]:
    """What TensorRT's explicit-quantisation parser will see in an ``onnx.ModelProto``.

    TensorRT quantises symmetrically to signed INT8: every zero point must be int8 0, every scale
    positive, and a DequantizeLinear may only take int8 (not the int32 biases that ONNX Runtime
    writes by default: pass ``QuantizeBias=False``). Weights reach Conv/Gemm/MatMul through a
    DequantizeLinear of an int8 initializer, per output channel if per channel. ``problems``
    lists what TensorRT would reject; ``warnings`` the weighted layers it would leave in float.
    """
    consts = _constants(model)
    producer = {out: node for node in model.graph.node for out in node.output}
    q_nodes = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    dq_nodes = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    problems: list[str] = []
    zp_dtypes: set[str] = set()

    for node in q_nodes + dq_nodes:
        label = f"{node.op_type} {node.name or node.output[0]}"
        scale = consts.get(node.input[1]) if len(node.input) > 1 else None
        if scale is None:
            problems.append(f"{label}: scale is not a constant")
        elif not (np.all(np.isfinite(scale)) and np.all(scale > 0)):
            problems.append(f"{label}: scale not positive ({np.min(scale)})")
        zero = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        data = consts.get(node.input[0]) if node.op_type == "DequantizeLinear" else None
        if data is not None and data.dtype != np.int8:
            problems.append(
                f"{label}: dequantises a {data.dtype} constant; TensorRT takes only int8 here "
                "(int32 is a quantised bias: quantise with QuantizeBias=False)"
            )
        elif zero is not None and zero.dtype != np.int8:
            problems.append(f"{label}: zero point is {zero.dtype}, TensorRT needs int8")
        if zero is not None:
            zp_dtypes.add(str(zero.dtype))
            if np.any(zero != 0):
                problems.append(f"{label}: zero point not 0 (asymmetric); TensorRT is symmetric")

    quantized_w: list[str] = []
    float_w: list[str] = []
    per_channel: list[str] = []
    quantized_x: list[str] = []
    float_x: list[str] = []
    weighted = [n for n in model.graph.node if n.op_type in _WEIGHTED_OPS]
    for node in weighted:
        label = node.name or node.output[0]
        x_src, w_src = producer.get(node.input[0]), producer.get(node.input[1])
        x_quantized = x_src is not None and x_src.op_type == "DequantizeLinear"
        (quantized_x if x_quantized else float_x).append(label)
        if w_src is not None and w_src.op_type == "DequantizeLinear":
            quantized_w.append(label)
            scale = consts.get(w_src.input[1])
            if scale is not None and np.size(scale) > 1:
                per_channel.append(label)
                axis = next((a.i for a in w_src.attribute if a.name == "axis"), 1)
                want = _output_channel_axis(node, consts.get(w_src.input[0]))
                if want is not None and axis != want:
                    problems.append(
                        f"{label}: per-channel weight scales on axis {axis}; TensorRT needs the "
                        f"output-channel axis {want}"
                    )
        elif node.input[1] in consts:
            float_w.append(label)
    has_qdq = bool(q_nodes or dq_nodes)
    # Parses fine, but the layer then runs in float: worth a line in the build log.
    warnings = []
    if has_qdq:
        warnings += [f"{name}: float weights, runs unquantised" for name in float_w]
        warnings += [f"{name}: float input activation, runs unquantised" for name in float_x]
    fp16 = sum(1 for v in consts.values() if v.dtype == np.float16) + sum(
        1
        for n in model.graph.node
        if n.op_type == "Cast" and any(a.name == "to" and a.i == 10 for a in n.attribute)
    )
    return {
        "has_qdq": has_qdq,
        "quantize_linear": len(q_nodes),
        "dequantize_linear": len(dq_nodes),
        "weighted_nodes": len(weighted),
        "quantized_weights": quantized_w,
        "float_weights": float_w,
        "per_channel_weights": per_channel,
        "quantized_activations": quantized_x,
        "float_activations": float_x,
        "zero_point_dtypes": sorted(zp_dtypes),
        "float16_tensors": fp16,
        "problems": problems,
        "warnings": warnings,
    }


def graph_precision(report: dict[str, Any]) -> str:
    """Precision the graph itself carries: "int8" (Q/DQ), "fp16" (converted graph) or "fp32"."""
    if report["has_qdq"]:
        return "int8"
    return "fp16" if report["float16_tensors"] else "fp32"


# ------------------------------------------------------------------------------------ build plan
@dataclass(frozen=True)
class BuildPlan:
    """Names of ``NetworkDefinitionCreationFlag``/``BuilderFlag`` members to set, and whether the
    legacy entropy calibrator runs. Names, not enum values, so this is decided without TensorRT."""

    network_flags: tuple[str, ...]
    builder_flags: tuple[str, ...]
    use_calibrator: bool
    strongly_typed: bool
    note: str


def build_plan_for(
    caps: TrtCaps,
    precision: str,
    onnx_has_qdq: bool,
    use_calibrator: bool = False,
    onnx_has_fp16: bool = False,
) -> BuildPlan:
    """Decide how to ask TensorRT ``caps`` for ``precision`` from this ONNX graph.

    TensorRT 11 only reads precision from the graph (strongly typed): int8 needs a Q/DQ ONNX, fp16
    an fp16-converted ONNX. 8.5-10 also read Q/DQ graphs (with the INT8 flag; FP16 lets the layers
    left unquantised run in half precision), take the FP16 flag on an fp32 graph, and may calibrate
    an fp32 graph with the legacy entropy calibrator.
    """
    check_precision(precision)
    graph = "int8" if onnx_has_qdq else "fp16" if onnx_has_fp16 else "fp32"
    net = ("EXPLICIT_BATCH",) if caps.needs_explicit_batch_flag else ()
    if use_calibrator and not caps.has_legacy_calibrator:
        raise EdgeferError(
            f"TensorRT {caps.version} has no calibrator (removed in 11): build the Q/DQ int8 ONNX "
            "(quantised from the calibration set) with --precision int8, without --use-calibrator"
        )
    if use_calibrator and precision != "int8":
        raise EdgeferError("--use-calibrator only applies to --precision int8")
    if use_calibrator and graph != "fp32":
        raise EdgeferError(
            f"--use-calibrator needs the fp32 ONNX; this one is already {graph} "
            "(a Q/DQ ONNX carries its own scales: drop --use-calibrator)"
        )
    if graph != "fp32" and precision != graph:
        raise EdgeferError(
            f"this ONNX is {graph} ({'Q/DQ nodes' if graph == 'int8' else 'fp16 tensors'}), "
            f"so TensorRT would build it as {graph}, not {precision}: pass --precision {graph} "
            f"or the {precision} ONNX"
        )
    if caps.strongly_typed:
        if precision != graph:
            how = (
                "Q/DQ quantisation from a calibration set"
                if precision == "int8"
                else "fp16 conversion"
            )
            raise EdgeferError(
                f"TensorRT {caps.version} is strongly typed: {precision} must come from the ONNX, "
                f"but this one is fp32; build the {precision} ONNX ({how}) instead"
            )
        return BuildPlan(net, (), False, True, f"strongly typed {graph} graph")
    if precision == "fp32":
        return BuildPlan(net, (), False, False, "fp32")
    if precision == "fp16":
        return BuildPlan(net, ("FP16",), False, False, f"FP16 flag on a {graph} graph")
    if graph == "int8":
        return BuildPlan(net, ("INT8", "FP16"), False, False, "explicit Q/DQ int8, fp16 elsewhere")
    if not use_calibrator:
        raise EdgeferError(
            "int8 needs the Q/DQ ONNX (quantised from a calibration set) or, on "
            f"TensorRT {caps.version}, --use-calibrator with a calibration set"
        )
    return BuildPlan(net, ("INT8", "FP16"), True, False, "legacy entropy calibrator")


# --------------------------------------------------------------------------------------- sidecar
def engine_sidecar_expectations(
    source_onnx_sha256: str,
    precision: str,
    input_shapes: dict[str, tuple],
    profile: dict[str, tuple],
    calibration_digest: str | None,
    tensorrt_version: str,
    gpu_name: str,
    compute_capability: str,
) -> dict[str, Any]:
    """The keys a cached engine must match to be loaded instead of rebuilt. A TensorRT plan is
    tied to the exact TensorRT version and GPU model, and means nothing for another source model,
    precision, profile or calibration set."""
    return {
        "source_onnx_sha256": source_onnx_sha256,
        "precision": precision,
        "input_shapes": {k: list(v) for k, v in input_shapes.items()},
        "profile_shapes": {k: [list(s) for s in v] for k, v in profile.items()},
        "calibration_digest": calibration_digest,
        "runtime": "tensorrt",
        "runtime_version": str(tensorrt_version),
        "gpu_name": gpu_name,
        "compute_capability": str(compute_capability),
    }


def check_engine_sidecar(sidecar: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """``key: have != want`` for every expected key the sidecar does not match."""
    return mismatches(expected, sidecar)


def verify_engine_file(path: str | Path, expected: dict[str, Any]) -> dict[str, Any]:
    """Read the engine's sidecar (hash-checked, so a truncated plan is caught) and refuse it when a
    key differs, saying what and how to rebuild. Returns the sidecar."""
    path = Path(path)
    sidecar = read_sidecar(path)
    if sidecar.get("runtime") != "tensorrt":
        raise EdgeferError(
            f"{path.name} is not a TensorRT engine (runtime {sidecar.get('runtime')})"
        )
    problems = check_engine_sidecar(sidecar, expected)
    if problems:
        why = "; ".join(problems)
        raise EdgeferError(
            f"{path.name} was built for another setup ({why}); {_rebuild_hint(path, sidecar)}"
        )
    return sidecar


def _rebuild_hint(path: Path, sidecar: dict[str, Any]) -> str:
    """The command that rebuilds this plan here (``edgefer run`` does it by itself)."""
    source = sidecar.get("source_onnx") or sidecar.get("parsed_onnx") or "MODEL.onnx"
    precision = sidecar.get("precision") or "fp32"
    return (
        f"rebuild it with `edgefer build-engine {source} --backend tensorrt --precision "
        f"{precision} --output {path} --force` (`edgefer run` rebuilds it by itself when "
        "that ONNX is still there)"
    )


def ensure_engine(
    path: str | Path,
    expected: dict[str, Any],
    rebuild_on_mismatch: bool = False,
    rebuild: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Sidecar of a usable engine at ``path``: verified, or rebuilt once by ``rebuild()`` when
    allowed (a missing, truncated or mismatched engine), then verified again."""
    try:
        return verify_engine_file(path, expected)
    except EdgeferError:
        if not (rebuild_on_mismatch and rebuild is not None):
            raise
    rebuild()
    return verify_engine_file(path, expected)


def batch_nbytes(shape: tuple[int, ...], dtype: Any, batch: int) -> int:
    """Bytes of ``batch`` samples of a tensor whose first axis is the batch."""
    return int(batch) * math.prod(int(d) for d in shape[1:]) * int(np.dtype(dtype).itemsize)
