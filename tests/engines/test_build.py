"""``edgefer build-engine`` for real: FP32/FP16/INT8 ONNX Runtime engines from a trained model,
checked against FP32 on held-out real data; caching, rejection and every kind of bad input."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from edgefer.calibration import CalibrationSet, load_calibration, save_calibration
from edgefer.engines.artifact import read_sidecar, sidecar_path
from edgefer.engines.build import build_engine
from edgefer.engines.open import open_engine
from edgefer.engines.qdq_lint import qdq_report
from edgefer.engines.quantize import quantize_int8
from edgefer.engines.trt_module import tensorrt_installed
from edgefer.onnx_meta import model_metadata
from tests.cli_helpers import error_lines, run_cli
from tests.engines.test_onnxruntime import foreign_model, strip_metadata

pytestmark = pytest.mark.slow
HELDOUT = ["--heldout-per-class", "30"]


@pytest.fixture(scope="module")
def middle(trained_middle) -> Path:
    return trained_middle[0] / "model.onnx"


@pytest.fixture(scope="module")
def int8(middle, calib_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("engines") / "middle-int8.onnx"
    result = run_cli(
        "build-engine", str(middle), "--precision", "int8", "--backend", "onnxruntime",
        "--calib", str(calib_set), "--output", str(out), *HELDOUT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return out, result


def zero_points(model: onnx.ModelProto, op: str) -> list[np.ndarray]:
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return [inits[n.input[2]] for n in model.graph.node if n.op_type == op and len(n.input) > 2]


def quantized_weights(model: onnx.ModelProto) -> list[np.ndarray]:
    """The int8 constants DequantizeLinear turns back into float weights."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return [
        inits[n.input[0]]
        for n in model.graph.node
        if n.op_type == "DequantizeLinear" and n.input[0] in inits
        and inits[n.input[0]].dtype == np.int8
    ]  # fmt: skip


def test_int8_engine_has_qdq_nodes_uint8_activations_and_reports_agreement(int8):
    path, result = int8
    model = onnx.load(str(path))
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    acts = zero_points(model, "QuantizeLinear")
    assert acts and all(z.dtype == np.uint8 for z in acts)
    weights = [z for z in zero_points(model, "DequantizeLinear") if z.dtype == np.int8]
    assert weights and all(not z.any() for z in weights)  # symmetric signed weights
    assert any(z.size > 1 for z in weights)  # per-channel
    # 7-bit weights: ONNX Runtime's u8 x s8 kernels saturate int16 sums on CPUs without VNNI
    values = np.concatenate([w.ravel() for w in quantized_weights(model)])
    assert values.size > 10_000 and np.abs(values.astype(np.int16)).max() <= 64
    assert model_metadata(model, path.name)["precision"] == "int8"
    out = result.stdout
    assert "argmax agreement" in out and "accuracy fp32 -> engine" in out
    report = read_sidecar(path)["report"]
    assert report["n"] == 90 and 0.5 <= report["agreement"] <= 1.0


def test_int8_engine_predicts_probabilities_and_keeps_softmax_in_float(int8, trained_middle):
    path, _ = int8
    with open_engine(path) as engine:
        assert engine.precision == "int8"
        face = np.full((3, 64, 64, 1), 0.5, np.float32)
        probs = engine.predict({"face": face, "voice": face})
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    model = onnx.load(str(path))
    softmax = next(n for n in model.graph.node if n.op_type == "Softmax")
    assert softmax.output[0] == "probs"  # no QuantizeLinear after the probabilities


def test_tensorrt_flavour_uses_symmetric_signed_activations(middle, calib_set, tmp_path):
    calib = load_calibration(calib_set)
    meta = model_metadata(onnx.load(str(middle)), middle.name)
    out = tmp_path / "trt-qdq.onnx"
    recipe = quantize_int8(middle, out, calib, ["face", "voice"], meta, target="tensorrt")
    assert recipe["activations"] == "int8 symmetric"
    model = onnx.load(str(out))
    acts = zero_points(model, "QuantizeLinear")
    assert acts and all(z.dtype == np.int8 and not z.any() for z in acts)
    report = qdq_report(model)  # what TensorRT's parser will check
    assert report["problems"] == [] and len(report["per_channel_weights"]) >= 40
    values = np.concatenate([w.ravel() for w in quantized_weights(model)])
    assert np.abs(values.astype(np.int16)).max() == 127  # TensorRT: the full int8 range


def test_fp16_build_reports_agreement_against_fp32(middle, tmp_path):
    out = tmp_path / "fp16.onnx"
    result = run_cli(
        "build-engine", str(middle), "--precision", "fp16", "--backend", "onnxruntime",
        "--output", str(out), *HELDOUT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    model = onnx.load(str(out))
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # io kept
    report = read_sidecar(out)["report"]
    assert report["agreement"] >= 0.95 and report["max_abs_diff"] < 0.05
    assert "argmax agreement" in result.stdout


def test_fp32_build_is_named_by_cache_key_and_reused(middle, tmp_path):
    first = build_engine(middle, "fp32", "onnxruntime", engines_dir=tmp_path)
    assert re.fullmatch(r"model-onnxruntime-fp32-[0-9a-f]{16}\.onnx", first.path.name)
    assert first.path.parent == tmp_path and not first.cached
    side = read_sidecar(first.path)
    for key in ("source_onnx_sha256", "precision", "inputs", "runtime_version", "cache_key"):
        assert side[key] is not None, key
    assert side["calibration_digest"] is None and side["gpu_name"] is None
    again = build_engine(middle, "fp32", "onnxruntime", engines_dir=tmp_path)
    assert again.cached and again.path == first.path
    forced = build_engine(middle, "fp32", "onnxruntime", engines_dir=tmp_path, force=True)
    assert not forced.cached


def test_cached_build_says_so(middle, tmp_path):
    args = ["build-engine", str(middle), "--backend", "onnxruntime", "-o", str(tmp_path / "e.onnx")]
    assert run_cli(*args).returncode == 0
    second = run_cli(*args)
    assert second.returncode == 0 and "reused from cache" in second.stdout


def test_accuracy_drop_beyond_max_drop_fails_and_keeps_a_rejected_file(middle, calib_set, tmp_path):
    out = tmp_path / "strict.onnx"
    result = run_cli(
        "build-engine", str(middle), "--precision", "int8", "--backend", "onnxruntime",
        "--calib", str(calib_set), "--output", str(out), "--max-drop", "-100", *HELDOUT,
    )  # fmt: skip
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "accuracy points" in lines[0]
    assert "REJECTED" in result.stdout
    assert not out.exists()
    rejected = tmp_path / "strict.onnx.rejected"
    assert rejected.is_file() and read_sidecar(rejected)["rejected"] is True
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _one_line_error(result, *words: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = error_lines(result)
    assert len(lines) == 1, lines
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_corrupt_truncated_and_foreign_onnx_are_one_line_errors(middle, tmp_path):
    (tmp_path / "garbage.onnx").write_bytes(b"\x08\x01garbage")
    data = middle.read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) * 2 // 3])
    foreign_model(tmp_path / "foreign.onnx")
    out = ["--output", str(tmp_path / "out.onnx")]
    _one_line_error(run_cli("build-engine", str(tmp_path / "garbage.onnx"), *out), "not a valid")
    _one_line_error(run_cli("build-engine", str(tmp_path / "cut.onnx"), *out), "truncated")
    shutil.copy(sidecar_path(middle), sidecar_path(tmp_path / "cut.onnx"))
    _one_line_error(run_cli("build-engine", str(tmp_path / "cut.onnx"), *out), "does not match")
    _one_line_error(run_cli("build-engine", str(tmp_path / "foreign.onnx"), *out), "not an edgefer")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cut.onnx", "cut.onnx.json", "foreign.onnx", "garbage.onnx",
    ]  # fmt: skip


def test_onnx_without_metadata_that_fits_builds_with_a_warning(middle, tmp_path):
    bare = tmp_path / "bare.onnx"
    strip_metadata(middle, bare)
    result = run_cli(
        "build-engine", str(bare), "--backend", "onnxruntime", "-o", str(tmp_path / "e.onnx")
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "warning" in result.stderr and "no edgefer metadata" in result.stderr


def test_bad_calibration_sets_are_refused(middle, calib_set, tmp_path):
    calib = load_calibration(calib_set)
    small = CalibrationSet.from_arrays(
        {k: v[:50] for k, v in calib.arrays.items()}, calib.spec_digest
    )
    save_calibration(small, tmp_path / "small.npz")
    wrong = CalibrationSet.from_arrays(
        {k: v[:, ::2, ::2] for k, v in calib.arrays.items()}, calib.spec_digest
    )
    save_calibration(wrong, tmp_path / "wrong.npz")
    base = ["build-engine", str(middle), "--precision", "int8", "--backend", "onnxruntime"]
    out = ["--output", str(tmp_path / "e.onnx")]
    _one_line_error(run_cli(*base, "--calib", str(tmp_path / "small.npz"), *out), "fewer than")
    _one_line_error(
        run_cli(*base, "--calib", str(tmp_path / "wrong.npz"), "--min-calib", "10", *out),
        "per sample",
    )
    assert not (tmp_path / "e.onnx").exists()


def test_unwritable_output_and_missing_tensorrt_are_one_line_errors(middle, tmp_path):
    blocker = tmp_path / "somefile"
    blocker.write_text("not a folder")
    result = run_cli(
        "build-engine", str(middle), "--backend", "onnxruntime", "-o", str(blocker / "e.onnx")
    )
    _one_line_error(result, "cannot write")
    if tensorrt_installed():
        return  # a machine with TensorRT builds instead
    trt = run_cli(
        "build-engine", str(middle), "--backend", "tensorrt", "-o", str(tmp_path / "e.plan")
    )
    _one_line_error(trt, "TensorRT is not installed here")


def test_tensorrt_only_options_are_refused_for_onnxruntime_and_checked(middle, tmp_path):
    out = ["-o", str(tmp_path / "e.onnx")]
    base = ["build-engine", str(middle), "--backend", "onnxruntime"]
    _one_line_error(run_cli(*base, "--max-batch", "4", *out), "TensorRT engines only")
    _one_line_error(run_cli(*base, "--use-calibrator", *out), "TensorRT engines only")
    _one_line_error(run_cli(*base, "--max-batch", "0", *out), "at least 1")
    assert not (tmp_path / "e.onnx").exists()


def test_tensorrt_options_are_part_of_the_cache_key():
    """Two plans with other profiles or calibration are different engines, never a cache hit."""
    from edgefer.engines.artifact import cache_key
    from edgefer.engines.build import TrtOptions

    keys = {
        cache_key({"tensorrt": options.key_fields()})
        for options in (
            TrtOptions(),
            TrtOptions(max_batch=16),
            TrtOptions(workspace_mb=256),
            TrtOptions(use_calibrator=True),
        )
    }
    assert len(keys) == 4
    same = TrtOptions(timing_cache=Path("cache.bin")).key_fields() == TrtOptions().key_fields()
    assert same  # the timing cache only saves build time
