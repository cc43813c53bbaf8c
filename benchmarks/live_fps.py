"""Live-loop frames per second on the demo clips: benchmarks/results/live_fps.json and live_fps.md

Usage: python benchmarks/live_fps.py [--repeats 5] [--out benchmarks/results/live_fps.json]

The whole loop, :func:`edgefer.live.loop.run_live`, on the six packaged CREMA-D clips (480x360,
29.97 fps) with their own sound track: offline (every frame delivered, audio advanced to each frame's
media time, so nothing is dropped and every repetition sees the same inputs), face detection on every
frame (the default detector, YuNet, via ``FaceFinder``),
the default engine (the shipped middle model, INT8, ONNX Runtime,
built once and cached in ``engines/``) with the shipped face and voice models as fall-backs, the
overlay drawn, no video written and no window. One repetition is the six clips, 379 frames; its FPS is
frames / seconds of the loop (engine loading excluded). The reported ``fps`` is the median over the
repetitions, after one warm-up repetition that is not counted. Stage percentiles pool every frame of
the counted repetitions. The load average is read at the start and the end: other work on the
machine (a training run) slows the loop, and the result says how busy the machine was.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgefer.live.demo import demo_clips
from edgefer.live.detect import make_detector
from edgefer.live.engines import default_engine
from edgefer.live.loop import RunConfig, run_live
from edgefer.live.timing import StageTimer

TARGET_FPS = 60.0
TARGET_INFER_RATIO = 2.0


def system_info() -> dict[str, Any]:
    """CPU model and cores, runtime versions: what the numbers depend on."""
    import cv2
    import numpy as np
    import onnxruntime

    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Hardware")):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "architecture": platform.machine(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "opencv": cv2.__version__,
        "numpy": np.__version__,
    }


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def one_repetition(
    config: RunConfig, clips: list[Path], timer: StageTimer
) -> tuple[dict[str, Any], dict[str, str]]:
    """All clips once through the loop, timed into ``timer``: (frames/seconds/fps, engines used)."""
    frames, seconds, events, engines = 0, 0.0, [], {}
    for clip in clips:
        summary = run_live(dataclasses.replace(config, camera=str(clip)), timer=timer)
        frames, seconds = frames + summary.frames, seconds + summary.seconds
        events += summary.events
        engines = summary.engines
    row = {"frames": frames, "seconds": round(seconds, 4), "fps": round(frames / seconds, 2)}
    return {**row, "events": events}, engines


def markdown(result: dict[str, Any]) -> str:
    stages = result["stages_ms"]
    lines = [
        "# Live loop FPS",
        "",
        f"{result['created']}, {result['machine']['cpu']} ({result['machine']['usable_cores']} "
        f"cores), ONNX Runtime {result['machine']['onnxruntime']}; load average "
        f"{result['load_average']['start']} at the start, {result['load_average']['end']} at the "
        "end (1, 5, 15 min).",
        "",
        f"The full loop on the {result['clips']} packaged CREMA-D clips with their sound track, "
        f"offline, detection on every frame, engine `{result['engines']['fused']}`; "
        f"{len(result['repetitions'])} repetitions of {result['repetitions'][0]['frames']} frames "
        "after one warm-up.",
        "",
        "| | measured | target |",
        "| --- | --- | --- |",
        f"| FPS end to end (median) | **{result['fps']:.1f}** (min {result['fps_min']:.1f}, "
        f"max {result['fps_max']:.1f}) | >= {TARGET_FPS:.0f} |",
        f"| infer p99 / p50 | **{result['infer_p99_over_p50']:.2f}** | <= {TARGET_INFER_RATIO:.0f} |",
        "",
        "| stage | n | p50 ms | p90 ms | p99 ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, row in stages.items():
        lines.append(
            f"| {name} | {int(row['n'])} | {row['p50']:.2f} | {row['p90']:.2f} | {row['p99']:.2f} |"
        )
    lines += [
        "",
        "`spectrogram` runs once per 0.25 s of audio, not per frame; `total` is one tick, capture "
        "to overlay. Reproduce: `python benchmarks/live_fps.py`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="counted repetitions of all clips")
    parser.add_argument("--precision", default="int8", help="of the default engine")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/live_fps.json"))
    args = parser.parse_args()
    load_start = load_average()
    engine, note = default_engine(args.precision, log=print)
    if note:
        print(f"warning: {note}")
    config = RunConfig(
        mic="video", engine=engine, precision=args.precision, realtime=False, show=False,
        keep_records=False,
    )  # fmt: skip
    clips = demo_clips()
    one_repetition(config, clips, StageTimer())  # warm-up: file cache, first sessions
    timer = StageTimer()
    repetitions = []
    for index in range(args.repeats):
        row, engines = one_repetition(config, clips, timer)
        repetitions.append(row)
        print(f"repetition {index + 1}/{args.repeats}: {row['fps']:.1f} FPS")
    stages = timer.summary()
    fps = [r["fps"] for r in repetitions]
    ratio = stages["infer"]["p99"] / stages["infer"]["p50"]
    result = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": system_info(),
        "load_average": {"start": load_start, "end": load_average()},
        "clips": len(clips),
        "config": {
            "realtime": False,
            "audio": "each clip's own sound track",
            "detector": make_detector(config.detector).describe() + ", FaceFinder following",
            "smoothing": config.smoothing,
            "precision": args.precision,
            "engine_note": note,
            "ort_intra_op_threads": config.threads,
            "overlay": "drawn, not saved or shown",
        },
        "engines": engines,
        "repetitions": repetitions,
        "fps": round(statistics.median(fps), 2),
        "fps_min": min(fps),
        "fps_max": max(fps),
        "stages_ms": {k: {m: round(v, 3) for m, v in row.items()} for k, row in stages.items()},
        "infer_p99_over_p50": round(ratio, 3),
        "target": {"fps": TARGET_FPS, "infer_p99_over_p50": TARGET_INFER_RATIO},
        "meets_target": {
            "fps": statistics.median(fps) >= TARGET_FPS,
            "infer_p99_over_p50": ratio <= TARGET_INFER_RATIO,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(timer.format_summary())
    print(
        f"fps {result['fps']} (median of {len(fps)}), infer p99/p50 {ratio:.2f}, load "
        f"{result['load_average']}; wrote {args.out} and {args.out.with_suffix('.md')}"
    )


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"{time.perf_counter() - started:.0f} s")
