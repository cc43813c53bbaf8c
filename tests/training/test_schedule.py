"""Learning-rate warm-up: the schedule's values step by step (the Keras object the optimizer uses)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgefer.training.config import COSINE_FLOOR, TrainConfig
from edgefer.training.schedule import learning_rate, warmup_steps

# The schedule is a Keras object: the runtime-only install (no train extra) skips this module.
pytest.importorskip("keras", reason="the learning-rate schedule is Keras's: needs the train extra")
STEPS = 10  # per epoch


def _rate(schedule, step: int) -> float:
    return float(np.asarray(schedule(step)))


def _config(**kwargs) -> TrainConfig:
    return TrainConfig(output=Path("unused"), learning_rate=1e-3, epochs=4, **kwargs)


def test_linear_warmup_then_cosine_to_the_floor():
    schedule = learning_rate(_config(lr_schedule="cosine", warmup_epochs=1.0), STEPS)
    assert _rate(schedule, 0) == 0.0
    assert _rate(schedule, 5) == pytest.approx(5e-4)
    assert _rate(schedule, 10) == pytest.approx(1e-3)
    rates = [_rate(schedule, s) for s in range(10, 41)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))  # decays after warm-up
    assert _rate(schedule, 25) == pytest.approx(1e-3 * (COSINE_FLOOR + (1 - COSINE_FLOOR) / 2))
    assert _rate(schedule, 40) == pytest.approx(COSINE_FLOOR * 1e-3)


def test_linear_warmup_then_constant():
    schedule = learning_rate(_config(warmup_epochs=0.5), STEPS)
    assert [_rate(schedule, s) for s in (0, 1, 4)] == pytest.approx([0.0, 2e-4, 8e-4])
    assert [_rate(schedule, s) for s in (5, 20, 40, 400)] == pytest.approx([1e-3] * 4)


def test_without_warmup_the_schedules_are_as_before():
    assert learning_rate(_config(), STEPS) == 1e-3  # the paper's float, as older runs had
    cosine = learning_rate(_config(lr_schedule="cosine"), STEPS)
    assert _rate(cosine, 0) == pytest.approx(1e-3)
    assert _rate(cosine, 40) == pytest.approx(COSINE_FLOOR * 1e-3)


def test_warmup_is_at_most_half_the_run():
    assert warmup_steps(_config(warmup_epochs=1.0), STEPS) == 10
    assert warmup_steps(_config(warmup_epochs=3.0), STEPS) == 20
    one_epoch = TrainConfig(output=Path("unused"), epochs=1, warmup_epochs=1.0)
    assert warmup_steps(one_epoch, STEPS) == 5
    schedule = learning_rate(one_epoch, STEPS)
    assert _rate(schedule, 5) == pytest.approx(one_epoch.learning_rate)
