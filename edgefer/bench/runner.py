"""The order of a benchmark run: check the model, load real held-out data, build or reuse every engine,
count FLOPs, measure load/RSS in fresh processes, score accuracy, then time everything interleaved.

Returns one JSON-ready dict (``system``, ``model``, ``data``, ``settings``, ``peak``, ``engines``,
``targets``, ``notes``); :mod:`edgefer.bench.report` turns it into the table, Markdown and plots.
Cheap checks come first, so a missing or corrupt model fails in a second with one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.bench.candidates import Built, EngineChoice, Source
from edgefer.engines.base import Engine
from edgefer.errors import EdgeferError

Progress = Callable[[str, int, int], None]
ACCURACY_BATCH = 64


@dataclass
class BenchOptions:
    """Everything ``edgefer bench`` can be told; defaults finish within a minute on a 2-core CPU."""

    model: str
    engines: str = "auto"
    batches: tuple[int, ...] = (1, 8)
    data: Path | None = None
    per_class: int | None = 200
    iterations: int = 300
    rounds: int = 10
    budget_s: float = 1.5
    max_drop: float = 1.0
    calib: Path | None = None
    engines_dir: Path = Path("engines")
    threads: int | None = None
    fresh_process: bool = True
    seed: int = 0
    outputs: list[Path] = field(default_factory=list)  # folders checked writable before any work
    notes: list[str] = field(default_factory=list)

    def check(self) -> None:
        if not self.batches or any(b < 1 for b in self.batches):
            raise EdgeferError(f"--batch takes sizes >= 1, got {list(self.batches)}")
        if self.iterations < 1 or self.rounds < 1:
            raise EdgeferError("--iterations and --rounds must be at least 1")
        if self.per_class is not None and self.per_class < 1:
            raise EdgeferError("--per-class must be at least 1 (0 or omitted: the whole set)")
        if self.data is not None and not Path(self.data).is_dir():
            raise EdgeferError(f"data folder not found: {self.data}")
        if self.calib is not None and not Path(self.calib).is_file():
            raise EdgeferError(f"calibration set not found: {self.calib}")


def _heldout(source: Source, options: BenchOptions, progress: Progress | None) -> Any:
    """The held-out set and where it came from: ``--data`` or the data root's dataset, else the
    check set shipped for the model's preprocessing (:func:`edgefer.checkset.heldout_for`)."""
    from edgefer.checkset import heldout_for
    from edgefer.onnx_meta import spec_of

    faces = voices = None
    if options.data is not None:
        root = Path(options.data)
        faces = root / "faces" / "fer2013"
        voices = [root / "voice" / "ravdess", root / "voice" / "cremad"]
    return heldout_for(
        spec_of(source.meta),
        list(source.inputs),
        options.per_class,
        options.seed,
        faces_root=faces,
        voices_roots=voices,
        progress=progress,
    )


def _open(built: Built, threads: int | None, keras_model: Any) -> tuple[Engine, float]:
    """Open one engine in this process; returns it and the seconds it took."""
    started = time.perf_counter()
    choice = built.choice
    if choice.backend == "keras":
        from edgefer.models.keras_engine import KerasEngine

        engine: Engine = KerasEngine(built.path, choice.mode or "predict", model=keras_model)
    elif choice.backend == "onnxruntime":
        from edgefer.engines.onnxruntime import OrtEngine

        engine = OrtEngine(built.path, intra_op_threads=threads)
    else:  # TensorRT plans, and served models by URL
        from edgefer.engines.open import open_engine

        engine = open_engine(built.path)
    return engine, time.perf_counter() - started


def _max_batch(built: Built) -> int | None:
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


def run_bench(options: BenchOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Run the whole benchmark; see the module docstring for the order and the result's keys."""
    from edgefer.bench.candidates import (
        build_all,
        default_calibration,
        load_source,
        parse_engines,
    )
    from edgefer.bench.flops import count_flops
    from edgefer.bench.system import load_average, system_info
    from edgefer.engines.artifact import ensure_writable

    started = time.perf_counter()
    phases: dict[str, float] = {}

    def lap(phase: str) -> None:
        phases[phase] = time.perf_counter() - started - sum(phases.values())

    from edgefer.engines.triton import is_remote

    options.check()
    source = load_source(options.model)
    engines_text = options.engines
    if is_remote(str(options.model)) and engines_text.strip() == "auto":
        engines_text = f"ort-fp32,{options.model}"  # the served model beside its local FP32 export
    choices, notes = parse_engines(engines_text, source)
    for folder in (Path(options.engines_dir), *options.outputs):
        ensure_writable(folder)
    system = system_info()
    calib = options.calib or (
        default_calibration(source.meta) if any(c.precision == "int8" for c in choices) else None
    )
    lap("checks")
    heldout, held = _heldout(source, options, progress)
    lap("held-out data")
    built = build_all(
        source, choices, heldout, calib, Path(options.engines_dir), options.data, progress
    )
    flops = count_flops(source.onnx, 1)
    class_names = list(source.meta["class_names"])
    lap("build engines + FLOPs")

    fresh: dict[EngineChoice, dict[str, Any]] = {}
    if options.fresh_process:  # one child per file: both Keras rows share theirs
        by_path = {item.path: item for item in built if item.choice.backend != "triton"}
        for i, item in enumerate(by_path.values()):
            if progress is not None:
                progress("load time + peak RSS (fresh processes)", i, len(by_path))
            figures = _fresh(item, max(options.batches), options.threads)
            fresh.update({b.choice: figures for b in built if b.path == item.path})
        if progress is not None:
            progress("load time + peak RSS (fresh processes)", len(by_path), len(by_path))
    lap("fresh processes")

    keras_model = None
    if any(b.choice.backend == "keras" for b in built):
        from edgefer.models.keras_engine import load_keras

        keras_model = load_keras(source.keras)  # type: ignore[arg-type]
        lap("Keras import + load")
    engines: dict[EngineChoice, Engine] = {}
    load_here: dict[EngineChoice, float] = {}
    try:
        for item in built:
            engines[item.choice], load_here[item.choice] = _open(item, options.threads, keras_model)
        result = _measure(
            options,
            source,
            built,
            engines,
            heldout,
            class_names,
            flops.flops_per_sample,
            system,
            progress,
        )
    finally:
        for engine in engines.values():
            engine.close()
    lap("accuracy + timing + profile")
    for row in result["engines"]:
        choice = next(b.choice for b in built if b.choice.name == row["name"])
        row["load_s_in_process"] = load_here[choice]
        row.update({f"fresh_{k}": v for k, v in fresh.get(choice, {}).items()})
        row["load_s"] = fresh.get(choice, {}).get("load_s", load_here[choice])
        row["peak_rss_mb"] = fresh.get(choice, {}).get("peak_rss_mb")
    system["load_average_end"] = load_average()
    result.update(
        system=system,
        model=_model_info(source, calib, flops, built),
        data={
            "n": len(heldout),
            "set": held.source,  # "dataset", or "checkset" (shipped) when no dataset is present
            "heldout": held.to_dict(),
            "per_class": options.per_class if held.source == "dataset" else None,
            "class_counts": {c: int(np.sum(heldout.y == i)) for i, c in enumerate(class_names)},
            "description": (
                "FER2013 val faces with deterministic synthetic masks, paired by class with clips "
                "of the held-out voice actors (edgefer.evalsets.heldout_set)"
                if held.source == "dataset"
                else f"the shipped check set {Path(held.path or '').name}: a class-balanced slice "
                "of that set, no dataset found (edgefer.checkset)"
            ),
            "root": str(options.data) if options.data else None,
        },
        settings={
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in asdict(options).items()
            if k not in ("notes", "outputs")
        },
        flops=flops.to_dict(),
        notes=notes + options.notes + result.get("notes", []),
        seconds=time.perf_counter() - started,
        phases_s={**phases, **result.get("phases_s", {})},
    )
    from edgefer.bench.targets import evaluate_targets
    from edgefer.engines.auto_precision import auto_from_bench

    result["targets"] = evaluate_targets(result)
    result["auto"] = auto_from_bench(result["engines"])  # what --precision auto picks, and why
    return result


def _fresh(item: Built, batch: int, threads: int | None) -> dict[str, Any]:
    from edgefer.bench.memory import measure_in_child

    max_batch = _max_batch(item)
    return measure_in_child(item.choice.backend, item.path, min(batch, max_batch or batch), threads)


def _short(path: Path | None) -> str | None:
    """A path relative to the working folder when it lies under it (reports travel between
    machines; absolute paths of this one mean nothing there)."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _model_info(
    source: Source, calib: Path | None, flops: Any, built: list[Built]
) -> dict[str, Any]:
    from edgefer.engines.artifact import file_sha256

    used = next((b.calibration for b in built if b.choice.precision == "int8"), None)
    calibration = _short(calib) if calib is not None else used  # the builder's own default set

    return {
        "onnx": _short(source.onnx),
        "label": source.label,
        "sha256": file_sha256(source.onnx),
        "keras": _short(source.keras),
        "inputs": {n: list(s.shape) for n, s in source.inputs.items()},
        "class_names": list(source.meta["class_names"]),
        "fusion": source.meta.get("fusion"),
        "calibration": calibration,
        "flops_per_inference": flops.flops_per_sample,
    }


def _measure(
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
        _row(item, engines[item.choice], timings, scores[item.choice], reference_acc, big,
             flops_per_sample)
        for item in built
    ]  # fmt: skip
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
    """Accuracy, macro-F1 and agreement of every engine; the Keras model is scored once (its two
    rows are the same model called two ways), with ``predict_on_batch`` (same numbers, faster)."""
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
        batch = min(ACCURACY_BATCH, _max_batch(item) or ACCURACY_BATCH)
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
    Returns the tasks by key (``<engine>@<batch>``), the peak summary and notes."""
    from edgefer.bench import measure, peak

    notes: list[str] = []
    tasks: list[measure.Task] = []
    for item in built:
        engine, limit = engines[item.choice], _max_batch(item)
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


def _row(
    item: Built,
    engine: Engine,
    timings: dict[str, Any],
    score: dict[str, float],
    reference_acc: float,
    big: int,
    flops_per_sample: float,
) -> dict[str, Any]:
    """One engine's line of the result (the JSON ``engines`` entry)."""
    name = item.choice.name
    lat = timings[f"{name}@1"].summary() if f"{name}@1" in timings else {}
    batches = sorted(int(k.rsplit("@", 1)[1]) for k in timings if k.rsplit("@", 1)[0] == name)
    thr = {b: timings[f"{name}@{b}"].summary() for b in batches}
    big_summary = thr.get(big, {})
    throughput = big_summary.get("samples_per_s")
    size = None if item.choice.backend == "triton" else Path(item.path).stat().st_size
    return {
        "name": name,
        "backend": item.choice.backend,
        "precision": item.choice.precision,
        "mode": item.choice.mode,
        "file": item.path if isinstance(item.path, str) else _short(item.path),
        "size_mb": None if size is None else size / 1e6,
        "size_bytes": size,
        "cached": item.cached,
        "build_s": item.seconds,
        "providers": getattr(engine, "providers", None),
        "latency_p50_ms": lat.get("p50_ms"),
        "latency_p90_ms": lat.get("p90_ms"),
        "latency_p99_ms": lat.get("p99_ms"),
        "latency_mean_ms": lat.get("mean_ms"),
        "latency_n": lat.get("n", 0),
        "throughput_batch": big if throughput is not None else None,
        "throughput": throughput,
        "throughput_by_batch": {str(b): s["samples_per_s"] for b, s in thr.items()},
        "batch_p50_ms": {str(b): s["p50_ms"] for b, s in thr.items()},
        "gflops": None if throughput is None else throughput * flops_per_sample / 1e9,
        "gflops_best": (
            big * flops_per_sample / (big_summary["min_ms"] / 1000.0) / 1e9
            if big_summary.get("min_ms")
            else None
        ),
        "gflops_batch1": (
            flops_per_sample / (lat["p50_ms"] / 1000.0) / 1e9 if lat.get("p50_ms") else None
        ),
        "accuracy": score["accuracy"],
        "macro_f1": score["macro_f1"],
        "agreement": score["agreement"],
        "max_abs_diff": score["max_abs_diff"],
        "drop_points": 100.0 * (reference_acc - score["accuracy"]),
    }


def _add_profiles(
    rows: list[dict[str, Any]], built: list[Built], heldout: Any, options: BenchOptions, big: int
) -> None:
    """ONNX Runtime's per-op profile of each ORT engine that ran on the CPU provider, at batch 1
    and the largest batch (it explains the ratios; see :mod:`edgefer.bench.profile`)."""
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
    """FP32 probabilities every engine is compared with: the ONNX Runtime FP32 engine's when it is
    benched, else the exported graph run once on ONNX Runtime's CPU provider."""
    from edgefer.bench.measure import predict_all

    for item in built:
        if item.choice.name == "onnxruntime-fp32":
            return predict_all(engines[item.choice].predict, heldout.inputs, ACCURACY_BATCH)
    from edgefer.engines.onnxruntime import OrtEngine

    with OrtEngine(source.onnx, providers=["cpu"], intra_op_threads=threads) as engine:
        return predict_all(engine.predict, heldout.inputs, ACCURACY_BATCH)
