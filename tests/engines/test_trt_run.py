"""``TrtEngine`` loads and runs a plan for real against the TensorRT and CUDA stand-ins: the
documented call order, one logger per process, the metadata the live loop reads, every failing
call as one line; and the users of a plan: ``edgefer run --engine X.plan`` on a real clip and the
memory benchmark's fresh-process measurement on a machine without ONNX Runtime."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edgefer.engines.artifact import read_sidecar, write_sidecar
from edgefer.errors import EdgeferError
from tests.engines.fake_tensorrt import FakeGpu, install

CLIP = "1001_DFA_ANG_XX.flv"  # CREMA-D: an actor speaking, with the sound track


def _quiet_engine(path: Path, **kwargs: object):
    """A TrtEngine of a plan built from the tiny graph (which has no edgefer metadata, so the
    assumed-metadata warning is expected and silenced)."""
    from edgefer.engines.tensorrt import TrtEngine

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TrtEngine(path, **kwargs)


def _build(graph: Path, plan: Path, precision: str = "fp32", max_batch: int = 4) -> Path:
    from edgefer.engines.tensorrt import build_trt_engine

    build_trt_engine(graph, plan, precision, max_batch=max_batch)
    return plan


RUN_ORDER = (
    "Runtime.deserialize_cuda_engine",
    "ICudaEngine.create_execution_context",
    "IExecutionContext.set_tensor_address",
    "IExecutionContext.set_input_shape",
    "cudaMemcpyAsync",
    "IExecutionContext.execute_async_v3",
    "cudaMemcpyAsync",
    "cudaStreamSynchronize",
)


def _in_order(names: list[str], *wanted: str) -> bool:
    position = 0
    for name in names:
        if position < len(wanted) and name == wanted[position]:
            position += 1
    return position == len(wanted)


@pytest.mark.parametrize(
    ("version", "binding"),
    [("8.5", "pycuda"), ("8.5", "cuda-python"), ("10", "cuda-python"), ("11", "cuda-python")],
)
def test_load_and_run_follow_the_documented_calls_in_batches_of_the_profile(
    monkeypatch: pytest.MonkeyPatch,
    graphs: dict[str, Path],
    faces: np.ndarray,
    tmp_path: Path,
    version: str,
    binding: str,
) -> None:
    from edgefer.engines.gpu_buffers import available_bindings

    gpu = install(monkeypatch, version, binding=binding)
    assert available_bindings() == [binding]
    plan = _build(graphs["fp32"], tmp_path / "tiny.plan", max_batch=4)
    gpu.calls.clear()
    with _quiet_engine(plan) as engine:
        probs = engine.predict({"face": faces})  # 6 faces, profile up to 4: two runs
        names = gpu.calls.names()
    assert _in_order(names, *RUN_ORDER), names
    addresses = gpu.calls.of("IExecutionContext.set_tensor_address")
    assert [a["name"] for a in addresses] == ["face", "probs"]
    assert all(gpu.device.is_device_pointer(a["memory"]) or a["memory"] in gpu.device.freed
               for a in addresses)  # fmt: skip
    shapes = [c["shape"] for c in gpu.calls.of("IExecutionContext.set_input_shape")]
    assert shapes == [[4, 64, 64, 1], [2, 64, 64, 1]]
    assert names.count("IExecutionContext.execute_async_v3") == 2
    assert "IExecutionContext.execute_async_v2" not in names  # not even on 8.5, which has it
    # every run synchronises after its output copy, before the result is read
    last_copy = max(i for i, n in enumerate(names) if n == "cudaMemcpyAsync")
    assert names.index("cudaStreamSynchronize", last_copy) > last_copy
    session = ort.InferenceSession(str(graphs["fp32"]), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(probs, session.run(["probs"], {"face": faces})[0], atol=1e-6)
    assert gpu.device.device_memory == {} and gpu.device.pinned_memory == {}  # closed: freed
    if binding == "pycuda":
        assert gpu.cudart.contexts == []  # every push popped
    else:
        assert gpu.device.streams == {}


def test_one_tensorrt_logger_serves_every_builder_and_runtime_of_the_process(
    fake_gpu: FakeGpu, graphs: dict[str, Path], tmp_path: Path
) -> None:
    """Defect: a new ``trt.Logger`` was made per builder and per runtime."""
    plan = _build(graphs["fp32"], tmp_path / "a.plan")
    _build(graphs["fp32"], tmp_path / "b.plan")
    for _ in range(2):
        _quiet_engine(plan).close()
    names = fake_gpu.calls.names()
    assert names.count("Builder") == 2 and names.count("Runtime") == 2
    assert names.count("Logger") == 1
    assert fake_gpu.calls.of("Logger") == [{"min_severity": "WARNING"}]


def test_a_refused_tensor_address_is_one_line_and_frees_the_buffers(
    monkeypatch: pytest.MonkeyPatch, graphs: dict[str, Path], tmp_path: Path
) -> None:
    """Defect: ``set_tensor_address`` returns False on failure, which went unchecked."""
    install(monkeypatch, "10")
    plan = _build(graphs["fp32"], tmp_path / "tiny.plan")
    gpu = install(monkeypatch, "10", faults=("set_tensor_address",))
    with pytest.raises(EdgeferError, match=r"refused the device buffer of 'face' in tiny\.plan"):
        _quiet_engine(plan)
    assert gpu.device.device_memory == {} and gpu.device.streams == {}


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("set_input_shape", r"refused input 'face' of shape \(2, 64, 64, 1\)"),
        ("execute_async_v3", "inference failed"),
    ],
)
def test_a_failing_run_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    graphs: dict[str, Path],
    faces: np.ndarray,
    tmp_path: Path,
    fault: str,
    message: str,
) -> None:
    install(monkeypatch, "10")
    plan = _build(graphs["fp32"], tmp_path / "tiny.plan")
    install(monkeypatch, "10", faults=(fault,))
    with _quiet_engine(plan) as engine, pytest.raises(EdgeferError, match=message):
        engine.predict({"face": faces[:2]})


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("deserialize_cuda_engine", r"could not load tiny\.plan; rebuild it"),
        ("create_execution_context", r"could not make an execution context for tiny\.plan"),
    ],
)
def test_a_plan_tensorrt_will_not_load_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    graphs: dict[str, Path],
    tmp_path: Path,
    fault: str,
    message: str,
) -> None:
    install(monkeypatch, "10")
    plan = _build(graphs["fp32"], tmp_path / "tiny.plan")
    gpu = install(monkeypatch, "10", faults=(fault,))
    with pytest.raises(EdgeferError, match=message):
        _quiet_engine(plan)
    assert gpu.device.device_memory == {}


def test_a_closed_engine_says_so(
    fake_gpu: FakeGpu, graphs: dict[str, Path], faces: np.ndarray, tmp_path: Path
) -> None:
    engine = _quiet_engine(_build(graphs["fp32"], tmp_path / "tiny.plan"))
    engine.close()
    engine.close()  # twice is fine
    with pytest.raises(EdgeferError, match=r"tiny\.plan is closed"):
        engine.predict({"face": faces[:1]})


def test_a_plan_from_another_gpu_is_refused_naming_the_key_and_a_real_command(
    monkeypatch: pytest.MonkeyPatch, graphs: dict[str, Path], tmp_path: Path
) -> None:
    """Defect: the message told users to pass --rebuild-on-mismatch, which no command has."""
    from typer.main import get_command

    from edgefer.cli import app
    from edgefer.engines.open import open_engine
    from tests.engines.fake_cuda import FakeDevice

    install(monkeypatch, "10")
    plan = _build(graphs["fp32"], tmp_path / "tiny.plan")
    install(monkeypatch, "10", device=FakeDevice(name="NVIDIA GeForce RTX 3060"))
    with pytest.raises(EdgeferError, match=r"gpu_name: 'Fake Orin \(stand-in\)'") as info:
        open_engine(plan)  # what bench does: no rebuild
    text = str(info.value)
    assert "--rebuild-on-mismatch" not in text
    command = f"edgefer build-engine {graphs['fp32'].resolve()} --backend tensorrt"
    assert command in text and f"--precision fp32 --output {plan} --force" in text
    options = {
        opt
        for param in get_command(app).commands["build-engine"].params
        for opt in getattr(param, "opts", [])
    }
    assert {"--backend", "--precision", "--output", "--force"} <= options


def test_a_plan_whose_sidecar_lies_about_it_is_refused_by_tensorrt(
    fake_gpu: FakeGpu, graphs: dict[str, Path], tmp_path: Path
) -> None:
    plan = _build(graphs["fp32"], tmp_path / "tiny.plan")
    record = read_sidecar(plan)
    plan.write_bytes(b"not a plan at all")
    write_sidecar(plan, {k: v for k, v in record.items() if k not in ("file_sha256", "size_bytes")})
    with pytest.raises(EdgeferError, match="could not load tiny.plan"):
        _quiet_engine(plan)


# -------------------------------------------------------------------------- metadata and users
@pytest.fixture
def middle_plan(fake_gpu: FakeGpu, tmp_path: Path) -> Path:
    """The shipped middle-fusion export built into a TensorRT plan through the stand-in."""
    from edgefer.engines.tensorrt import build_trt_engine
    from edgefer.shipped import shipped_path

    plan = tmp_path / "middle.plan"
    build_trt_engine(shipped_path("middle", ".onnx"), plan, "fp32", max_batch=4)
    return plan


def test_a_plan_exposes_its_metadata_as_an_onnx_engine_does(middle_plan: Path) -> None:
    """Defect: ``TrtEngine.metadata`` was the sidecar, so the live loop's and the benchmarks'
    ``spec_of_engine`` raised KeyError('preprocess') on a plan."""
    from edgefer.engines.onnxruntime import OrtEngine
    from edgefer.engines.tensorrt import TrtEngine
    from edgefer.live.engines import shared_voice_spec, spec_of_engine
    from edgefer.shipped import shipped_path, shipped_spec

    with TrtEngine(middle_plan) as plan, OrtEngine(shipped_path("middle", ".onnx")) as ort_engine:
        assert spec_of_engine(plan) == spec_of_engine(ort_engine) == shipped_spec("middle")
        assert plan.metadata["class_names"] == ort_engine.metadata["class_names"]
        assert plan.metadata["inputs"] == ort_engine.metadata["inputs"]
        assert plan.metadata["precision"] == "fp32" and plan.precision == "fp32"
        assert shared_voice_spec({"fused": plan}) == shipped_spec("middle")
        assert plan.sidecar["runtime"] == "tensorrt" and plan.path == middle_plan
        inputs = {
            name: np.random.default_rng(0).random((3, *spec.shape[1:]), dtype=np.float32)
            for name, spec in plan.inputs.items()
        }
        np.testing.assert_allclose(plan.predict(inputs), ort_engine.predict(inputs), atol=1e-5)


def test_edgefer_run_with_a_plan_on_a_real_clip(
    middle_plan: Path, fake_gpu: FakeGpu, data_dir: Path
) -> None:
    """``edgefer run --engine middle.plan`` on a CREMA-D clip with its own sound track: the
    live loop opens the plan as it does for ``--engine`` and runs every inference on it."""
    from edgefer.live.loop import RunConfig, run_live
    from edgefer.shipped import shipped_spec

    clip = data_dir / "av" / "cremad" / CLIP
    config = RunConfig(
        camera=str(clip), engine=middle_plan, mic="video", realtime=False, show=False
    )
    summary = run_live(config)
    assert summary.frames > 60 and summary.inferences > 0
    assert "tensorrt fp32" in summary.engines["fused"]
    fused = [r for r in summary.records if r["engine"] == "fused"]
    classes = list(shipped_spec("middle").class_names)
    assert fused and all(list(r["probs"]) == classes for r in fused)
    assert {r["label"] for r in fused} <= set(classes)
    runs = fake_gpu.calls.names().count("IExecutionContext.execute_async_v3")
    assert runs == len(fused)  # every fused prediction was a TensorRT run


def test_the_memory_benchmark_measures_a_plan_without_onnxruntime(
    middle_plan: Path, fake_gpu: FakeGpu, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect: ``bench/memory.py`` imported ONNX Runtime for TensorRT rows, so a TensorRT-only
    Jetson failed there. Here ONNX Runtime cannot be imported (the stand-in keeps its own)."""
    from edgefer.bench.memory import measure_here

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError):
        import onnxruntime  # noqa: F401
    figures = measure_here("tensorrt", str(middle_plan), 2, None, calls=2)
    assert figures["load_s"] > 0 and figures["first_call_ms"] > 0
    assert fake_gpu.calls.names().count("IExecutionContext.execute_async_v3") == 3


def test_open_trt_engine_checks_expectations_and_rebuilds_once_when_asked(
    fake_gpu: FakeGpu, graphs: dict[str, Path], faces: np.ndarray, tmp_path: Path
) -> None:
    from edgefer.engines.tensorrt import open_trt_engine

    plan = _build(graphs["fp32"], tmp_path / "tiny.plan")
    with pytest.raises(EdgeferError, match=r"precision: 'fp32' != 'fp16'"):
        open_trt_engine(plan, expected={"precision": "fp16"})
    assert fake_gpu.device.device_memory == {}
    rebuilt = []

    def rebuild() -> None:  # what a caller passes: build the plan again, as fp16
        rebuilt.append(1)
        _build(graphs["fp32"], plan, "fp16")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = open_trt_engine(
            plan, expected={"precision": "fp16"}, rebuild_on_mismatch=True, rebuild=rebuild
        )
    with engine:
        assert rebuilt == [1] and engine.precision == "fp16"
        assert engine.predict({"face": faces[:1]}).shape == (1, 3)
