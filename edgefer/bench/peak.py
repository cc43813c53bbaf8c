"""The CPU's practical float32 peak, on the engines' threads, for "achieved GFLOP/s vs peak".

Two large matmuls, each timed as a task inside the benchmark's interleaved rounds (so they see the
same machine load as the engines):

- ONNX Runtime's own MatMul (MLAS SGEMM) on an intra-op pool of the engines' thread count: literally
  the same threads and kernels library the ONNX Runtime engines compute with;
- NumPy's ``matmul`` (its BLAS, limited to the same thread count with threadpoolctl when installed).

The peak is the fastest call of either (see :func:`summarise` for why the fastest): the most this
CPU was seen to do on those threads during the run.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from edgefer.bench.measure import Task

ORT_SIZE = 512
NUMPY_SIZE = 1024


def _ort_matmul(size: int, threads: int) -> Any:
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    weight = numpy_helper.from_array(rng.random((size, size), dtype=np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "peak",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [size, size])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [size, size])],
        [weight],
    )
    # IR 8 goes with opset 17 (as our exports): a newer onnx package would write its own latest IR,
    # which an older ONNX Runtime (the newest for Python 3.10 reads IR <= 11) refuses.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.log_severity_level = 3
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def blas_limits(threads: int) -> tuple[Any, str]:
    """A context limiting NumPy's BLAS to ``threads`` threads, and a note on what was done."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext(), "BLAS default threads (threadpoolctl not installed)"
    return threadpool_limits(limits=threads, user_api="blas"), f"{threads} BLAS threads"


def peak_tasks(threads: int) -> tuple[list[Task], dict[str, float], dict[str, str]]:
    """The peak tasks, the FLOPs of one call of each, and a note per task.

    ONNX Runtime's matmul is 512^3 (~1-2 ms a call, as long as an engine's batch-8 call: on a busy
    machine a long call is more often cut by another process, which would lower the peak unfairly);
    NumPy's is 1024^3, since a multi-threaded OpenBLAS is slow on small products under load.
    """
    rng = np.random.default_rng(0)
    tasks: list[Task] = []
    flops: dict[str, float] = {}
    notes: dict[str, str] = {}
    a = rng.random((NUMPY_SIZE, NUMPY_SIZE), dtype=np.float32)
    b = rng.random((NUMPY_SIZE, NUMPY_SIZE), dtype=np.float32)
    out = np.empty_like(a)
    key = f"peak-numpy@{NUMPY_SIZE}"
    tasks.append(Task(key, lambda: np.matmul(a, b, out=out), 1, 1))
    flops[key], notes[key] = 2.0 * NUMPY_SIZE**3, f"NumPy float32 {NUMPY_SIZE}^3 matmul"
    try:
        session = _ort_matmul(ORT_SIZE, threads)
    except ImportError:
        return tasks, flops, notes
    feed = {"a": rng.random((ORT_SIZE, ORT_SIZE), dtype=np.float32)}
    key = f"peak-ort@{ORT_SIZE}"
    tasks.append(Task(key, lambda: session.run(None, feed), 1, 1))
    flops[key] = 2.0 * ORT_SIZE**3
    notes[key] = f"ONNX Runtime float32 {ORT_SIZE}^3 MatMul, {threads} intra-op threads"
    return tasks, flops, notes


def summarise(
    tasks: list[Task], flops: dict[str, float], notes: dict[str, str], blas_note: str, threads: int
) -> dict[str, Any]:
    """GFLOP/s of each peak task; the peak is the fastest call of any of them.

    Why the fastest call and not the median: noise on a shared machine (preemption, another job's
    cache traffic) only ever adds time, so the fastest of many calls is the best estimate of what
    the hardware sustains, and comparing an engine's median against it understates the engine's
    share rather than flattering it. The medians are kept beside it.
    """
    each = {}
    for task in tasks:
        rates = flops[task.key] / (np.asarray(task.times_ms) / 1000.0) / 1e9
        each[task.key] = {
            "method": notes[task.key] + (f", {blas_note}" if "numpy" in task.key else ""),
            "gflops_max": float(rates.max()),
            "gflops_median": float(np.median(rates)),
            "n": int(rates.size),
        }
    best = max(each, key=lambda k: each[k]["gflops_max"])
    return {
        "method": f"fastest call of {each[best]['method']} (also timed: "
        + "; ".join(v["method"] for k, v in each.items() if k != best)
        + "), interleaved with the engines",
        "threads": threads,
        "gflops": each[best]["gflops_max"],
        "gflops_median": each[best]["gflops_median"],
        "n": each[best]["n"],
        "by_method": each,
    }
