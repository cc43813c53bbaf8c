"""``edgefer bench`` for real on the shipped middle model: a short run (few iterations, a small real
held-out sample) through the real CLI, its JSON / Markdown / PNGs, the ``--max-drop`` exit and bad
input. Speed is never asserted here; only that the figures are consistent with each other."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from edgefer.shipped import shipped_path
from tests.cli_helpers import error_lines, run_cli
from tests.markers import needs_tensorflow

pytestmark = pytest.mark.slow
ENGINES = ["keras-fp32-predict", "keras-fp32-predict_on_batch", "onnxruntime-fp32",
           "onnxruntime-int8"]  # fmt: skip
SHORT = ["--per-class", "20", "--iterations", "20", "--rounds", "3", "--budget", "0.3",
         "--batch", "1,4"]  # fmt: skip


@pytest.fixture(scope="module")
def engines_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("engines")


@pytest.fixture(scope="module")
def bench(tmp_path_factory, engines_dir):
    """One short real run: (completed process, results folder, --json path)."""
    pytest.importorskip("tensorflow", reason="benches the Keras reference: needs TensorFlow")
    out = tmp_path_factory.mktemp("bench")
    json_path = out / "elsewhere" / "result.json"
    done = run_cli(
        "bench", str(shipped_path("middle", ".onnx")), "--engines", "keras,ort-fp32,ort-int8",
        *SHORT, "--engines-dir", str(engines_dir), "--out", str(out / "results"),
        "--json", str(json_path), "--max-drop", "100",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done, out / "results", json_path


def test_json_shape_and_consistent_figures(bench):
    _, results, json_path = bench
    result = json.loads((results / "bench.json").read_text())
    assert json.loads(json_path.read_text()) == result
    system = result["system"]
    assert system["cpu"]["model"] and system["cpu"]["usable_cores"] >= 1
    assert system["versions"]["onnxruntime"] and "load_average_end" in system
    assert result["data"]["n"] == 60 and sum(result["data"]["class_counts"].values()) == 60
    assert [r["name"] for r in result["engines"]] == ENGINES
    for row in result["engines"]:
        for key in ("backend", "precision", "latency_p50_ms", "latency_p99_ms", "throughput",
                    "accuracy", "agreement", "size_mb", "gflops"):  # fmt: skip
            assert row[key] is not None, (row["name"], key)
        assert 0 < row["latency_p50_ms"] <= row["latency_p90_ms"] <= row["latency_p99_ms"]
        assert 0.0 <= row["agreement"] <= 1.0 and 0.0 <= row["accuracy"] <= 1.0
        assert 0.0 <= row["macro_f1"] <= 1.0
        assert row["size_mb"] == pytest.approx(os.path.getsize(row["file"]) / 1e6)
        assert row["throughput_batch"] == 4 and row["throughput"] > 0
        flops = result["flops"]["flops_per_sample"]
        assert row["gflops"] == pytest.approx(row["throughput"] * flops / 1e9)
        assert row["load_s"] > 0 and row["peak_rss_mb"] > 0
        assert len(result["latency_ms"][f"{row['name']}@1"]) == row["latency_n"] >= 3
    rows = {r["name"]: r for r in result["engines"]}
    fp32, int8 = rows["onnxruntime-fp32"], rows["onnxruntime-int8"]
    assert fp32["agreement"] == 1.0 and fp32["drop_points"] == 0.0
    assert int8["precision"] == "int8" and int8["size_mb"] < fp32["size_mb"]
    assert int8["drop_points"] == pytest.approx(100 * (fp32["accuracy"] - int8["accuracy"]))
    # Keras and its own ONNX export: same model, same predictions
    assert rows["keras-fp32-predict"]["agreement"] >= 0.95
    assert rows["keras-fp32-predict"]["accuracy"] == rows["keras-fp32-predict_on_batch"]["accuracy"]
    assert result["peak"]["gflops"] > 0
    assert len(result["targets"]) == 4 and all(t["value"] is not None for t in result["targets"])


# What TensorFlow, absl and oneDNN print when the Keras rows import TensorFlow: glog-style
# "I0000 00:00:..." lines, oneDNN's notice, absl's pre-init warning, source paths.
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d|oneDNN|absl::|tensorflow/|cuda_|TF_ENABLE")


def test_no_tensorflow_log_line_in_the_output(bench):
    """The Keras rows import TensorFlow; its start-up lines stay off the user's terminal."""
    done, _, _ = bench
    lines = (done.stdout + done.stderr).splitlines()
    assert any("keras" in line for line in lines)  # TensorFlow was really imported
    assert not [line for line in lines if TF_LOG_LINE.search(line)]


def test_markdown_has_every_engine_row_and_the_targets(bench):
    _, results, _ = bench
    md = (results / "bench.md").read_text()
    for name in ENGINES:
        assert f"| {name} |" in md
    for section in ("## Machine", "## Engines", "## Ratios and targets", "## Method"):
        assert section in md
    assert "n=60" in md and "ONNX Runtime INT8 vs FP32 speed" in md
    assert "![latency per engine](latency.png)" in md


def test_pngs_and_terminal_table(bench):
    done, results, _ = bench
    for name in ("latency.png", "accuracy_latency.png"):
        data = (results / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    for name in ENGINES:
        assert name in done.stdout
    assert "ONNX Runtime FP32 vs Keras predict" in done.stdout


def test_max_drop_floor_exits_1_with_one_line(bench, engines_dir, tmp_path):
    done = run_cli(
        "bench", str(shipped_path("middle", ".onnx")), "--engines", "ort-fp32", *SHORT,
        "--no-fresh-process", "--engines-dir", str(engines_dir), "--out", str(tmp_path),
        "--max-drop", "-1",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    lines = error_lines(done)
    assert len(lines) == 1 and "accuracy floor failed" in lines[0], lines
    assert "onnxruntime-fp32 loses 0.00 accuracy points" in lines[0]
    assert (tmp_path / "bench.json").is_file()  # the report is written before the floor fails


def test_missing_model_is_one_line_exit_2(tmp_path):
    done = run_cli("bench", str(tmp_path / "nope.onnx"))
    assert done.returncode == 2
    lines = error_lines(done)
    assert len(lines) == 1 and "model not found" in lines[0], lines


def test_corrupt_onnx_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(shipped_path("middle", ".onnx").read_bytes()[:5000])  # truncated
    done = run_cli("bench", str(bad), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    lines = error_lines(done)
    assert len(lines) == 1 and "not a valid ONNX model" in lines[0], lines
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engines", "ort-fp64"], "unknown engine"),
        (["--batch", "1,x"], "--batch takes comma-separated integers"),
        (["--batch", "0"], "--batch takes sizes >= 1"),
        (["--data", "/nonexistent/data"], "data folder not found"),
    ],
)
def test_bad_options_are_one_line_exit_2(args, message, tmp_path):
    done = run_cli("bench", str(shipped_path("middle", ".onnx")), *args, "--out", str(tmp_path))
    assert done.returncode == 2
    lines = error_lines(done)
    assert len(lines) == 1 and message in lines[0], lines


def test_pipeline_times_the_live_loop_stages_on_a_real_clip(engines_dir, tmp_path):
    from edgefer.live.demo import demo_clips

    clip = demo_clips()[0]
    done = run_cli(
        "bench", str(shipped_path("middle", ".onnx")), "--pipeline", "--media", str(clip),
        "--engines", "ort-fp32", "--engines-dir", str(engines_dir), "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "pipeline.json").read_text())
    assert result["media"] == [str(clip)] and len(result["runs"]) == 1
    run = result["runs"][0]
    assert run["name"] == "onnxruntime-fp32" and run["frames"] > 10 and run["fps"] > 0
    stages = run["stages_ms"]
    for stage in ("capture", "detect", "preprocess", "spectrogram", "infer", "overlay", "total"):
        assert 0 <= stages[stage]["p50"] <= stages[stage]["p90"] <= stages[stage]["p99"], stage
    assert stages["total"]["n"] == run["frames"]
    assert "| onnxruntime-fp32 |" in (tmp_path / "pipeline.md").read_text()
    assert (tmp_path / "pipeline.png").read_bytes()[:4] == b"\x89PNG"
    assert "FPS" in done.stdout


@needs_tensorflow
def test_pipeline_refuses_keras_and_missing_media(tmp_path):
    model = str(shipped_path("middle", ".onnx"))
    done = run_cli("bench", model, "--pipeline", "--engines", "keras", "--out", str(tmp_path))
    assert done.returncode == 2 and "no Keras engine" in error_lines(done)[0]
    done = run_cli("bench", model, "--pipeline", "--media", str(tmp_path / "none.flv"))
    assert done.returncode == 2
    lines = error_lines(done)
    assert len(lines) == 1 and "media not found" in lines[0], lines


def test_report_redraws_from_its_json_alone(bench, tmp_path):
    from edgefer.bench.report import redraw

    _, results, _ = bench
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "bench.json").write_text((results / "bench.json").read_text())
    written = redraw(copy)
    assert (copy / "bench.md").read_text() == (results / "bench.md").read_text()
    assert {p.name for p in written} == {"bench.json", "bench.md", "latency.png",
                                         "accuracy_latency.png"}  # fmt: skip
