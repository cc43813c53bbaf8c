"""``--precision auto``: the fastest precision of this backend on this machine that keeps its accuracy.

Which precision is fastest depends on the device, not on the model alone: on a Jetson's GPU INT8 and
FP16 are several times faster than FP32, while on a desktop CPU ONNX Runtime's INT8 kernels are often
no faster than its FP32 ones and FP16 is emulated (slower). So ``auto`` measures instead of guessing:

1. every candidate precision is built (or reused) by :func:`~edgefer.engines.build.build_engine`,
   which checks it against FP32 on the held-out set and rejects it past ``max_drop`` points;
2. the engines that passed are timed on one input of batch 1, interleaved in rounds so a change of
   machine load falls on all of them alike (a few hundred calls each, the median kept);
3. :func:`pick` keeps FP32 unless another precision passed the accuracy floor *and* is faster than
   FP32's median by more than :data:`MIN_SPEEDUP` (timing noise is not a reason to lose accuracy).
   The floor is :data:`AUTO_MAX_DROP`, 0 points, unless the user gives one: by default ``auto``
   trades no held-out accuracy for speed (FP16 on a GPU usually keeps all of it; INT8 a point less),
   and ``--max-drop 1`` lets it pick INT8 where INT8 is faster.

The engines are built with ``build_engine``'s own check at ``max(floor, 1 point)``, so they are the
same cached files a fixed ``--precision`` uses; the floor of ``auto`` is applied when choosing.

The choice and its measurements are written as JSON beside the engines (``<model>-<backend>-auto-
<key>.json``), keyed by the model's hash, the backend and its version, this machine (CPU model and
cores, GPU), the thread count and the rule, so later runs reuse it and a new machine measures again.
"""

from __future__ import annotations

import functools
import json
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.engines.artifact import atomic_write_text, cache_key, file_sha256
from edgefer.engines.kinds import PRECISIONS
from edgefer.errors import EdgeferError

CANDIDATES: tuple[str, ...] = PRECISIONS  # fp32 first: the reference
AUTO_MAX_DROP = 0.0  # accuracy points auto may give up for speed unless told otherwise
BUILD_MAX_DROP = 1.0  # build_engine's own default check
MIN_SPEEDUP = 1.10  # a precision must be >10 % faster than FP32 (median) to be chosen over it
RULE_VERSION = 1  # bump when the rule or the measurement changes, so cached choices are remade
DEFAULT_CALLS = 300


@dataclass(frozen=True)
class Candidate:
    """One precision as ``auto`` saw it.

    Where it is, its median latency, its accuracy drop, and whether it may be chosen (``note`` says
    why not).
    """

    precision: str
    path: str | None
    median_ms: float | None
    drop_points: float | None
    passed: bool
    note: str = ""


@dataclass
class AutoChoice:
    """What ``auto`` picked for one model on one machine, why, and what it measured."""

    precision: str
    path: Path
    backend: str
    reason: str
    candidates: list[Candidate]
    key: str
    record: Path
    cached: bool = False
    calls: int = DEFAULT_CALLS
    machine: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "auto-precision",
            "precision": self.precision,
            "path": str(self.path),
            "backend": self.backend,
            "reason": self.reason,
            "candidates": [asdict(c) for c in self.candidates],
            "key": self.key,
            "calls": self.calls,
            "machine": self.machine,
            "rule": {"version": RULE_VERSION, "min_speedup": MIN_SPEEDUP},
        }


def pick(candidates: list[Candidate], max_drop: float) -> tuple[str, str]:
    """(precision, reason) by the rule of this module; FP32 must be among ``candidates``."""
    reference = next((c for c in candidates if c.precision == "fp32"), None)
    if reference is None or reference.median_ms is None:
        raise EdgeferError("auto precision needs the FP32 engine measured as its reference")
    base = reference.median_ms
    faster = [
        c
        for c in candidates
        if c.precision != "fp32"
        and c.passed
        and c.median_ms is not None
        and c.drop_points is not None
        and c.drop_points <= max_drop
        and base / c.median_ms > MIN_SPEEDUP
    ]
    if faster:
        best = min(faster, key=lambda c: c.median_ms or float("inf"))
        assert best.median_ms is not None and best.drop_points is not None
        return best.precision, (
            f"{best.precision} is {base / best.median_ms:.2f}x as fast as fp32 "
            f"({best.median_ms:.2f} vs {base:.2f} ms median) and loses {best.drop_points:+.2f} "
            f"points (floor {max_drop:g})"
        )
    others = []
    for c in candidates:
        if c.precision == "fp32":
            continue
        if not c.passed or c.median_ms is None:
            others.append(f"{c.precision} {c.note or 'not available'}")
        elif c.drop_points is not None and c.drop_points > max_drop:
            others.append(f"{c.precision} loses {c.drop_points:.2f} points")
        else:
            others.append(f"{c.precision} {base / c.median_ms:.2f}x ({c.median_ms:.2f} ms)")
    return "fp32", (
        f"no other precision is more than {MIN_SPEEDUP:.2f}x as fast as fp32 ({base:.2f} ms "
        f"median) within the floor: {'; '.join(others) or 'none built'}"
    )


def machine_identity(backend: str) -> dict[str, Any]:
    """What makes a latency this machine's: CPU model and usable cores, and the GPU for TensorRT."""
    from edgefer.bench.system import cpu_info

    cpu = cpu_info()
    identity: dict[str, Any] = {
        "cpu": cpu["model"],
        "usable_cores": cpu["usable_cores"],
        "architecture": cpu["architecture"],
    }
    if backend == "tensorrt":
        from edgefer.platform_info import gpu_identity

        gpu = gpu_identity()  # as the engines' cache key and sidecars name it
        identity["gpu"] = gpu.as_list() if gpu is not None else [None, None]
    return identity


def record_path(source: Path, backend: str, key: str, engines_dir: Path) -> Path:
    return engines_dir / f"{source.stem}-{backend}-auto-{key}.json"


def load_choice(path: Path) -> AutoChoice | None:
    """A stored choice whose engine file is still there, else None (measure again)."""
    try:
        data = json.loads(path.read_text())
        chosen = Path(data["path"])
        if data.get("kind") != "auto-precision" or not chosen.is_file():
            return None
        return AutoChoice(
            precision=data["precision"],
            path=chosen,
            backend=data["backend"],
            reason=data["reason"],
            candidates=[Candidate(**c) for c in data["candidates"]],
            key=data["key"],
            record=path,
            cached=True,
            calls=int(data["calls"]),
            machine=dict(data["machine"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def time_engines(
    engines: dict[str, Any], calls: int, rounds: int = 10, warmup: int = 10
) -> dict[str, float]:
    """Median ms per call of each engine on one fixed batch-1 input.

    Measured in the benchmark's own interleaved rounds (:mod:`edgefer.bench.measure`), so drift in
    machine load falls on every engine alike.
    """
    from edgefer.bench.measure import Task, interleave, warm_up

    if not engines:
        return {}
    first = next(iter(engines.values()))
    rng = np.random.default_rng(0)
    batch = {
        name: rng.standard_normal((1, *[d or 1 for d in spec.shape[1:]])).astype(np.float32)
        for name, spec in first.inputs.items()
    }
    per_round = max(1, calls // rounds)
    tasks = [
        Task(name, functools.partial(engine.predict, batch), per_round=per_round)
        for name, engine in engines.items()
    ]
    warm_up(tasks, calls=warmup)
    interleave(tasks, rounds)
    return {task.key: float(statistics.median(task.times_ms)) for task in tasks}


def choose_precision(
    source: str | Path,
    backend: str = "auto",
    engines_dir: str | Path = "engines",
    max_drop: float = AUTO_MAX_DROP,
    *,
    calls: int = DEFAULT_CALLS,
    threads: int | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Any = None,
    **build_options: Any,
) -> AutoChoice:
    """Measure (or reuse the stored measurement of) each precision of ``source`` and pick one.

    ``build_options`` go to every :func:`~edgefer.engines.build.build_engine` call (``trt``,
    ``min_calib``, ``heldout_per_class``) and into the key of the stored choice.
    """
    from edgefer.engines.build import BuildRejectedError, build_engine
    from edgefer.engines.open import open_engine, resolve_backend, runtime_version

    source, engines_dir = Path(source), Path(engines_dir)
    if source.suffix != ".onnx" or not source.is_file():
        raise EdgeferError(f"--precision auto needs an exported .onnx model, got {source}")
    if calls < 10:
        raise EdgeferError(f"auto precision needs at least 10 timed calls, got {calls}")
    backend = resolve_backend(backend)
    machine = machine_identity(backend)
    key = cache_key(
        {
            "source_onnx_sha256": file_sha256(source),
            "backend": backend,
            "runtime_version": runtime_version(backend),
            "machine": machine,
            "threads": threads,
            "max_drop": max_drop,
            "calls": calls,
            "rule": RULE_VERSION,
            "min_speedup": MIN_SPEEDUP,
            "build_options": {k: repr(v) for k, v in sorted(build_options.items())},
        }
    )
    record = record_path(source, backend, key, engines_dir)
    stored = None if force else load_choice(record)
    if stored is not None:
        return stored
    if log is not None:
        log(
            f"--precision auto: building and timing {', '.join(CANDIDATES)} of {source.name} on "
            f"{backend} once (each checked against FP32; ~1 min on 2 cores); kept in {record}"
        )
    found: dict[str, tuple[str | None, float | None, bool, str]] = {}
    for precision in CANDIDATES:
        if precision == "fp32" and backend == "onnxruntime":
            found[precision] = (str(source.resolve()), 0.0, True, "the export itself")
            continue
        try:
            built = build_engine(
                source, precision, backend, max_drop=max(max_drop, BUILD_MAX_DROP),
                engines_dir=engines_dir,
                progress=progress, **build_options,
            )  # fmt: skip
        except BuildRejectedError as exc:
            report = exc.result.report or {}
            found[precision] = (None, report.get("drop_points"), False, "rejected by the check")
            continue
        except EdgeferError as exc:
            found[precision] = (None, None, False, f"not built ({exc})")
            continue
        drop = (built.report or {}).get("drop_points", 0.0)
        found[precision] = (str(built.path.resolve()), drop, True, "")
    if not found["fp32"][2]:
        raise EdgeferError(
            f"auto precision: the FP32 engine could not be made ({found['fp32'][3]})"
        )
    engines: dict[str, Any] = {}
    try:
        for precision, (path, _, passed, _) in found.items():
            if passed and path is not None:
                engines[precision] = open_engine(path, threads)
        medians = time_engines(engines, calls)
    finally:
        for engine in engines.values():
            engine.close()
    candidates = [
        Candidate(p, path, medians.get(p), drop, passed, note)
        for p, (path, drop, passed, note) in found.items()
    ]
    precision, reason = pick(candidates, max_drop)
    chosen = next(c for c in candidates if c.precision == precision)
    assert chosen.path is not None
    choice = AutoChoice(
        precision,
        Path(chosen.path),
        backend,
        reason,
        candidates,
        key,
        record,
        False,
        calls,
        machine,
    )
    engines_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(record, json.dumps(choice.to_dict(), indent=2) + "\n")
    return choice


def describe(choice: AutoChoice) -> str:
    """One line for a log: what ``auto`` runs and why (and whether it was measured just now)."""
    how = "reused from " + str(choice.record) if choice.cached else "measured now"
    return f"precision auto -> {choice.precision} ({choice.reason}; {how})"


def auto_from_bench(
    rows: list[dict[str, Any]], max_drop: float = AUTO_MAX_DROP
) -> list[dict[str, Any]]:
    """What ``auto`` picks from a benchmark's own rows, per backend that has an FP32 row.

    The rows give the batch-1 median and the drop vs FP32; the rule is the same as
    :func:`choose_precision`, applied to the benchmark's measurement.
    """
    picks = []
    for backend in ("onnxruntime", "tensorrt"):
        mine = [r for r in rows if r.get("backend") == backend and r.get("precision") in CANDIDATES]
        if not any(r["precision"] == "fp32" for r in mine):
            continue
        candidates = [
            Candidate(
                r["precision"],
                r.get("file"),
                r.get("latency_p50_ms"),
                r.get("drop_points"),
                r.get("latency_p50_ms") is not None,
            )
            for r in mine
        ]
        precision, reason = pick(candidates, max_drop)
        picks.append(
            {"backend": backend, "precision": precision, "reason": reason, "max_drop": max_drop}
        )
    return picks
