"""Training-time augmentation of model inputs (float32 images in [0, 1]).

Voice: the paper's recipe on the log-mel image: rotation (p=0.7, up to +-10 degrees) and zoom in
(p=0.5, factor 1.1-1.5, centre kept), with the uncovered border filled with 0, which on the [0, 1]
log-mel scale is the quietest level, i.e. silence rather than invented sound.

Face, ``light``: geometric and photometric jitter (flip, rotation, shift, brightness, contrast) with
the border replicated, since a black wedge is not something a camera crop ever shows. ``strong`` (the
unseen-people recipe) widens brightness and contrast and adds what a webcam adds and FER2013 lacks: blur
(defocus, motion, a cheap lens) and a partial occlusion (a hand, a cup, a microphone) over part of
the face, so the model cannot hang its decision on one patch of pixels.

Voice, image domain: SpecAugment-style time and frequency masks (Park et al., 2019) on the log-mel
image, filled with silence (0) like the rotation border. Waveform-domain voice augmentation lives in
:mod:`edgefer.data.voice_augment`.

Fresh masks (:func:`mask_batch`): the synthetic mask drawn anew for every sample of every epoch, so
a face is never seen twice under the same mask; the load-time masks of
:func:`edgefer.data.arrays.load_face_array` stay for validation and test sets, which must not move.

Each function draws a fixed number of random values per call, whatever branches are taken, so a
generator seeded the same way always gives the same outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from edgefer.errors import EdgeferError
from edgefer.masks import apply_mask
from edgefer.preprocess import face_tensor
from edgefer.spec import PreprocessSpec

VOICE_ROTATE_P = 0.7
VOICE_MAX_DEGREES = 10.0
VOICE_ZOOM_P = 0.5
VOICE_ZOOM_RANGE = (1.1, 1.5)

FACE_FLIP_P = 0.5
FACE_MAX_DEGREES = 10.0
FACE_MAX_SHIFT = 0.08
FACE_MAX_BRIGHTNESS = 0.15
FACE_MAX_CONTRAST = 0.15

# Face "strong": wider photometric jitter, blur and one occluding rectangle.
STRONG_MAX_BRIGHTNESS = 0.25
STRONG_MAX_CONTRAST = 0.30
FACE_BLUR_P = 0.2
FACE_BLUR_SIGMA = (0.4, 1.2)  # pixels of the model input: a slightly soft to a clearly blurred crop
FACE_OCCLUDE_P = 0.2
FACE_OCCLUDE_SIDE = (0.15, 0.4)  # each side, as a fraction of the image side

# SpecAugment on the voice image: up to two masks per axis, each up to this share of the axis.
SPEC_MASKS = 2
SPEC_MASK_P = 0.5
SPEC_MAX_TIME = 0.12
SPEC_MAX_FREQ = 0.12

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
    return _jitter(_check(image, "face"), rng, FACE_MAX_BRIGHTNESS, FACE_MAX_CONTRAST)


def augment_face_strong(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """:func:`augment_face` with stronger photometric changes, blur and occlusion.

    Brightness +-25 % and contrast +-30 %, then a Gaussian blur (p=0.2, sigma 0.4-1.2 px) and one
    occluding rectangle (p=0.2, each side 15-40 % of the image, anywhere, of one random grey level).

    Eight more random values per call than :func:`augment_face`, whatever branches are taken.
    """
    out = _jitter(_check(image, "face"), rng, STRONG_MAX_BRIGHTNESS, STRONG_MAX_CONTRAST)
    blur, sigma = rng.random(), rng.uniform(*FACE_BLUR_SIGMA)
    occlude, sides = rng.random(), rng.uniform(*FACE_OCCLUDE_SIDE, size=2)
    corner, level = rng.random(2), rng.random()
    if blur < FACE_BLUR_P:
        out = cv2.GaussianBlur(out, (0, 0), float(sigma)).reshape(out.shape)
    if occlude < FACE_OCCLUDE_P:
        out = occlude_rectangle(out, sides, corner, float(level))
    return out


def occlude_rectangle(
    image: np.ndarray, sides: Sequence[float], corner: Sequence[float], level: float
) -> np.ndarray:
    """A copy of ``image`` with a rectangle of grey ``level`` (in [0, 1]).

    ``sides`` (width, height) are fractions of the image; ``corner`` in [0, 1) places it anywhere
    fully inside.
    """
    height, width = image.shape[:2]
    w = max(1, int(round(sides[0] * width)))
    h = max(1, int(round(sides[1] * height)))
    x0 = int(corner[0] * (width - w + 1))
    y0 = int(corner[1] * (height - h + 1))
    out = image.copy()
    out[y0 : y0 + h, x0 : x0 + w] = level
    return out


def _jitter(
    image: np.ndarray, rng: np.random.Generator, max_brightness: float, max_contrast: float
) -> np.ndarray:
    """Flip, rotate, shift, then scale brightness and contrast; six random draws."""
    flip = rng.random() < FACE_FLIP_P
    angle = rng.uniform(-FACE_MAX_DEGREES, FACE_MAX_DEGREES)
    shift_x, shift_y = rng.uniform(-FACE_MAX_SHIFT, FACE_MAX_SHIFT, size=2)
    brightness = 1.0 + rng.uniform(-max_brightness, max_brightness)
    contrast = 1.0 + rng.uniform(-max_contrast, max_contrast)

    height, width = image.shape[:2]
    out = image[:, ::-1] if flip else image
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), float(angle), 1.0)
    matrix[0, 2] += shift_x * width
    matrix[1, 2] += shift_y * height
    out = _warp(np.ascontiguousarray(out), matrix, cv2.BORDER_REPLICATE)
    mean = out.mean(dtype=np.float64)
    out = ((out - mean) * contrast + mean) * brightness
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def spec_augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blank up to two time bands (columns) and two frequency bands (rows) of a ``voice`` image.

    Each band is present with p=0.5 and spans up to 12 % of its axis; blanked cells are 0, the
    quietest level, i.e. a dropout of a syllable or of a formant band rather than invented sound.
    Twelve random draws per call. The input is not modified.
    """
    image = _check(image, "voice")
    height, width = image.shape[:2]
    draws = rng.random((2, SPEC_MASKS, 3))  # [time|freq, mask, (present, size, start)]
    out = image.copy()
    for axis, (limit, length) in enumerate(((SPEC_MAX_TIME, width), (SPEC_MAX_FREQ, height))):
        for present, size, start in draws[axis]:
            if present >= SPEC_MASK_P:
                continue
            span = int(size * limit * length)
            if span == 0:
                continue
            first = int(start * (length - span + 1))
            if axis == 0:
                out[:, first : first + span] = 0.0
            else:
                out[first : first + span, :] = 0.0
    return out


def mask_batch(
    sources: Sequence[np.ndarray],
    unmasked: np.ndarray,
    fraction: float,
    spec: PreprocessSpec,
    rng: np.random.Generator,
) -> np.ndarray:
    """Face inputs with a freshly drawn synthetic mask on about ``fraction`` of them.

    Each sample draws a coin and a mask seed (two values, masked or not), so the batch is a pure
    function of the generator; the mask goes onto the source image, as at load time, so a fresh
    mask looks exactly like a load-time one with that seed.

    Parameters
    ----------
    sources : the uint8 images as read (before :func:`~edgefer.preprocess.face_tensor`), one per
        row of ``unmasked``, the matching face inputs without masks.
    """
    if len(sources) != len(unmasked):
        raise EdgeferError(f"{len(sources)} source images for {len(unmasked)} face inputs")
    out = np.array(unmasked, dtype=np.float32, copy=True)
    for i, source in enumerate(sources):
        coin, seed = rng.random(), int(rng.integers(2**32))
        if coin < fraction:
            out[i] = face_tensor(apply_mask(source, seed=seed), spec)
    return out


def augment_batch(batch: np.ndarray, fn: Augment, rng: np.random.Generator) -> np.ndarray:
    """Apply ``fn`` to every image of a (N, H, W, C) batch, in order, with one shared generator."""
    batch = np.asarray(batch)
    if batch.ndim != 4:
        raise EdgeferError(f"batch must be (N, H, W, C), got shape {batch.shape}")
    out = np.empty_like(batch)
    for i, image in enumerate(batch):
        out[i] = fn(image, rng)
    return out
