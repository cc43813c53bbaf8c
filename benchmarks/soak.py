"""Memory over a long live run: benchmarks/results/soak.json and soak.md

Usage: python benchmarks/soak.py [--frames 10000] [--every 250] [--out benchmarks/results/soak.json]

One demo clip (480x360, with its sound track) looped through the full loop,
:func:`edgefer.live.loop.run_live`, for ``--frames`` frames, offline (every frame, audio looped at
media time): YuNet detection, voice windows, the default engine (``--precision auto``) and its
fall-backs, smoothing, the
overlay, and an mp4 written (to a temporary file, deleted afterwards). Records are passed on, not
kept, as a long ``--json`` run would. The resident set size (RSS) of the process is sampled every
``--every`` frames (psutil when installed, else ``VmRSS`` from /proc/self/status). A leak shows as a
positive slope: MB per 1000 frames, fitted by least squares after the first 1000 frames (warm-up:
first allocations, caches). Reproduce: ``python benchmarks/soak.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.engines.artifact import atomic_write_text
from edgefer.live.demo import demo_clips
from edgefer.live.engines import default_engine
from edgefer.live.loop import RunConfig, run_live

WARM_UP_FRAMES = 1000


def rss_mb() -> float:
    """Resident set size of this process in MB."""
    try:
        import psutil
    except ImportError:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0  # kB
        raise RuntimeError("no psutil and no /proc/self/status: cannot read RSS") from None
    return psutil.Process().memory_info().rss / 2**20


def rss_source() -> str:
    try:
        import psutil  # noqa: F401
    except ImportError:
        return "/proc/self/status VmRSS"
    return "psutil"


def slope_per_1000(samples: list[tuple[int, float]]) -> float | None:
    """Least-squares MB per 1000 frames over the samples after the warm-up."""
    after = [(f, m) for f, m in samples if f >= WARM_UP_FRAMES]
    if len(after) < 3:
        return None
    frames, mb = np.array(after, dtype=np.float64).T
    return float(np.polyfit(frames / 1000.0, mb, 1)[0])


def markdown(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            "# Live loop soak",
            "",
            f"{result['created']}: {result['frames']} frames of `{result['clip']}` looped through "
            f"the full loop (offline, sound track, {result['detector']} detector, engine "
            f"`{result['engine']}`, overlay, mp4 written) in "
            f"{result['seconds']:.0f} s ({result['fps']:.1f} FPS); load average "
            f"{result['load_average']['start']} at the start, {result['load_average']['end']} at "
            "the end.",
            "",
            "| RSS | MB |",
            "| --- | --- |",
            f"| first sample (frame {result['samples'][0]['frame']}) | {result['rss_mb']['start']:.1f} |",
            f"| last sample (frame {result['samples'][-1]['frame']}) | {result['rss_mb']['end']:.1f} |",
            f"| max | {result['rss_mb']['max']:.1f} |",
            f"| slope after {WARM_UP_FRAMES} frames | {result['slope_mb_per_1000_frames']:+.3f} "
            "MB / 1000 frames |",
            "",
            f"Sampled every {result['every']} frames with {result['rss_source']}; samples in "
            "`soak.json`. Reproduce: `python benchmarks/soak.py`.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=250, help="frames between RSS samples")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/soak.json"))
    args = parser.parse_args()
    load_start = [round(v, 2) for v in os.getloadavg()]
    clip = demo_clips()[0]
    defaults = RunConfig()
    engine, note = default_engine(defaults.precision, log=print, threads=defaults.threads)
    samples: list[tuple[int, float]] = []  # the first after one frame: engines loaded, loop running

    def on_record(record: dict[str, Any]) -> None:
        done = record["frame"] + 1
        if done == 1 or done % args.every == 0:
            samples.append((done, rss_mb()))
            if done % (args.every * 8) == 0:
                print(f"frame {done}: RSS {samples[-1][1]:.1f} MB", flush=True)

    with tempfile.TemporaryDirectory() as folder:
        config = RunConfig(
            camera=str(clip), mic="video", engine=engine, realtime=False, show=False, loop=True,
            max_frames=args.frames, keep_records=False, save=Path(folder) / "soak.mp4",
        )  # fmt: skip
        started = time.perf_counter()
        summary = run_live(config, on_record)
        seconds = time.perf_counter() - started
        saved_mb = summary.saved.stat().st_size / 2**20 if summary.saved else 0.0
    mb = [m for _, m in samples]
    result = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "clip": clip.name,
        "frames": summary.frames,
        "seconds": round(seconds, 1),
        "fps": round(summary.fps, 2),
        "engine": summary.engines.get("fused"),
        "detector": defaults.detector,
        "engine_note": note,
        "events": summary.events,
        "video_written_mb": round(saved_mb, 1),
        "load_average": {"start": load_start, "end": [round(v, 2) for v in os.getloadavg()]},
        "rss_source": rss_source(),
        "every": args.every,
        "rss_mb": {"start": round(mb[0], 2), "end": round(mb[-1], 2), "max": round(max(mb), 2)},
        "slope_mb_per_1000_frames": round(slope_per_1000(samples) or 0.0, 4),
        "slope_from_frame": WARM_UP_FRAMES,
        "samples": [{"frame": f, "rss_mb": round(m, 2)} for f, m in samples],
        "stages_ms": summary.timer.summary(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    atomic_write_text(args.out.with_suffix(".md"), markdown(result))
    print(
        f"{summary.frames} frames in {seconds:.0f} s; RSS {mb[0]:.1f} -> {mb[-1]:.1f} MB "
        f"(max {max(mb):.1f}), slope {result['slope_mb_per_1000_frames']:+.3f} MB/1000 frames; "
        f"wrote {args.out}"
    )


if __name__ == "__main__":
    main()
