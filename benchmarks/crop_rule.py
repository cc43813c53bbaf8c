"""Choose the crop rule that frames a detector's box as the face model's training crops were framed.

Usage: python benchmarks/crop_rule.py [--n 600] [--out benchmarks/results/crop_rule.json]

The face model learnt on FER2013 crops; a detector's box is placed and sized its own way (YuNet's
box is about 0.82 x 1.04 of a FER2013 crop's side, centred a little lower). Each candidate rule
(square side = scale x the box's longer side, centre shifted by shift_x/shift_y of that side) crops
every detected face; the shipped face model reads the crops, and the rule with the best accuracy on
the ``val`` part of the faces wins. The figures reported are on the ``test`` part, which the choice
never saw, beside the model's accuracy on the exact FER-style crops of the same pasted faces (the
best any rule can do), so "how much the crop loses" is one subtraction.

Faces: FER2013 ``val`` (never used for training), every other file per emotion for each part, each
pasted once unmasked and once masked (the project's masks, every style) at 64-200 px into a 640x480
frame over a random background (:mod:`edgefer.evaluation.scenes`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from edgefer.engines.artifact import atomic_write_text
from edgefer.evaluation.scenes import face_pixels, held_out_faces, iou, scene
from edgefer.live.detect import make_detector
from edgefer.metrics import classification_report
from edgefer.paths import data_root
from edgefer.shipped import shipped_path, shipped_spec

NAMES = ("negative", "neutral", "positive")
SIDES = (64, 96, 128, 160, 200)
FRAME = (640, 480)
SCALES = (0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2)
SHIFTS_Y = (-0.10, -0.05, 0.0, 0.05, 0.10)
SHIFTS_X = (0.0,)


def crop_square(frame: np.ndarray, box, scale: float, shift_x: float, shift_y: float) -> np.ndarray:
    x, y, w, h = box
    base = max(w, h)
    side = max(2, int(round(base * scale)))
    cx, cy = x + w / 2 + shift_x * base, y + h / 2 + shift_y * base
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    H, W = frame.shape[:2]
    return frame[max(y0, 0) : min(y0 + side, H), max(x0, 0) : min(x0 + side, W)]


def tensor(crop: np.ndarray, size: int) -> np.ndarray:
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    interp = cv2.INTER_AREA if max(grey.shape) > size else cv2.INTER_LINEAR
    return (cv2.resize(grey, (size, size), interpolation=interp).astype(np.float32) / 255.0)[
        ..., None
    ]


def measure(part: str, n: int, detector_name: str, session, size: int, seed: int) -> dict:
    faces = held_out_faces(data_root() / "faces" / "fer2013" / "val", n, part)
    detector = make_detector(detector_name)
    width = getattr(detector, "working_width", 640)
    rng = np.random.default_rng(seed)
    candidates = list(itertools.product(SCALES, SHIFTS_X, SHIFTS_Y))
    rows: dict[str, dict] = {}
    for masked in (False, True):
        truth, reference, per_rule, found = [], [], {c: [] for c in candidates}, 0
        for i, face in enumerate(faces):
            side = int(rng.choice(SIDES))
            mask_seed = seed * 100_000 + i if masked else None
            frame, (box,) = scene([(face, side, mask_seed)], FRAME, rng)
            small_scale = min(1.0, width / frame.shape[1])
            small = (
                cv2.resize(frame, None, fx=small_scale, fy=small_scale)
                if small_scale < 1
                else frame
            )
            boxes = [tuple(int(round(v / small_scale)) for v in b) for b in detector.detect(small)]
            best = max(boxes, key=lambda b: iou(b, box), default=None)
            if best is None or iou(best, box) < 0.3:
                continue
            found += 1
            truth.append(NAMES.index(face.label))
            batch = [tensor(face_pixels(face, side, mask_seed), size)]
            batch += [tensor(crop_square(frame, best, *c), size) for c in candidates]
            probs = session.run(None, {"face": np.stack(batch)})[0]
            reference.append(probs[0])
            for c, p in zip(candidates, probs[1:], strict=True):
                per_rule[c].append(p)
        key = "masked" if masked else "unmasked"
        ref = classification_report(truth, np.array(reference), NAMES)
        rows[key] = {
            "faces": len(faces),
            "found": found,
            "fer_style_crop": {"accuracy": ref["accuracy"], "macro_f1": ref["macro_f1"]},
            "rules": {
                f"scale={c[0]:g},shift_x={c[1]:g},shift_y={c[2]:g}": {
                    "accuracy": classification_report(truth, np.array(pred), NAMES)["accuracy"],
                    "macro_f1": classification_report(truth, np.array(pred), NAMES)["macro_f1"],
                }
                for c, pred in per_rule.items()
            },
        }
    return rows


def measure_cremad(detector_name: str, session, size: int, rules: list[str]) -> dict:
    """Share of frames read right per rule on the CREMA-D audio-visual clips (unmasked, real video;
    one actor, so counted and reported, never used for the choice)."""
    from edgefer.live.demo import true_label
    from edgefer.media import read_video_frames

    detector = make_detector(detector_name)
    hits = {rule: 0 for rule in rules}
    frames_seen = found = 0
    for path in sorted((data_root() / "av" / "cremad").glob("*.flv")):
        truth = NAMES.index(true_label(path)[1])
        for frame in read_video_frames(path):
            frames_seen += 1
            boxes = detector.detect(frame)
            if not boxes:
                continue
            found += 1
            batch = [tensor(crop_square(frame, boxes[0], *parse_rule(r)), size) for r in rules]
            probs = session.run(None, {"face": np.stack(batch)})[0]
            for rule, p in zip(rules, probs, strict=True):
                hits[rule] += int(np.argmax(p)) == truth
    return {
        "frames": frames_seen,
        "found": found,
        "clips": 6,
        "share_read_right": {r: round(h / max(found, 1), 4) for r, h in hits.items()},
    }


def parse_rule(text: str) -> tuple[float, float, float]:
    values = dict(item.split("=") for item in text.split(","))
    return float(values["scale"]), float(values["shift_x"]), float(values["shift_y"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600, help="faces per part")
    parser.add_argument("--detectors", default="yunet,haar")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/crop_rule.json"))
    args = parser.parse_args()
    cv2.setNumThreads(1)
    spec = shipped_spec("face")
    session = ort.InferenceSession(
        str(shipped_path("face", ".onnx")), providers=["CPUExecutionProvider"]
    )
    result = {
        "command": "python " + " ".join(sys.argv),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "model": "shipped face.onnx",
        "frame": f"{FRAME[0]}x{FRAME[1]}, faces {', '.join(map(str, SIDES))} px",
        "detectors": {},
    }
    for name in args.detectors.split(","):
        parts = {
            p: measure(p, args.n, name, session, spec.image_size, seed)
            for p, seed in (("val", 1), ("test", 2))
        }
        scores = {}
        for rule in parts["val"]["masked"]["rules"]:
            scores[rule] = np.mean(
                [parts["val"][k]["rules"][rule]["accuracy"] for k in ("masked", "unmasked")]
            )
        chosen = max(scores, key=scores.__getitem__)
        cremad = measure_cremad(
            name, session, spec.image_size, [chosen, "scale=1,shift_x=0,shift_y=0"]
        )
        result["detectors"][name] = {"chosen_on_val": chosen, "parts": parts, "cremad": cremad}
        print("  cremad", cremad)
        test = parts["test"]
        print(name, "chosen", chosen)
        for key in ("masked", "unmasked"):
            row = test[key]
            print(
                f"  test {key}: found {row['found']}/{row['faces']}, FER-style crop "
                f"{row['fer_style_crop']['accuracy']:.3f}, chosen {row['rules'][chosen]['accuracy']:.3f}, "
                f"old rule {row['rules']['scale=1,shift_x=0,shift_y=0']['accuracy']:.3f}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
