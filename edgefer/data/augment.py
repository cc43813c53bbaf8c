"""Training-time augmentation of model inputs (float32 images in [0, 1]).

Voice: the paper's recipe on the log-mel image: rotation (p=0.7, up to +-10 degrees) and zoom in
(p=0.5, factor 1.1-1.5, centre kept), with the uncovered border filled with 0, which on the [0, 1]
log-mel scale is the quietest level, i.e. silence rather than invented sound.

Face: light geometric and photometric jitter (flip, rotation, shift, brightness, contrast) with the
border replicated, since a black wedge is not something a camera crop ever shows.

Each function draws a fixed number of random values per call, whatever branches are taken, so a
generator seeded the same way always gives the same outputs.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from edgefer.errors import EdgeferError

VOICE_ROTATE_P = 0.7
VOICE_MAX_DEGREES = 10.0
VOICE_ZOOM_P = 0.5
VOICE_ZOOM_RANGE = (1.1, 1.5)

FACE_FLIP_P = 0.5
FACE_MAX_DEGREES = 10.0
FACE_MAX_SHIFT = 0.08
FACE_MAX_BRIGHTNESS = 0.15
FACE_MAX_CONTRAST = 0.15

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _check(image: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] not in (1, 3):
        shape = getattr(image, "shape", None)
        raise EdgeferError(f"{what} image must be (H, W, 1) or (H, W, 3), got shape {shape}")
    if image.dtype != np.float32:
        raise EdgeferError(f"{what} image must be float32, got {image.dtype}")
    return image


def _warp(image: np.ndarray, matrix: np.ndarray, border: int) -> np.ndarray:
    height, width, channels = image.shape
    warped = cv2.warpAffine(
        image,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=border,
        borderValue=0.0,
    )
    return warped.reshape(height, width, channels)


def augment_voice(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Randomly rotate (p=0.7, +-10 deg) and zoom in (p=0.5, x1.1-1.5) a ``voice`` image.

    Both are one affine warp about the centre (zooming about the centre and keeping the output
    size is the centre crop). The input is not modified; shape and dtype are kept.
    """
    image = _check(image, "voice")
    rotate, angle = rng.random(), rng.uniform(-VOICE_MAX_DEGREES, VOICE_MAX_DEGREES)
    zoom, factor = rng.random(), rng.uniform(*VOICE_ZOOM_RANGE)
    angle = angle if rotate < VOICE_ROTATE_P else 0.0
    factor = factor if zoom < VOICE_ZOOM_P else 1.0
    if angle == 0.0 and factor == 1.0:
        return image.copy()
    height, width = image.shape[:2]
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, float(angle), float(factor))
    out = _warp(image, matrix, cv2.BORDER_CONSTANT)
    return np.clip(out, 0.0, 1.0, out=out)


def augment_face(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flip (p=0.5), rotate (+-10 deg), shift (+-8 %), and scale brightness and contrast (+-15 %).

    Output is clipped to [0, 1]; shape and dtype are kept; the input is not modified.
    """
    image = _check(image, "face")
    flip = rng.random() < FACE_FLIP_P
    angle = rng.uniform(-FACE_MAX_DEGREES, FACE_MAX_DEGREES)
    shift_x, shift_y = rng.uniform(-FACE_MAX_SHIFT, FACE_MAX_SHIFT, size=2)
    brightness = 1.0 + rng.uniform(-FACE_MAX_BRIGHTNESS, FACE_MAX_BRIGHTNESS)
    contrast = 1.0 + rng.uniform(-FACE_MAX_CONTRAST, FACE_MAX_CONTRAST)

    height, width = image.shape[:2]
    out = image[:, ::-1] if flip else image
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), float(angle), 1.0)
    matrix[0, 2] += shift_x * width
    matrix[1, 2] += shift_y * height
    out = _warp(np.ascontiguousarray(out), matrix, cv2.BORDER_REPLICATE)
    mean = out.mean(dtype=np.float64)
    out = ((out - mean) * contrast + mean) * brightness
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def augment_batch(batch: np.ndarray, fn: Augment, rng: np.random.Generator) -> np.ndarray:
    """Apply ``fn`` to every image of a (N, H, W, C) batch, in order, with one shared generator."""
    batch = np.asarray(batch)
    if batch.ndim != 4:
        raise EdgeferError(f"batch must be (N, H, W, C), got shape {batch.shape}")
    out = np.empty_like(batch)
    for i, image in enumerate(batch):
        out[i] = fn(image, rng)
    return out
