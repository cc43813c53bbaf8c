"""The order of a benchmark run.

Check the model, load real held-out data, build or reuse every engine, count FLOPs, measure load/RSS
in fresh processes, score accuracy, then time everything interleaved.

Returns one JSON-ready dict (``system``, ``model``, ``data``, ``settings``, ``peak``, ``engines``,
``targets``, ``notes``), put together by :mod:`edgefer.bench.results` from what
:mod:`edgefer.bench.engine_runs` measured; :mod:`edgefer.bench.report` turns it into the table,
Markdown and plots. Cheap checks come first, so a missing or corrupt model fails in a second with
one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgefer.bench.candidates import Built, EngineChoice, Source
from edgefer.bench.engine_runs import max_batch, measure_engines
from edgefer.bench.options import BenchOptions
from edgefer.bench.results import (
    add_load_figures,
    add_verdicts,
    data_info,
    model_info,
    settings_of,
)
from edgefer.engines.base import Engine

Progress = Callable[[str, int, int], None]


def _heldout(source: Source, options: BenchOptions, progress: Progress | None) -> Any:
    """The held-out set and where it came from.

    It is ``--data`` or the data root's dataset, else the check set shipped for the model's
    preprocessing (:func:`edgefer.checkset.heldout_for`).
    """
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
        result = measure_engines(
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
    add_load_figures(result["engines"], built, load_here, fresh)
    system["load_average_end"] = load_average()
    result.update(
        system=system,
        model=model_info(source, calib, flops, built),
        data=data_info(heldout, held, options, class_names),
        settings=settings_of(options),
        flops=flops.to_dict(),
        notes=notes + options.notes + result.get("notes", []),
        seconds=time.perf_counter() - started,
        phases_s={**phases, **result.get("phases_s", {})},
    )
    add_verdicts(result)
    return result


def _fresh(item: Built, batch: int, threads: int | None) -> dict[str, Any]:
    """Load time and peak RSS of one engine file in a child process.

    It is measured at the largest batch the engine takes; this process has every engine and runtime
    loaded, so its RSS says nothing about one.
    """
    from edgefer.bench.memory import measure_in_child

    limit = max_batch(item)
    return measure_in_child(item.choice.backend, item.path, min(batch, limit or batch), threads)
