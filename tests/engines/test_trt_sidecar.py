"""A TensorRT plan's sidecar: accepted when it fits, each mismatch named and refused, one rebuild."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgefer.engines.artifact import file_sha256, read_sidecar, sidecar_path, write_sidecar
from edgefer.engines.trt_sidecar import (
    check_engine_sidecar,
    engine_sidecar_expectations,
    ensure_engine,
    verify_engine_file,
)
from edgefer.errors import EdgeferError
from tests.engines.trt_helpers import tiny_onnx

GOOD = {
    "precision": "int8",
    "input_shapes": {"face": (None, 64, 64, 1)},
    "profile": {"face": ((1, 64, 64, 1), (1, 64, 64, 1), (8, 64, 64, 1))},
    "calibration_digest": "3f2a9c0d11e4b7a8",
    "tensorrt_version": "10.3.0",
    "gpu_name": "Orin",
    "compute_capability": "8.7",
}


@pytest.fixture
def engine_file(tmp_path: Path) -> tuple[Path, dict]:
    """A real file with a real sidecar written by ``write_sidecar`` (the bytes stand in for a plan,
    which cannot be built here; the sidecar logic does not look inside)."""
    source = tiny_onnx(tmp_path / "model.onnx")
    engine = tmp_path / "model.int8.engine"
    engine.write_bytes(source.read_bytes() + b"plan")
    expected = engine_sidecar_expectations(file_sha256(source), **GOOD)
    write_sidecar(engine, {**expected, "max_batch": 8})
    return engine, expected


def test_matching_sidecar_is_accepted(engine_file: tuple[Path, dict]) -> None:
    engine, expected = engine_file
    sidecar = verify_engine_file(engine, expected)
    assert sidecar["gpu_name"] == "Orin" and sidecar["max_batch"] == 8
    assert json.loads(sidecar_path(engine).read_text())["runtime"] == "tensorrt"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("gpu_name", "NVIDIA GeForce RTX 3060"),
        ("compute_capability", "8.6"),
        ("runtime_version", "10.7.0"),
        ("calibration_digest", "0000000000000000"),
        ("calibration_digest", None),
        ("precision", "fp16"),
        ("input_shapes", {"face": [None, 100, 100, 1]}),
        ("profile_shapes", {"face": [[1, 64, 64, 1], [1, 64, 64, 1], [16, 64, 64, 1]]}),
        ("source_onnx_sha256", "ffffffffffffffff"),
    ],
)
def test_each_sidecar_key_mismatch_is_named_and_refused(
    engine_file: tuple[Path, dict], key: str, value: object
) -> None:
    engine, expected = engine_file
    wanted = {**expected, key: value}
    problems = check_engine_sidecar(read_sidecar(engine), wanted)
    assert len(problems) == 1 and problems[0].startswith(f"{key}:")
    with pytest.raises(EdgeferError, match=rf"another setup \({key}:.*rebuild"):
        verify_engine_file(engine, wanted)


def test_truncated_engine_is_caught_by_its_sidecar(engine_file: tuple[Path, dict]) -> None:
    engine, expected = engine_file
    engine.write_bytes(engine.read_bytes()[:-100])
    with pytest.raises(EdgeferError, match="truncated or replaced"):
        read_sidecar(engine)
    with pytest.raises(EdgeferError, match="truncated or replaced"):
        verify_engine_file(engine, expected)


def test_engine_without_sidecar_or_from_another_runtime_is_refused(
    engine_file: tuple[Path, dict],
) -> None:
    engine, expected = engine_file
    write_sidecar(engine, {**expected, "runtime": "onnxruntime"})
    with pytest.raises(EdgeferError, match="not a TensorRT engine"):
        verify_engine_file(engine, expected)
    sidecar_path(engine).unlink()
    with pytest.raises(EdgeferError, match="is missing; rebuild"):
        verify_engine_file(engine, expected)


def test_rebuild_on_mismatch_rebuilds_once_and_rechecks(engine_file: tuple[Path, dict]) -> None:
    engine, expected = engine_file
    here = {**expected, "gpu_name": "NVIDIA GeForce RTX 3060", "compute_capability": "8.6"}
    calls = []

    def rebuild() -> None:  # what build_trt_engine does: new bytes, new sidecar for this GPU
        calls.append(1)
        engine.write_bytes(b"rebuilt plan for this GPU")
        write_sidecar(engine, here)

    with pytest.raises(EdgeferError, match="gpu_name"):
        ensure_engine(engine, here, rebuild_on_mismatch=False, rebuild=rebuild)
    assert calls == []
    sidecar = ensure_engine(engine, here, rebuild_on_mismatch=True, rebuild=rebuild)
    assert calls == [1] and sidecar["gpu_name"] == "NVIDIA GeForce RTX 3060"
    assert ensure_engine(engine, here, rebuild_on_mismatch=True, rebuild=rebuild) == sidecar
    assert calls == [1]  # matches now: no second rebuild

    def broken_rebuild() -> None:
        calls.append(2)

    with pytest.raises(EdgeferError, match="compute_capability"):
        ensure_engine(engine, expected, rebuild_on_mismatch=True, rebuild=broken_rebuild)
    assert calls == [1, 2]
