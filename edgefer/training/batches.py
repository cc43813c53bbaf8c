"""Batches for each variant, one epoch at a time from a seeded generator.

Class-matched face/voice pairs and augmentation; the seeded generator means a resumed run sees the
same batches as an uninterrupted one.

What is done to the inputs is one :class:`AugmentPlan`: the face and voice augmentation levels and,
for fresh masks, the share of faces masked and the spec to preprocess them with. Everything random
comes from the epoch's generator, drawn in batch order, so a seed gives bit-identical batches.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from edgefer.data.arrays import FaceArrays, VoiceArrays
from edgefer.data.augment import (
    augment_batch,
    augment_face,
    augment_face_strong,
    augment_voice,
    mask_batch,
)
from edgefer.data.pairing import pair_by_class, pair_random
from edgefer.data.voice_augment import augment_voice_wave
from edgefer.errors import EdgeferError
from edgefer.spec import PreprocessSpec

Batch = tuple[dict[str, np.ndarray], np.ndarray]

FACE_LEVELS = {"light": augment_face, "strong": augment_face_strong}


@dataclass(frozen=True)
class AugmentPlan:
    """What training does to the inputs.

    Parameters
    ----------
    face : ``none`` | ``light`` | ``strong`` (see :mod:`edgefer.data.augment`).
    voice : ``none`` | ``paper`` (rotation/zoom of the log-mel image) | ``strong`` (waveform
        augmentation, :mod:`edgefer.data.voice_augment`; needs ``VoiceArrays.waves``).
    mask_fraction : share of faces given a freshly drawn mask per sample and epoch (needs
        ``FaceArrays.sources``); 0 uses the arrays as loaded, with their load-time masks.
    spec : the preprocessing spec, for fresh masks and waveform voices.
    """

    face: str = "light"
    voice: str = "paper"
    mask_fraction: float = 0.0
    spec: PreprocessSpec | None = None

    @classmethod
    def from_flag(cls, augment: bool) -> AugmentPlan:
        """The plan from before the unseen-people recipe.

        Light faces and the paper's voices, or nothing.
        """
        return cls() if augment else cls(face="none", voice="none")


def _face_batch(
    faces: FaceArrays, idx: np.ndarray, rng: np.random.Generator, plan: AugmentPlan
) -> np.ndarray:
    if plan.mask_fraction > 0.0:
        if faces.sources is None or plan.spec is None:
            raise EdgeferError("fresh masks need the faces' source images and the spec")
        sources = [faces.sources[i] for i in idx]
        face = mask_batch(sources, faces.x[idx], plan.mask_fraction, plan.spec, rng)
    else:
        face = faces.x[idx]
    if plan.face != "none":
        face = augment_batch(face, FACE_LEVELS[plan.face], rng)
    return face


def _voice_batch(
    voices: VoiceArrays, idx: np.ndarray, rng: np.random.Generator, plan: AugmentPlan
) -> np.ndarray:
    if plan.voice == "strong":
        if voices.waves is None or plan.spec is None:
            raise EdgeferError("waveform voice augmentation needs the clips' audio and the spec")
        return np.stack([augment_voice_wave(voices.waves[i], rng, plan.spec) for i in idx])
    voice = voices.x[idx]
    if plan.voice == "paper":
        voice = augment_batch(voice, augment_voice, rng)
    return voice


def epoch_length(
    fusion: str, faces: FaceArrays | None, voices: VoiceArrays | None, voice_repeats: int
) -> int:
    """Samples in one epoch: every face once, or every clip ``voice_repeats`` times.

    The repeats are for the voice model: each clip is augmented differently each time, as the paper
    augments voices to balance the sets.
    """
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
    plan: AugmentPlan | None = None,
) -> Iterator[Batch]:
    """One epoch of shuffled, augmented batches for ``fusion``.

    ``plan`` says how to augment; without one, ``augment`` picks the plan from before the
    unseen-people recipe.

    ``voice_mismatch``: share of fusion samples whose voice is drawn from a random class instead of
    the face's. With class-matched pairs alone the voice always agrees with the label, a fusion model
    memorises the few training speakers and ignores the face; on unseen speakers the voice is far
    less reliable. Mismatched pairs teach the model how much to trust each modality.
    """
    plan = plan or AugmentPlan.from_flag(augment)
    if fusion == "voice":
        assert voices is not None
        order = np.concatenate([rng.permutation(len(voices.y)) for _ in range(voice_repeats)])
        for start in range(0, order.size, batch_size):
            idx = order[start : start + batch_size]
            yield {"voice": _voice_batch(voices, idx, rng, plan)}, voices.y[idx]
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
        inputs = {"face": _face_batch(faces, idx, rng, plan)}
        if pairs is not None:
            inputs["voice"] = _voice_batch(voices, pairs[idx], rng, plan)
        yield inputs, faces.y[idx]


def prefetch(batches: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
    """``batches``, made ``depth`` batches ahead in a background thread.

    Why: fresh masks and waveform voices cost 2-5 ms a sample on the CPU; made while TensorFlow
    trains on the previous batch (both release the GIL for most of their work) they cost far less
    wall time. One thread consumes the generator in order, so the batches, and the generator's
    draws, are the same as without it. An error in the thread is raised here.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, object]) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for batch in batches:
                if not put(("batch", batch)):
                    return
            put(("done", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put(("error", exc))

    thread = threading.Thread(target=work, name="edgefer-batches", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = items.get()
            if kind == "done":
                return
            if kind == "error":
                raise item  # type: ignore[misc]
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=5.0)
