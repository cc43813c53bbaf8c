"""``edgefer export --format triton``: every config.pbtxt parsed with Triton's own schema
(tritonclient's ``model_config_pb2``) and checked against the shipped ONNX it serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from edgefer.engines.artifact import write_sidecar
from edgefer.engines.onnxruntime import OrtEngine
from edgefer.serving import METADATA_PARAMETER
from edgefer.serving.repository import RepoOptions, check_repository, write_triton_model
from edgefer.shipped import shipped_path
from tests.cli_helpers import error_lines, run_cli


def _config(path: Path) -> pb.ModelConfig:
    return text_format.Parse(path.read_text(), pb.ModelConfig())


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("repo")
    for variant in ("middle", "face"):
        result = run_cli("export", variant, "--format", "triton", "-o", str(folder))
        assert result.returncode == 0, result.stderr[-2000:]
        assert "every config.pbtxt parses" in result.stdout
    return folder


@pytest.mark.parametrize("variant", ["middle", "face"])
def test_each_config_parses_and_matches_its_onnx(repo, variant):
    config = _config(repo / variant / "config.pbtxt")
    with OrtEngine(shipped_path(variant, ".onnx")) as local:
        assert config.name == variant and config.platform == "onnxruntime_onnx"
        assert config.max_batch_size == 8
        assert {t.name: list(t.dims) for t in config.input} == {
            n: list(s.shape[1:]) for n, s in local.inputs.items()
        }
        assert all(t.data_type == pb.TYPE_FP32 for t in (*config.input, *config.output))
        assert [(t.name, list(t.dims), t.label_filename) for t in config.output] == [
            ("probs", [3], "labels.txt")
        ]
        labels = (repo / variant / "labels.txt").read_text().split()
        assert labels == local.metadata["class_names"]
        served = json.loads(config.parameters[METADATA_PARAMETER].string_value)
        assert served["spec_digest"] == local.metadata["spec_digest"]
        assert served["class_names"] == local.metadata["class_names"]
    assert (repo / variant / "1" / "model.onnx").read_bytes() == shipped_path(
        variant, ".onnx"
    ).read_bytes()
    assert config.dynamic_batching.max_queue_delay_microseconds == 100
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8]
    assert [(g.count, g.kind) for g in config.instance_group] == [
        (1, pb.ModelInstanceGroup.KIND_GPU)
    ]
    accelerator = config.optimization.execution_accelerators.gpu_execution_accelerator[0]
    assert accelerator.name == "tensorrt" and accelerator.parameters["precision_mode"] == "FP16"
    assert check_repository(repo) == []


def test_a_cpu_repository_has_no_gpu_accelerator(tmp_path):
    options = RepoOptions(max_batch=16, max_queue_delay_us=500, instances=2, kind="cpu")
    write_triton_model(shipped_path("voice", ".onnx"), tmp_path, "voice", options)
    config = _config(tmp_path / "voice" / "config.pbtxt")
    assert [(g.count, g.kind) for g in config.instance_group] == [
        (2, pb.ModelInstanceGroup.KIND_CPU)
    ]
    assert not config.optimization.execution_accelerators.gpu_execution_accelerator
    assert config.max_batch_size == 16 and list(config.dynamic_batching.preferred_batch_size) == [
        4,
        16,
    ]


def test_a_misspelt_field_or_a_changed_shape_is_reported(tmp_path):
    write_triton_model(shipped_path("face", ".onnx"), tmp_path, "face")
    config = tmp_path / "face" / "config.pbtxt"
    text = config.read_text()
    config.write_text(text.replace("max_batch_size", "max_bach_size"))
    problems = check_repository(tmp_path)
    assert len(problems) == 1 and "does not parse" in problems[0]
    config.write_text(text.replace("dims: 64", "dims: 96", 1))
    problems = check_repository(tmp_path)
    assert len(problems) == 1 and "do not match the ONNX" in problems[0]


def _fake_plan(tmp_path: Path, max_batch: int) -> Path:
    """A stand-in for a TensorRT plan (TensorRT cannot run here) with the sidecar build-engine
    writes beside a real one: the repository reads its profile and precision from it."""
    plan = tmp_path / "middle-tensorrt-fp16-0123.plan"
    plan.write_bytes(b"not a real plan: the repository only copies it")
    write_sidecar(plan, {"kind": "engine", "precision": "fp16", "max_batch": max_batch})
    return plan


def test_a_plan_is_served_within_its_profile(tmp_path):
    plan = _fake_plan(tmp_path, max_batch=4)
    repo = tmp_path / "repo"
    write_triton_model(
        shipped_path("middle", ".onnx"), repo, "middle", RepoOptions(max_batch=4), plan=plan
    )
    config = _config(repo / "middle_trt" / "config.pbtxt")
    assert config.platform == "tensorrt_plan" and config.max_batch_size == 4
    assert [g.kind for g in config.instance_group] == [pb.ModelInstanceGroup.KIND_GPU]
    assert json.loads(config.parameters[METADATA_PARAMETER].string_value)["precision"] == "fp16"
    assert (repo / "middle_trt" / "1" / "model.plan").read_bytes() == plan.read_bytes()
    assert check_repository(repo) == []


def test_a_batch_beyond_the_plans_profile_is_one_line(tmp_path):
    plan = _fake_plan(tmp_path, max_batch=4)
    result = run_cli(
        "export", "middle", "--format", "triton", "-o", str(tmp_path / "repo"),
        "--max-batch", "8", "--plan", str(plan),
    )  # fmt: skip
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "exceeds the plan's profile (batches 1..4)" in lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["nosuch.onnx", "--format", "triton", "-o", "REPO"], "ONNX model not found"),
        (["middle", "--format", "triton"], "give it with -o REPO"),
        (["middle", "--format", "tflite", "-o", "REPO"], "unknown --format"),
        (["middle", "--format", "triton", "-o", "REPO", "--kind", "tpu"], "unknown --kind"),
        (["middle", "--format", "triton", "-o", "REPO", "--plan", "x.txt"], "--plan takes"),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, words):
    args = [str(tmp_path / "repo") if a == "REPO" else a for a in args]
    result = run_cli("export", *args)
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and words in lines[0], result.stderr


def test_an_existing_model_is_kept_unless_forced(tmp_path):
    first = run_cli("export", "face", "--format", "triton", "-o", str(tmp_path))
    again = run_cli("export", "face", "--format", "triton", "-o", str(tmp_path))
    assert first.returncode == 0 and again.returncode == 2
    assert "already holds a model" in error_lines(again)[0]
    forced = run_cli("export", "face", "--format", "triton", "-o", str(tmp_path), "--force")
    assert forced.returncode == 0
