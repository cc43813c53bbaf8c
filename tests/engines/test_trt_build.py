"""``build_trt_engine`` and ``build_engine(backend="tensorrt")`` run for real against the TensorRT
stand-in (8.5, 10 and 11 capability sets): the documented call order, each precision's flags, the
legacy calibrator, external weights, the sidecar, and every failing TensorRT call as one line."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edgefer.engines.artifact import file_sha256, read_sidecar
from edgefer.errors import EdgeferError
from tests.engines.fake_tensorrt import FakeGpu, install
from tests.engines.trt_helpers import (
    custom_op_onnx,
    external_weights_onnx,
    face_calibration_set,
    real_faces,
)

MIB = 1 << 20


def _reference(graph: Path, faces: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    return session.run(["probs"], {"face": faces})[0]


def _predict(plan: Path, faces: np.ndarray) -> np.ndarray:
    from edgefer.engines.tensorrt import open_trt_engine

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiny graph carries no edgefer metadata
        with open_trt_engine(plan) as engine:
            return engine.predict({"face": faces})


def _in_order(names: list[str], *wanted: str) -> bool:
    """``wanted`` appear in ``names`` in this order (other calls may come between)."""
    position = 0
    for name in names:
        if position < len(wanted) and name == wanted[position]:
            position += 1
    return position == len(wanted)


BUILD_ORDER = (
    "Builder.create_network",
    "OnnxParser.parse_from_file",
    "Builder.create_builder_config",
    "IBuilderConfig.set_memory_pool_limit",
    "IOptimizationProfile.set_shape",
    "IBuilderConfig.add_optimization_profile",
    "IBuilderConfig.set_timing_cache",
    "Builder.build_serialized_network",
)


@pytest.mark.parametrize(
    ("version", "precision", "graph", "network_flags", "builder_flags"),
    [
        ("8.5", "fp32", "fp32", 1, []),
        ("8.5", "fp16", "fp32", 1, ["FP16"]),
        ("8.5", "int8", "int8", 1, ["FP16", "INT8"]),
        ("10", "fp32", "fp32", 0, []),
        ("10", "fp16", "fp32", 0, ["FP16"]),
        ("10", "int8", "int8", 0, ["FP16", "INT8"]),
        ("11", "fp32", "fp32", 0, []),
        ("11", "fp16", "fp16", 0, []),
        ("11", "int8", "int8", 0, []),
    ],
)
def test_each_tensorrt_builds_with_the_documented_calls_and_runs_the_graph(
    monkeypatch: pytest.MonkeyPatch,
    graphs: dict[str, Path],
    faces: np.ndarray,
    tmp_path: Path,
    version: str,
    precision: str,
    graph: str,
    network_flags: int,
    builder_flags: list[str],
) -> None:
    from edgefer.engines.tensorrt import build_trt_engine

    gpu = install(monkeypatch, version)
    plan = tmp_path / f"tiny.{precision}.plan"
    record = build_trt_engine(
        graphs[graph], plan, precision, max_batch=4, timing_cache=tmp_path / "timing.cache"
    )
    names = gpu.calls.names()
    assert _in_order(names, *BUILD_ORDER), names
    assert "OnnxParser.parse" not in names  # bytes cannot resolve external weights
    assert gpu.calls.of("Builder.create_network") == [{"flags": network_flags}]  # EXPLICIT_BATCH
    assert sorted(c["flag"] for c in gpu.calls.of("IBuilderConfig.set_flag")) == builder_flags
    assert gpu.calls.of("IOptimizationProfile.set_shape") == [
        {"input": "face", "min": [1, 64, 64, 1], "opt": [1, 64, 64, 1], "max": [4, 64, 64, 1]}
    ]
    assert record == read_sidecar(plan)
    assert record["runtime_version"] == gpu.trt.caps.version
    assert record["gpu_name"] == gpu.device.name and record["compute_capability"] == "8.7"
    assert (
        record["source_onnx_sha256"] == record["parsed_onnx_sha256"] == file_sha256(graphs[graph])
    )
    assert (tmp_path / "timing.cache").is_file()
    # The stand-in's engine is the parsed graph run by ONNX Runtime: the same numbers.
    np.testing.assert_allclose(_predict(plan, faces), _reference(graphs[graph], faces), atol=1e-6)


def test_external_weights_resolve_because_the_file_is_parsed(
    fake_gpu: FakeGpu, graphs: dict[str, Path], faces: np.ndarray, tmp_path: Path
) -> None:
    """Defect: ``parser.parse(bytes)`` cannot find weights stored beside the ONNX file."""
    from edgefer.engines.tensorrt import build_trt_engine

    folder = tmp_path / "model"
    folder.mkdir()
    model = external_weights_onnx(graphs["fp32"], folder / "tiny.onnx")
    assert (folder / "tiny.weights").is_file() and model.stat().st_size < 2000
    build_trt_engine(model, tmp_path / "tiny.plan", "fp32", max_batch=2)
    assert fake_gpu.calls.of("OnnxParser.parse_from_file") == [{"model": str(model)}]
    probs = _predict(tmp_path / "tiny.plan", faces[:2])
    np.testing.assert_allclose(probs, _reference(graphs["fp32"], faces[:2]), atol=1e-6)


def test_a_graph_tensorrt_cannot_parse_is_one_line_with_its_reason(
    fake_gpu: FakeGpu, graphs: dict[str, Path], tmp_path: Path
) -> None:
    from edgefer.engines.tensorrt import build_trt_engine

    bad = custom_op_onnx(graphs["fp32"], tmp_path / "custom.onnx")
    with pytest.raises(
        EdgeferError, match=r"could not parse custom\.onnx: .*No importer registered for op"
    ) as info:
        build_trt_engine(bad, tmp_path / "custom.plan", "fp32")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "custom.plan").exists()
    assert fake_gpu.device.device_memory == {} and fake_gpu.device.streams == {}


def test_a_refused_optimisation_profile_is_one_line(
    monkeypatch: pytest.MonkeyPatch, graphs: dict[str, Path], tmp_path: Path
) -> None:
    """Defect: ``add_optimization_profile`` returns -1 on failure, which went unnoticed."""
    from edgefer.engines.tensorrt import build_trt_engine

    gpu = install(monkeypatch, "10", faults=("add_optimization_profile",))
    with pytest.raises(
        EdgeferError, match=r"TensorRT refused the optimisation profile \(face \(1, 64, 64, 1\)"
    ):
        build_trt_engine(graphs["fp32"], tmp_path / "tiny.plan", "fp32", max_batch=4)
    assert "Builder.build_serialized_network" not in gpu.calls.names()
    assert not (tmp_path / "tiny.plan").exists()


def test_a_missing_builder_flag_names_the_flag_and_the_version(
    monkeypatch: pytest.MonkeyPatch, graphs: dict[str, Path], tmp_path: Path
) -> None:
    """Defect: ``getattr(trt.BuilderFlag, name)`` raised a bare AttributeError."""
    from edgefer.engines.tensorrt import build_trt_engine

    install(monkeypatch, "10", missing_flags=("FP16",))
    with pytest.raises(
        EdgeferError, match=r"TensorRT 10\.3\.0 has no builder flag FP16, which a fp16 build"
    ):
        build_trt_engine(graphs["fp32"], tmp_path / "tiny.plan", "fp16")


def test_a_timing_cache_from_another_tensorrt_is_replaced_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, graphs: dict[str, Path], tmp_path: Path
) -> None:
    """Defect: ``set_timing_cache`` returns False for a cache made elsewhere, unchecked. The cache
    only saves build time, so a foreign one is replaced (said), not a failed build."""
    from edgefer.engines.tensorrt import build_trt_engine

    cache = tmp_path / "timing.cache"
    gpu = install(monkeypatch, "10")
    build_trt_engine(graphs["fp32"], tmp_path / "a.plan", "fp32", timing_cache=cache)
    build_trt_engine(graphs["fp32"], tmp_path / "b.plan", "fp32", timing_cache=cache)  # reused
    made = gpu.calls.of("IBuilderConfig.create_timing_cache")
    assert [c["nbytes"] > 0 for c in made] == [False, True]
    old = cache.read_bytes()
    upgraded = install(monkeypatch, "10.4.0", device=gpu.device)  # TensorRT upgraded under it
    gpu.calls.clear()
    with pytest.warns(UserWarning, match=r"refused the timing cache timing\.cache .*new one"):
        build_trt_engine(graphs["fp32"], tmp_path / "c.plan", "fp32", timing_cache=cache)
    assert upgraded.calls.of("IBuilderConfig.set_timing_cache") == [
        {"ignore_mismatch": False},
        {"ignore_mismatch": False},
    ]
    assert cache.read_bytes() != old and b"10.4.0" in cache.read_bytes()


def test_a_refused_new_timing_cache_is_one_line(
    monkeypatch: pytest.MonkeyPatch, graphs: dict[str, Path], tmp_path: Path
) -> None:
    from edgefer.engines.tensorrt import build_trt_engine

    install(monkeypatch, "10", faults=("set_timing_cache",))
    with pytest.raises(EdgeferError, match="refused a new, empty timing cache"):
        build_trt_engine(graphs["fp32"], tmp_path / "a.plan", "fp32")


def test_a_failed_build_is_one_line_and_leaves_no_file(
    monkeypatch: pytest.MonkeyPatch, graphs: dict[str, Path], tmp_path: Path
) -> None:
    from edgefer.engines.tensorrt import build_trt_engine

    install(monkeypatch, "10", faults=("build_serialized_network",))
    with pytest.raises(EdgeferError, match=r"could not build tiny\.plan"):
        build_trt_engine(graphs["fp32"], tmp_path / "tiny.plan", "fp32")
    assert list(tmp_path.iterdir()) == []


def test_tensorrt_11_refuses_precision_the_graph_does_not_carry(
    monkeypatch: pytest.MonkeyPatch, graphs: dict[str, Path], tmp_path: Path
) -> None:
    from edgefer.engines.tensorrt import build_trt_engine

    gpu = install(monkeypatch, "11")
    with pytest.raises(EdgeferError, match="strongly typed: fp16 must come from the ONNX"):
        build_trt_engine(graphs["fp32"], tmp_path / "tiny.plan", "fp16")
    with pytest.raises(EdgeferError, match="no calibrator"):
        build_trt_engine(graphs["fp32"], tmp_path / "tiny.plan", "int8", use_calibrator=True)
    assert "Builder" not in gpu.calls.names()  # refused before TensorRT is asked


# ----------------------------------------------------------------------------------- calibrator
@pytest.mark.parametrize("version", ["8.5", "10"])
def test_legacy_calibrator_feeds_real_batches_then_reuses_its_cache(
    monkeypatch: pytest.MonkeyPatch,
    graphs: dict[str, Path],
    faces: np.ndarray,
    fer_dir: Path,
    tmp_path: Path,
    version: str,
) -> None:
    from edgefer.engines.tensorrt import build_trt_engine

    gpu = install(monkeypatch, version)
    calib = face_calibration_set(real_faces(fer_dir, 32))
    out = tmp_path / "calibrated.plan"
    kwargs = {"calib": calib, "max_batch": 4, "use_calibrator": True, "calib_batch": 8}
    record = build_trt_engine(graphs["fp32"], out, "int8", **kwargs)
    assert gpu.trt.calibration_batches == 4  # 32 faces in batches of 8, read from the device
    assert record["calibration_digest"] == calib.digest
    assert record["build_plan"]["builder"] == ["INT8", "FP16"]
    assert gpu.calls.of("IBuilderConfig.set_calibration_profile") == [
        {"shapes": {"face": ([8, 64, 64, 1], [8, 64, 64, 1], [8, 64, 64, 1])}}
    ]
    names = gpu.calls.names()
    assert _in_order(
        names,
        "IBuilderConfig.add_optimization_profile",
        "IBuilderConfig.set_calibration_profile",
        "IBuilderConfig.int8_calibrator",
        "Builder.build_serialized_network",
    )
    caches = list(tmp_path.glob(f"trt-calib-{calib.digest}-*.cache"))
    assert len(caches) == 1
    scales = caches[0].read_bytes().split(b"\n")[2].decode()
    assert scales.startswith("face: ") and float(scales.split(": ")[1]) > 0  # real pixel range
    build_trt_engine(graphs["fp32"], out, "int8", **kwargs)
    assert gpu.trt.calibration_batches == 4  # the second build read the cache instead
    np.testing.assert_allclose(_predict(out, faces), _reference(graphs["fp32"], faces), atol=1e-6)


def test_a_calibration_batch_that_fails_is_reported_after_the_build(
    fake_gpu: FakeGpu, graphs: dict[str, Path], fer_dir: Path, tmp_path: Path
) -> None:
    """An exception inside TensorRT's callback cannot cross its C++ caller: it is kept and
    raised once the build returns."""
    from edgefer.engines.tensorrt import build_trt_engine

    calib = face_calibration_set(real_faces(fer_dir, 16))
    shrunk = calib.batches

    def short_batches(batch_size: int, names: object = None):  # one sample short of a batch
        for batch in shrunk(batch_size, names):
            yield {k: v[:-1] for k, v in batch.items()}

    calib.batches = short_batches  # type: ignore[method-assign]
    with pytest.raises(EdgeferError, match=r"calibration failed: .* has 7 samples, expected 8"):
        build_trt_engine(
            graphs["fp32"], tmp_path / "c.plan", "int8", calib=calib, use_calibrator=True
        )
    assert fake_gpu.trt.calibration_batches == 0


# ------------------------------------------------------------------------- build_engine's record
@pytest.fixture(scope="module")
def middle_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped middle-fusion export (face + voice), copied so builds can write beside it."""
    from edgefer.shipped import shipped_path

    folder = tmp_path_factory.mktemp("middle")
    target = folder / "middle.onnx"
    target.write_bytes(shipped_path("middle", ".onnx").read_bytes())
    return target


def test_tensorrt_sidecar_names_the_export_not_the_fp16_graph_it_parsed(
    fake_gpu: FakeGpu, middle_copy: Path, tmp_path: Path
) -> None:
    """Defect: the builder's ``source_onnx_sha256`` (the hash of the FP16 or Q/DQ graph it
    parsed) overwrote the export's in the engine's sidecar."""
    from edgefer.engines.build import build_engine

    result = build_engine(
        middle_copy, "fp16", "tensorrt", engines_dir=tmp_path, heldout_per_class=2, max_drop=100
    )
    record = read_sidecar(result.path)
    graph = Path(record["graph_onnx"])
    assert graph.is_file() and graph != middle_copy
    assert record["source_onnx_sha256"] == file_sha256(middle_copy)
    assert record["parsed_onnx_sha256"] == file_sha256(graph) != file_sha256(middle_copy)
    assert record["runtime"] == "tensorrt" and record["report"]["n"] > 0
    assert fake_gpu.calls.of("OnnxParser.parse_from_file") == [{"model": str(graph)}]


def test_rebuild_on_mismatch_keeps_the_original_build_options(
    monkeypatch: pytest.MonkeyPatch, middle_copy: Path, tmp_path: Path
) -> None:
    """Defect: the rebuild of a plan that no longer fits dropped max batch, workspace and the
    rest of the original build options. Here TensorRT is upgraded under an existing plan, and
    opening it as ``edgefer run`` does rebuilds it with the options it was built with."""
    from edgefer.engines.build import TrtOptions, build_engine
    from edgefer.engines.rebuild import open_or_rebuild

    gpu = install(monkeypatch, "10")
    options = TrtOptions(max_batch=4, workspace_mb=64, timing_cache=tmp_path / "timing.cache")
    built = build_engine(
        middle_copy, "fp32", "tensorrt", engines_dir=tmp_path, heldout_per_class=2,
        max_drop=100, trt=options,
    )  # fmt: skip
    first = read_sidecar(built.path)
    assert first["max_batch"] == 4 and first["workspace_bytes"] == 64 * MIB

    upgraded = install(monkeypatch, "10.4.0", device=gpu.device)
    gpu.calls.clear()
    with pytest.warns(UserWarning) as seen:
        engine = open_or_rebuild(built.path)
    said = [str(w.message) for w in seen]
    assert any("does not fit this machine (" in m and "runtime_version" in m for m in said)
    with engine:
        assert engine.backend == "tensorrt" and set(engine.inputs) == {"face", "voice"}
    again = read_sidecar(built.path)
    assert again["runtime_version"] == "10.4.0" and again["max_batch"] == 4
    assert again["workspace_bytes"] == 64 * MIB and again["heldout_per_class"] == 2
    assert upgraded.calls.of("IBuilderConfig.set_memory_pool_limit")[0]["pool_size"] == 64 * MIB
    shapes = upgraded.calls.of("IOptimizationProfile.set_shape")
    assert {s["input"]: s["max"][0] for s in shapes} == {"face": 4, "voice": 4}
    assert again["report"]["n"] == first["report"]["n"]  # the same held-out check
    assert again["timing_cache"] == str(options.timing_cache)
    assert any("refused the timing cache" in m for m in said)  # the old TensorRT's timings


def test_calibrator_needs_a_set_and_a_calibration_profile_tensorrt_takes(
    monkeypatch: pytest.MonkeyPatch, graphs: dict[str, Path], fer_dir: Path, tmp_path: Path
) -> None:
    from edgefer.engines.tensorrt import build_trt_engine

    install(monkeypatch, "10")
    with pytest.raises(EdgeferError, match="--use-calibrator needs a calibration set"):
        build_trt_engine(graphs["fp32"], tmp_path / "c.plan", "int8", use_calibrator=True)
    gpu = install(monkeypatch, "10", faults=("set_calibration_profile",))
    calib = face_calibration_set(real_faces(fer_dir, 16))
    with pytest.raises(EdgeferError, match="refused the calibration profile of batch 8"):
        build_trt_engine(
            graphs["fp32"], tmp_path / "c.plan", "int8", calib=calib, use_calibrator=True
        )
    assert gpu.device.device_memory == {}  # the calibration buffers were freed
