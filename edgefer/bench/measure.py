"""Timing that compares fairly on a busy machine, and accuracy on the held-out set.

Why interleaved: a run takes tens of seconds, and a background job, thermal throttling or a CPU
governor can change a machine's speed within it. Measuring engine A for ten seconds and then B would
put that drift into the A/B ratio. Here every timed task (each engine at batch 1, each at batch N,
and the CPU-peak matmul) runs a few calls per round, round after round, the starting task rotating
each round, so drift hits all alike and a median over rounds compares like with like.

A slow engine (Keras ``predict``, ~100 ms a call) is not allowed to take the run hostage: each task
gets at most ``budget_s`` of timed calls, which bounds its sample count (reported as ``n``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Progress = Callable[[str, int, int], None]


@dataclass
class Task:
    """One timed thing: ``fn()`` does one call of ``batch`` samples.

    At most ``wanted`` timed calls are made.
    """

    key: str
    fn: Callable[[], Any]
    batch: int = 1
    wanted: int = 100
    per_round: int = 1
    times_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """n, mean and p50/p90/p99 of the call times, and samples per second from the median."""
        if not self.times_ms:
            return {"n": 0}
        times = np.asarray(self.times_ms)
        p50, p90, p99 = (float(v) for v in np.percentile(times, [50, 90, 99]))
        return {
            "n": int(times.size),
            "mean_ms": float(times.mean()),
            "p50_ms": p50,
            "p90_ms": p90,
            "p99_ms": p99,
            "min_ms": float(times.min()),
            "samples_per_s": 1000.0 * self.batch / p50 if p50 > 0 else math.inf,
        }


def _time_call(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def warm_up(tasks: list[Task], calls: int = 5, seconds: float = 1.0) -> dict[str, float]:
    """Run each task untimed; return each task's last call time in ms as a speed estimate.

    The untimed calls (first-call allocation, kernel selection, Keras tracing) go on up to ``calls``
    times or ``seconds``.
    """
    estimate: dict[str, float] = {}
    for task in tasks:
        started, last = time.perf_counter(), 0.0
        for _ in range(calls):
            last = _time_call(task.fn)
            if time.perf_counter() - started > seconds:
                break
        estimate[task.key] = max(last, 1e-3)
    return estimate


def plan(tasks: list[Task], estimate: dict[str, float], rounds: int, budget_s: float) -> None:
    """Set each task's calls per round: ``wanted`` spread over ``rounds``, cut to ``budget_s``."""
    for task in tasks:
        by_wanted = math.ceil(task.wanted / rounds)
        by_budget = int(budget_s * 1000.0 / (rounds * estimate[task.key]))
        task.per_round = max(1, min(by_wanted, by_budget))


def interleave(tasks: list[Task], rounds: int, progress: Progress | None = None) -> list[str]:
    """Run ``rounds`` rounds of timed calls, interleaving the tasks.

    In each round, every task does ``per_round`` timed calls, the starting task rotating by one each
    round. Returns the order tasks ran in (the tests check the interleaving).
    """
    order: list[str] = []
    for r in range(rounds):
        shift = r % len(tasks)
        for task in tasks[shift:] + tasks[:shift]:
            order.append(task.key)
            for _ in range(task.per_round):
                task.times_ms.append(_time_call(task.fn))
        if progress is not None:
            progress("timing (interleaved rounds)", r + 1, rounds)
    return order


def predict_all(
    predict: Callable[[dict[str, np.ndarray]], np.ndarray],
    inputs: dict[str, np.ndarray],
    batch_size: int = 64,
) -> np.ndarray:
    """Probabilities for every held-out row (``batch_size`` rows per call)."""
    from edgefer.evalsets import predict_batched

    return predict_batched(predict, inputs, batch_size)


def accuracy(
    probs: np.ndarray, reference: np.ndarray, y: np.ndarray, class_names: list[str]
) -> dict[str, float]:
    """Accuracy, macro-F1 and argmax agreement with the FP32 reference's probabilities."""
    from edgefer.metrics import classification_report

    report = classification_report(y, probs, class_names)
    return {
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "agreement": float(np.mean(probs.argmax(axis=1) == reference.argmax(axis=1))),
        "max_abs_diff": float(np.abs(probs - reference).max()),
    }
