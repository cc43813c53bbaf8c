"""Face detection rate of every detector setting, masked and unmasked: benchmarks/results/detection_rate.*

Usage: python benchmarks/detection_rate.py [--n 300] [--out benchmarks/results/detection_rate.json]

The live loop must find a face before it can classify it, and masked faces are the mission: a mask
hides the mouth and nose whose light-dark patterns Haar's features look for, so a detector that
finds bare faces may miss most masked ones. There is no real masked-face video here, so two stand-ins
are measured, both on real faces:

1. Scenes (:mod:`edgefer.evaluation.scenes`): FER2013 ``val`` faces (never used for training),
   balanced over emotions, pasted into 640x480 frames at a random place over a random background,
   bare and wearing the project's synthetic mask (the synthesiser training uses; its style gives the
   surgical/n95/cloth breakdown). Every face is shown at 40 (small), 64, 100, 160 and 240 px, bare
   and masked in the same frame otherwise; "masked"/"unmasked" pool 64-240 px, 40 px is reported
   apart. Also frames holding 2-3 faces of 80-160 px (each masked or not at random; the share of
   faces found) and frames without a face (n per background kind: false alarms per 100 empty
   frames, i.e. the share of frames with any box).
2. CREMA-D video frames (480x360, one actor; at most n frames, evenly over the clips). The truth box
   is YuNet's (score >= 0.5, working width 640) on the bare frame, so YuNet at 0.5 finds every bare
   frame by construction; the mask is then drawn into that box (three styles per clip, one a pass).

A hit is a box with IoU >= 0.3 to a true face; a false alarm on a face frame is a box overlapping no
true face. Each scene is drawn once from a fixed seed and every detector searches it through
:class:`~edgefer.live.face_finder.FaceFinder`'s full search (the frame scaled to the working width,
boxes scaled back), as the live loop does. Detectors: YuNet at each score threshold and working
widths 320 and 640 (one search at the lowest threshold serves every threshold: ``detect`` at t keeps
exactly the boxes scoring >= t, checked at start); ``haar`` (the loop's tuned cascade) and
``haar_default`` (HaarFaceDetector's defaults) at width 320 and the full frame. Speed: ms per full
search of a 320x240 and a 640x480 frame (p50, p90 of 100 calls), with 1 OpenCV thread and OpenCV's
default. A "choice" section picks the YuNet threshold from these numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from edgefer.engines.artifact import atomic_write_text
from edgefer.evaluation.scenes import (
    BACKGROUNDS,
    HeldOutFace,
    background,
    held_out_faces,
    iou,
    mask_shape,
    scene,
)
from edgefer.live.detect import Box, HaarFaceDetector, YuNetFaceDetector, make_detector
from edgefer.live.face_finder import FaceFinder
from edgefer.masks import SHAPES, apply_mask
from edgefer.media import read_video_frames
from edgefer.paths import data_root

FRAME = (640, 480)
SIDES = (40, 64, 100, 160, 240)
POOLED_SIDES = SIDES[1:]  # "masked" / "unmasked": faces at usual webcam distances
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
YUNET_WIDTHS = (640, 320, 960)  # 960: a 640 frame upscaled 1.5x, the loop's second scale
HIT_IOU = 0.3
MAX_FALSE_ALARMS = 1.0  # per 100 empty frames, for the choice
TIMING_CALLS = 100
CREMAD_TRUTH = "yunet@0.5@640"

Item = tuple[list[str], np.ndarray, list[Box]]  # (tally keys, frame, true boxes)
KEYS = {  # what each key of "rates" counts, for readers of the JSON
    "masked, unmasked": "one face per frame, 64-240 px; masked_<style>: the masked ones by style",
    "masked_<side>, unmasked_<side>": "one face per frame at that many px",
    "multi_face": "faces in frames of 2-3 faces of 80-160 px (each masked at random)",
    "face_frames": "every scene frame with a face (for false alarms on face frames)",
    "empty, empty_<background>": "frames without a face: false alarms only",
    "cremad_*": "CREMA-D frames, truth box from yunet@0.5@640 on the bare frame",
}


def yunet_name(threshold: float, width: int) -> str:
    return f"yunet@{threshold:g}@{width}"


class ScoredYuNet:
    """YuNet searched by FaceFinder at one working width, keeping each box's score, so one search
    gives the boxes of every score threshold (FaceFinder calls :meth:`detect` on the scaled frame)."""

    def __init__(self, width: int) -> None:
        low = min(*THRESHOLDS, 0.3)
        self.net = YuNetFaceDetector(score_threshold=low, track_threshold=low)
        self.width = width
        # Widths above the loop's 640 are its second search scale: the frame upscaled.
        self.factor = max(1.0, width / 640)
        self.finder = FaceFinder(self, detect_width=min(width, 640), follow=False)  # type: ignore[arg-type]
        self._scores: list[float] = []

    def detect(self, frame: np.ndarray) -> list[Box]:
        found = self.net.detect_scored(frame)
        self._scores = [score for _, score in found]
        return [box for box, _ in found]

    def search(self, frame: np.ndarray) -> dict[str, list[Box]]:
        boxes = self.finder.search(frame, self.factor)  # detect()'s order: zip keeps scores
        scored = list(zip(boxes, self._scores, strict=True))
        return {yunet_name(t, self.width): [b for b, s in scored if s >= t] for t in THRESHOLDS}


class HaarSearch:
    """A Haar detector searched by FaceFinder at ``width`` (0: the full frame)."""

    def __init__(self, name: str, detector: HaarFaceDetector, width: int) -> None:
        self.name = f"{name}@{width or 'full'}"
        self.finder = FaceFinder(detector, detect_width=width, follow=False)

    def search(self, frame: np.ndarray) -> dict[str, list[Box]]:
        return {self.name: self.finder.search(frame)}


def haar_detectors() -> dict[str, HaarFaceDetector]:
    tuned = make_detector("haar")
    assert isinstance(tuned, HaarFaceDetector)
    return {"haar": tuned, "haar_default": HaarFaceDetector()}


def searches() -> list[ScoredYuNet | HaarSearch]:
    haar = [HaarSearch(name, det, w) for name, det in haar_detectors().items() for w in (320, 0)]
    return [ScoredYuNet(w) for w in YUNET_WIDTHS] + haar


def search_all(runs: list[ScoredYuNet | HaarSearch], frame: np.ndarray) -> dict[str, list[Box]]:
    return {name: boxes for run in runs for name, boxes in run.search(frame).items()}


def check_shared_search(runs: list[ScoredYuNet | HaarSearch], frames: list[np.ndarray]) -> None:
    """Each shared-search YuNet threshold gives the boxes its own detector would."""
    shared = [search_all(runs, frame) for frame in frames]
    for t in THRESHOLDS:
        for w in YUNET_WIDTHS:
            det = YuNetFaceDetector(score_threshold=t, track_threshold=min(t, 0.3))
            own = FaceFinder(det, detect_width=min(w, 640), follow=False)
            for frame, boxes in zip(frames, shared, strict=True):
                if sorted(boxes[yunet_name(t, w)]) != sorted(own.search(frame, max(1.0, w / 640))):
                    raise SystemExit(f"shared YuNet search differs at {yunet_name(t, w)}")


@dataclass
class Count:
    hits: int = 0
    faces: int = 0
    frames: int = 0
    alarm_frames: int = 0  # frames with a box overlapping no true face

    def summary(self) -> str:
        if self.faces:
            return f"{self.hits / self.faces:.3f} of {self.faces} faces"
        return f"{100.0 * self.alarm_frames / self.frames:.1f} false alarms /100 of {self.frames}"


class Tally:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], Count] = {}

    def add(self, config: str, keys: list[str], boxes: list[Box], truths: list[Box]) -> None:
        hits = sum(any(iou(box, t) >= HIT_IOU for box in boxes) for t in truths)
        alarm = any(all(iou(box, t) == 0.0 for t in truths) for box in boxes)
        for key in keys:
            count = self.counts.setdefault((config, key), Count())
            count.hits += hits
            count.faces += len(truths)
            count.frames += 1
            count.alarm_frames += alarm

    def rates(self) -> dict[str, dict[str, dict[str, float | int | None]]]:
        out: dict[str, dict[str, dict[str, float | int | None]]] = {}
        for (config, key), c in self.counts.items():
            out.setdefault(config, {})[key] = {
                "rate": round(c.hits / c.faces, 4) if c.faces else None,
                "faces": c.faces,
                "frames": c.frames,
                "false_alarms_per_100_frames": round(100.0 * c.alarm_frames / c.frames, 2),
            }
        return out


def size_items(faces: list[HeldOutFace], side: int) -> Iterator[Item]:
    """Each face at ``side`` px, bare and masked, in the same frame otherwise."""
    for i, face in enumerate(faces):
        seed = 10_000 * side + i
        pooled = side in POOLED_SIDES
        for mask_seed in (None, seed):
            rng = np.random.default_rng([1, side, i])  # same place and background, bare or masked
            frame, truths = scene([(face, side, mask_seed)], FRAME, rng)
            if mask_seed is None:
                keys = ["face_frames", f"unmasked_{side}"] + ["unmasked"] * pooled
            else:
                keys = ["face_frames", f"masked_{side}"]
                keys += ["masked", f"masked_{mask_shape(seed)}"] * pooled
            yield keys, frame, truths


def multi_face_items(faces: list[HeldOutFace], n: int) -> Iterator[Item]:
    """Frames of 2-3 faces of 80-160 px, each masked at random, until ``n`` faces are shown."""
    shown, j = 0, 0
    while shown < n:
        rng = np.random.default_rng([2, j])
        count = int(rng.integers(2, 4))
        picks = [faces[(shown + k) % len(faces)] for k in range(count)]
        spec = [
            (face, int(rng.integers(80, 161)), 20_000 + shown + k if rng.random() < 0.5 else None)
            for k, face in enumerate(picks)
        ]
        frame, truths = scene(spec, FRAME, rng)
        yield ["face_frames", "multi_face"], frame, truths
        shown, j = shown + count, j + 1


def empty_items(kind: str, n: int) -> Iterator[Item]:
    for j in range(n):
        rng = np.random.default_rng([3, BACKGROUNDS.index(kind), j])
        yield ["empty", f"empty_{kind}"], background(kind, *FRAME, rng), []


def cremad_items(clips: list[Path], n: int, info: dict[str, int]) -> Iterator[Item]:
    """CREMA-D frames bare, then masked in place in three styles, with YuNet's bare box as truth."""
    truth_finder = FaceFinder(
        YuNetFaceDetector(score_threshold=0.5), detect_width=640, follow=False
    )
    for clip_index, path in enumerate(clips):
        frames = read_video_frames(path, max_frames=math.ceil(n / len(clips)))
        info["frames"] += len(frames)
        for frame in frames:
            boxes = truth_finder.search(frame)
            if not boxes:
                continue
            info["frames_with_truth"] += 1
            yield ["cremad_unmasked"], frame, boxes[:1]
            for style in range(3):
                seed = clip_index * 100 + style
                masked = apply_mask(frame, seed, box=boxes[0])
                yield ["cremad_masked", f"cremad_masked_{mask_shape(seed)}"], masked, boxes[:1]


def run_block(
    title: str,
    items: Iterator[Item],
    runs: list[ScoredYuNet | HaarSearch],
    tally: Tally,
    shown: list[str],
) -> None:
    """Search every item with every detector; print a line per detector with the ``shown`` keys."""
    start = time.perf_counter()
    for keys, frame, truths in items:
        for config, boxes in search_all(runs, frame).items():
            tally.add(config, keys, boxes, truths)
    seconds = time.perf_counter() - start
    for config in dict.fromkeys(config for config, _ in tally.counts):
        counts = [(key, tally.counts.get((config, key))) for key in shown]
        parts = [f"{key} {count.summary()}" for key, count in counts if count]
        print(f"{title:<14} {config:<18} " + ", ".join(parts), flush=True)
    print(f"{title:<14} done in {seconds:.0f} s", flush=True)


def time_ms(detect: Callable[[np.ndarray], list[Box]], frame: np.ndarray) -> dict[str, float]:
    for _ in range(5):
        detect(frame)
    times = []
    for _ in range(TIMING_CALLS):
        start = time.perf_counter()
        detect(frame)
        times.append((time.perf_counter() - start) * 1000.0)
    p50, p90 = np.percentile(times, [50, 90])
    return {"p50": round(float(p50), 2), "p90": round(float(p90), 2)}


def timings(face: HeldOutFace, default_threads: int) -> dict[str, dict[str, dict]]:
    """ms per full search of one frame holding a masked face (a quarter of the frame's height)."""
    families: dict[str, YuNetFaceDetector | HaarFaceDetector] = {"yunet": YuNetFaceDetector()}
    families.update(haar_detectors())
    out: dict[str, dict[str, dict]] = {}
    for width, height in ((320, 240), (640, 480)):
        rng = np.random.default_rng([4, width])
        frame, _ = scene([(face, height // 4, 4)], (width, height), rng, kind="shapes")
        for name, det in families.items():
            row = out.setdefault(name, {}).setdefault(f"{width}x{height}", {})
            for label, threads in (("1_thread", 1), ("default_threads", default_threads)):
                cv2.setNumThreads(threads)
                row[label] = time_ms(det.detect, frame)
            print(f"timing         {name:<18} {width}x{height} {row}", flush=True)
    cv2.setNumThreads(default_threads)
    return out


def choose(rates: dict) -> dict:
    """The YuNet threshold with the best masked rate at width 640 among those with at most
    MAX_FALSE_ALARMS per 100 empty frames (ties: the higher threshold)."""
    candidates = {
        t: {
            "masked": rates[yunet_name(t, 640)]["masked"]["rate"],
            "false_alarms_per_100_empty": rates[yunet_name(t, 640)]["empty"][
                "false_alarms_per_100_frames"
            ],
        }
        for t in THRESHOLDS
    }
    ok = [t for t, c in candidates.items() if c["false_alarms_per_100_empty"] <= MAX_FALSE_ALARMS]
    best = max(ok, key=lambda t: (candidates[t]["masked"], t)) if ok else None
    loop = YuNetFaceDetector()
    return {
        "rule": (
            f"max masked rate at width 640 subject to <= {MAX_FALSE_ALARMS:g} false alarm "
            "per 100 empty frames (ties: higher threshold)"
        ),
        "candidates": {f"{t:g}": c for t, c in candidates.items()},
        "chosen_score_threshold": best,
        "loop_score_threshold": loop.score_threshold,
        "loop_working_width": loop.working_width,
    }


def rate(rates: dict, config: str, key: str) -> str:
    entry = rates[config].get(key)
    return "-" if entry is None or entry["rate"] is None else f"{entry['rate']:.3f}"


def alarms(rates: dict, config: str, key: str) -> str:
    return f"{rates[config][key]['false_alarms_per_100_frames']:.1f}"


Column = tuple[str, str, Callable[[str], str]]  # (key and count ("faces"/"frames") of its n, cell)


def table(rates: dict, columns: dict[str, Column]) -> list[str]:
    """A markdown table, a row per detector and a column per ``columns`` item (header: column)."""
    first = next(iter(rates.values()))
    header = ["detector"] + [
        f"{title} (n {first[key][count]})" if key else title
        for title, (key, count, _) in columns.items()
    ]
    rows = [[config] + [cell(config) for _, _, cell in columns.values()] for config in rates]
    return md_table(header, rows)


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(line) + " |" for line in [header, ["---"] * len(header), *rows]]


def main_columns(result: dict) -> dict[str, Column]:
    rates, ms, threads = result["rates"], result["ms"], result["opencv_default_threads"]

    def speed(size: str) -> Callable[[str], str]:
        def cell(config: str) -> str:
            row = ms[config.split("@")[0]][size]
            return f"{row['1_thread']['p50']:.1f} / {row['default_threads']['p50']:.1f}"

        return cell

    def rate_of(key: str) -> Column:
        return key, "faces", lambda config: rate(rates, config, key)

    def alarms_of(key: str) -> Column:
        return key, "frames", lambda config: alarms(rates, config, key)

    return {
        "masked": rate_of("masked"),
        **{shape: rate_of(f"masked_{shape}") for shape in SHAPES},
        "unmasked": rate_of("unmasked"),
        "small 40 px, masked": rate_of("masked_40"),
        "small 40 px, unmasked": rate_of("unmasked_40"),
        "multi-face": rate_of("multi_face"),
        "false alarms /100 empty frames": alarms_of("empty"),
        "false alarms /100 face frames": alarms_of("face_frames"),
        f"ms 320x240 (1 / {threads} threads)": ("", "", speed("320x240")),
        f"ms 640x480 (1 / {threads} threads)": ("", "", speed("640x480")),
    }


def speed_table(ms: dict, threads: int) -> list[str]:
    """ms per full search, p50 / p90, a row per detector family."""
    runs = [(size, label) for size in ("320x240", "640x480") for label in ms["yunet"][size]]
    names = {"1_thread": "1 thread", "default_threads": f"{threads} threads"}
    header = ["detector", *(f"{size}, {names[label]}" for size, label in runs)]
    rows = [
        [
            family,
            *(
                f"{row[size][label]['p50']:.1f} / {row[size][label]['p90']:.1f}"
                for size, label in runs
            ),
        ]
        for family, row in ms.items()
    ]
    return md_table(header, rows)


def markdown(result: dict, json_name: str) -> str:
    rates, choice, cremad = result["rates"], result["choice"], result["cremad"]

    def pair(side: int) -> Callable[[str], str]:
        return lambda c: (
            f"{rate(rates, c, f'masked_{side}')} / {rate(rates, c, f'unmasked_{side}')}"
        )

    def of(key: str, count: str, cell: Callable[[dict, str, str], str]) -> Column:
        return key, count, lambda config: cell(rates, config, key)

    sizes = {f"{side} px": (f"masked_{side}", "faces", pair(side)) for side in SIDES}
    empty = {kind: of(f"empty_{kind}", "frames", alarms) for kind in BACKGROUNDS}
    keys = ["cremad_unmasked", "cremad_masked", *(f"cremad_masked_{s}" for s in SHAPES)]
    video = {k.removeprefix("cremad_").replace("_", " "): of(k, "faces", rate) for k in keys}
    return "\n".join(
        [
            "# Face detection rate",
            "",
            f"`{result['command']}` on {result['date']}, {result['machine']}, OpenCV "
            f"{result['opencv']}; numbers in `{json_name}`, method in the docstring of "
            "`benchmarks/detection_rate.py`.",
            "",
            "Rows: detector @ score threshold @ working width (the frame is searched scaled to it;"
            " `full`: unscaled). A rate is the share of faces with a box of IoU >= 0.3 to it. Scenes"
            " are 640x480; masked, its styles and unmasked pool faces of 64-240 px; n counts faces"
            " (frames, for false alarms). ms: p50 of a full search of a frame that size, with 1"
            " thread / OpenCV's default; a row at width 320 costs about its 320x240 figure on a"
            " 640x480 frame.",
            "",
            *table(rates, main_columns(result)),
            "",
            "## ms per full search of a frame (p50 / p90 of 100 calls)",
            "",
            *speed_table(result["ms"], result["opencv_default_threads"]),
            "",
            "## By face size (masked / unmasked)",
            "",
            *table(rates, sizes),
            "",
            "## False alarms per 100 empty frames, by background",
            "",
            *table(rates, empty),
            "",
            f"## CREMA-D video frames ({cremad['frames_with_truth']} of {cremad['frames']} with"
            " a truth box)",
            "",
            f"Truth: the box of {CREMAD_TRUTH} on the bare frame (so that row finds every bare"
            " frame by construction); the mask is drawn into it, 3 styles per clip.",
            "",
            *table(rates, video),
            "",
            "## Choice",
            "",
            f"Rule: {choice['rule']}. Chosen YuNet score threshold: "
            f"**{choice['chosen_score_threshold'] or 'none meets the rule'}**. The loop uses"
            f" score threshold {choice['loop_score_threshold']:g} at working width"
            f" {choice['loop_working_width']} (`YuNetFaceDetector()`).",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="faces (or frames) per condition")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/detection_rate.json"))
    args = parser.parse_args()
    root = data_root()
    default_threads = cv2.getNumThreads()
    faces = held_out_faces(root / "faces" / "fer2013" / "val", args.n)
    result: dict = {
        "command": "python " + " ".join(sys.argv),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "opencv": cv2.__version__,
        "opencv_default_threads": default_threads,
        "n": args.n,
        "hit_iou": HIT_IOU,
        "keys": KEYS,
    }
    start = time.perf_counter()
    result["ms"] = timings(faces[0], default_threads)
    runs, tally = searches(), Tally()
    check_shared_search(runs, [frame for _, frame, _ in list(size_items(faces[:3], 100))])
    for side in SIDES:
        items = size_items(faces, side)
        run_block(f"{side} px", items, runs, tally, [f"masked_{side}", f"unmasked_{side}"])
    run_block("multi-face", multi_face_items(faces, args.n), runs, tally, ["multi_face"])
    for kind in BACKGROUNDS:
        run_block(f"empty {kind}", empty_items(kind, args.n), runs, tally, [f"empty_{kind}"])
    clips = sorted((root / "av" / "cremad").glob("*.flv"))
    info = {"clips": len(clips), "frames": 0, "frames_with_truth": 0}
    shown = ["cremad_unmasked", "cremad_masked"]
    run_block("CREMA-D", cremad_items(clips, args.n, info), runs, tally, shown)
    result["cremad"] = {**info, "truth": f"{CREMAD_TRUTH} on the bare frame", "mask_styles": 3}
    result["rates"] = tally.rates()
    result["choice"] = choose(result["rates"])
    result["wall_seconds"] = round(time.perf_counter() - start)
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    atomic_write_text(args.out.with_suffix(".md"), markdown(result, args.out.name))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}; choice: {result['choice']}")


if __name__ == "__main__":
    main()
