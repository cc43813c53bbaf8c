"""Pair each face with a voice clip for the fusion models.

No dataset holds masked faces and voices of the same people, so (as in the paper) a fused sample is
a face image plus a voice clip *of the same class*, drawn from independent datasets. Voices are
dealt from a reshuffled deck per class rather than sampled with replacement, so every clip is used
about equally often and the model cannot lean on a few over-drawn clips.

``pair_random`` ignores the class and exists for the ablation: how much of fusion's gain comes from
the class-matched pairing itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgefer import CLASS_NAMES
from edgefer.errors import EdgeferError


def _labels(values: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise EdgeferError(f"{what} labels must be 1-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise EdgeferError(f"{what} labels must be integers, got {array.dtype}")
    return array.astype(np.int64, copy=False)


def _deal(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` items of ``pool``, cycling through fresh shuffles: each used ``n / len(pool)`` +- 1."""
    rounds = -(-n // pool.size)
    return np.concatenate([rng.permutation(pool) for _ in range(rounds)])[:n]


def _class_name(label: int, class_names: Sequence[str] | None) -> str:
    names = CLASS_NAMES if class_names is None else class_names
    return repr(names[label]) if 0 <= label < len(names) else f"with label {label}"


def pair_by_class(
    face_labels: np.ndarray,
    voice_labels: np.ndarray,
    rng: np.random.Generator,
    class_names: Sequence[str] | None = None,
) -> np.ndarray:
    """Index of a voice for every face, the voice always of the face's class.

    Returns
    -------
    voice_index : np.ndarray [shape=(len(face_labels),), dtype=int64]

    Raises :class:`EdgeferError` naming a class that has faces but no voices.
    """
    faces = _labels(face_labels, "face")
    voices = _labels(voice_labels, "voice")
    out = np.empty(faces.size, dtype=np.int64)
    for label in np.unique(faces):
        pool = np.flatnonzero(voices == label)
        if pool.size == 0:
            raise EdgeferError(
                f"class {_class_name(int(label), class_names)} has faces but no voice clips to pair"
            )
        where = np.flatnonzero(faces == label)
        out[where] = _deal(pool, where.size, rng)
    return out


def pair_random(
    face_labels: np.ndarray, voice_labels: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Index of a voice for every face, ignoring classes; dealt evenly like ``pair_by_class``."""
    faces = _labels(face_labels, "face")
    voices = _labels(voice_labels, "voice")
    if faces.size and voices.size == 0:
        raise EdgeferError("no voice clips to pair with the faces")
    if faces.size == 0:
        return np.empty(0, dtype=np.int64)
    return _deal(np.arange(voices.size, dtype=np.int64), faces.size, rng)
