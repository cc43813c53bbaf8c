"""The TensorRT decisions that need no TensorRT: versions, flags, profiles, sidecars, Q/DQ graphs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgefer.engines.artifact import file_sha256, read_sidecar, sidecar_path, write_sidecar
from edgefer.engines.onnx_inspect import onnx_input_shapes, onnx_metadata
from edgefer.engines.qdq_lint import graph_precision, qdq_report
from edgefer.engines.trt_module import tensorrt_installed
from edgefer.engines.trt_plan import (
    DESKTOP_WORKSPACE,
    JETSON_WORKSPACE,
    build_plan_for,
    default_workspace_bytes,
    profile_shapes,
)
from edgefer.engines.trt_sidecar import (
    calibration_hash,
    check_engine_sidecar,
    engine_sidecar_expectations,
    ensure_engine,
    verify_engine_file,
)
from edgefer.engines.trt_versions import tensorrt_for_jetpack, trt_caps
from edgefer.errors import EdgeferError
from edgefer.platform_info import is_jetson
from tests.engines.trt_helpers import quantize_qdq, real_faces, tiny_onnx

HAS_TRT = tensorrt_installed()  # not find_spec: tensorrt-stubs alone makes a "tensorrt" folder


# --------------------------------------------------------------------------------------- versions
@pytest.mark.parametrize(
    ("version", "expected"),
    [
        # strongly typed (no precision flags), legacy calibrator, EXPLICIT_BATCH flag
        ("8.5.2.2", (False, True, True)),
        ("8.6.1", (False, True, True)),
        ("10.3.0", (False, True, False)),
        ("11.0.0", (True, False, False)),
    ],
)
def test_tensorrt_version_selects_its_api(version: str, expected: tuple[bool, ...]) -> None:
    caps = trt_caps(version)
    got = (caps.strongly_typed, caps.has_legacy_calibrator, caps.needs_explicit_batch_flag)
    assert got == expected
    assert caps.version == version


@pytest.mark.parametrize("version", ["8.2.1", "8.4.1.5", "7.1.3"])
def test_tensorrt_before_8_5_is_refused_naming_jetpack_5_1(version: str) -> None:
    with pytest.raises(EdgeferError, match=r"8\.5 or newer.*JetPack 5\.1\+"):
        trt_caps(version)


def test_unreadable_tensorrt_version_is_an_error() -> None:
    with pytest.raises(EdgeferError, match="cannot read"):
        trt_caps("trt-latest")


@pytest.mark.parametrize(
    ("jetpack", "trt"),
    [("5.1.2", "8.5.2"), ("5.1", "8.5.2"), ("6.0", "8.6.2"), ("6.1", "10.3.0"), ("6.2", "10.3.0")],
)
def test_jetpack_table_maps_to_supported_tensorrt(jetpack: str, trt: str) -> None:
    assert tensorrt_for_jetpack(jetpack) == trt
    assert not trt_caps(tensorrt_for_jetpack(jetpack)).strongly_typed  # 8.x/10.x: flags exist


def test_jetpack_4_ships_a_tensorrt_we_refuse() -> None:
    assert tensorrt_for_jetpack("4.6.1") == "8.2.1"
    with pytest.raises(EdgeferError, match="JetPack 5.1"):
        trt_caps(tensorrt_for_jetpack("4.6.4"))
    with pytest.raises(EdgeferError, match="unknown JetPack"):
        tensorrt_for_jetpack("7.0")


# -------------------------------------------------------------------------------------- workspace
def test_jetson_detected_from_l4t_release_or_device_tree(tmp_path: Path) -> None:
    release, model = tmp_path / "nv_tegra_release", tmp_path / "model"
    assert not is_jetson(release, model)
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    assert not is_jetson(release, model)
    model.write_bytes(b"NVIDIA Jetson Orin Nano Developer Kit\x00")
    assert is_jetson(release, model)
    model.unlink()
    release.write_text("# R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic\n")
    assert is_jetson(release, model)


def test_workspace_is_smaller_on_jetson() -> None:
    assert default_workspace_bytes(jetson=True) == JETSON_WORKSPACE == 256 << 20
    assert default_workspace_bytes(jetson=False) == DESKTOP_WORKSPACE == 1 << 30
    assert default_workspace_bytes() == (JETSON_WORKSPACE if is_jetson() else DESKTOP_WORKSPACE)


# --------------------------------------------------------------------------------------- profiles
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


# ------------------------------------------------------------------------------------ build plans
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


# ---------------------------------------------------------------------------------------- sidecars
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


# ------------------------------------------------------------------------------------ Q/DQ graphs
@pytest.fixture(scope="module")
def faces(fer_dir: Path) -> np.ndarray:
    return real_faces(fer_dir, 24)


@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_onnx(tmp_path_factory.mktemp("qdq") / "tiny.onnx")


@pytest.fixture(scope="module")
def qdq_onnx(fp32_onnx: Path, faces: np.ndarray) -> Path:
    return quantize_qdq(fp32_onnx, fp32_onnx.with_name("tiny.int8.onnx"), faces)


def _producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in model.graph.node for out in node.output}


def test_qdq_graph_feeds_every_weight_through_int8_dequantize(qdq_onnx: Path) -> None:
    model = onnx.load(str(qdq_onnx))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    producer = _producers(model)
    weighted = [n for n in model.graph.node if n.op_type in ("Conv", "Gemm")]
    assert [n.op_type for n in weighted] == ["Conv", "Gemm"]
    for node in weighted:
        for index in (0, 1):  # activation and weight both arrive dequantised
            assert producer[node.input[index]].op_type == "DequantizeLinear", node.name
        dq = producer[node.input[1]]
        assert inits[dq.input[0]].dtype == np.int8
        scales = inits[dq.input[1]]
        assert scales.shape == (inits[dq.input[0]].shape[0],)  # one per output channel
        assert np.all(scales > 0)
        assert [a.i for a in dq.attribute if a.name == "axis"] == [0]
        assert node.input[2] in inits and inits[node.input[2]].dtype == np.float32  # float bias
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            zero = inits[node.input[2]]
            assert zero.dtype == np.int8 and not zero.any(), node.name
            assert np.all(inits[node.input[1]] > 0)


def test_qdq_report_finds_nothing_tensorrt_would_reject(qdq_onnx: Path) -> None:
    report = qdq_report(onnx.load(str(qdq_onnx)))
    assert report["has_qdq"] and report["problems"] == [] and report["warnings"] == []
    assert report["quantized_weights"] == report["per_channel_weights"] == ["conv", "fc"]
    assert report["quantized_activations"] == ["conv", "fc"]
    assert report["zero_point_dtypes"] == ["int8"]
    assert graph_precision(report) == "int8"
    plan = build_plan_for(trt_caps("11.0.0"), "int8", report["has_qdq"])
    assert plan.strongly_typed and plan.builder_flags == ()


def test_qdq_model_still_agrees_with_fp32_on_real_faces(
    fp32_onnx: Path, qdq_onnx: Path, fer_dir: Path
) -> None:
    import onnxruntime as ort

    held_out = real_faces(fer_dir, 16, split="train")  # not the calibration faces
    # Without graph optimisations ONNX Runtime runs Q -> DQ -> float Conv, the graph's own meaning,
    # as TensorRT computes it; its fused s8 x s8 kernels would add int16 saturation on CPUs without
    # VNNI that TensorRT does not have.
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    run = {
        p: ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
        for p in (fp32_onnx, qdq_onnx)
    }
    fp32 = run[fp32_onnx].run(["probs"], {"face": held_out})[0]
    int8 = run[qdq_onnx].run(["probs"], {"face": held_out})[0]
    assert fp32.shape == int8.shape == (16, 3)
    assert np.abs(fp32 - int8).max() < 0.05
    assert fp32.std(axis=0).max() > 0.01  # the faces do move the output, so the check can fail


def test_ort_default_int32_bias_is_flagged_as_tensorrt_parse_failure(
    fp32_onnx: Path, faces: np.ndarray
) -> None:
    path = quantize_qdq(fp32_onnx, fp32_onnx.with_name("bias.onnx"), faces, quantize_bias=None)
    report = qdq_report(onnx.load(str(path)))
    assert len(report["problems"]) == 2  # conv and fc biases
    assert all("int32" in p and "QuantizeBias=False" in p for p in report["problems"])


def test_asymmetric_uint8_activations_are_flagged(fp32_onnx: Path, faces: np.ndarray) -> None:
    from onnxruntime.quantization import QuantType

    path = quantize_qdq(
        fp32_onnx,
        fp32_onnx.with_name("uint8.onnx"),
        faces,
        activation_type=QuantType.QUInt8,
        extra_options={"WeightSymmetric": True, "QuantizeBias": False},
    )
    report = qdq_report(onnx.load(str(path)))
    assert "uint8" in report["zero_point_dtypes"]
    assert any("zero point is uint8" in p for p in report["problems"])
    assert any("not 0 (asymmetric)" in p for p in report["problems"])


def test_unquantised_graph_and_fp16_graph_precision(fp32_onnx: Path) -> None:
    model = onnx.load(str(fp32_onnx))
    report = qdq_report(model)
    assert not report["has_qdq"] and report["float_weights"] == ["conv", "fc"]
    assert report["warnings"] == []  # float is expected in an fp32 graph
    assert graph_precision(report) == "fp32"
    float16 = pytest.importorskip("onnxconverter_common.float16")
    half = float16.convert_float_to_float16(model, keep_io_types=True)
    assert graph_precision(qdq_report(half)) == "fp16"


def test_calibration_digest_comes_from_the_set_or_the_qdq_metadata(
    qdq_onnx: Path, faces: np.ndarray
) -> None:
    from tests.engines.trt_helpers import face_calibration_set

    model = onnx.load(str(qdq_onnx))
    assert calibration_hash(None, onnx_metadata(model)) is None  # nothing recorded
    calib = face_calibration_set(faces)
    entry = {"precision": "int8", "quantization": {"calibration_digest": calib.digest}}
    onnx.helper.set_model_props(model, {"edgefer": json.dumps(entry), "note": "not json"})
    metadata = onnx_metadata(model)
    assert metadata["edgefer"] == entry and metadata["note"] == "not json"
    assert calibration_hash(None, metadata) == calib.digest
    other = face_calibration_set(faces[:8])
    assert calibration_hash(other, metadata) == other.digest != calib.digest


def test_build_refuses_a_bad_qdq_graph_before_touching_tensorrt(
    fp32_onnx: Path, faces: np.ndarray, tmp_path: Path
) -> None:
    from edgefer.engines.tensorrt import build_trt_engine

    bad = quantize_qdq(fp32_onnx, tmp_path / "bias.onnx", faces, quantize_bias=None)
    with pytest.raises(EdgeferError, match="TensorRT would reject.*int32.*and 1 more"):
        build_trt_engine(bad, tmp_path / "bad.engine", "int8")
    dynamic = tiny_onnx(tmp_path / "dyn.onnx", size="S")
    with pytest.raises(EdgeferError, match="axis 1 is dynamic"):
        build_trt_engine(dynamic, tmp_path / "dyn.engine", "fp32")
    assert not (tmp_path / "bad.engine").exists() and not (tmp_path / "dyn.engine").exists()


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here")
def test_without_tensorrt_build_and_open_say_how_to_get_it(qdq_onnx: Path, tmp_path: Path) -> None:
    from edgefer.engines.tensorrt import TrtEngine, build_trt_engine, open_trt_engine

    with pytest.raises(EdgeferError, match=r"TensorRT is not installed.*JetPack ships it"):
        build_trt_engine(qdq_onnx, tmp_path / "m.engine", "int8")
    with pytest.raises(EdgeferError, match="TensorRT is not installed"):
        open_trt_engine(tmp_path / "m.engine")
    with pytest.raises(EdgeferError, match="TensorRT is not installed"):
        TrtEngine(tmp_path / "m.engine")  # how open_engine() opens a .plan
    assert list(tmp_path.iterdir()) == []
