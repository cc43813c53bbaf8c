"""The JSON-ready result of ``edgefer bench``, put together from what the run measured.

:mod:`edgefer.bench.runner` decides the order of the measurements; this module decides what the
result says about them: one row per engine, the model, the held-out data, the settings, and the
verdicts (targets, ``--precision auto``). :mod:`edgefer.bench.report` only renders what is here, so
the table, the Markdown and the figures cannot disagree with ``bench.json``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgefer.bench.candidates import Built, EngineChoice, Source
from edgefer.engines.base import Engine

if TYPE_CHECKING:
    from edgefer.bench.options import BenchOptions

__all__ = [
    "add_load_figures",
    "add_verdicts",
    "data_info",
    "engine_row",
    "model_info",
    "settings_of",
    "short_path",
]


def short_path(path: Path | None) -> str | None:
    """A path relative to the working folder when it lies under it.

    Reports travel between machines; absolute paths of this one mean nothing there.
    """
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def engine_row(
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
        "file": item.path if isinstance(item.path, str) else short_path(item.path),
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


def add_load_figures(
    rows: list[dict[str, Any]],
    built: list[Built],
    load_here: dict[EngineChoice, float],
    fresh: dict[EngineChoice, dict[str, Any]],
) -> None:
    """Put each engine's load time and peak RSS in its row.

    The fresh process's figures are used where one ran (the honest ones: nothing else loaded), else
    the load time measured in this process.
    """
    for row in rows:
        choice = next(b.choice for b in built if b.choice.name == row["name"])
        row["load_s_in_process"] = load_here[choice]
        row.update({f"fresh_{k}": v for k, v in fresh.get(choice, {}).items()})
        row["load_s"] = fresh.get(choice, {}).get("load_s", load_here[choice])
        row["peak_rss_mb"] = fresh.get(choice, {}).get("peak_rss_mb")


def model_info(
    source: Source, calib: Path | None, flops: Any, built: list[Built]
) -> dict[str, Any]:
    """The result's ``model``: which graph was benched (by hash).

    It also holds the graph's inputs, FLOPs and the INT8 calibration set, so a report says exactly
    what it measured.
    """
    from edgefer.engines.artifact import file_sha256

    used = next((b.calibration for b in built if b.choice.precision == "int8"), None)
    calibration = short_path(calib) if calib is not None else used  # the builder's own default set

    return {
        "onnx": short_path(source.onnx),
        "label": source.label,
        "sha256": file_sha256(source.onnx),
        "keras": short_path(source.keras),
        "inputs": {n: list(s.shape) for n, s in source.inputs.items()},
        "class_names": list(source.meta["class_names"]),
        "fusion": source.meta.get("fusion"),
        "calibration": calibration,
        "flops_per_inference": flops.flops_per_sample,
    }


def data_info(
    heldout: Any, held: Any, options: BenchOptions, class_names: list[str]
) -> dict[str, Any]:
    """The result's ``data``: the held-out set's size, origin and class counts.

    The origin is the dataset or the shipped check set; accuracies mean little without these.
    """
    return {
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
    }


def settings_of(options: BenchOptions) -> dict[str, Any]:
    """The result's ``settings``: the options as JSON values (paths as text).

    The notes and the output folders are left out: they say nothing about the measurement.
    """
    return {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in asdict(options).items()
        if k not in ("notes", "outputs")
    }


def add_verdicts(result: dict[str, Any]) -> None:
    """Add ``targets`` and ``auto`` to a finished result.

    ``targets`` says whether each target was met or missed, and why; ``auto`` says what
    ``--precision auto`` picks from these rows, and why.
    """
    from edgefer.bench.targets import evaluate_targets
    from edgefer.engines.auto_precision import auto_from_bench

    result["targets"] = evaluate_targets(result)
    result["auto"] = auto_from_bench(result["engines"])  # what --precision auto picks, and why
