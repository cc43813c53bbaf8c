"""``--precision auto``: the rule, the measurement on the shipped middle model, its stored choice, and
the ``run`` / ``build-engine`` / ``bench`` faces of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgefer.engines.auto_precision import (
    MIN_SPEEDUP,
    Candidate,
    auto_from_bench,
    choose_precision,
    pick,
)
from edgefer.errors import EdgeferError
from edgefer.live.demo import demo_clips
from edgefer.shipped import shipped_path
from tests.cli_helpers import error_lines, run_cli
from tests.markers import FULL_DATA


def _c(
    precision: str, ms: float | None, drop: float | None = 0.0, passed: bool = True
) -> Candidate:
    return Candidate(precision, f"{precision}.onnx", ms, drop, passed)


def test_fp32_is_kept_when_the_others_are_within_timing_noise():
    barely = 1.0 / (MIN_SPEEDUP - 0.02)
    precision, why = pick([_c("fp32", barely), _c("fp16", 1.0), _c("int8", 1.0)], max_drop=1.0)
    assert precision == "fp32" and "fp16" in why and "int8" in why


def test_the_fastest_precision_within_the_floor_wins():
    candidates = [_c("fp32", 4.0), _c("fp16", 2.0, 0.0), _c("int8", 1.0, 0.6)]
    assert pick(candidates, max_drop=1.0)[0] == "int8"
    precision, why = pick(candidates, max_drop=0.5)  # int8 loses too much: the next fastest
    assert precision == "fp16" and "2.00x" in why


def test_a_rejected_or_missing_precision_is_never_picked():
    candidates = [_c("fp32", 4.0), _c("fp16", None, None, False), _c("int8", 1.0, 3.0, False)]
    precision, why = pick(candidates, max_drop=5.0)
    assert precision == "fp32" and "fp16" in why


def test_no_measured_fp32_reference_is_an_error():
    with pytest.raises(EdgeferError, match="FP32"):
        pick([_c("int8", 1.0)], max_drop=1.0)


@pytest.mark.slow
def test_auto_on_this_cpu_is_never_slower_or_less_accurate_than_fp32_and_is_reused(tmp_path):
    source = shipped_path("middle", ".onnx")
    choice = choose_precision(source, "onnxruntime", tmp_path, threads=1, calls=200)
    assert not choice.cached and choice.record.is_file()
    by = {c.precision: c for c in choice.candidates}
    assert set(by) == {"fp32", "fp16", "int8"}
    chosen = by[choice.precision]
    assert chosen.median_ms is not None and by["fp32"].median_ms is not None
    assert chosen.median_ms <= by["fp32"].median_ms
    assert chosen.drop_points is not None and chosen.drop_points <= 0.0
    if FULL_DATA:
        assert all(c.median_ms is not None for c in by.values())  # every engine built and timed
    else:  # the test sample's ~160 held-out pairs: INT8's one or two flips can pass the 1-point
        # check or not; a candidate the check rejects is not timed
        assert all((c.median_ms is not None) == c.passed for c in by.values())

    again = choose_precision(source, "onnxruntime", tmp_path, threads=1, calls=200)
    assert again.cached and again.precision == choice.precision and again.path == choice.path

    choice.record.write_text("{ not json")  # a damaged record is measured again, not trusted
    remade = choose_precision(source, "onnxruntime", tmp_path, threads=1, calls=200)
    assert not remade.cached and json.loads(remade.record.read_text())["kind"] == "auto-precision"

    other = choose_precision(source, "onnxruntime", tmp_path, threads=2, calls=200)
    assert other.record != choice.record  # another thread count is another measurement


def test_bench_rows_give_the_same_rule_per_backend():
    rows = [
        {"backend": "keras", "precision": "fp32", "latency_p50_ms": 9.0, "drop_points": 0.0},
        {"backend": "onnxruntime", "precision": "fp32", "latency_p50_ms": 2.0, "drop_points": 0.0},
        {"backend": "onnxruntime", "precision": "int8", "latency_p50_ms": 1.9, "drop_points": 0.3},
    ]
    picks = auto_from_bench(rows)
    assert [p["backend"] for p in picks] == ["onnxruntime"]
    assert picks[0]["precision"] == "fp32" and "int8" in picks[0]["reason"]
    assert auto_from_bench(rows, max_drop=1.0)[0]["precision"] == "fp32"  # 1.05x is noise


def test_run_help_shows_auto_as_the_default_precision():
    result = run_cli("run", "--help")
    assert result.returncode == 0
    assert "auto | int8 | fp16 | fp32" in result.stdout
    assert "[default: auto]" in result.stdout


def test_build_engine_auto_refuses_an_output_path_in_one_line(tmp_path):
    result = run_cli(
        "build-engine", str(shipped_path("middle", ".onnx")), "--precision", "auto",
        "--output", str(tmp_path / "x.onnx"),
    )  # fmt: skip
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "--output" in lines[0], result.stderr


@pytest.mark.slow
def test_build_engine_auto_prints_the_choice_and_run_reuses_it(tmp_path, monkeypatch):
    clip = demo_clips()[0]  # packaged with edgefer: a CREMA-D clip with its sound track
    monkeypatch.chdir(tmp_path)  # engines/ is relative to the working folder
    source = str(shipped_path("middle", ".onnx"))
    built = run_cli("build-engine", source, "--precision", "auto", "--backend", "onnxruntime")
    assert built.returncode == 0, built.stderr[-2000:]
    assert "chosen" in built.stdout and "why" in built.stdout and "measured now" in built.stdout
    records = list(Path("engines").glob("middle-onnxruntime-auto-*.json"))
    assert len(records) == 1
    run = run_cli(
        "run", "--camera", str(clip), "--mic", "none", "--no-realtime", "--json",
        "--max-frames", "3",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "precision auto ->" in run.stderr
    # run times with 1 thread (its default), build-engine with ONNX Runtime's: two measurements
    assert len(list(Path("engines").glob("middle-onnxruntime-auto-*.json"))) == 2
    rerun = run_cli(
        "run", "--camera", str(clip), "--mic", "none", "--no-realtime", "--json",
        "--max-frames", "3",
    )  # fmt: skip
    assert "reused from" in rerun.stderr
    assert json.loads(rerun.stdout.splitlines()[0])["label"]
