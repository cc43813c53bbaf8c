"""The measured middle of ``edgefer bench``.

Every opened engine is scored on the held-out set, then timed in interleaved rounds beside the CPU's
peak matmul, then profiled.

The engines are already built and opened by :mod:`edgefer.bench.runner`; this module only calls
them, so every figure comes from the same engines on the same rows. Accuracy comes first because the
FP32 reference it produces is what every other engine's agreement and drop are measured against.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from edgefer.bench.candidates import Built, EngineChoice, Progress, Source
from edgefer.bench.results import engine_row
from edgefer.engines.base import Engine

if TYPE_CHECKING:
    from edgefer.bench.options import BenchOptions

__all__ = ["ACCURACY_BATCH", "max_batch", "measure_engines"]

ACCURACY_BATCH = 64


def max_batch(built: Built) -> int | None:
    """The largest batch an engine accepts (TensorRT plans have a profile; others: any)."""
    if built.choice.backend != "tensorrt":
        return None
    from edgefer.engines.artifact import read_sidecar

    return int(read_sidecar(built.path, verify_hash=False).get("max_batch") or 1)


def _rows(inputs: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """The first ``n`` held-out rows (repeated if the set is smaller), C-contiguous float32."""
    total = len(next(iter(inputs.values())))
    idx = np.arange(n) % total
    return {k: np.ascontiguousarray(v[idx], dtype=np.float32) for k, v in inputs.items()}


def _peak_threads(options: BenchOptions, system: dict[str, Any]) -> int:
    """Threads the engines compute on: ``--threads`` or ONNX Runtime's default (physical cores)."""
    cpu = system["cpu"]
    return int(options.threads or cpu.get("physical_cores") or cpu.get("usable_cores") or 1)


def measure_engines(
    options: BenchOptions,
    source: Source,
    built: list[Built],
    engines: dict[EngineChoice, Engine],
    heldout: Any,
    class_names: list[str],
    flops_per_sample: float,
    system: dict[str, Any],
    progress: Progress | None,
) -> dict[str, Any]:
    """Accuracy of every engine, the interleaved latency/throughput/peak rounds, the profiles."""
    started = time.perf_counter()
    reference = _reference(source, built, engines, heldout, options.threads)
    scores = _score_all(built, engines, heldout, reference, class_names, progress)
    phases = {"accuracy": time.perf_counter() - started}
    timings, peak_result, notes = _time_all(options, built, engines, heldout, system, progress)
    phases["timing"] = time.perf_counter() - started - phases["accuracy"]
    reference_acc = next(
        (scores[b.choice]["accuracy"] for b in built if b.choice.name == "onnxruntime-fp32"),
        float(np.mean(reference.argmax(axis=1) == heldout.y)),
    )
    big = max(options.batches)
    rows = [
        engine_row(
            item,
            engines[item.choice],
            timings,
            scores[item.choice],
            reference_acc,
            big,
            flops_per_sample,
        )
        for item in built
    ]
    _add_profiles(rows, built, heldout, options, big)
    phases["profile"] = time.perf_counter() - started - phases["accuracy"] - phases["timing"]
    raw = {key: list(task.times_ms) for key, task in timings.items()}
    return {
        "engines": rows,
        "peak": peak_result,
        "latency_ms": raw,
        "notes": notes,
        "phases_s": phases,
    }


def _score_all(
    built: list[Built],
    engines: dict[EngineChoice, Engine],
    heldout: Any,
    reference: np.ndarray,
    class_names: list[str],
    progress: Progress | None,
) -> dict[EngineChoice, dict[str, float]]:
    """Accuracy, macro-F1 and agreement of every engine.

    The Keras model is scored once (its two rows are the same model called two ways), with
    ``predict_on_batch`` (same numbers, faster).
    """
    from edgefer.bench import measure

    scores: dict[EngineChoice, dict[str, float]] = {}
    keras_scores = None
    for i, item in enumerate(built):
        if progress is not None:
            progress("accuracy on the held-out set", i, len(built))
        if item.choice.backend == "keras" and keras_scores is not None:
            scores[item.choice] = keras_scores
            continue
        if item.choice.name == "onnxruntime-fp32":  # it made the reference: no second pass
            scores[item.choice] = measure.accuracy(reference, reference, heldout.y, class_names)
            continue
        engine = engines[item.choice]
        predict = engine.predict
        if item.choice.backend == "keras":
            model = engine.model  # type: ignore[attr-defined]
            predict = lambda x, m=model: np.asarray(m.predict_on_batch(x))  # noqa: E731
        batch = min(ACCURACY_BATCH, max_batch(item) or ACCURACY_BATCH)
        probs = measure.predict_all(predict, heldout.inputs, batch)
        scores[item.choice] = measure.accuracy(probs, reference, heldout.y, class_names)
        if item.choice.backend == "keras":
            keras_scores = scores[item.choice]
    if progress is not None:
        progress("accuracy on the held-out set", len(built), len(built))
    return scores


def _time_all(
    options: BenchOptions,
    built: list[Built],
    engines: dict[EngineChoice, Engine],
    heldout: Any,
    system: dict[str, Any],
    progress: Progress | None,
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Every engine at every batch, and the peak matmuls, timed in the same interleaved rounds.

    Returns the tasks by key (``<engine>@<batch>``), the peak summary and notes.
    """
    from edgefer.bench import measure, peak

    notes: list[str] = []
    tasks: list[measure.Task] = []
    for item in built:
        engine, limit = engines[item.choice], max_batch(item)
        for b in sorted(set(options.batches) | {1}):
            if limit is not None and b > limit:
                notes.append(f"{item.choice.name}: batch {b} is over its profile's {limit}")
                continue
            x = _rows(heldout.inputs, b)
            wanted = options.iterations if b == 1 else max(options.rounds, options.iterations // 4)
            call = lambda e=engine, x=x: e.predict(x)  # noqa: E731
            tasks.append(measure.Task(f"{item.choice.name}@{b}", call, b, wanted))
    threads = _peak_threads(options, system)
    limits, blas_note = peak.blas_limits(threads)
    peak_tasks, peak_flops, peak_notes = peak.peak_tasks(threads)
    for task in peak_tasks:
        task.wanted = max(options.rounds, options.iterations // 4)
    with limits:
        estimate = measure.warm_up([*tasks, *peak_tasks])
        measure.plan([*tasks, *peak_tasks], estimate, options.rounds, options.budget_s)
        measure.interleave([*tasks, *peak_tasks], options.rounds, progress)
    peak_result = peak.summarise(peak_tasks, peak_flops, peak_notes, blas_note, threads)
    return {t.key: t for t in tasks}, peak_result, notes


def _add_profiles(
    rows: list[dict[str, Any]], built: list[Built], heldout: Any, options: BenchOptions, big: int
) -> None:
    """ONNX Runtime's per-op profile of each ORT engine that ran on the CPU provider.

    It is taken at batch 1 and the largest batch (it explains the ratios; see
    :mod:`edgefer.bench.profile`).
    """
    from edgefer.bench.profile import profile_ort

    for row, item in zip(rows, built, strict=True):
        providers = row.get("providers") or []
        if item.choice.backend != "onnxruntime" or providers[:1] != ["CPUExecutionProvider"]:
            continue
        row["profile"] = {
            str(b): profile_ort(item.path, _rows(heldout.inputs, b), 20, options.threads)
            for b in sorted({1, big})
        }


def _reference(
    source: Source,
    built: list[Built],
    engines: dict[EngineChoice, Engine],
    heldout: Any,
    threads: int | None,
) -> np.ndarray:
    """FP32 probabilities every engine is compared with.

    They are the ONNX Runtime FP32 engine's when it is benched, else the exported graph run once on
    ONNX Runtime's CPU provider.
    """
    from edgefer.bench.measure import predict_all

    for item in built:
        if item.choice.name == "onnxruntime-fp32":
            return predict_all(engines[item.choice].predict, heldout.inputs, ACCURACY_BATCH)
    from edgefer.engines.onnxruntime import OrtEngine

    with OrtEngine(source.onnx, providers=["cpu"], intra_op_threads=threads) as engine:
        return predict_all(engine.predict, heldout.inputs, ACCURACY_BATCH)
