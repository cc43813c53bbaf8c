"""Synthetic camera scenes made of real held-out faces, for measuring the live path.

There is no masked-face video with emotion labels here, so the detector, the crop rule and the live
loop are measured on real FER2013 ``val`` faces (never used for training) pasted into camera-sized
frames: at a chosen size and position, over one of several backgrounds, optionally wearing one of the
project's synthetic masks (:func:`edgefer.masks.apply_mask`, the same synthesiser training uses).
Everything is drawn from ``numpy.random.default_rng(seed)``, so a scene is the same on every run.

Backgrounds (:data:`BACKGROUNDS`): ``flat`` (one grey level), ``gradient`` (a linear ramp in a random
direction), ``noise`` (low-pass noise, blotchy like an out-of-focus room) and ``shapes`` (random
rectangles, discs and lines, like furniture and door frames).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgefer.data.labels import FER_TO_CLASS
from edgefer.errors import EdgeferError
from edgefer.masks import SHAPES, apply_mask, sample_style
from edgefer.media import read_image

Box = tuple[int, int, int, int]
BACKGROUNDS: tuple[str, ...] = ("flat", "gradient", "noise", "shapes")


@dataclass(frozen=True)
class HeldOutFace:
    """One FER2013 ``val`` face: its file, 3-class label and 48x48 grey pixels."""

    path: Path
    label: str
    image: np.ndarray


def held_out_faces(fer_val: Path, n: int, part: str | None = None) -> list[HeldOutFace]:
    """``n`` FER2013 ``val`` faces spread evenly over the emotion folders, in a fixed order.

    part : ``"val"`` or ``"test"`` takes only the faces of even or odd position in each folder's
        sorted listing, so a rule chosen on one part is reported on faces it never saw; None takes
        both. Emotions with no 3-class label (surprise) are left out, as training does.
    """
    if part not in (None, "val", "test"):
        raise EdgeferError(f"part must be 'val', 'test' or None, got {part!r}")
    if not fer_val.is_dir():
        raise EdgeferError(f"FER2013 val folder not found: {fer_val}")
    folders = [p for p in sorted(fer_val.iterdir()) if p.is_dir() and p.name in FER_TO_CLASS]
    if not folders:
        raise EdgeferError(f"no labelled emotion folders in {fer_val}")
    per = -(-n // len(folders))
    columns: list[list[HeldOutFace]] = []
    for folder in folders:
        files = sorted(folder.glob("*.jpg"))
        if part is not None:
            files = files[0 if part == "val" else 1 :: 2]
        step = max(1, len(files) // per)
        label = FER_TO_CLASS[folder.name]
        columns.append(
            [HeldOutFace(p, label, read_image(p, grey=True)) for p in files[::step][:per]]
        )
    # Round-robin over the emotions, so any prefix of the list is balanced across folders.
    rows = (column[i] for i in range(per) for column in columns if i < len(column))
    return list(rows)[:n]


def background(kind: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A BGR uint8 background of one of :data:`BACKGROUNDS`."""
    if kind == "flat":
        grey = np.full((height, width), int(rng.integers(40, 216)), np.float64)
    elif kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:height, 0:width]
        ramp = np.cos(angle) * xx / width + np.sin(angle) * yy / height
        low, high = rng.uniform(20, 110), rng.uniform(140, 235)
        grey = low + (ramp - ramp.min()) / max(np.ptp(ramp), 1e-9) * (high - low)
    elif kind == "noise":
        cell = int(rng.integers(12, 48))
        coarse = rng.normal(128, 40, (height // cell + 2, width // cell + 2))
        grey = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    elif kind == "shapes":
        grey = np.full((height, width), rng.uniform(60, 200), np.float64)
        for _ in range(int(rng.integers(4, 10))):
            level = float(rng.uniform(20, 235))
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            size = int(rng.integers(min(width, height) // 10, min(width, height) // 2))
            choice = int(rng.integers(3))
            if choice == 0:
                cv2.rectangle(grey, (x, y), (x + size, y + size // 2), level, -1)
            elif choice == 1:
                cv2.circle(grey, (x, y), size // 3, level, -1)
            else:
                end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
                cv2.line(grey, (x, y), end, level, int(rng.integers(2, 8)))
    else:
        raise EdgeferError(f"unknown background {kind!r}: choose one of {', '.join(BACKGROUNDS)}")
    tint = rng.uniform(0.9, 1.1, size=3)  # a little colour cast, as white balance gives
    bgr = np.clip(grey[:, :, None] * tint[None, None, :], 0, 255)
    return bgr.astype(np.uint8)


def face_pixels(face: HeldOutFace, side: int, mask_seed: int | None) -> np.ndarray:
    """The face upscaled to ``side`` px (BGR), wearing the mask of ``mask_seed`` when given."""
    if side < 16:
        raise EdgeferError(f"a face of {side} px is too small to paste")
    big = cv2.resize(face.image, (side, side), interpolation=cv2.INTER_CUBIC)
    bgr = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)
    return bgr if mask_seed is None else apply_mask(bgr, mask_seed)


def mask_shape(mask_seed: int) -> str:
    """The mask shape that ``apply_mask(seed=mask_seed)`` draws.

    It is one of :data:`edgefer.masks.SHAPES`.
    """
    shape = sample_style(np.random.default_rng(mask_seed)).shape
    assert shape in SHAPES
    return shape


def paste(frame: np.ndarray, pixels: np.ndarray, x: int, y: int) -> Box:
    """Paste face pixels into ``frame`` (in place) at ``(x, y)``; returns the true face box."""
    side = pixels.shape[0]
    height, width = frame.shape[:2]
    if x < 0 or y < 0 or x + side > width or y + side > height:
        raise EdgeferError(f"a {side} px face at ({x}, {y}) does not fit a {width}x{height} frame")
    frame[y : y + side, x : x + side] = pixels
    return (x, y, side, side)


def random_position(
    side: int, width: int, height: int, rng: np.random.Generator, taken: Sequence[Box] = ()
) -> tuple[int, int]:
    """A position for a ``side`` px face inside the frame, not overlapping ``taken`` boxes."""
    for _ in range(200):
        x, y = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
        if all(not _overlaps((x, y, side, side), box) for box in taken):
            return x, y
    raise EdgeferError(f"no free place for a {side} px face in a {width}x{height} frame")


def scene(
    faces: Sequence[tuple[HeldOutFace, int, int | None]],
    size: tuple[int, int],
    rng: np.random.Generator,
    kind: str | None = None,
) -> tuple[np.ndarray, list[Box]]:
    """A frame of ``size`` (width, height) holding each ``(face, side, mask_seed)``.

    Each face is put at a random free place over a random (or the given) background; returns the
    frame and the true boxes.
    """
    width, height = size
    kind = kind or BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    frame = background(kind, width, height, rng)
    boxes: list[Box] = []
    for face, side, seed in faces:
        x, y = random_position(side, width, height, rng, boxes)
        boxes.append(paste(frame, face_pixels(face, side, seed), x, y))
    return frame, boxes


def camera_noise(frame: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    """The frame with a camera's per-frame sensor noise (Gaussian, ``sigma`` grey levels).

    No two frames of a real camera are identical, even of a still face.
    """
    noisy = frame.astype(np.float32) + rng.normal(0.0, sigma, frame.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / float(union) if union > 0 else 0.0


def _overlaps(a: Box, b: Box, gap: int = 8) -> bool:
    return not (
        a[0] + a[2] + gap <= b[0]
        or b[0] + b[2] + gap <= a[0]
        or a[1] + a[3] + gap <= b[1]
        or b[1] + b[3] + gap <= a[1]
    )
