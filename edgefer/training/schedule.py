"""The learning-rate schedule: an optional linear warm-up, then constant or cosine (per step).

Why warm-up: Adam's first steps use moment estimates built from a handful of batches, and with a
freshly initialised head (or a fusion model started from trained branches, ``--init-from``) a full
learning rate then throws away what the first epoch could keep. The rate rises linearly from 0 to
``--learning-rate`` over ``--warmup-epochs``, then stays there (constant) or follows the cosine
decay to ``COSINE_FLOOR`` x the rate by the last epoch. The schedule is Keras' own ``CosineDecay``
(its warm-up arguments; for a constant rate with ``alpha=1``, a cosine that never decays), so it
is saved with the optimizer in ``checkpoint.keras`` and a resumed run continues the same curve.
"""

from __future__ import annotations

from edgefer.training.config import COSINE_FLOOR, TrainConfig


def warmup_steps(config: TrainConfig, steps_per_epoch: int) -> int:
    """Warm-up steps: ``warmup_epochs`` x the steps of one epoch, at most half the run.

    The cap means a short run, e.g. ``--epochs 1``, still reaches the full rate.
    """
    total = config.epochs * steps_per_epoch
    return min(int(round(config.warmup_epochs * steps_per_epoch)), total // 2)


def learning_rate(config: TrainConfig, steps_per_epoch: int):
    """The optimizer's learning rate.

    A float for a constant rate without warm-up (the paper), else a Keras schedule over
    ``config.epochs * steps_per_epoch`` steps.
    """
    import keras

    warmup = warmup_steps(config, steps_per_epoch)
    total = config.epochs * steps_per_epoch
    if warmup == 0:
        if config.lr_schedule == "constant":
            return config.learning_rate
        return keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=total, alpha=COSINE_FLOOR
        )
    alpha = COSINE_FLOOR if config.lr_schedule == "cosine" else 1.0
    return keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(total - warmup, 1),
        alpha=alpha,
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
    )
