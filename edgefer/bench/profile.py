"""Where an ONNX Runtime engine spends its time, per op type, from ONNX Runtime's own profiler.

Why: a missed target ("INT8 is not 1.8x FP32", "GFLOP/s is far from the peak") should come with the
reason measured, not guessed. The profile says how many kernels one inference runs, how long each op
type takes per inference (median over calls) and how much of a call is spent outside any kernel
(``overhead_us``: session bookkeeping, thread hand-offs), which is what dominates small models.
Profiling slows calls a little, so these figures explain the timed ones; they do not replace them.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def profile_ort(
    path: str | Path, inputs: dict[str, np.ndarray], calls: int = 30, threads: int | None = None
) -> dict[str, Any]:
    """Per-op-type microseconds per inference of one ``.onnx`` engine on the CPU provider."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="edgefer-profile-") as work:
        options = ort.SessionOptions()
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(work) / "profile")
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = int(threads)
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for _ in range(calls + 3):  # the first calls allocate and pick kernels: dropped below
            session.run(None, inputs)
        events = json.loads(Path(session.end_profiling()).read_text())
    return summarise(events, skip=3)


def summarise(events: list[dict[str, Any]], skip: int = 0) -> dict[str, Any]:
    """Fold profiler events into per-op-type time per inference (medians over the kept runs)."""
    runs = [e for e in events if e.get("name") == "model_run"]
    bounds = [(e["ts"], e["ts"] + e["dur"]) for e in runs][skip:]
    per_run: list[dict[str, float]] = [defaultdict(float) for _ in bounds]
    nodes: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event.get("cat") != "Node" or not event.get("name", "").endswith("_kernel_time"):
            continue
        op = event.get("args", {}).get("op_name", "?")
        for i, (start, end) in enumerate(bounds):
            if start <= event["ts"] <= end:
                per_run[i][op] += event["dur"]
                nodes[op].add(event["name"])
                break
    if not bounds:
        return {"runs": 0}
    ops = sorted({op for run in per_run for op in run})
    op_us = {op: float(np.median([run.get(op, 0.0) for run in per_run])) for op in ops}
    run_us = float(np.median([end - start for start, end in bounds]))
    kernel_us = float(np.median([sum(run.values()) for run in per_run]))
    return {
        "runs": len(bounds),
        "run_us": run_us,
        "kernel_us": kernel_us,
        "overhead_us": max(run_us - kernel_us, 0.0),
        "op_us": dict(sorted(op_us.items(), key=lambda kv: -kv[1])),
        "op_nodes": {op: len(nodes[op]) for op in ops},
        "nodes": sum(len(v) for v in nodes.values()),
    }
