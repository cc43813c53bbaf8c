"""The offline demo behind ``edgefer run --demo`` and ``make demo``: live loop on packaged clips.

Six CREMA-D clips of one actor, one per emotion, with their own sound track, ship in
``edgefer/assets/demo`` (ODbL / DbCL, see the LICENSE.md there), so the demo needs no camera, no
microphone and no download. Each clip goes through :func:`~edgefer.live.loop.run_live` exactly as a
camera would, but offline (every frame, audio at media time), so the numbers are repeatable: once as
it is and once with the project's synthetic mask drawn on the face (``--synthetic-mask``), since a
masked face is the case edgefer exists for. The demo prints each clip's true class and both
predictions, the accuracy of each pass, the per-stage timings, and writes every annotated frame to
one video. It is for showing: nothing is chosen on its six clips.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.data.labels import CREMAD_TO_CLASS, FER_TO_CLASS
from edgefer.errors import EdgeferError
from edgefer.live.engines import default_engine
from edgefer.live.loop import RunConfig, run_live
from edgefer.live.overlay import VideoWriter
from edgefer.live.sources import open_video_source
from edgefer.live.timing import StageTimer

__all__ = [
    "DEMO_DIR",
    "DEFAULT_VIDEO",
    "ClipResult",
    "DemoResult",
    "clip_prediction",
    "demo_clips",
    "run_demo",
    "true_label",
]

DEMO_DIR = Path(__file__).resolve().parent.parent / "assets" / "demo"
DEFAULT_VIDEO = Path("runs") / "demo" / "demo.mp4"
# CREMA-D's codes by FER2013's emotion names: training's CREMA-D map keeps only ANG, NEU and HAP, so
# the three other clips are scored with FER2013's valence mapping (disgust, fear, sad -> negative).
_FER_NAMES = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}


def demo_clips(folder: str | Path = DEMO_DIR) -> list[Path]:
    """The demo's video clips (``*.flv`` with sound), in name order."""
    clips = sorted(Path(folder).glob("*.flv"))
    if not clips:
        raise EdgeferError(f"no demo clips in {folder}: reinstall edgefer (its assets/demo folder)")
    return clips


def true_label(path: str | Path) -> tuple[str, str]:
    """(CREMA-D emotion code, class) from a name ``AAAA_SSS_EEE_LL``, e.g. ("DIS", "negative")."""
    parts = Path(path).stem.split("_")
    code = parts[2].upper() if len(parts) >= 3 else ""
    if code not in _FER_NAMES:
        raise EdgeferError(f"{Path(path).name} is not named like a CREMA-D clip (AAAA_SSS_EEE_LL)")
    return code, CREMAD_TO_CLASS.get(code) or FER_TO_CLASS[_FER_NAMES[code]]


def clip_prediction(
    records: Sequence[dict[str, Any]], class_names: Sequence[str]
) -> tuple[str | None, dict[str, float] | None]:
    """A clip's class: the mean of its fused (face + voice) probabilities.

    The mean of every prediction when the fused model never ran; None when nothing was predicted.
    """
    scored = [r for r in records if r.get("probs")]
    fused = [r for r in scored if set(r["modalities"]) == {"face", "voice"}]
    chosen = fused or scored
    if not chosen:
        return None, None
    mean = np.mean([[r["probs"][c] for c in class_names] for r in chosen], axis=0)
    probs = {c: float(p) for c, p in zip(class_names, mean, strict=True)}
    return max(probs, key=probs.__getitem__), probs


@dataclass
class ClipResult:
    """One clip: its labels, the mean probabilities, and how many records used which inputs."""

    path: Path
    emotion: str
    true: str
    predicted: str | None
    probs: dict[str, float] | None
    modalities: Counter[str]
    frames: int
    fps: float
    masked: bool = False

    @property
    def correct(self) -> bool:
        return self.predicted == self.true


@dataclass
class DemoResult:
    clips: list[ClipResult] = field(default_factory=list)
    timer: StageTimer = field(default_factory=StageTimer)
    video: Path | None = None
    engines: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def correct(self) -> int:
        """Clips read right without a mask (the masked pass: :meth:`correct_of`)."""
        return self.correct_of(masked=False)

    def correct_of(self, masked: bool) -> int:
        return sum(c.correct for c in self.clips if c.masked == masked)

    def passes(self, masked: bool) -> list[ClipResult]:
        return [c for c in self.clips if c.masked == masked]

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _modalities(records: Sequence[dict[str, Any]]) -> Counter[str]:
    return Counter("+".join(r["modalities"]) or "none" for r in records)


def run_demo(
    output: str | Path | None = DEFAULT_VIDEO,
    config: RunConfig | None = None,
    clips: Sequence[str | Path] | None = None,
    out: Callable[[str], None] = print,
    *,
    log: Callable[[str], None] | None = None,
    on_event: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> DemoResult:
    """Run the loop on each clip (offline, its own sound track) and report.

    Print one line per clip, the accuracy and the stage timings, and write all annotated frames to
    ``output`` (None: no video).

    config : engine, smoothing, rate and detector choices (camera, mic, realtime, save are the
        demo's own). The default engine (middle, ``--precision``) is resolved once for all clips.
    """
    base = config or RunConfig()
    paths = [Path(c) for c in clips] if clips is not None else demo_clips()
    result = DemoResult()
    if base.engine is None:
        engine, note = default_engine(
            base.precision, base.engines_dir, log, base.threads, base.max_drop
        )
        base = dataclasses.replace(base, engine=engine)
        if note:
            result.events.append(note)
            if on_event is not None:
                on_event(note)
    out(
        f"{'clip':<22}{'emotion':<9}{'true':<10}{'unmasked':<13}{'masked':<13}"
        "inputs per frame (unmasked pass)"
    )
    with contextlib.ExitStack() as stack:
        writer: VideoWriter | None = None
        for path in paths:
            emotion, truth = true_label(path)
            pair: list[ClipResult] = []
            for masked in (False, True):
                video = open_video_source(str(path), paced=False)
                if writer is None and output is not None:
                    Path(output).parent.mkdir(parents=True, exist_ok=True)
                    writer = VideoWriter(output, video.fps)
                    stack.callback(lambda w=writer: setattr(result, "video", w.close()))
                look = "synthetic mask" if masked else "no mask"
                clip_config = dataclasses.replace(
                    base,
                    camera=str(path),
                    mic="video",
                    realtime=False,
                    loop=False,
                    save=None,
                    synthetic_mask=masked,
                    note=f"{path.name} ({look})  true: {truth}",
                )
                summary = run_live(
                    clip_config,
                    stop=stop,
                    on_event=on_event,
                    video=video,
                    timer=result.timer,
                    writer=writer,
                )
                result.events += summary.events
                result.engines = summary.engines
                result.frames += summary.frames
                result.seconds += summary.seconds
                class_names = _class_names(summary.records)
                predicted, probs = clip_prediction(summary.records, class_names)
                clip = ClipResult(
                    path,
                    emotion,
                    truth,
                    predicted,
                    probs,
                    _modalities(summary.records),
                    summary.frames,
                    summary.fps,
                    masked,
                )
                result.clips.append(clip)
                pair.append(clip)
                if summary.interrupted or (stop is not None and stop.is_set()):
                    result.interrupted = True
                    break
            out(_clip_line(pair))
            if result.interrupted:
                break
    _report(result, out)
    return result


def _class_names(records: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    for record in records:
        if record.get("probs"):
            return tuple(record["probs"])
    return ("negative", "neutral", "positive")


def _clip_line(pair: Sequence[ClipResult]) -> str:
    """One clip's line: its emotion, true class, and each pass's prediction with ok / x."""
    first = pair[0]
    cells = [f"{(c.predicted or '-') + (' ok' if c.correct else ' x'):<13}" for c in pair]
    cells += [f"{'-':<13}"] * (2 - len(pair))
    inputs = ", ".join(f"{k} {v}" for k, v in first.modalities.most_common())
    return f"{first.path.name:<22}{first.emotion:<9}{first.true:<10}{''.join(cells)}{inputs}"


def _report(result: DemoResult, out: Callable[[str], None]) -> None:
    for masked in (False, True):
        clips = result.passes(masked)
        n = len(clips)
        share = f" ({result.correct_of(masked) / n:.0%})" if n else ""
        what = "masked (synthetic mask)" if masked else "unmasked"
        out(
            f"accuracy {what} {result.correct_of(masked)}/{n}{share} (DIS, FEA, SAD count as negative)"
        )
    out(f"frames {result.frames}, {result.fps:.1f} FPS end to end (offline, every frame)")
    for role, engine in result.engines.items():
        out(f"engine {role}: {engine}")
    out("stage timings over all clips:")
    out(result.timer.format_summary())
    if result.video is not None:
        out(f"annotated video: {result.video}")
