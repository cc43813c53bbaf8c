"""Load time and peak memory of one engine, each measured in a fresh Python process.

Why a fresh process: in the benchmark's own process every engine's memory lands on top of the others'
(and of the held-out data, and of TensorFlow if the Keras row is loaded), and a second load of the
same runtime is faster than the first. A child process per engine starts from nothing and reports:

- ``import_s``: importing the runtime (ONNX Runtime, TensorRT, or TensorFlow + Keras);
- ``load_s``: making the engine from its file (session creation, graph optimisation, deserialising);
- ``first_call_ms``: the first batch-N call (lazy allocation, kernel selection, Keras tracing);
- ``peak_rss_mb``: the process's high-water resident memory (``VmHWM``) after loading the engine and
  running batch N ``calls`` times, and ``engine_rss_mb``: that peak minus the resident memory once
  the runtime was imported, i.e. what the engine itself costs.

Run as ``python -m edgefer.bench.memory BACKEND PATH BATCH [THREADS]``; prints one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from edgefer.errors import EdgeferError


def _status_mb(field: str) -> float | None:
    """``VmRSS``/``VmHWM`` of this process in MB, from /proc (None off Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _peak_mb() -> float | None:
    hwm = _status_mb("VmHWM")
    if hwm is not None:
        return hwm
    import resource  # macOS: ru_maxrss is in bytes there, kilobytes on Linux

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0**2 if sys.platform == "darwin" else 1024.0)


def measure_here(backend: str, path: str, batch: int, threads: int | None, calls: int = 5) -> dict:
    """The child's side: import, load, run, and report the figures above."""
    import numpy as np

    started = time.perf_counter()
    if backend == "keras":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # training side: this import brings in Keras and TensorFlow, which is what is timed
        from edgefer.models.keras_engine import KerasEngine
    else:
        if backend == "tensorrt":  # a TensorRT-only Jetson has no ONNX Runtime to import
            from edgefer.engines.trt_module import import_tensorrt

            import_tensorrt()
        else:
            import onnxruntime  # noqa: F401
        from edgefer.engines.open import open_engine
    import_s = time.perf_counter() - started
    rss_runtime = _status_mb("VmRSS")
    started = time.perf_counter()
    if backend == "keras":
        engine = KerasEngine(path, mode="predict_on_batch")
    else:
        options = {"intra_op_threads": threads} if backend == "onnxruntime" and threads else {}
        engine = open_engine(path, **options)
    load_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    inputs = {
        name: rng.random((batch, *spec.shape[1:]), dtype=np.float32)
        for name, spec in engine.inputs.items()
    }
    started = time.perf_counter()
    engine.predict(inputs)
    first_ms = (time.perf_counter() - started) * 1000.0
    for _ in range(calls):
        engine.predict(inputs)
    peak = _peak_mb()
    return {
        "import_s": import_s,
        "load_s": load_s,
        "first_call_ms": first_ms,
        "peak_rss_mb": peak,
        "engine_rss_mb": None if peak is None or rss_runtime is None else peak - rss_runtime,
        "rss_after_import_mb": rss_runtime,
    }


def measure_in_child(
    backend: str, path: Path, batch: int, threads: int | None = None, timeout: float = 300.0
) -> dict[str, Any]:
    """Run :func:`measure_here` in a fresh interpreter; a failure is one-line ``EdgeferError``."""
    args = [sys.executable, "-m", "edgefer.bench.memory", backend, str(path), str(batch)]
    if threads:
        args.append(str(threads))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise EdgeferError(
            f"loading {path.name} in a fresh process took over {timeout:.0f} s"
        ) from exc
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EdgeferError(f"loading {path.name} in a fresh process failed: {tail}")
    return json.loads(lines[-1])


def main(argv: list[str]) -> None:
    backend, path, batch = argv[0], argv[1], int(argv[2])
    threads = int(argv[3]) if len(argv) > 3 else None
    print(json.dumps(measure_here(backend, path, batch, threads)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
