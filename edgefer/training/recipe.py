"""A training run's recipe: the augmentation and loss weights the config asks for.

Also what the run says it trained with: one printed line at the start, the ``recipe`` of
``metrics.json`` at the end.

The printed line and the JSON are derived from the same :func:`recipe`, so a log and a run folder
can never tell two stories about one run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgefer.spec import PreprocessSpec
from edgefer.training.balance import class_weights_for, describe_weights
from edgefer.training.batches import AugmentPlan
from edgefer.training.config import TrainConfig
from edgefer.training.prepare import TrainData

__all__ = ["augment_plan", "class_weights", "recipe", "recipe_line"]


def augment_plan(config: TrainConfig, spec: PreprocessSpec) -> AugmentPlan:
    """The config's augmentation: ``--no-augment`` turns the face and voice levels off.

    Fresh masks are the masking of the data itself and stay on.
    """
    fresh = config.mask_fraction if config.fresh_masks and config.uses_faces else 0.0
    if not config.augment:
        return AugmentPlan(face="none", voice="none", mask_fraction=fresh, spec=spec)
    return AugmentPlan(config.face_augment, config.voice_augment, fresh, spec)


def class_weights(config: TrainConfig, data: TrainData, spec: PreprocessSpec) -> np.ndarray | None:
    """Loss weights from the labels the loss sees.

    The voices' labels for the voice model, else the faces' (a fusion sample carries its face's
    class).
    """
    arrays = data.voices_train if config.fusion == "voice" else data.faces_train
    assert arrays is not None
    return class_weights_for(config.class_weights, arrays.y, len(spec.class_names))


def recipe_line(
    config: TrainConfig, spec: PreprocessSpec, data: TrainData, weights: np.ndarray | None
) -> str:
    """The recipe in one printed line at the start of training (the log says what ran)."""
    used = recipe(config, spec, data, weights)
    values = ", ".join(f"{k} {v:.2f}" for k, v in used["class_weight_values"].items())
    parts = [
        f"class weights {config.class_weights} ({values})",
        f"select by val {config.select_by}"
        + (f", patience {config.patience}" if config.patience else ", no early stopping"),
        f"lr {config.learning_rate:g} {config.lr_schedule}, warm-up {config.warmup_epochs:g} epochs",
        f"augment face {used['face_augment']}, voice {used['voice_augment']}"
        + (", fresh masks" if used["fresh_masks"] else ""),
    ]
    if config.uses_voices:
        extra = data.extra_voices
        parts.append(
            f"extra voices {extra['clips']} clips ({extra['mapping']}; {extra['skipped']} unusable)"
            if extra["clips"]
            else "no extra voices"
        )
    return "recipe: " + "; ".join(parts)


def recipe(
    config: TrainConfig, spec: PreprocessSpec, data: TrainData, weights: np.ndarray | None
) -> dict[str, Any]:
    """What the run trained with, in words and numbers, for ``metrics.json``."""
    used: dict[str, Any] = {
        "class_weights": config.class_weights,
        "class_weight_values": describe_weights(weights, spec.class_names),
        "select_by": config.select_by,
        "patience": config.patience,
        "warmup_epochs": config.warmup_epochs,
        "lr_schedule": config.lr_schedule,
        "augment": config.augment,
        "face_augment": config.face_augment if config.augment and config.uses_faces else "none",
        "voice_augment": config.voice_augment if config.augment and config.uses_voices else "none",
        "fresh_masks": config.fresh_masks and config.uses_faces and config.mask_fraction > 0,
    }
    for name in ("faces_train", "voices_train"):
        arrays = getattr(data, name)
        if arrays is not None:
            labels = np.bincount(arrays.y, minlength=len(spec.class_names))
            counts = dict(zip(spec.class_names, labels.tolist(), strict=True))
            used[f"{name}_per_class"] = counts
    if config.uses_voices:
        used["extra_voices"] = data.extra_voices
    return used
