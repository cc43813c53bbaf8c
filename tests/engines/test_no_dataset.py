"""An install without the dataset: ``build-engine`` and ``bench`` run their accuracy guard on the
shipped check set and calibrate INT8 on the shipped calibration set, and say so.

The real commands in subprocesses, ``EDGEFER_DATA`` pointing at an empty folder. No TensorFlow: this
is the runtime half CI's Python 3.10 job proves.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgefer.shipped import shipped_path
from tests.cli_helpers import run_cli


@pytest.fixture
def no_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    empty = tmp_path / "no-data"
    empty.mkdir()
    monkeypatch.setenv("EDGEFER_DATA", str(empty))
    return empty


@pytest.mark.slow  # quantizes the shipped model to INT8
def test_build_engine_int8_without_dataset(no_dataset: Path, tmp_path: Path) -> None:
    output = tmp_path / "middle-int8.onnx"
    model = shipped_path("middle", ".onnx")
    result = run_cli("build-engine", str(model), "--precision", "int8", "--output", str(output))
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    side = json.loads(output.with_name(output.name + ".json").read_text())
    assert side["heldout"]["source"] == "checkset"
    assert side["heldout"]["n"] == side["report"]["n"] == 360
    assert side["report"]["set"] == "checkset"
    assert "assets/calibration/edge-n300.npz" in side["calibration_path"]


@pytest.mark.slow  # builds and times an INT8 engine of the shipped model
def test_bench_without_dataset(no_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    args = ["--engines", "ort-fp32,ort-int8", "--batch", "1,4", "--iterations", "20"]
    args += ["--rounds", "2", "--budget", "0.2", "--no-fresh-process"]
    args += ["--engines-dir", str(tmp_path / "engines"), "--out", str(out)]
    result = run_cli("bench", str(shipped_path("middle", ".onnx")), *args)
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    report = json.loads((out / "bench.json").read_text())
    assert report["data"]["set"] == "checkset" and report["data"]["n"] == 360
    assert report["data"]["heldout"]["source"] == "checkset"
    assert "Held-out set (checkset): n=360" in (out / "bench.md").read_text()
