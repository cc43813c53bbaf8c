"""The TensorRT build plan without TensorRT: optimisation profiles and the flags each version needs."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from edgefer.engines.onnx_inspect import onnx_input_shapes
from edgefer.engines.trt_plan import (
    build_plan_for,
    profile_shapes,
)
from edgefer.engines.trt_versions import trt_caps
from edgefer.errors import EdgeferError
from tests.engines.trt_helpers import tiny_onnx


def test_profile_covers_batch_1_to_max_with_fixed_image_dims() -> None:
    shapes = {"face": (None, 64, 64, 1), "voice": (-1, 64, 64, 1)}
    profile = profile_shapes(shapes, max_batch=8)
    assert profile["face"] == ((1, 64, 64, 1), (1, 64, 64, 1), (8, 64, 64, 1))
    assert profile["voice"] == profile["face"]
    assert profile_shapes(shapes, 8, opt_batch=4)["face"][1] == (4, 64, 64, 1)


def test_profile_from_a_real_onnx_with_a_symbolic_batch(tmp_path: Path) -> None:
    model = onnx.load(str(tiny_onnx(tmp_path / "m.onnx")))
    shapes = onnx_input_shapes(model)
    assert shapes == {"face": (None, 64, 64, 1)}  # initializers are not inputs
    assert profile_shapes(shapes, 2)["face"] == ((1, 64, 64, 1), (1, 64, 64, 1), (2, 64, 64, 1))


@pytest.mark.parametrize(
    ("shapes", "max_batch", "opt", "message"),
    [
        ({"face": (None, "H", 64, 1)}, 8, None, "axis 1 is dynamic"),
        ({"face": (None, 64, 64, None)}, 8, None, "axis 3 is dynamic"),
        ({"face": (1, 64, 64, 1)}, 8, None, "fixed batch of 1"),
        ({"face": (None, 64, 64, 1)}, 0, None, "max batch"),
        ({"face": (None, 64, 64, 1)}, 4, 5, "opt batch"),
        ({}, 4, None, "no inputs"),
    ],
)
def test_profile_refuses_what_tensorrt_cannot_serve(
    shapes: dict, max_batch: int, opt: int | None, message: str
) -> None:
    with pytest.raises(EdgeferError, match=message):
        profile_shapes(shapes, max_batch, opt)


def test_fixed_batch_model_builds_only_for_that_batch() -> None:
    assert profile_shapes({"face": (1, 64, 64, 1)}, 1)["face"] == ((1, 64, 64, 1),) * 3


def test_trt11_fp16_from_an_fp32_onnx_is_refused_with_what_to_pass() -> None:
    with pytest.raises(EdgeferError, match="strongly typed.*fp16 ONNX"):
        build_plan_for(trt_caps("11.0.0"), "fp16", onnx_has_qdq=False)


def test_trt11_int8_from_qdq_is_strongly_typed_without_flags() -> None:
    plan = build_plan_for(trt_caps("11.0.0"), "int8", onnx_has_qdq=True)
    assert (plan.strongly_typed, plan.network_flags, plan.builder_flags) == (True, (), ())
    assert not plan.use_calibrator
    fp16 = build_plan_for(trt_caps("11.1.0"), "fp16", False, onnx_has_fp16=True)
    assert fp16.builder_flags == () and fp16.strongly_typed


def test_trt11_has_no_calibrator_and_no_int8_from_fp32() -> None:
    with pytest.raises(EdgeferError, match="no calibrator"):
        build_plan_for(trt_caps("11.0.0"), "int8", False, use_calibrator=True)
    with pytest.raises(EdgeferError, match="strongly typed.*int8 ONNX"):
        build_plan_for(trt_caps("11.0.0"), "int8", False)


def test_trt10_int8_with_calibrator_sets_int8_flag_and_calibrator() -> None:
    plan = build_plan_for(trt_caps("10.3.0"), "int8", onnx_has_qdq=False, use_calibrator=True)
    assert "INT8" in plan.builder_flags and plan.use_calibrator
    assert plan.network_flags == ()  # EXPLICIT_BATCH is implied from 10 on
    with pytest.raises(EdgeferError, match="--use-calibrator"):
        build_plan_for(trt_caps("10.3.0"), "int8", onnx_has_qdq=False)


def test_trt8_needs_explicit_batch_and_int8_flag_for_qdq() -> None:
    plan = build_plan_for(trt_caps("8.5.2.2"), "int8", onnx_has_qdq=True)
    assert plan.network_flags == ("EXPLICIT_BATCH",)
    assert plan.builder_flags[0] == "INT8" and not plan.use_calibrator and not plan.strongly_typed
    fp16 = build_plan_for(trt_caps("8.6.1"), "fp16", onnx_has_qdq=False)
    assert fp16.builder_flags == ("FP16",) and fp16.network_flags == ("EXPLICIT_BATCH",)
    fp32 = build_plan_for(trt_caps("8.6.1"), "fp32", onnx_has_qdq=False)
    assert fp32.builder_flags == ()


@pytest.mark.parametrize("version", ["8.5.2.2", "10.3.0", "11.0.0"])
def test_precision_that_contradicts_the_graph_is_refused(version: str) -> None:
    caps = trt_caps(version)
    with pytest.raises(EdgeferError, match="pass --precision int8"):
        build_plan_for(caps, "fp32", onnx_has_qdq=True)
    with pytest.raises(EdgeferError, match="pass --precision fp16"):
        build_plan_for(caps, "int8", onnx_has_qdq=False, onnx_has_fp16=True)
    with pytest.raises(EdgeferError, match="unknown precision"):
        build_plan_for(caps, "int4", onnx_has_qdq=False)


def test_calibrator_on_a_qdq_graph_is_refused() -> None:
    with pytest.raises(EdgeferError, match="carries its own scales"):
        build_plan_for(trt_caps("10.3.0"), "int8", onnx_has_qdq=True, use_calibrator=True)
