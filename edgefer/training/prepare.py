"""From a config to in-memory arrays.

Index the datasets, split them, load them through the shared preprocessing.

The splits themselves are :mod:`edgefer.data.datasplit`'s (shared with the runtime's held-out
checks), and the test faces are loaded by :func:`edgefer.data.evalset.load_heldout_faces`, the loader
of every held-out set, so ``test_masked`` here is the set the engines are checked on.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from edgefer.data.arrays import FaceArrays, VoiceArrays, load_face_array, load_voice_array
from edgefer.data.datasplit import VAL_SEED_OFFSET, split_faces, split_voices
from edgefer.data.evalset import load_heldout_faces
from edgefer.data.samples import Sample, class_counts, groups_of
from edgefer.data.voice_augment import context_spec
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


def describe_extra_voices(
    config: TrainConfig, extra: list[Sample], skipped: int = 0
) -> dict[str, Any]:
    """What ``--extra-voices`` added to the training split, for ``metrics.json``.

    The clips trained on, and how many of the indexed ones could not be used.
    """
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
            faces["val"], spec, mask, seed + VAL_SEED_OFFSET, reporter("faces val"), LOAD_WORKERS
        )
        data.faces_test_masked = load_heldout_faces(
            faces["test"], spec, seed, True, reporter("faces test (masked)"), LOAD_WORKERS
        )
        data.faces_test_unmasked = load_heldout_faces(
            faces["test"], spec, seed, False, reporter("faces test (unmasked)"), LOAD_WORKERS
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
