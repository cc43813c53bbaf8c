"""Face detection rate on real faces with and without synthetic masks: benchmarks/results/detection_rate.json

Usage: python benchmarks/detection_rate.py [--n 400] [--out benchmarks/results/detection_rate.json]

The live loop must find masked faces before it can classify them. There is no real masked-face video
here, so two measurements stand in for it, both on real faces:

1. FER2013 ``val`` faces (never used to train the models), each 48x48 face upscaled to 160x160 and
   pasted in a 320x240 mid-grey frame, as is and wearing a synthetic mask (:func:`edgefer.masks.apply_mask`,
   the same synthesiser training uses), the mask drawn at 160 px.
2. Every frame of the CREMA-D audio-visual clips (480x360 video): the face Haar finds unmasked is
   masked in place (three mask styles per clip, one at a time), and the frame searched again; also
   with the last box held through up to 5 missed frames (:class:`edgefer.live.detect.BoxHold`).

A detection counts when a box overlaps the true face region with IoU >= 0.3; a false alarm is a frame
with any box elsewhere. Several detector settings are measured: ``haar`` is HaarFaceDetector's
defaults (histogram equalised, min_neighbors=5; the clip evaluation uses them), and
``haar_min_neighbors_3_no_equalize`` what the live loop uses (``make_detector()``).
That setting was chosen on these same measurements, so its numbers are a best case.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from edgefer.live.detect import Box, BoxHold, HaarFaceDetector
from edgefer.masks import apply_mask, sample_style
from edgefer.media import read_image, read_video_frames
from edgefer.paths import data_root

FACE_SIDE, FRAME_W, FRAME_H = 160, 320, 240


def detectors() -> dict[str, HaarFaceDetector]:
    alt2 = Path(cv2.data.haarcascades) / "haarcascade_frontalface_alt2.xml"
    return {
        "haar": HaarFaceDetector(),
        "haar_no_equalize": HaarFaceDetector(equalize=False),
        "haar_min_neighbors_3": HaarFaceDetector(min_neighbors=3),
        "haar_min_neighbors_3_no_equalize": HaarFaceDetector(min_neighbors=3, equalize=False),
        "haar_alt2": HaarFaceDetector(cascade_path=alt2),
    }


def iou(a: Box, b: Box) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0, min(ax1, bx1) - max(a[0], b[0]))
    h = max(0, min(ay1, by1) - max(a[1], b[1]))
    inter = w * h
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


def found(boxes: list[Box], truth: Box) -> bool:
    return any(iou(box, truth) >= 0.3 for box in boxes)


def pick_faces(fer_val: Path, n: int) -> list[Path]:
    """``n`` faces spread evenly over every emotion folder, in a fixed order."""
    folders = sorted(p for p in fer_val.iterdir() if p.is_dir())
    per = -(-n // len(folders))
    picks = []
    for folder in folders:
        files = sorted(folder.glob("*.jpg"))
        step = max(1, len(files) // per)
        picks += files[::step][:per]
    return picks[:n]


def fer_frame(face48: np.ndarray, seed: int | None) -> np.ndarray:
    """A 320x240 grey frame holding the face upscaled to 160 px (masked when ``seed`` is given)."""
    face = cv2.resize(face48, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_CUBIC)
    if seed is not None:
        face = apply_mask(face, seed)
    frame = np.full((FRAME_H, FRAME_W), 128, dtype=np.uint8)
    x0, y0 = (FRAME_W - FACE_SIDE) // 2, (FRAME_H - FACE_SIDE) // 2
    frame[y0 : y0 + FACE_SIDE, x0 : x0 + FACE_SIDE] = face
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


class Tally:
    """Hits (a box on the true face) and false alarms (any box elsewhere) per detector and key."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[int]] = {}

    def add(self, detector: str, key: str, boxes: list[Box], truth: Box) -> None:
        row = self.counts.setdefault((detector, key), [0, 0, 0])
        row[0] += found(boxes, truth)
        row[1] += any(iou(box, truth) < 0.3 for box in boxes)
        row[2] += 1

    def rates(self) -> dict[str, dict[str, dict[str, float]]]:
        out: dict[str, dict[str, dict[str, float]]] = {}
        for (detector, key), (hit, false, n) in sorted(self.counts.items()):
            out.setdefault(detector, {})[key] = {
                "rate": round(hit / n, 4),
                "false_alarm_rate": round(false / n, 4),
                "n": n,
            }
        return out


def measure_fer(fer_val: Path, n: int, dets: dict[str, HaarFaceDetector]) -> dict:
    truth = ((FRAME_W - FACE_SIDE) // 2, (FRAME_H - FACE_SIDE) // 2, FACE_SIDE, FACE_SIDE)
    tally, times = Tally(), []
    for i, path in enumerate(pick_faces(fer_val, n)):
        face = read_image(path, grey=True)
        shape = sample_style(np.random.default_rng(i)).shape  # the style apply_mask(seed=i) draws
        for masked in (False, True):
            frame = fer_frame(face, i if masked else None)
            for name, det in dets.items():
                start = time.perf_counter()
                boxes = det.detect(frame)
                if name == "haar":
                    times.append((time.perf_counter() - start) * 1000.0)
                tally.add(name, "masked" if masked else "unmasked", boxes, truth)
                if masked:
                    tally.add(name, f"masked_{shape}", boxes, truth)
    return {
        "frame": f"{FRAME_W}x{FRAME_H}, face {FACE_SIDE} px",
        "rates": tally.rates(),
        "haar_ms_p50": round(float(np.median(times)), 2),
    }


def measure_cremad(
    av_dir: Path, dets: dict[str, HaarFaceDetector], styles: int = 3, hold: int = 5
) -> dict:
    """Every frame of every clip, each clip masked in ``styles`` different styles (a person keeps
    one mask on through a clip), drawn where the default detector found the unmasked face. Also the
    rate with :class:`BoxHold` bridging up to ``hold`` missed frames, as the live loop sees it."""
    base = dets["haar"]
    tally, seen, with_face = Tally(), 0, 0
    for clip_index, path in enumerate(sorted(av_dir.glob("*.flv"))):
        frames = read_video_frames(path)
        seen += len(frames)
        truths = [base.detect(frame) for frame in frames]
        with_face += sum(bool(boxes) for boxes in truths)
        for style in range(styles):
            seed = clip_index * 100 + style
            holds = {name: BoxHold(hold) for name in dets}
            for frame, boxes in zip(frames, truths, strict=True):
                if not boxes:
                    continue
                masked = apply_mask(frame, seed=seed, box=boxes[0])
                for name, det in dets.items():
                    now = det.detect(masked)
                    tally.add(name, "masked", now, boxes[0])
                    tally.add(name, f"masked_box_hold_{hold}", holds[name].update(now), boxes[0])
    return {
        "frames": seen,
        "unmasked_rate_haar": round(with_face / max(seen, 1), 4),
        "mask_styles_per_clip": styles,
        "rates_on_masked_frames_whose_unmasked_face_haar_found": tally.rates(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="FER2013 val faces to measure")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/detection_rate.json"))
    args = parser.parse_args()
    root = data_root()
    dets = detectors()
    result = {
        "command": "python " + " ".join(sys.argv),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "opencv": cv2.__version__,
        "iou_threshold": 0.3,
        "fer2013_val": measure_fer(root / "faces" / "fer2013" / "val", args.n, dets),
        "cremad_video_frames": measure_cremad(root / "av" / "cremad", dets),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
