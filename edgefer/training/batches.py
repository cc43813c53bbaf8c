"""Batches for each variant: class-matched face/voice pairs, the paper's augmentation, one epoch at a
time from a seeded generator (so a resumed run sees the same batches as an uninterrupted one).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from edgefer.data.arrays import FaceArrays, VoiceArrays
from edgefer.data.augment import augment_batch, augment_face, augment_voice
from edgefer.data.pairing import pair_by_class, pair_random

Batch = tuple[dict[str, np.ndarray], np.ndarray]


@dataclass
class EvalSet:
    """Inputs, labels and (for voices) the actor of each sample, ready for ``predict``."""

    inputs: dict[str, np.ndarray]
    y: np.ndarray
    groups: list[str] | None

    def __len__(self) -> int:
        return int(self.y.size)


def epoch_length(
    fusion: str, faces: FaceArrays | None, voices: VoiceArrays | None, voice_repeats: int
) -> int:
    """Samples in one epoch: every face once, or for the voice model every clip ``voice_repeats``
    times (augmented differently each time, as the paper augments voices to balance the sets)."""
    if fusion == "voice":
        assert voices is not None
        return len(voices.y) * voice_repeats
    assert faces is not None
    return len(faces.y)


def train_batches(
    fusion: str,
    faces: FaceArrays | None,
    voices: VoiceArrays | None,
    batch_size: int,
    rng: np.random.Generator,
    augment: bool = True,
    voice_repeats: int = 1,
    voice_mismatch: float = 0.0,
) -> Iterator[Batch]:
    """One epoch of shuffled, augmented batches for ``fusion``.

    ``voice_mismatch``: share of fusion samples whose voice is drawn from a random class instead of
    the face's. With class-matched pairs alone the voice always agrees with the label, a fusion model
    memorises the few training speakers and ignores the face; on unseen speakers the voice is far
    less reliable. Mismatched pairs teach the model how much to trust each modality.
    """
    if fusion == "voice":
        assert voices is not None
        order = np.concatenate([rng.permutation(len(voices.y)) for _ in range(voice_repeats)])
        for start in range(0, order.size, batch_size):
            idx = order[start : start + batch_size]
            x = voices.x[idx]
            if augment:
                x = augment_batch(x, augment_voice, rng)
            yield {"voice": x}, voices.y[idx]
        return
    assert faces is not None
    order = rng.permutation(len(faces.y))
    pairs = None
    if fusion != "face":
        assert voices is not None
        pairs = pair_by_class(faces.y, voices.y, rng)
        if voice_mismatch > 0.0:
            swap = rng.random(pairs.size) < voice_mismatch
            pairs = np.where(swap, pair_random(faces.y, voices.y, rng), pairs)
    for start in range(0, order.size, batch_size):
        idx = order[start : start + batch_size]
        face = faces.x[idx]
        if augment:
            face = augment_batch(face, augment_face, rng)
        inputs = {"face": face}
        if pairs is not None:
            voice = voices.x[pairs[idx]]
            if augment:
                voice = augment_batch(voice, augment_voice, rng)
            inputs["voice"] = voice
        yield inputs, faces.y[idx]


def eval_set(
    fusion: str,
    faces: FaceArrays | None,
    voices: VoiceArrays | None,
    seed: int,
    matched: bool = True,
) -> EvalSet:
    """A fixed evaluation set. Fusion variants pair each test face with a test voice of the same
    class (``matched=False``: of a random class, to measure what class-matched pairing buys)."""
    if fusion == "voice":
        assert voices is not None
        return EvalSet({"voice": voices.x}, voices.y, [s.group for s in voices.samples])
    assert faces is not None
    if fusion == "face":
        return EvalSet({"face": faces.x}, faces.y, None)
    assert voices is not None
    rng = np.random.default_rng(seed)
    pairs = (
        pair_by_class(faces.y, voices.y, rng) if matched else pair_random(faces.y, voices.y, rng)
    )
    groups = [voices.samples[i].group for i in pairs]
    return EvalSet({"face": faces.x, "voice": voices.x[pairs]}, faces.y, groups)
