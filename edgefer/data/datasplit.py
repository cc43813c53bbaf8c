"""Which files a run trains, validates and tests on.

The dataset folders and split settings (:class:`DataSplit`) and the deterministic face and voice
splits they give.

Faces: validation is carved from FER2013's training split (its ``val`` split stays the test set and
is never used for tuning). Voices are split by actor, never by clip, into train / validation / test.
Extra voices (``--extra-voices``, RAVDESS's other emotions) join the training split only, and only
for actors already in it: validation and test stay the paper's three emotions of unseen actors.

Training (through :class:`~edgefer.training.config.TrainConfig`) and the runtime's held-out checks
(through a :class:`DataSplit`) split with these same functions, so with the same settings and seed
they see the same files. No Keras here: a Jetson without TensorFlow imports it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from edgefer.data.faces import index_faces
from edgefer.data.samples import Sample, groups_of
from edgefer.data.splits import split_by_actor, stratified_holdout
from edgefer.data.voices import clip_id, index_ravdess, index_voices
from edgefer.errors import EdgeferError
from edgefer.paths import data_root

if TYPE_CHECKING:
    from edgefer.data.labels import LabelMap

# Held out by default on the shared data: four RAVDESS actors (two male, two female) and both CREMA-D
# actors, whose clips are also the audio of the audio-visual demo clips.
DEFAULT_VOICE_TEST_ACTORS = (
    "ravdess:17",
    "ravdess:18",
    "ravdess:19",
    "ravdess:20",
    "cremad:1001",
    "cremad:1002",
)
DEFAULT_VOICE_VAL_ACTORS = ("ravdess:15", "ravdess:16")

VAL_SEED_OFFSET = 1
"""Added to the run seed for every draw of the validation split (per-class limit, seeded actor
split, load-time masks), so it is drawn independently of the training split's (offset 0)."""

TEST_SEED_OFFSET = 2
"""Added to the run seed for every draw of the test (held-out) split: its per-class limit and the
load-time masks of its faces. A separate offset keeps the test draws independent of the training
and validation ones, and fixing it here lets every consumer (training's ``test_masked`` report, the
runtime's accuracy guards, the shipped check set) rebuild exactly the same held-out set from the
run seed alone. Changing it changes every held-out figure recorded so far."""

EXTRA_SEED_OFFSET = 3
"""Added to the run seed for the per-class limit of the extra training voices, independent of the
draws of the three splits."""


class SplitSettings(Protocol):
    """What the split functions read from a config.

    A :class:`DataSplit`, or training's :class:`~edgefer.training.config.TrainConfig`, which holds
    the same fields among its others.
    """

    @property
    def seed(self) -> int: ...

    @property
    def limit_per_class(self) -> int | None: ...

    @property
    def face_train_split(self) -> str: ...

    @property
    def face_test_split(self) -> str: ...

    @property
    def face_val_fraction(self) -> float: ...

    @property
    def voice_test_actors(self) -> tuple[str, ...]: ...

    @property
    def voice_val_actors(self) -> tuple[str, ...]: ...

    @property
    def uses_extra_voices(self) -> bool: ...

    def face_root(self) -> Path: ...

    def voice_roots(self) -> tuple[Path, ...]: ...

    def extra_voice_root(self) -> Path: ...

    def extra_voice_map(self) -> LabelMap: ...


@dataclass(frozen=True)
class DataSplit:
    """The settings that decide which files land in which split (defaults: the paper's splits).

    Parameters
    ----------
    faces / voices : dataset folders; ``None`` / empty means the data root's FER2013 and
        RAVDESS + CREMA-D folders.
    limit_per_class : keep at most this many samples per class in every split (quick runs, tests).
    extra_voices : ``--extra-voices`` mapping (``calm=neutral,...``); empty: none.
    """

    faces: Path | None = None
    voices: tuple[Path, ...] = ()
    face_train_split: str = "train"
    face_test_split: str = "val"
    face_val_fraction: float = 0.1
    voice_test_actors: tuple[str, ...] = DEFAULT_VOICE_TEST_ACTORS
    voice_val_actors: tuple[str, ...] = DEFAULT_VOICE_VAL_ACTORS
    limit_per_class: int | None = None
    seed: int = 0
    extra_voices: str = ""
    extra_voices_root: Path | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.face_val_fraction < 1.0:
            raise EdgeferError(
                f"face validation fraction must be in (0, 1), got {self.face_val_fraction}"
            )
        if self.limit_per_class is not None and self.limit_per_class < 2:
            raise EdgeferError("--limit-per-class must be at least 2")

    @property
    def uses_extra_voices(self) -> bool:
        return bool(self.extra_voices)

    def face_root(self) -> Path:
        return self.faces if self.faces is not None else data_root() / "faces" / "fer2013"

    def voice_roots(self) -> tuple[Path, ...]:
        if self.voices:
            return self.voices
        root = data_root() / "voice"
        return (root / "ravdess", root / "cremad")

    def extra_voice_map(self) -> LabelMap:
        """The :class:`~edgefer.data.labels.LabelMap` of ``extra_voices`` (empty: none)."""
        from edgefer.data.labels import parse_extra_voices

        return parse_extra_voices(self.extra_voices)

    def extra_voice_root(self) -> Path:
        """The RAVDESS folder extra training voices come from (default: voice/ravdess_more)."""
        if self.extra_voices_root is not None:
            return self.extra_voices_root
        return data_root() / "voice" / "ravdess_more"

    def check_paths(self, faces: bool = True, voices: bool = True) -> None:
        """Fail fast on a dataset folder of a used modality that does not exist.

        The error is one line naming it, raised before anything slow is imported or indexed.
        """
        folders = [("face", self.face_root())] if faces else []
        if voices:
            folders += [("voice", root) for root in self.voice_roots()]
            if self.uses_extra_voices:
                folders.append(
                    ("extra voice (--extra-voices '' to train without)", self.extra_voice_root())
                )
        for kind, folder in folders:
            if not folder.is_dir():
                raise EdgeferError(f"{kind} dataset folder not found: {folder}")


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


def split_faces(config: SplitSettings) -> dict[str, list[Sample]]:
    """Faces: ``train`` and ``val`` (a stratified slice of the training split) and ``test``."""
    root = config.face_root()
    train = index_faces(root, config.face_train_split)
    test = index_faces(root, config.face_test_split)
    train, val = stratified_holdout(train, config.face_val_fraction, seed=config.seed)
    limit, seed = config.limit_per_class, config.seed
    return {
        "train": limit_per_class(train, limit, seed),
        "val": limit_per_class(val, limit, seed + VAL_SEED_OFFSET),
        "test": limit_per_class(test, limit, seed + TEST_SEED_OFFSET),
    }


def split_voices(config: SplitSettings) -> dict[str, list[Sample]]:
    """Voices by actor: ``train`` (with the extra voices), ``val``, ``test``, and ``extra``.

    ``extra`` holds the extra voices alone, already inside ``train``, for reports.
    """
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
        train, val = split_by_actor(rest, test_fraction=0.15, seed=config.seed + VAL_SEED_OFFSET)
    for name, part in (("train", train), ("validation", val), ("test", test)):
        if not part:
            raise EdgeferError(f"the voice {name} split is empty: check the actor lists")
    limit, seed = config.limit_per_class, config.seed
    extra = limit_per_class(
        extra_training_voices(config, train, samples), limit, seed + EXTRA_SEED_OFFSET
    )
    return {
        "train": limit_per_class(train, limit, seed) + extra,
        "val": limit_per_class(val, limit, seed + VAL_SEED_OFFSET),
        "test": limit_per_class(test, limit, seed + TEST_SEED_OFFSET),
        "extra": extra,
    }


def extra_training_voices(
    config: SplitSettings, train: list[Sample], everything: list[Sample]
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
