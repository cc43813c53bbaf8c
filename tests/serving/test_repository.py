"""``edgefer export --format triton``: every config.pbtxt parsed with Triton's own schema
(tritonclient's ``model_config_pb2``) and checked against the shipped ONNX it serves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from edgefer.engines.artifact import file_sha256, write_sidecar
from edgefer.engines.onnx_inspect import onnx_input_shapes
from edgefer.engines.trt_plan import profile_shapes
from edgefer.engines.trt_sidecar import engine_sidecar_expectations
from edgefer.errors import EdgeferError
from edgefer.onnx_meta import graph_specs, load_onnx, model_metadata
from edgefer.serving import METADATA_PARAMETER
from edgefer.serving.repository import RepoOptions, write_triton_model
from edgefer.serving.repository_check import check_repository
from edgefer.shipped import shipped_path
from tests.cli_helpers import error_lines, run_cli


def _config(path: Path) -> pb.ModelConfig:
    return text_format.Parse(path.read_text(), pb.ModelConfig())


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """One repository holding middle and face, written by the command a user runs."""
    folder = tmp_path_factory.mktemp("repo")
    for variant in ("middle", "face"):
        result = run_cli("export", variant, "--format", "triton", "-o", str(folder))
        assert result.returncode == 0, result.stderr[-2000:]
        assert "every config.pbtxt parses" in result.stdout
        assert f"{variant}/config.pbtxt" in result.stdout
    return folder


@pytest.mark.parametrize("variant", ["middle", "face"])
def test_each_config_parses_and_matches_its_onnx(repo, variant):
    source = shipped_path(variant, ".onnx")
    model = load_onnx(source)
    inputs, outputs = graph_specs(model)
    meta = model_metadata(model, source.name)
    config = _config(repo / variant / "config.pbtxt")
    assert config.name == variant and config.platform == "onnxruntime_onnx"
    assert config.max_batch_size == 8
    assert [(t.name, list(t.dims)) for t in config.input] == [
        (n, list(s.shape[1:])) for n, s in inputs.items()
    ]
    assert (
        [(t.name, list(t.dims), t.label_filename) for t in config.output]
        == [("probs", [3], "labels.txt")]
        == [(n, list(s.shape[1:]), "labels.txt") for n, s in outputs.items()]
    )
    assert all(t.data_type == pb.TYPE_FP32 for t in (*config.input, *config.output))
    assert (repo / variant / "labels.txt").read_text().splitlines() == meta["class_names"]
    assert json.loads(config.parameters[METADATA_PARAMETER].string_value) == meta
    assert (repo / variant / "1" / "model.onnx").read_bytes() == source.read_bytes()
    assert config.dynamic_batching.max_queue_delay_microseconds == 100
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8]
    assert [(g.count, g.kind) for g in config.instance_group] == [
        (1, pb.ModelInstanceGroup.KIND_GPU)
    ]
    accelerators = config.optimization.execution_accelerators.gpu_execution_accelerator
    assert [(a.name, dict(a.parameters)) for a in accelerators] == [
        ("tensorrt", {"precision_mode": "FP16"})
    ]
    assert check_repository(repo) == []


def test_middle_takes_both_inputs_and_face_one(repo):
    """The two models differ, so a config copied from the other one would be caught."""
    assert [t.name for t in _config(repo / "middle" / "config.pbtxt").input] == ["face", "voice"]
    assert [t.name for t in _config(repo / "face" / "config.pbtxt").input] == ["face"]


def test_a_cpu_repository_has_no_gpu_accelerator(tmp_path):
    options = RepoOptions(max_batch=16, max_queue_delay_us=500, instances=2, kind="cpu")
    written = write_triton_model(shipped_path("voice", ".onnx"), tmp_path, "voice", options)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "voice/1/model.onnx",
        "voice/config.pbtxt",
        "voice/labels.txt",
    ]
    config = _config(tmp_path / "voice" / "config.pbtxt")
    assert [(g.count, g.kind) for g in config.instance_group] == [
        (2, pb.ModelInstanceGroup.KIND_CPU)
    ]
    assert not config.optimization.execution_accelerators.gpu_execution_accelerator
    assert config.max_batch_size == 16
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 16]
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
    auto = RepoOptions(kind="auto")
    write_triton_model(shipped_path("voice", ".onnx"), tmp_path, "voice_auto", auto)
    config = _config(tmp_path / "voice_auto" / "config.pbtxt")
    assert [g.kind for g in config.instance_group] == [pb.ModelInstanceGroup.KIND_AUTO]
    assert not config.optimization.execution_accelerators.gpu_execution_accelerator
    assert check_repository(tmp_path) == []


def test_a_misspelt_field_a_changed_shape_or_wrong_labels_are_reported(tmp_path):
    write_triton_model(shipped_path("face", ".onnx"), tmp_path, "face")
    config, labels = tmp_path / "face" / "config.pbtxt", tmp_path / "face" / "labels.txt"
    text = config.read_text()
    config.write_text(text.replace("max_batch_size", "max_bach_size"))
    problems = check_repository(tmp_path)
    assert len(problems) == 1 and problems[0].startswith("face: config.pbtxt does not parse")
    assert "max_bach_size" in problems[0]
    config.write_text(text.replace("dims: 64", "dims: 96", 1))
    problems = check_repository(tmp_path)
    assert len(problems) == 1 and "do not match the ONNX" in problems[0]
    config.write_text(text)
    labels.write_text("negative\npositive\nneutral\n")
    problems = check_repository(tmp_path)
    assert len(problems) == 1 and "labels.txt" in problems[0]


def test_a_config_whose_metadata_is_not_its_onnxs_is_reported(tmp_path):
    """A client trusts the served metadata for its preprocessing: it must be the ONNX's own."""
    write_triton_model(shipped_path("face", ".onnx"), tmp_path, "face")
    write_triton_model(shipped_path("middle", ".onnx"), tmp_path, "middle")
    face = _config(tmp_path / "face" / "config.pbtxt")
    middle = _config(tmp_path / "middle" / "config.pbtxt")
    face.parameters[METADATA_PARAMETER].string_value = middle.parameters[
        METADATA_PARAMETER
    ].string_value
    (tmp_path / "face" / "config.pbtxt").write_text(text_format.MessageToString(face))
    assert check_repository(tmp_path) == [
        f"face: {METADATA_PARAMETER} is not the metadata inside model.onnx"
    ]


def test_a_missing_repository_is_an_error(tmp_path):
    with pytest.raises(EdgeferError, match="no model repository"):
        check_repository(tmp_path / "nothing")
    assert check_repository(tmp_path) == [f"{tmp_path}: no model folder with a config.pbtxt"]


def test_an_onnx_without_a_batch_axis_is_refused(tmp_path):
    model = onnx.load(str(shipped_path("face", ".onnx")))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    del model.metadata_props[:]  # else its metadata, which says N, refuses it first
    fixed = tmp_path / "fixed.onnx"
    onnx.save(model, str(fixed))
    with (
        pytest.warns(UserWarning, match="no edgefer metadata"),
        pytest.raises(EdgeferError, match=r"face\[1, 64, 64, 1\] float32 has no dynamic batch"),
    ):
        write_triton_model(fixed, tmp_path / "repo")
    assert not (tmp_path / "repo").exists()


def _fake_plan(folder: Path, onnx_path: Path, max_batch: int) -> Path:
    """A stand-in for a TensorRT plan of ``onnx_path`` (TensorRT cannot run here) with the sidecar
    build-engine writes beside a real one (the same record functions build it): the repository
    reads the source hash, profile and precision from it."""
    plan = folder / f"{onnx_path.stem}-tensorrt-fp16-0123.plan"
    plan.write_bytes(b"not a real plan: the repository only copies it")
    shapes = onnx_input_shapes(onnx.load(str(onnx_path)))
    info = engine_sidecar_expectations(
        source_onnx_sha256=file_sha256(onnx_path),
        precision="fp16",
        input_shapes=shapes,
        profile=profile_shapes(shapes, max_batch),
        calibration_digest=None,
        tensorrt_version="10.3.0",
        gpu_name="NVIDIA H200",
        compute_capability="9.0",
    )
    write_sidecar(plan, {**info, "max_batch": max_batch})
    return plan


def test_a_plan_is_served_within_its_profile(tmp_path):
    source = shipped_path("middle", ".onnx")
    plan = _fake_plan(tmp_path, source, max_batch=4)
    repo = tmp_path / "repo"
    write_triton_model(source, repo, "middle", RepoOptions(max_batch=4), plan=plan)
    config = _config(repo / "middle_trt" / "config.pbtxt")
    onnx_config = _config(repo / "middle" / "config.pbtxt")
    assert config.platform == "tensorrt_plan" and config.max_batch_size == 4
    assert list(config.input) == list(onnx_config.input)
    assert list(config.output) == list(onnx_config.output)
    assert [g.kind for g in config.instance_group] == [pb.ModelInstanceGroup.KIND_GPU]
    assert not config.optimization.execution_accelerators.gpu_execution_accelerator
    served = json.loads(config.parameters[METADATA_PARAMETER].string_value)
    assert served["precision"] == "fp16" and served["max_batch"] == 4
    assert (
        served["class_names"]
        == json.loads(onnx_config.parameters[METADATA_PARAMETER].string_value)["class_names"]
    )
    assert (repo / "middle_trt" / "1" / "model.plan").read_bytes() == plan.read_bytes()
    assert check_repository(repo) == []
    text = (repo / "middle_trt" / "config.pbtxt").read_text()
    (repo / "middle_trt" / "config.pbtxt").write_text(
        text.replace("max_batch_size: 4", "max_batch_size: 8")
    )
    assert check_repository(repo) == ["middle_trt: max_batch_size 8 exceeds the plan's profile 4"]


def test_a_batch_beyond_the_plans_profile_is_one_line_and_writes_nothing(tmp_path):
    plan = _fake_plan(tmp_path, shipped_path("middle", ".onnx"), max_batch=4)
    result = run_cli(
        "export", "middle", "--format", "triton", "-o", str(tmp_path / "repo"),
        "--max-batch", "8", "--plan", str(plan),
    )  # fmt: skip
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "exceeds the plan's profile (batches 1..4)" in lines[0]
    assert not (tmp_path / "repo").exists()


def test_a_plan_of_another_model_is_refused(tmp_path):
    plan = _fake_plan(tmp_path, shipped_path("face", ".onnx"), max_batch=8)
    with pytest.raises(EdgeferError, match="was built from another model"):
        write_triton_model(shipped_path("middle", ".onnx"), tmp_path / "repo", plan=plan)
    plan.write_bytes(b"replaced after the build")
    with pytest.raises(EdgeferError, match="does not match its metadata"):
        write_triton_model(shipped_path("face", ".onnx"), tmp_path / "repo", plan=plan)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["nosuch.onnx", "--format", "triton", "-o", "REPO"], "ONNX model not found"),
        (["nosuch", "--format", "triton", "-o", "REPO"], "not a run folder, .keras, .onnx"),
        (["NOTES", "--format", "triton", "-o", "REPO"], "not a run folder, .keras, .onnx"),
        (["middle", "--format", "triton"], "give it with -o REPO"),
        (["middle", "--format", "tflite", "-o", "REPO"], "unknown --format"),
        (["middle", "--format", "triton", "-o", "REPO", "--kind", "tpu"], "unknown --kind"),
        (["middle", "--format", "triton", "-o", "REPO", "--max-batch", "0"], "--max-batch"),
        (["middle", "--format", "triton", "-o", "REPO", "--name", ".."], "a model name"),
        (["middle", "--format", "triton", "-o", "REPO", "--plan", "x.txt"], "--plan takes"),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, words):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model\n")
    swap = {"REPO": str(tmp_path / "repo"), "NOTES": str(notes)}
    result = run_cli("export", *(swap.get(a, a) for a in args))
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert not (tmp_path / "repo").exists()


def test_a_rerun_updates_the_same_model_and_another_needs_force(tmp_path):
    repo = tmp_path / "repo"
    first = run_cli("export", "face", "--format", "triton", "-o", str(repo))
    again = run_cli("export", "face", "--format", "triton", "-o", str(repo), "--max-batch", "2")
    assert first.returncode == 0 and again.returncode == 0, again.stderr
    assert _config(repo / "face" / "config.pbtxt").max_batch_size == 2
    other = run_cli("export", "voice", "--format", "triton", "-o", str(repo), "--name", "face")
    assert other.returncode == 2
    assert "already holds another model" in error_lines(other)[0]
    assert (repo / "face" / "1" / "model.onnx").read_bytes() == shipped_path(
        "face", ".onnx"
    ).read_bytes()
    (repo / "face" / "2").mkdir()  # a stale version that --force must not leave behind
    forced = run_cli(
        "export", "voice", "--format", "triton", "-o", str(repo), "--name", "face", "--force"
    )
    assert forced.returncode == 0, forced.stderr
    assert not (repo / "face" / "2").exists()
    assert [t.name for t in _config(repo / "face" / "config.pbtxt").input] == ["voice"]


@pytest.mark.slow  # converts the Keras model to ONNX (tf2onnx) and checks parity
def test_a_keras_model_is_exported_first_and_its_folder_left_alone(tmp_path):
    """MODEL as Keras: converted (with the parity check) into a temporary file, not beside it."""
    source = tmp_path / "src"
    source.mkdir()
    for suffix in (".keras", ".spec.json"):
        shutil.copy(shipped_path("face", suffix), source / f"face{suffix}")
    result = run_cli(
        "export", str(source / "face.keras"), "--format", "triton", "-o", str(tmp_path / "repo"),
        "--parity-samples", "20",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "argmax agreement 100.0%" in result.stdout
    assert sorted(p.name for p in source.iterdir()) == ["face.keras", "face.spec.json"]
    config = _config(tmp_path / "repo" / "face" / "config.pbtxt")
    assert [(t.name, list(t.dims)) for t in config.input] == [("face", [64, 64, 1])]
    assert check_repository(tmp_path / "repo") == []
