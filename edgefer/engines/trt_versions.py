"""Which TensorRT edgefer can use, and what each version lets the builder and runner do.

TensorRT changed its API between 8.5, 10 and 11 (precision flags, the legacy calibrator, the
explicit-batch flag), and a Jetson's TensorRT is fixed by its JetPack. Keeping both tables here,
apart from any TensorRT call, lets every version difference be decided and tested without TensorRT.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
