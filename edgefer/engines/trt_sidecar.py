"""A TensorRT plan's sidecar: what it must record and match before a cached plan is loaded.

A plan is tied to the exact TensorRT version and GPU model and to the source model, precision,
profile and calibration set it was built from, and a stale one fails only when TensorRT loads it.
Its sidecar records those keys, so a mismatch is refused (or rebuilt) with a line that says what
differs and how to rebuild; it also carries the ONNX metadata every engine exposes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgefer.engines.artifact import mismatches, read_sidecar
from edgefer.engines.base import TensorSpec
from edgefer.errors import EdgeferError


def engine_metadata(
    sidecar: dict[str, Any],
    inputs: dict[str, TensorSpec],
    outputs: dict[str, TensorSpec],
    where: str,
) -> dict[str, Any]:
    """A plan's edgefer metadata in the one shape every engine exposes.

    That is the shape every :class:`~edgefer.engines.base.Engine` exposes: what the parsed ONNX
    embedded (recorded by the builder as ``onnx_metadata``), checked against the plan's tensors, with
    the plan's own precision. A plan from a foreign ONNX gets the assumed metadata ONNX Runtime would
    give it (or the same refusal).
    """
    from edgefer.onnx_meta import METADATA_KEY, parse_metadata, resolve_metadata

    recorded = sidecar.get("onnx_metadata")
    entry = recorded.get(METADATA_KEY) if isinstance(recorded, dict) else None
    props: dict[str, str] = {}
    if entry is not None:  # onnx_metadata decoded the JSON; parse_metadata reads the text
        props[METADATA_KEY] = entry if isinstance(entry, str) else json.dumps(entry)
    meta = resolve_metadata(parse_metadata(props, where), inputs, outputs, where)
    return {**meta, "precision": sidecar.get("precision", meta.get("precision"))}


def calibration_hash(calib: Any, metadata: dict[str, Any]) -> str | None:
    """Digest of the calibration set behind this build, or None.

    The set passed in, else the one a Q/DQ ONNX records in its ``edgefer`` metadata
    (``quantization.calibration_digest``), else None.
    """
    if calib is not None:
        return str(calib.digest)
    entry = metadata.get("edgefer")
    recipe = entry.get("quantization") if isinstance(entry, dict) else None
    return recipe.get("calibration_digest") if isinstance(recipe, dict) else None


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
    """The keys a cached engine must match to be loaded instead of rebuilt.

    A TensorRT plan is tied to the exact TensorRT version and GPU model, and means nothing for another
    source model, precision, profile or calibration set.
    """
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
    """Read the engine's sidecar and refuse it when a key differs. Returns the sidecar.

    The sidecar is hash-checked, so a truncated plan is caught; a refusal says what differs and how
    to rebuild.
    """
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
    """Sidecar of a usable engine at ``path``: verified, or rebuilt once and verified again.

    It is rebuilt by ``rebuild()`` only when allowed (a missing, truncated or mismatched engine).
    """
    try:
        return verify_engine_file(path, expected)
    except EdgeferError:
        if not (rebuild_on_mismatch and rebuild is not None):
            raise
    rebuild()
    return verify_engine_file(path, expected)
