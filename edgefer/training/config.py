"""What a training run is: one frozen, JSON-serialisable config saved in the run folder.

``--resume`` compares the saved config with the new one, so a run is never silently continued with
other data, another variant or another seed.

The dataclass defaults are the behaviour before the unseen-people recipe (no class weights, selection by
accuracy, no early stopping, no warm-up, light face and the paper's voice augmentation, load-time
masks, no extra voices); :data:`UNSEEN_PEOPLE_RECIPE` holds the recipe, which the ``edgefer train`` options
default to. So a ``config.json`` written before a setting existed reads back as what that run did
(and ``--resume`` with the new defaults is refused rather than silently changing the recipe
mid-run). The split settings are those of :class:`~edgefer.data.datasplit.DataSplit`
(:meth:`TrainConfig.data_split`), which code that only splits the data (calibration, the held-out
checks) builds without a training config.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgefer.data.datasplit import DEFAULT_VOICE_TEST_ACTORS, DEFAULT_VOICE_VAL_ACTORS, DataSplit
from edgefer.errors import EdgeferError
from edgefer.spec import FUSIONS, PRESET_NAMES

if TYPE_CHECKING:
    from edgefer.data.labels import LabelMap

# constant: the paper's fixed rate; cosine: decays to COSINE_FLOOR x the rate over the epochs.
LR_SCHEDULES = ("constant", "cosine")
COSINE_FLOOR = 0.05

# balanced: loss weight N / (K * n_c) per class c (mean 1 over the training samples); none: 1.
CLASS_WEIGHTS = ("balanced", "none")
# Which validation figure picks model.keras and drives early stopping.
SELECT_BY = ("macro_f1", "accuracy")
FACE_AUGMENTS = ("light", "strong")
VOICE_AUGMENTS = ("paper", "strong")

# More training voices from RAVDESS's other emotions: calm is a low-arousal neutral; sad, fearful
# and disgust are negative valence. Surprised is left out, as FER2013's surprise is.
EXTRA_VOICES_DEFAULT = "calm=neutral,disgust=negative,fearful=negative,sad=negative"

# The unseen-people recipe ("hold on people the model never saw"): the defaults of `edgefer train`.
UNSEEN_PEOPLE_RECIPE: dict[str, Any] = {
    "class_weights": "balanced",
    "select_by": "macro_f1",
    # No early stopping: on two validation actors the macro-F1 jumps epoch to epoch, and patience 5
    # stopped folds at 6-8 epochs; over 5 actor folds, patience 0 (best epoch of 20 kept) gave a mean
    # validation macro-F1 of 0.715 against 0.637 (benchmarks/results/voice_folds_recipe12*.json).
    "patience": 0,
    "warmup_epochs": 1.0,
    "face_augment": "strong",
    "voice_augment": "strong",
    "fresh_masks": True,
    "extra_voices": EXTRA_VOICES_DEFAULT,
}

# Fields that may change when a run is resumed (more epochs, another progress display).
RESUMABLE_CHANGES = {"epochs", "output"}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's result."""

    output: Path
    fusion: str = "middle"
    preset: str = "edge"
    image_size: int | None = None
    faces: Path | None = None
    voices: tuple[Path, ...] = ()
    face_train_split: str = "train"
    face_test_split: str = "val"
    face_val_fraction: float = 0.1
    voice_test_actors: tuple[str, ...] = DEFAULT_VOICE_TEST_ACTORS
    voice_val_actors: tuple[str, ...] = DEFAULT_VOICE_VAL_ACTORS
    mask_fraction: float = 0.8
    limit_per_class: int | None = None
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-4
    seed: int = 0
    voice_repeats: int = 10
    augment: bool = True
    voice_mismatch: float = 0.0
    lr_schedule: str = "constant"
    init_from: tuple[Path, ...] = ()
    class_weights: str = "none"
    select_by: str = "accuracy"
    patience: int = 0
    warmup_epochs: float = 0.0
    face_augment: str = "light"
    voice_augment: str = "paper"
    fresh_masks: bool = False
    extra_voices: str = ""
    extra_voices_root: Path | None = None

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise EdgeferError(
                f"unknown fusion {self.fusion!r}: choose one of {', '.join(FUSIONS)}"
            )
        if self.preset not in PRESET_NAMES:
            raise EdgeferError(
                f"unknown preset {self.preset!r}: choose one of {', '.join(PRESET_NAMES)}"
            )
        if self.epochs < 1 or self.batch_size < 1 or self.voice_repeats < 1:
            raise EdgeferError("epochs, batch size and voice repeats must be at least 1")
        if not 0.0 <= self.voice_mismatch <= 1.0:
            raise EdgeferError(f"voice mismatch must be in [0, 1], got {self.voice_mismatch}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise EdgeferError(
                f"unknown learning-rate schedule {self.lr_schedule!r}: "
                f"choose one of {', '.join(LR_SCHEDULES)}"
            )
        if not 0.0 <= self.mask_fraction <= 1.0:
            raise EdgeferError(f"mask fraction must be in [0, 1], got {self.mask_fraction}")
        self.data_split()  # checks the split settings (validation fraction, per-class limit)
        self._check_recipe()
        from edgefer.data.labels import describe_entries  # not at import: the CLI starts faster

        # One spelling per mapping ("sad=negative, calm=neutral" == "calm=neutral,sad=negative").
        object.__setattr__(self, "extra_voices", describe_entries(self.extra_voice_map()))

    def _check_recipe(self) -> None:
        for name, value, allowed in (
            ("class weights", self.class_weights, CLASS_WEIGHTS),
            ("selection metric", self.select_by, SELECT_BY),
            ("face augmentation", self.face_augment, FACE_AUGMENTS),
            ("voice augmentation", self.voice_augment, VOICE_AUGMENTS),
        ):
            if value not in allowed:
                raise EdgeferError(f"unknown {name} {value!r}: choose one of {', '.join(allowed)}")
        if self.patience < 0:
            raise EdgeferError(f"--patience must be 0 (off) or more, got {self.patience}")
        if self.warmup_epochs < 0:
            raise EdgeferError(f"--warmup-epochs must be 0 (off) or more, got {self.warmup_epochs}")

    @property
    def uses_faces(self) -> bool:
        return self.fusion != "voice"

    @property
    def uses_voices(self) -> bool:
        return self.fusion != "face"

    def data_split(self) -> DataSplit:
        """The part of this config that decides the splits.

        The runtime's held-out checks split with the same
        :class:`~edgefer.data.datasplit.DataSplit`, so both see the same files.
        """
        return DataSplit(
            faces=self.faces,
            voices=self.voices,
            face_train_split=self.face_train_split,
            face_test_split=self.face_test_split,
            face_val_fraction=self.face_val_fraction,
            voice_test_actors=self.voice_test_actors,
            voice_val_actors=self.voice_val_actors,
            limit_per_class=self.limit_per_class,
            seed=self.seed,
            extra_voices=self.extra_voices,
            extra_voices_root=self.extra_voices_root,
        )

    def face_root(self) -> Path:
        return self.data_split().face_root()

    def voice_roots(self) -> tuple[Path, ...]:
        return self.data_split().voice_roots()

    def extra_voice_map(self) -> LabelMap:
        """The :class:`~edgefer.data.labels.LabelMap` of ``extra_voices`` (empty: none)."""
        return self.data_split().extra_voice_map()

    @property
    def uses_extra_voices(self) -> bool:
        return self.uses_voices and bool(self.extra_voices)

    def extra_voice_root(self) -> Path:
        """The RAVDESS folder extra training voices come from (default: voice/ravdess_more)."""
        return self.data_split().extra_voice_root()

    def check_paths(self) -> None:
        """Fail fast, before TensorFlow is imported, on a dataset folder that does not exist."""
        self.data_split().check_paths(faces=self.uses_faces, voices=self.uses_voices)
        for source in self.init_from:
            if not (source.is_file() or (source / "model.keras").is_file()):
                raise EdgeferError(f"--init-from: no model.keras in {source}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
            elif isinstance(value, tuple):
                data[key] = [str(v) for v in value]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name in ("output", "faces", "extra_voices_root") and value is not None:
                value = Path(value)
            elif f.name in ("voices", "init_from"):
                value = tuple(Path(v) for v in value)
            elif f.name in ("voice_test_actors", "voice_val_actors"):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    def check_resumable_from(self, saved: TrainConfig) -> None:
        """Refuse to resume a run whose saved config differs in anything but the epochs."""
        ours, theirs = self.to_dict(), saved.to_dict()
        changed = sorted(k for k in ours if k not in RESUMABLE_CHANGES and ours[k] != theirs.get(k))
        if changed:
            detail = ", ".join(f"{k}: {theirs.get(k)!r} -> {ours[k]!r}" for k in changed)
            raise EdgeferError(f"cannot resume: the run was started with other settings ({detail})")
