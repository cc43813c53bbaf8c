"""From a config to in-memory arrays: index the datasets, split them, load them through the shared
preprocessing.

Splits: faces validation is carved from the training split (FER2013 ``val`` stays the test set and is
never used for tuning); voices are split by actor, never by clip, into train / validation / test.
Extra voices (``--extra-voices``, RAVDESS's other emotions) join the training split only, and only
for actors already in it: validation and test stay the paper's three emotions of unseen actors.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from edgefer.data.arrays import FaceArrays, VoiceArrays, load_face_array, load_voice_array
from edgefer.data.faces import index_faces
from edgefer.data.samples import Sample, class_counts, groups_of
from edgefer.data.splits import split_by_actor, stratified_holdout
from edgefer.data.voice_augment import context_spec
from edgefer.data.voices import clip_id, index_ravdess, index_voices
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
    extra_voices: dict[str, Any] = field(default_factory=dict)

    def skipped(self) -> int:
        parts = [getattr(self, f.name) for f in fields(self)]
        arrays = [part for part in parts if isinstance(part, FaceArrays | VoiceArrays)]
        return sum(len(part.skipped) for part in arrays)


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
    """Voices by actor: ``train`` (with the extra voices), ``val``, ``test``, and ``extra`` (the
    extra voices alone, already inside ``train``, for reports)."""
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
    extra = limit_per_class(extra_training_voices(config, train, samples), limit, seed + 3)
    return {
        "train": limit_per_class(train, limit, seed) + extra,
        "val": limit_per_class(val, limit, seed + 1),
        "test": limit_per_class(test, limit, seed + 2),
        "extra": extra,
    }


def extra_training_voices(
    config: TrainConfig, train: list[Sample], everything: list[Sample]
) -> list[Sample]:
    """The ``--extra-voices`` clips of the training split's actors, with their mapped labels.

    A clip of a validation or test actor, or of an actor the main voice set does not have, is left
    out (the split is by actor: an extra clip goes where its actor went, and an actor never split
    has no side); a clip already in the main set (the same RAVDESS name) is not added twice.
    """
    if not config.uses_extra_voices:
        return []
    root = config.extra_voice_root()
    found = index_ravdess(root, config.extra_voice_map(), all_classes=False)
    allowed = set(groups_of(train))
    known = {clip_id(s.path) for s in everything}
    kept = [s for s in found if s.group in allowed and clip_id(s.path) not in known]
    if not kept:
        warnings.warn(
            f"no extra voice in {root} belongs to a training actor "
            f"({', '.join(sorted(allowed))}): training without extra voices",
            stacklevel=2,
        )
    return kept


def describe_extra_voices(
    config: TrainConfig, extra: list[Sample], skipped: int = 0
) -> dict[str, Any]:
    """What ``--extra-voices`` added to the training split (the clips trained on, and how many of
    the indexed ones could not be used), for ``metrics.json``."""
    if not config.uses_extra_voices:
        return {"mapping": "", "clips": 0}
    label_map = config.extra_voice_map()
    return {
        "mapping": config.extra_voices,
        "root": str(config.extra_voice_root()),
        "clips": len(extra),
        "skipped": skipped,
        "per_emotion": dict(sorted(Counter(s.emotion for s in extra).items())),
        "per_class": class_counts(extra, label_map.class_names),
        "actors": groups_of(extra),
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
        # Fresh masks: the training faces are loaded unmasked, with their source images, and masked
        # anew in every batch (edgefer.data.augment.mask_batch).
        fresh = config.fresh_masks and mask > 0.0
        data.faces_train = load_face_array(
            faces["train"],
            spec,
            0.0 if fresh else mask,
            seed,
            reporter("faces train"),
            LOAD_WORKERS,
            keep_sources=fresh,
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
        waves = config.augment and config.voice_augment == "strong"
        context = context_spec(spec.voice) if waves else None
        data.voices_train = load_voice_array(
            voices["train"], spec, reporter("voices train"), context=context
        )
        extra = set(voices["extra"])
        loaded = [s for s in data.voices_train.samples if s in extra]
        data.extra_voices = describe_extra_voices(config, loaded, len(extra) - len(loaded))
        data.voices_val = load_voice_array(voices["val"], spec, reporter("voices val"))
        data.voices_test = load_voice_array(voices["test"], spec, reporter("voices test"))
    return data
