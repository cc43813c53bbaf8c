"""From a config to in-memory arrays: index the datasets, split them, load them through the shared
preprocessing.

Splits: faces validation is carved from the training split (FER2013 ``val`` stays the test set and is
never used for tuning); voices are split by actor, never by clip, into train / validation / test.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgefer.data.arrays import FaceArrays, VoiceArrays, load_face_array, load_voice_array
from edgefer.data.faces import index_faces
from edgefer.data.samples import Sample
from edgefer.data.splits import split_by_actor, stratified_holdout
from edgefer.data.voices import index_voices
from edgefer.errors import EdgeferError
from edgefer.spec import PreprocessSpec
from edgefer.training.config import TrainConfig

Progress = Callable[[str, int, int], None]

# Face decoding threads: OpenCV releases the GIL, and the arrays do not depend on the thread count.
LOAD_WORKERS = min(8, os.cpu_count() or 1)


@dataclass
class TrainData:
    """Arrays per split; a modality the variant does not use is None."""

    faces_train: FaceArrays | None = None
    faces_val: FaceArrays | None = None
    faces_test_masked: FaceArrays | None = None
    faces_test_unmasked: FaceArrays | None = None
    voices_train: VoiceArrays | None = None
    voices_val: VoiceArrays | None = None
    voices_test: VoiceArrays | None = None

    def skipped(self) -> int:
        parts = [getattr(self, name) for name in self.__dataclass_fields__]
        return sum(len(part.skipped) for part in parts if part is not None)


def limit_per_class(samples: list[Sample], limit: int | None, seed: int) -> list[Sample]:
    """Keep at most ``limit`` samples of each class, chosen by seed (for quick runs and tests)."""
    if limit is None:
        return samples
    rng = np.random.default_rng(seed)
    kept: list[Sample] = []
    for label in sorted({s.label for s in samples}):
        of_class = [s for s in samples if s.label == label]
        order = rng.permutation(len(of_class))[:limit]
        kept.extend(of_class[i] for i in sorted(order))
    return kept


def split_faces(config: TrainConfig) -> dict[str, list[Sample]]:
    root = config.face_root()
    train = index_faces(root, config.face_train_split)
    test = index_faces(root, config.face_test_split)
    train, val = stratified_holdout(train, config.face_val_fraction, seed=config.seed)
    limit, seed = config.limit_per_class, config.seed
    return {
        "train": limit_per_class(train, limit, seed),
        "val": limit_per_class(val, limit, seed + 1),
        "test": limit_per_class(test, limit, seed + 2),
    }


def split_voices(config: TrainConfig) -> dict[str, list[Sample]]:
    samples: list[Sample] = []
    for root in config.voice_roots():
        samples.extend(index_voices(root))
    if config.voice_test_actors:
        rest, test = split_by_actor(samples, test_groups=list(config.voice_test_actors))
    else:
        rest, test = split_by_actor(samples, test_fraction=0.2, seed=config.seed)
    if config.voice_val_actors:
        train, val = split_by_actor(rest, test_groups=list(config.voice_val_actors))
    else:
        train, val = split_by_actor(rest, test_fraction=0.15, seed=config.seed + 1)
    for name, part in (("train", train), ("validation", val), ("test", test)):
        if not part:
            raise EdgeferError(f"the voice {name} split is empty: check the actor lists")
    limit, seed = config.limit_per_class, config.seed
    return {
        "train": limit_per_class(train, limit, seed),
        "val": limit_per_class(val, limit, seed + 1),
        "test": limit_per_class(test, limit, seed + 2),
    }


def prepare_data(
    config: TrainConfig, spec: PreprocessSpec, progress: Progress | None = None
) -> TrainData:
    """Index, split and load every split the variant needs."""

    def reporter(label: str) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, total: progress(label, done, total)

    data = TrainData()
    if config.uses_faces:
        faces = split_faces(config)
        seed, mask = config.seed, config.mask_fraction
        data.faces_train = load_face_array(
            faces["train"], spec, mask, seed, reporter("faces train"), LOAD_WORKERS
        )
        data.faces_val = load_face_array(
            faces["val"], spec, mask, seed + 1, reporter("faces val"), LOAD_WORKERS
        )
        data.faces_test_masked = load_face_array(
            faces["test"], spec, 1.0, seed + 2, reporter("faces test (masked)"), LOAD_WORKERS
        )
        data.faces_test_unmasked = load_face_array(
            faces["test"], spec, 0.0, seed + 2, reporter("faces test (unmasked)"), LOAD_WORKERS
        )
    if config.uses_voices:
        voices = split_voices(config)
        data.voices_train = load_voice_array(voices["train"], spec, reporter("voices train"))
        data.voices_val = load_voice_array(voices["val"], spec, reporter("voices val"))
        data.voices_test = load_voice_array(voices["test"], spec, reporter("voices test"))
    return data
