"""Per-stage timings of the live loop, their p50/p90/p99 summary, and the ``--json`` line per inference.

Each stage keeps its last ``capacity`` samples in a preallocated array, so a run of any length holds
memory flat and the summary is exact over the most recent ``capacity`` ticks (100,000 by default,
nearly an hour at 30 FPS).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError

STAGES: tuple[str, ...] = (
    "capture",
    "detect",
    "preprocess",
    "spectrogram",
    "infer",
    "overlay",
    "total",
)
PERCENTILES: tuple[int, ...] = (50, 90, 99)


class StageTimer:
    """Times the stages of each tick.

    Use ``start_tick()``, then ``with timer.stage("detect"):`` (or ``add("capture", ms)`` for a time
    measured elsewhere), then ``end_tick()``, which records ``total`` and returns the tick's ms per
    stage. A stage timed twice in one tick (one crop per face) adds up; a stage not run is not
    recorded, so the spectrogram's percentiles describe the ticks that computed one.

    now : the seconds counter read at each start and end (``time.perf_counter``); a test passes its
        own to get exact times.
    """

    def __init__(
        self,
        stages: Sequence[str] = STAGES,
        capacity: int = 100_000,
        now: Callable[[], float] = time.perf_counter,
    ) -> None:
        if capacity < 1:
            raise EdgeferError(f"timer capacity must be >= 1, got {capacity}")
        self.stages = tuple(stages)
        self.capacity = capacity
        self._now = now
        self._samples = {name: np.zeros(capacity, dtype=np.float32) for name in self.stages}
        self._counts = dict.fromkeys(self.stages, 0)
        self._tick: dict[str, float] = {}
        self._tick_start: float | None = None

    def start_tick(self) -> None:
        self._tick = {}
        self._tick_start = self._now()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = self._now()
        try:
            yield
        finally:
            self.add(name, (self._now() - start) * 1000.0)

    def add(self, name: str, ms: float) -> None:
        if name not in self._samples:
            raise EdgeferError(f"unknown stage {name!r}: one of {', '.join(self.stages)}")
        self._tick[name] = self._tick.get(name, 0.0) + float(ms)

    def end_tick(self) -> dict[str, float]:
        """Record this tick (``total`` = time since :meth:`start_tick`) and return its ms per stage."""
        if self._tick_start is not None and "total" in self._samples:
            self._tick["total"] = (self._now() - self._tick_start) * 1000.0
        for name, ms in self._tick.items():
            count = self._counts[name]
            self._samples[name][count % self.capacity] = ms
            self._counts[name] = count + 1
        tick, self._tick, self._tick_start = self._tick, {}, None
        return tick

    def summary(self) -> dict[str, dict[str, float]]:
        """Per recorded stage: n (ticks), mean, p50, p90, p99 in ms."""
        out: dict[str, dict[str, float]] = {}
        for name in self.stages:
            count = self._counts[name]
            if count == 0:
                continue
            values = self._samples[name][: min(count, self.capacity)].astype(np.float64)
            row = {"n": float(count), "mean": float(values.mean())}
            for p, v in zip(PERCENTILES, np.percentile(values, PERCENTILES), strict=True):
                row[f"p{p}"] = float(v)
            out[name] = row
        return out

    def format_summary(self) -> str:
        """The summary as an aligned text table (printed at exit)."""
        rows = self.summary()
        if not rows:
            return "no ticks timed"
        lines = [f"{'stage':<12}{'n':>8}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}"]
        for name, row in rows.items():
            lines.append(
                f"{name:<12}{int(row['n']):>8}{row['p50']:>10.2f}{row['p90']:>10.2f}"
                f"{row['p99']:>10.2f}"
            )
        return "\n".join(lines)


def json_record(
    *,
    timestamp: float,
    probs: np.ndarray | None,
    class_names: Sequence[str],
    modalities: Sequence[str],
    stages_ms: Mapping[str, float],
    engine: str | None = None,
    boxes: Sequence[Sequence[int]] = (),
    extra: Mapping[str, Any] | None = None,
    labels: Sequence[int] | np.ndarray | None = None,
) -> str:
    """One ``--json`` line.

    It holds the timestamp (s), label and probabilities (of the first face), one entry per face when
    several were scored, the modalities and engine used, and per-stage ms.

    probs : (C,), (N, C) for N faces (matching ``boxes``), or None when nothing was predicted.
    labels : the class index shown per face (the smoother's held label); None = argmax of probs.
    """
    record: dict[str, Any] = {"t": round(float(timestamp), 4)}
    predictions = []
    if probs is not None:
        matrix = np.asarray(probs, dtype=np.float64).reshape(-1, len(class_names))
        for i, row in enumerate(matrix):
            box = [int(v) for v in boxes[i]] if i < len(boxes) else None
            shown = (
                int(labels[i]) if labels is not None and i < len(labels) else int(np.argmax(row))
            )
            predictions.append(
                {
                    "label": class_names[shown],
                    "probs": {
                        name: round(float(p), 4) for name, p in zip(class_names, row, strict=True)
                    },
                    "box": box,
                }
            )
    first = predictions[0] if predictions else {"label": None, "probs": None, "box": None}
    record.update(label=first["label"], probs=first["probs"], box=first["box"])
    if len(predictions) > 1:
        record["faces"] = predictions
    record.update(modalities=list(modalities), engine=engine)
    record["ms"] = {name: round(float(ms), 3) for name, ms in stages_ms.items()}
    if extra:
        record.update(extra)
    return json.dumps(record, separators=(",", ":"))
