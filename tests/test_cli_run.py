"""``edgefer run`` as a user meets it: help with examples, JSON lines on stdout, a saved video, one
line and exit 2 for every bad input, Ctrl-C ending cleanly, and ``--demo`` (what ``make demo`` runs)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from edgefer.shipped import shipped_path
from tests.cli_helpers import error_lines, run_cli

FLV_FRAMES = 67
FP32 = ["--engine", str(shipped_path("middle", ".onnx"))]  # no engine build where not under test


@pytest.fixture(scope="module")
def flv(data_dir: Path) -> Path:
    """480x360 FLV, 67 frames at 29.97 fps, with the actor's voice as its sound track."""
    return data_dir / "av" / "cremad" / "1001_DFA_ANG_XX.flv"


def frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    count, ok = 0, True
    while ok:
        ok, _ = cap.read()
        count += ok
    cap.release()
    return count


def test_run_help_teaches_with_examples():
    result = run_cli("run", "--help")
    assert result.returncode == 0
    for text in (
        "edgefer run --camera 0 --mic 1",
        "edgefer run --camera clip.flv --json",
        "edgefer run --demo",
        "--no-realtime",
        "--precision",
        "--rate",
        "--save",
        "--max-frames",
    ):
        assert text in result.stdout, text


def test_json_lines_on_stdout_summary_on_stderr_and_a_saved_video(flv, tmp_path):
    save = tmp_path / "out.mp4"
    result = run_cli(
        "run", "--camera", str(flv), "--no-realtime", "--json", "--save", str(save), *FP32
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == FLV_FRAMES
    records = [json.loads(line) for line in lines]  # stdout is pure JSON
    for record in records:
        assert {"t", "label", "probs", "modalities", "engine", "ms", "frame"} <= set(record)
        assert {"capture", "detect", "infer", "total"} <= set(record["ms"])
    assert [r["frame"] for r in records] == list(range(FLV_FRAMES))
    assert sum(r["modalities"] == ["face", "voice"] for r in records) > 40
    assert records[10]["t"] == pytest.approx(10 / 29.97, abs=1e-3)
    assert "p99 ms" in result.stderr and f"frames {FLV_FRAMES} (0 dropped)" in result.stderr
    assert f"saved: {save}" in result.stderr
    assert frame_count(save) == FLV_FRAMES


def test_max_frames_and_a_status_line_without_json(flv):
    result = run_cli("run", "--camera", str(flv), "--no-realtime", "--max-frames", "40", *FP32)
    assert result.returncode == 0, result.stderr
    assert "frames 40 (0 dropped), 40 inferences" in result.stdout
    assert "    0.00 s  " in result.stdout and "p50 ms" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "camera 0 cannot be opened"),  # no camera on this machine
        (["--camera", "99"], "camera 99 cannot be opened"),
        (["--camera", "ftp://example.org/x.mp4"], "unsupported video source"),
        (["--camera", "{broken}"], "cannot decode video file"),
        (["--camera", "{flv}", "--mic", "7"], "microphone"),  # no such microphone here
        (["--camera", "{flv}", "--mic", "/no/such/voice.wav"], "audio file not found"),
        (["--camera", "{flv}", "--save", "out.avi"], "--save writes mp4 video"),
        (["--camera", "{flv}", "--smoothing", "wobbly"], "unknown smoothing"),
        (["--camera", "{flv}", "--detector", "mtcnn"], "unknown detector 'mtcnn'"),
        (["--camera", "{flv}", "--detector", "/no/such/yunet.onnx"], "detector model not found"),
        (["--camera", "{flv}", "--detector", "{broken_onnx}"], "not a YuNet ONNX file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, flv, tmp_path):
    if not args and Path("/dev/video0").exists():
        pytest.skip("this machine has a camera 0")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all " * 200)
    broken_onnx = tmp_path / "yunet.onnx"
    broken_onnx.write_bytes(b"\x08\x07 truncated model " * 50)
    args = [a.format(flv=flv, broken=broken, broken_onnx=broken_onnx) for a in args]
    result = run_cli("run", *args, *FP32)
    lines = error_lines(result)
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert "Traceback" not in result.stderr


def test_ctrl_c_stops_cleanly_with_the_video_finalised(flv, tmp_path):
    save = tmp_path / "interrupted.mp4"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "edgefer.cli", "run", "--camera", str(flv), "--json"]
    process = subprocess.Popen(
        [*command, "--save", str(save), *FP32],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # A test run started in the background by a non-interactive shell inherits SIGINT ignored
        # (POSIX), and Python then keeps it ignored: give the child the default, as a terminal does.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        first = process.stdout.readline()  # real time: the clip lasts 2.2 s from here
        # The loop is running. Not necessarily frame 0: played in real time, a file drops the
        # frames that arrive while the first inference warms up, as a camera would.
        assert json.loads(first)["frame"] < FLV_FRAMES // 2
        process.send_signal(signal.SIGINT)
        rest, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    frames = 1 + len(rest.splitlines())
    assert 0 < frames < FLV_FRAMES  # stopped early
    assert frame_count(save) >= frames  # every tick was written, and the file plays
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.slow  # auto converts the shipped model to fp16 and int8 on first use, then 758 frames
def test_demo_runs_the_packaged_clips_with_the_precision_auto_picks(tmp_path):
    save = tmp_path / "demo" / "demo.mp4"
    result = run_cli("run", "--demo", "--save", str(save))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for emotion, true in [
        ("ANG", "negative"), ("DIS", "negative"), ("FEA", "negative"),
        ("HAP", "positive"), ("NEU", "neutral"), ("SAD", "negative"),
    ]:  # fmt: skip
        line = next(line for line in out.splitlines() if f"1001_DFA_{emotion}_XX.flv" in line)
        fields = line.split()
        assert fields[1:3] == [emotion, true]
        assert {fields[3], fields[5]} <= {"negative", "neutral", "positive"}  # unmasked, masked
        assert {fields[4], fields[6]} <= {"ok", "x"}
    assert "accuracy unmasked " in out and "accuracy masked (synthetic mask) " in out
    # the default engine: the shipped middle model at the precision auto measured (once) here
    said = re.search(r"precision auto -> (fp32|fp16|int8) \(", result.stderr)
    assert said is not None, result.stderr
    fused = next(line for line in out.splitlines() if line.startswith("engine fused:"))
    chosen = said.group(1)
    assert ("middle.onnx" in fused) if chosen == "fp32" else (f"-onnxruntime-{chosen}-" in fused)
    assert "p99 ms" in out
    assert frame_count(save) == 2 * 379  # every clip unmasked, then with a synthetic mask
