"""``edgefer bench --pipeline``: the live loop's stages timed on real video+audio, per engine.

The engine benchmark times one call; a deployment runs a loop around it (capture, face detection,
crop and resize, the log-mel spectrogram, inference, overlay). This mode runs that very loop,
:func:`edgefer.live.loop.run_live`, as ``edgefer run`` does, but offline (every frame delivered, the
sound advanced to each frame's media time) so that runs repeat and engines compare on the same
frames. After a short warm-up, the clips run one by one, each through every engine in turn (the
first engine rotating), so machine drift hits all engines alike; stage percentiles pool every tick.
The default media are the packaged CREMA-D demo clips, which carry their own sound track.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgefer.engines.artifact import atomic_write_text
from edgefer.errors import EdgeferError

Progress = Callable[[str, int, int], None]
MEDIA_SUFFIXES = (".flv", ".mp4", ".avi", ".mkv", ".mov", ".webm")
WARMUP_FRAMES = 15


def media_files(media: str | Path | None) -> list[Path]:
    """The clips to run: a video file, every video in a folder, or the packaged demo clips."""
    if media is None:
        from edgefer.live.demo import demo_clips

        return demo_clips()
    path = Path(media)
    if path.is_dir():
        clips = sorted(p for p in path.iterdir() if p.suffix.lower() in MEDIA_SUFFIXES)
        if not clips:
            raise EdgeferError(f"no video files in {path} ({', '.join(MEDIA_SUFFIXES)})")
        return clips
    if not path.is_file():
        raise EdgeferError(f"media not found: {path}")
    return [path]


def _engine_paths(model: str, engines: str, engines_dir: Path) -> list[tuple[str, Path]]:
    """(row name, engine file) per engine.

    The model itself for ``auto``, else each named engine built (or reused) like the main
    benchmark's. Keras is no live-loop engine and is refused.
    """
    from edgefer.bench.candidates import build_all, default_calibration, load_source, parse_engines

    source = load_source(model)
    if engines.strip() == "auto":
        return [(f"{source.onnx.name} (as given)", source.onnx)]
    choices, _ = parse_engines(engines, source)
    if any(c.backend == "keras" for c in choices):
        raise EdgeferError("--pipeline runs the live loop, which has no Keras engine: drop keras")
    calib = default_calibration(source.meta)
    built = build_all(source, choices, None, calib, engines_dir)
    return [(b.choice.name, b.path) for b in built]


def run_pipeline(
    model: str,
    media: str | Path | None = None,
    engines: str = "auto",
    threads: int | None = None,
    engines_dir: Path = Path("engines"),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the live loop on ``media`` with each engine; returns the JSON-ready result."""
    try:
        from edgefer.live.loop import RunConfig, run_live
        from edgefer.live.timing import StageTimer
    except ImportError as exc:
        raise EdgeferError(f"--pipeline needs the live loop (edgefer.live.loop): {exc}") from exc
    from edgefer.bench.system import load_average, system_info

    started = time.perf_counter()
    clips = media_files(media)
    paths = _engine_paths(model, engines, engines_dir)
    system = system_info()
    base = RunConfig(mic="video", realtime=False, show=False, keep_records=False)
    if threads is not None:
        base = dataclasses.replace(base, threads=threads)
    configs = [dataclasses.replace(base, engine=path) for _, path in paths]
    for config in configs:  # warm-up: sessions, detector, file cache
        run_live(dataclasses.replace(config, camera=str(clips[0]), max_frames=WARMUP_FRAMES))
    timers = [StageTimer() for _ in paths]
    totals = [{"frames": 0, "seconds": 0.0, "inferences": 0} for _ in paths]
    events: list[set[str]] = [set() for _ in paths]
    used: list[dict[str, str]] = [{} for _ in paths]
    for c, clip in enumerate(clips):  # clip by clip, every engine in turn: drift hits all alike
        if progress is not None:
            progress("live loop, clip by clip, every engine in turn", c, len(clips))
        shift = c % len(paths)
        for k in [*range(shift, len(paths)), *range(shift)]:
            summary = run_live(dataclasses.replace(configs[k], camera=str(clip)), timer=timers[k])
            totals[k]["frames"] += summary.frames
            totals[k]["seconds"] += summary.seconds
            totals[k]["inferences"] += summary.inferences
            events[k].update(summary.events)
            used[k] = summary.engines
    if progress is not None:
        progress("live loop, clip by clip, every engine in turn", len(clips), len(clips))
    runs = [
        {
            "name": name,
            "engine": str(path),
            "engines_used": used[k],
            **totals[k],
            "fps": totals[k]["frames"] / totals[k]["seconds"] if totals[k]["seconds"] else 0.0,
            "stages_ms": timers[k].summary(),
            "events": sorted(events[k]),
        }
        for k, (name, path) in enumerate(paths)
    ]
    system["load_average_end"] = load_average()
    label = Path(paths[0][1]).stem if engines.strip() == "auto" else str(model)
    return {
        "system": system,
        "model": {"label": Path(label).stem, "given": str(model)},
        "media": [str(c) for c in clips],
        "settings": {
            "realtime": False,
            "audio": "each clip's own sound track",
            "threads": base.threads,
            "warmup_frames": WARMUP_FRAMES,
            "detect_width": base.detect_width,
        },
        "runs": runs,
        "seconds": time.perf_counter() - started,
    }


STAGE_KEYS = ("p50", "p90", "p99")


def print_pipeline(result: dict[str, Any], console: Any) -> None:
    """One table per engine run: FPS, then each stage's n and p50/p90/p99 in ms."""
    from rich.table import Table

    from edgefer.bench.report import system_line

    for run in result["runs"]:
        table = Table(
            title=f"edgefer bench --pipeline: {run['name']}: {run['fps']:.1f} FPS "
            f"({run['frames']} frames, {run['inferences']} inferences, {len(result['media'])} clips)"
        )
        for column in ("stage", "n", "p50 ms", "p90 ms", "p99 ms"):
            table.add_column(column, justify="left" if column == "stage" else "right")
        for stage, row in run["stages_ms"].items():
            table.add_row(stage, str(int(row["n"])), *(f"{row[k]:.2f}" for k in STAGE_KEYS))
        console.print(table)
    console.print(system_line(_for_line(result)), highlight=False)


def _for_line(result: dict[str, Any]) -> dict[str, Any]:
    return {"system": result["system"]}


def pipeline_markdown(result: dict[str, Any]) -> str:
    from edgefer.bench.report import system_line

    lines = [
        f"# edgefer bench --pipeline: {result['model']['label']}",
        "",
        f"`{result.get('command', '')}`, {result['system']['time_utc']}, {result['seconds']:.0f} s.",
        "",
        f"Machine: {system_line(_for_line(result))}.",
        "",
        f"The live loop (`edgefer.live.loop.run_live`, as `edgefer run` runs it) on "
        f"{len(result['media'])} clip(s) with their own sound track, offline (every frame, audio at "
        f"media time), ONNX Runtime threads {result['settings']['threads']}, after a "
        f"{result['settings']['warmup_frames']}-frame warm-up; each clip runs through every engine "
        "in turn, so machine drift hits all alike. `spectrogram` runs once per voice hop, "
        "not per frame; `total` is one tick, capture to overlay.",
        "",
        "| engine | FPS | frames | "
        + " | ".join(f"{s} p50 / p99 ms" for s in _stages(result))
        + " |",
        "|---|---|---|" + "---|" * len(_stages(result)),
    ]
    for run in result["runs"]:
        cells = []
        for stage in _stages(result):
            row = run["stages_ms"].get(stage)
            cells.append(f"{row['p50']:.2f} / {row['p99']:.2f}" if row else "-")
        lines.append(
            f"| {run['name']} | {run['fps']:.1f} | {run['frames']} | {' | '.join(cells)} |"
        )
    lines += ["", "Clips: " + ", ".join(f"`{Path(m).name}`" for m in result["media"]), ""]
    return "\n".join(lines)


def _stages(result: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for run in result["runs"]:
        seen += [s for s in run["stages_ms"] if s not in seen]
    return seen


def pipeline_plot(result: dict[str, Any], path: Path) -> Path:
    """Mean ms per tick of each stage, stacked per engine.

    A stage that runs on some ticks only (the spectrogram, once per voice hop) is averaged over all
    ticks, so the bar adds up to the tick.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [s for s in _stages(result) if s != "total"]
    names = [run["name"] for run in result["runs"]]
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(names) + 2.2), dpi=120)
    left = [0.0] * len(names)
    for stage in stages:
        widths = []
        for run in result["runs"]:
            row, ticks = run["stages_ms"].get(stage), run["stages_ms"].get("total", {}).get("n")
            widths.append(row["mean"] * row["n"] / ticks if row and ticks else 0.0)
        ax.barh(names, widths, left=left, label=stage)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for i, run in enumerate(result["runs"]):
        total = run["stages_ms"].get("total", {}).get("mean")
        if total:
            ax.plot(total, i, "k|", markersize=18)
    ax.set_xlabel("mean ms per tick by stage (| = mean tick; capture runs on its own thread)")
    ax.set_title(f"{result['model']['label']}: live-loop stages", fontsize=9)
    ax.legend(fontsize=7, ncol=len(stages), loc="upper center", bbox_to_anchor=(0.5, -0.3))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_pipeline(
    result: dict[str, Any], folder: Path, json_path: Path | None = None
) -> list[Path]:
    """``pipeline.json``, ``pipeline.md`` and ``pipeline.png`` in ``folder`` (+ ``--json``)."""
    from edgefer.engines.artifact import ensure_writable

    ensure_writable(folder)
    text = json.dumps(result, indent=1, default=str) + "\n"
    written = [folder / "pipeline.json", folder / "pipeline.md", folder / "pipeline.png"]
    atomic_write_text(written[0], text)
    atomic_write_text(written[1], pipeline_markdown(result))
    pipeline_plot(result, written[2])
    if json_path is not None:
        ensure_writable(json_path.parent)
        atomic_write_text(json_path, text)
        written.append(json_path)
    return written
