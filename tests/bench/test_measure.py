"""Interleaved timing, call planning, summaries and the targets' arithmetic (no model needed)."""

from __future__ import annotations

import time

import pytest

from edgefer.bench.measure import Task, interleave, plan
from edgefer.bench.targets import evaluate_targets, max_drop_violations


def test_rounds_interleave_every_task_and_rotate_the_start():
    calls: list[str] = []
    tasks = [Task(k, lambda k=k: calls.append(k), wanted=4) for k in "abc"]
    plan(tasks, {"a": 1.0, "b": 1.0, "c": 1.0}, rounds=4, budget_s=10.0)
    order = interleave(tasks, rounds=4)
    assert order == list("abcbcacababc")
    assert calls == order  # one call per round each (4 wanted over 4 rounds)
    assert all(len(t.times_ms) == 4 for t in tasks)


def test_plan_caps_slow_tasks_by_budget_and_keeps_one_call_per_round():
    fast, slow = Task("fast", lambda: None, wanted=100), Task("slow", lambda: None, wanted=100)
    plan([fast, slow], {"fast": 0.1, "slow": 500.0}, rounds=10, budget_s=1.0)
    assert fast.per_round == 10  # 100 wanted / 10 rounds, well within 1 s
    assert slow.per_round == 1  # 1 s / (10 rounds x 0.5 s) rounds down to 0: never below 1


def test_summary_percentiles_and_throughput():
    task = Task("t", lambda: time.sleep(0), batch=8)
    task.times_ms = [float(v) for v in range(1, 101)]
    s = task.summary()
    assert s["n"] == 100 and s["min_ms"] == 1.0
    assert s["p50_ms"] <= s["p90_ms"] <= s["p99_ms"] <= 100.0
    assert s["samples_per_s"] == pytest.approx(8 * 1000.0 / s["p50_ms"])


def _result(keras_ms, fp32_ms, int8_ms, fp32_acc, int8_acc, gflops, peak, n=600):
    def row(name, ms, acc):
        return {"name": name, "latency_p50_ms": ms, "accuracy": acc, "agreement": 0.97,
                "throughput": 8000.0 / ms, "throughput_batch": 8, "gflops": gflops,
                "gflops_batch1": gflops, "drop_points": 100.0 * (fp32_acc - acc)}  # fmt: skip

    return {
        "engines": [
            row("keras-fp32-predict", keras_ms, fp32_acc),
            row("onnxruntime-fp32", fp32_ms, fp32_acc),
            row("onnxruntime-int8", int8_ms, int8_acc),
        ],
        "flops": {"flops_per_sample": 70e6},
        "peak": {"gflops": peak, "threads": 2, "method": "test"},
        "data": {"n": n},
        "system": {
            "cpu": {"usable_cores": 2},
            "load_average_start": [0.1],
            "load_average_end": [0.1],
        },
    }


def test_targets_met_and_missed_with_the_gap():
    result = _result(keras_ms=50.0, fp32_ms=1.0, int8_ms=0.8, fp32_acc=0.70, int8_acc=0.69,
                     gflops=40.0, peak=100.0)  # fmt: skip
    by_name = {t["name"]: t for t in evaluate_targets(result)}
    speed = by_name["ONNX Runtime FP32 vs Keras predict, batch 1"]
    assert speed["met"] and speed["value"] == pytest.approx(50.0) and speed["why"] is None
    int8 = by_name["ONNX Runtime INT8 vs FP32 speed, batch 1"]
    assert not int8["met"] and int8["value"] == pytest.approx(1.25)
    assert int8["missed_by"].startswith("0.55 x") and int8["why"]
    drop = by_name["ONNX Runtime INT8 accuracy drop"]
    assert not drop["met"] and drop["value"] == pytest.approx(1.0)
    peak = by_name["ONNX Runtime FP32 GFLOP/s vs measured peak, largest batch"]
    assert peak["met"] and peak["value"] == pytest.approx(0.4)


def test_a_drop_of_exactly_the_limit_passes_despite_float_error():
    # 3 samples of 600 = 0.5 points, which floats compute as 0.50000000000000x
    result = _result(50.0, 1.0, 0.5, 0.6916666666666667, 0.6866666666666666, 40.0, 100.0)
    drop = next(t for t in evaluate_targets(result) if "drop" in t["name"])
    assert drop["met"]
    assert max_drop_violations(result, 0.5) == []
    lines = max_drop_violations(result, 0.1)
    assert len(lines) == 1 and lines[0].startswith("onnxruntime-int8 loses 0.50")


def test_missing_rows_are_not_measured_rather_than_failed():
    result = _result(50.0, 1.0, 0.5, 0.7, 0.7, 40.0, 100.0)
    result["engines"] = result["engines"][1:2]  # only onnxruntime-fp32
    targets = evaluate_targets(result)
    assert [t["met"] for t in targets] == [None, None, None, True]
