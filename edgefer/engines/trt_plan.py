"""What to ask the TensorRT builder for, decided without TensorRT.

The workspace cap, the optimisation profile for batches 1..N, and the network and builder flags a
precision needs on a given TensorRT version. Decisions, not calls, so each is tested for real where
TensorRT is absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgefer.engines.kinds import check_precision
from edgefer.engines.trt_versions import TrtCaps
from edgefer.errors import EdgeferError
from edgefer.platform_info import is_jetson

# ------------------------------------------------------------------------------------- workspace
MIB = 1 << 20
JETSON_WORKSPACE = 256 * MIB  # the GPU shares the board's 4-8 GB with the OS, camera and audio
DESKTOP_WORKSPACE = 1024 * MIB


def default_workspace_bytes(jetson: bool | None = None) -> int:
    """Builder workspace cap: 256 MiB on a Jetson, 1 GiB on a desktop GPU.

    A Jetson's unified memory is shared with everything else, and more tactics rarely help a model
    this small.
    """
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


# ------------------------------------------------------------------------------------ build plan
@dataclass(frozen=True)
class BuildPlan:
    """Names of the network and builder flags to set, and whether the legacy calibrator runs.

    The flags are ``NetworkDefinitionCreationFlag``/``BuilderFlag`` members; the calibrator is the
    legacy entropy calibrator. Names, not enum values, so this is decided without TensorRT.
    """

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
