"""Sample lists -> in-memory training arrays, through the one shared preprocessing.

Nothing here reinvents a pixel or a mel: images go through :func:`edgefer.media.read_image` and
:func:`edgefer.preprocess.face_tensor`, clips through :func:`edgefer.media.read_audio` and
:func:`edgefer.preprocess.clip_tensor`, exactly as the live loop and the benchmarks do.

A file that cannot be used (undecodable, too short, silent) is skipped, counted and reported in one
warning: one bad clip in 7,000 should not stop a training run. Only a list where every file fails is
an error. Arrays are filled in place (no list of 28k small arrays stacked at the end), so the peak
memory is the result itself.

Synthetic masks for ``mask_fraction > 0`` are a pure function of (file, seed): whether a file gets
one, and what it looks like, depend only on the file's last two path parts (``<class folder>/<file
name>``) and the seed, hashed with SHA-256. Runs and machines agree, and adding files changes no
other file's mask.

For training with fresh masks per epoch (:func:`edgefer.data.augment.mask_batch`) the loaders can
also keep each face's uint8 source image, and for waveform voice augmentation each clip's audio
context (:mod:`edgefer.data.voice_augment`), read in the same pass as the inputs.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edgefer.data.samples import Sample
from edgefer.errors import EdgeferError
from edgefer.media import read_audio, read_image
from edgefer.preprocess import clip_tensor, clip_window, face_tensor
from edgefer.spec import PreprocessSpec, VoiceSpec

Progress = Callable[[int, int], None]


@dataclass
class FaceArrays:
    """Face inputs: ``x``, ``y``, the kept ``samples``, ``skipped`` and the ``masked`` row flags.

    ``x`` is float32 (N, S, S, C) in [0, 1], ``y`` int64 (N,); row i of ``x`` is ``samples[i]``;
    ``skipped`` holds (path, reason) pairs.
    """

    x: np.ndarray
    y: np.ndarray
    samples: list[Sample]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    masked: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    sources: list[np.ndarray] | None = None  # uint8 images as read (keep_sources=True)


@dataclass
class VoiceArrays:
    """Voice inputs: ``x``, ``y``, the kept ``samples`` and ``skipped``, and optionally ``waves``.

    ``x`` is float32 (N, S, S, 1) in [0, 1], ``y`` int64 (N,), ``skipped`` holds (path, reason)
    pairs; ``waves`` float32 (N, L) is each clip's audio context around its speech, when asked for
    (``context=``).
    """

    x: np.ndarray
    y: np.ndarray
    samples: list[Sample]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    waves: np.ndarray | None = None


def _file_key(path: str | Path) -> str:
    """The machine-independent name of a file: ``<parent folder>/<file name>``."""
    parts = Path(path).parts[-2:]
    return "/".join(parts)


def _hash64(tag: str, path: str | Path, seed: int) -> int:
    digest = hashlib.sha256(f"edgefer:{tag}:{int(seed)}:{_file_key(path)}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def mask_seed(path: str | Path, seed: int) -> int:
    """The synthetic-mask seed of one file: stable across runs, machines and Python versions."""
    return _hash64("mask-style", path, seed) >> 32  # 32 bits: fine for any RNG seed


def is_masked(path: str | Path, seed: int, fraction: float) -> bool:
    """Whether a file is among the ``fraction`` of files that get a synthetic mask.

    It is a per-file coin flip from the hash, so the chosen share is ``fraction`` on average.
    """
    if fraction <= 0.0:
        return False
    if fraction >= 1.0:
        return True
    return _hash64("mask-pick", path, seed) / 2.0**64 < fraction


def _load(
    samples: Sequence[Sample],
    shape: tuple[int, ...],
    make: Callable[[Sample], np.ndarray],
    what: str,
    progress: Progress | None,
    workers: int,
) -> tuple[np.ndarray, list[int], list[tuple[Path, str]]]:
    """Fill a (N, *shape) array with ``make(sample)``; rows whose file fails are dropped."""
    if not samples:
        raise EdgeferError(f"no {what} samples to load")
    total = len(samples)
    x = np.empty((total, *shape), dtype=np.float32)
    kept: list[int] = []
    skipped: list[tuple[Path, str]] = []

    def attempt(sample: Sample) -> np.ndarray | str:
        try:
            return make(sample)
        except EdgeferError as exc:
            return str(exc)

    if workers > 1:
        pool = ThreadPoolExecutor(max_workers=workers)
        results = pool.map(attempt, samples)
    else:
        pool, results = None, map(attempt, samples)
    try:
        for done, (sample, result) in enumerate(zip(samples, results, strict=True), start=1):
            if isinstance(result, str):
                skipped.append((sample.path, result))
            else:
                x[len(kept)] = result
                kept.append(done - 1)
            if progress is not None:
                progress(done, total)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    if skipped:
        shown = "; ".join(f"{path.name}: {reason}" for path, reason in skipped[:3])
        more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
        warnings.warn(
            f"skipped {len(skipped)} of {total} {what} files: {shown}{more}", stacklevel=3
        )
    if not kept:
        raise EdgeferError(f"none of the {total} {what} files could be used: {skipped[0][1]}")
    # A view of the filled rows: no copy, so the peak memory stays one array.
    return x[: len(kept)], kept, skipped


def load_face_array(
    samples: Sequence[Sample],
    spec: PreprocessSpec,
    mask_fraction: float = 0.0,
    seed: int = 0,
    progress: Progress | None = None,
    workers: int = 1,
    keep_sources: bool = False,
) -> FaceArrays:
    """Read, optionally mask, and preprocess face images into a :class:`FaceArrays`.

    Images are read grey when the spec's face input is grey (a third of the memory and time).
    With ``mask_fraction`` > 0 a deterministic subset (see :func:`is_masked`) gets a synthetic mask
    drawn by :func:`edgefer.masks.apply_mask` on the uint8 image, before :func:`face_tensor`, as a
    masked camera face would reach the model. ``workers`` > 1 decodes in threads (same result).
    ``keep_sources`` also keeps every image as read (unmasked), for masks drawn during training;
    images larger than twice the input size are kept at that size (the mask is drawn as finely
    as the input can show, and 25k LFW-sized images would not fit in memory).
    """
    if not 0.0 <= mask_fraction <= 1.0:
        raise EdgeferError(f"mask fraction must lie in [0, 1], got {mask_fraction}")
    grey = spec.face.channels == 1
    if mask_fraction > 0.0:
        from edgefer.masks import apply_mask
    else:
        apply_mask = None

    stash: dict[Path, np.ndarray] = {}

    def make(sample: Sample) -> np.ndarray:
        image = read_image(sample.path, grey=grey)
        if keep_sources:
            stash[sample.path] = _bounded(image, 2 * spec.image_size)
        if apply_mask is not None and is_masked(sample.path, seed, mask_fraction):
            image = apply_mask(image, seed=mask_seed(sample.path, seed))
        return face_tensor(image, spec)

    x, kept, skipped = _load(
        samples, spec.input_shape("face"), make, "face image", progress, workers
    )
    kept_samples = [samples[i] for i in kept]
    masked = np.array([is_masked(s.path, seed, mask_fraction) for s in kept_samples], dtype=bool)
    y = np.array([s.label for s in kept_samples], dtype=np.int64)
    sources = [stash[s.path] for s in kept_samples] if keep_sources else None
    return FaceArrays(
        x=x, y=y, samples=kept_samples, skipped=skipped, masked=masked, sources=sources
    )


def _bounded(image: np.ndarray, side: int) -> np.ndarray:
    """``image``, shrunk (area-averaged, aspect kept) when its longer side exceeds ``side``."""
    height, width = image.shape[:2]
    if max(height, width) <= side:
        return image
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def load_voice_array(
    samples: Sequence[Sample],
    spec: PreprocessSpec,
    progress: Progress | None = None,
    workers: int = 1,
    context: VoiceSpec | None = None,
) -> VoiceArrays:
    """Read whole clips and turn each into one ``voice`` input with :func:`clip_tensor`.

    Clips too short, silent or undecodable are skipped (see module docstring). ``workers`` > 1
    decodes in threads; the result is the same. ``context``: also keep each clip's
    :func:`~edgefer.preprocess.clip_window` under this voice spec (a longer window, for waveform
    augmentation) as ``waves``.
    """
    stash: dict[Path, np.ndarray] = {}

    def make(sample: Sample) -> np.ndarray:
        audio = read_audio(sample.path, spec.voice.sample_rate)
        tensor = clip_tensor(audio, spec)
        if context is not None:
            stash[sample.path] = clip_window(audio, context)
        return tensor

    x, kept, skipped = _load(
        samples, spec.input_shape("voice"), make, "voice clip", progress, workers
    )
    kept_samples = [samples[i] for i in kept]
    y = np.array([s.label for s in kept_samples], dtype=np.int64)
    waves = np.stack([stash[s.path] for s in kept_samples]) if context is not None else None
    return VoiceArrays(x=x, y=y, samples=kept_samples, skipped=skipped, waves=waves)
