"""Masked faces, live: held-out faces played through ``edgefer run --json`` itself.

Usage: python benchmarks/live_path.py [--n 300] [--detector yunet] [--out benchmarks/results/live_path.json]

A video of FER2013 ``val`` faces (the ``test`` half of :func:`~edgefer.evaluation.scenes.held_out_faces`,
never used for the crop rule's choice, nor for training) shown one after another in 640x480 frames,
half of them wearing the project's synthetic masks (every style), with the voices of held-out
RAVDESS actors 17-20 on the sound track (:mod:`edgefer.evaluation.scene_video`). The real CLI runs on
it offline (``--no-realtime``: every frame, sound at media time), once without sound (face only) and
once with it (fused); each JSON line is compared with the frame's truth.

Figures: the share of face frames with a box on the face (IoU >= 0.3), per mask style; false alarms
(a box on a frame without a face) per 100 empty frames; of the found frames, the share read right,
face only and fused; and, for the same faces, the face model's accuracy on their exact FER-style
crops (the crop a perfect detector would give), so what the live crop loses is one subtraction.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from edgefer import CLASS_NAMES
from edgefer.data.voices import index_ravdess
from edgefer.engines.artifact import atomic_write_text
from edgefer.evaluation.scene_video import SceneVideoPlan, make_scene_video
from edgefer.evaluation.scenes import face_pixels, held_out_faces, iou
from edgefer.paths import data_root
from edgefer.shipped import shipped_path, shipped_spec

TEST_ACTORS = {"17", "18", "19", "20"}


def make_video(n: int, folder: Path, seed: int) -> tuple[Path, dict, list]:
    root = data_root()
    faces = held_out_faces(root / "faces" / "fer2013" / "val", n, part="test")
    voices = [
        (s.path, CLASS_NAMES[s.label])
        for s in index_ravdess(root / "voice" / "ravdess")
        if s.group.split(":")[-1] in TEST_ACTORS
    ]
    stem = folder / f"live-path-n{n}-s{seed}"
    truth = make_scene_video(faces, voices, stem, SceneVideoPlan(seed=seed))
    return stem, truth, faces


def run_cli(stem: Path, mic: str, detector: str, extra: list[str]) -> list[dict]:
    command = [
        sys.executable, "-m", "edgefer", "run",
        "--camera", str(stem.with_suffix(".mp4")), "--mic", mic, "--detector", detector,
        "--no-realtime", "--json", "--no-show", *extra,
    ]  # fmt: skip
    print("running:", " ".join(command[2:]), flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"edgefer run failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def reference_correct(truth: dict, faces: list) -> dict[str, bool]:
    """Whether the face model reads each face right on its exact FER-style crop."""
    spec = shipped_spec("face")
    session = ort.InferenceSession(
        str(shipped_path("face", ".onnx")), providers=["CPUExecutionProvider"]
    )
    by_name = {f.path.name: f for f in faces}
    seen: dict[str, bool] = {}
    for item in truth["frames"]:
        if item is None or item["face"] + str(item["mask_seed"]) in seen:
            continue
        pixels = face_pixels(by_name[item["face"]], item["side"], item["mask_seed"])
        grey = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
        size = spec.image_size
        tensor = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA) / np.float32(255)
        probs = session.run(None, {"face": tensor[None, :, :, None].astype(np.float32)})[0][0]
        seen[item["face"] + str(item["mask_seed"])] = (
            CLASS_NAMES[int(np.argmax(probs))] == (item["label"])
        )
    return seen


def score(truth: dict, records: list[dict], reference: dict[str, bool]) -> dict:
    by_frame = {r["frame"]: r for r in records}
    groups: dict[str, dict[str, int]] = {}
    empty = {"frames": 0, "false_alarms": 0}
    for index, item in enumerate(truth["frames"]):
        record = by_frame.get(index, {})
        box = record.get("box")
        if item is None:
            empty["frames"] += 1
            empty["false_alarms"] += box is not None
            continue
        keys = ["masked", f"masked_{item['mask']}"] if item["masked"] else ["unmasked"]
        hit = box is not None and iou(tuple(box), tuple(item["box"])) >= 0.3
        right = hit and record.get("label") == item["label"]
        ref = reference[item["face"] + str(item["mask_seed"])]
        for key in keys:
            row = groups.setdefault(key, {"frames": 0, "found": 0, "right": 0, "ref_right": 0})
            row["frames"] += 1
            row["found"] += hit
            row["right"] += right
            row["ref_right"] += hit and ref
    out = {}
    for key, row in sorted(groups.items()):
        found = max(row["found"], 1)
        out[key] = {
            "face_frames": row["frames"],
            "found": round(row["found"] / row["frames"], 4),
            "read_right_of_found": round(row["right"] / found, 4),
            "fer_style_crop_right_of_found": round(row["ref_right"] / found, 4),
        }
    out["empty"] = {
        **empty,
        "false_alarms_per_100": round(100 * empty["false_alarms"] / max(empty["frames"], 1), 2),
    }
    return out


def real_video(detector: str) -> dict:
    """The packaged CREMA-D clips (real video, one actor) through ``edgefer run --json``, face only,
    as recorded and with ``--synthetic-mask``: the share of frames with a face box and of frames read
    as the clip's class. One actor and six clips: counted, never used for a choice."""
    from edgefer.live.demo import demo_clips, true_label

    rows: dict[str, dict[str, int]] = {}
    for masked in (False, True):
        row = rows.setdefault(
            "masked" if masked else "unmasked", {"frames": 0, "found": 0, "right": 0}
        )
        for clip in demo_clips():
            truth = true_label(clip)[1]
            extra = ["--synthetic-mask"] if masked else []
            command = [
                sys.executable, "-m", "edgefer", "run", "--camera", str(clip), "--mic", "none",
                "--detector", detector, "--no-realtime", "--json", "--no-show", *extra,
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            records = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
            row["frames"] += len(records)
            row["found"] += sum(r["box"] is not None for r in records)
            row["right"] += sum(r["label"] == truth for r in records)
    return {
        key: {
            "frames": row["frames"],
            "found": round(row["found"] / row["frames"], 4),
            "read_right": round(row["right"] / row["frames"], 4),
        }
        for key, row in rows.items()
    }


def markdown(result: dict) -> str:
    lines = [
        "# Masked faces, live (`benchmarks/live_path.py`)",
        "",
        f"Command: `{result['command']}`; {result['date']}; {result['machine']}.",
        f"Video: {result['video']}.",
        "",
        "| run | faces | face frames | found | read right (of found) | FER-style crop, same faces "
        "| false alarms / 100 empty frames (n) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run, rows in result["runs"].items():
        empty = rows["empty"]
        for key, row in rows.items():
            if key == "empty":
                continue
            lines.append(
                f"| {run} | {key} | {row['face_frames']} | {row['found']:.1%} | "
                f"{row['read_right_of_found']:.1%} | {row['fer_style_crop_right_of_found']:.1%} | "
                f"{empty['false_alarms_per_100']:.2f} ({empty['frames']}) |"
            )
    if "real_video" in result:
        lines += [
            "",
            "The six packaged CREMA-D clips (real video, one actor, 480x360), face only, through "
            "`edgefer run --json`, as recorded and with `--synthetic-mask` (counted, never tuned):",
            "",
            "| detector | clips | frames | found | read as the clip's class |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for detector, rows in result["real_video"].items():
            for key, row in rows.items():
                lines.append(
                    f"| {detector} | {key} | {row['frames']} | {row['found']:.1%} | "
                    f"{row['read_right']:.1%} |"
                )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="held-out faces (half masked)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detectors", default="yunet,haar")
    parser.add_argument(
        "--thresholds", default="", help="also run YuNet face-only at these --detect-threshold"
    )
    parser.add_argument("--videos", type=Path, default=Path("runs/live_path"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/live_path.json"))
    parser.add_argument(
        "--real-video-only",
        action="store_true",
        help="only (re)measure the packaged clips and add them to an existing --out",
    )
    args = parser.parse_args()
    if args.real_video_only:
        result = json.loads(args.out.read_text())
        result["real_video"] = {d: real_video(d) for d in args.detectors.split(",")}
        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
        atomic_write_text(args.out.with_suffix(".md"), markdown(result))
        print(markdown(result))
        return
    stem, truth, faces = make_video(args.n, args.videos, args.seed)
    reference = reference_correct(truth, faces)
    runs = {}
    for detector in args.detectors.split(","):
        runs[f"{detector}, face only"] = score(
            truth, run_cli(stem, "none", detector, []), reference
        )
        if detector == "yunet":
            fused = run_cli(stem, str(stem.with_suffix(".wav")), detector, [])
            runs[f"{detector}, fused"] = score(truth, fused, reference)
    for value in filter(None, args.thresholds.split(",")):
        records = run_cli(stem, "none", "yunet", ["--detect-threshold", value])
        runs[f"yunet@{value}, face only"] = score(truth, records, reference)
    result = {
        "command": "python " + " ".join(sys.argv),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "video": (
            f"{len(faces)} FER2013 val faces (test half), {len(truth['frames'])} frames of "
            f"{truth['size'][0]}x{truth['size'][1]}, faces {truth['plan']['sides']} px, "
            f"{truth['plan']['face_frames']} frames each with {truth['plan']['gap_frames']} empty "
            f"between and {truth['plan']['lead_frames']} "
            "empty at each voice change; voices RAVDESS actors 17-20, class-matched"
        ),
        "runs": runs,
        "real_video": {d: real_video(d) for d in args.detectors.split(",")},
    }
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    atomic_write_text(args.out.with_suffix(".md"), markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
