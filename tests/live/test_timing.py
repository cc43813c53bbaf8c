"""Per-stage timing percentiles and the ``--json`` line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgefer.errors import EdgeferError
from edgefer.live.timing import StageTimer, json_record


def test_percentiles_over_recorded_ticks():
    timer = StageTimer()
    for ms in range(1, 101):  # 1..100 ms
        timer.start_tick()
        timer.add("infer", ms)
        if ms % 4 == 0:
            timer.add("spectrogram", 1.0)
        timer.end_tick()
    summary = timer.summary()
    assert summary["infer"]["p50"] == pytest.approx(np.percentile(np.arange(1, 101), 50))
    assert summary["infer"]["p90"] == pytest.approx(90.1)
    assert summary["infer"]["p99"] == pytest.approx(99.01)
    assert summary["spectrogram"]["n"] == 25  # only ticks that computed one
    assert "detect" not in summary and summary["total"]["n"] == 100
    table = timer.format_summary()
    assert table.splitlines()[0].split() == ["stage", "n", "p50", "ms", "p90", "ms", "p99", "ms"]
    assert any(line.startswith("infer") for line in table.splitlines())


def test_stage_context_adds_up_within_a_tick_and_total_covers_it():
    readings = iter([0.0, 1.0, 1.5, 2.0, 2.75, 3.0])  # seconds, exact in binary
    timer = StageTimer(now=lambda: next(readings))
    timer.start_tick()  # 0.0
    for _ in range(2):  # two faces cropped in one tick: 1.0 -> 1.5, then 2.0 -> 2.75
        with timer.stage("preprocess"):
            pass
    tick = timer.end_tick()  # 3.0
    assert tick == {"preprocess": 1250.0, "total": 3000.0}
    assert next(readings, None) is None  # the timer read its clock exactly at those six points
    with pytest.raises(EdgeferError, match="unknown stage"):
        timer.add("decode", 1.0)


def test_memory_is_bounded_and_the_summary_covers_the_latest_ticks():
    timer = StageTimer(capacity=10)
    for ms in [1000.0] * 10 + [1.0] * 10:
        timer.start_tick()
        timer.add("capture", ms)
        timer.end_tick()
    row = timer.summary()["capture"]
    assert row["n"] == 20 and row["p99"] == pytest.approx(1.0)


def test_json_record_is_one_parseable_line():
    line = json_record(
        timestamp=1.23456,
        probs=np.array([0.1, 0.2, 0.7]),
        class_names=("negative", "neutral", "positive"),
        modalities=("face", "voice"),
        stages_ms={"detect": 3.14159, "total": 10.0},
        engine="fused",
        boxes=[(1, 2, 30, 40)],
    )
    assert "\n" not in line
    record = json.loads(line)
    assert record["t"] == 1.2346 and record["label"] == "positive"
    assert record["probs"] == {"negative": 0.1, "neutral": 0.2, "positive": 0.7}
    assert record["box"] == [1, 2, 30, 40] and record["modalities"] == ["face", "voice"]
    assert record["engine"] == "fused" and record["ms"] == {"detect": 3.142, "total": 10.0}
    assert "faces" not in record


def test_json_record_of_several_faces_and_of_no_prediction():
    names = ("negative", "neutral", "positive")
    two = json.loads(
        json_record(
            timestamp=0,
            probs=np.array([[0.6, 0.3, 0.1], [0.1, 0.1, 0.8]]),
            class_names=names,
            modalities=("face",),
            stages_ms={},
            boxes=[(0, 0, 9, 9), (20, 0, 5, 5)],
        )
    )
    assert [f["label"] for f in two["faces"]] == ["negative", "positive"]
    assert two["label"] == "negative" and two["faces"][1]["box"] == [20, 0, 5, 5]
    none = json.loads(
        json_record(timestamp=0, probs=None, class_names=names, modalities=(), stages_ms={})
    )
    assert none["label"] is None and none["probs"] is None and none["modalities"] == []
