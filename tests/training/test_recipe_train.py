"""The unseen-people recipe for real, on a few batches: the defaults train, record what they used,
keep the best macro-F1 epoch, stop early, resume, and give the same weights for the same seed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgefer.training.selection import best_epoch
from tests.cli_helpers import run_cli

pytestmark = pytest.mark.slow
pytest.importorskip("tensorflow", reason="trains models: needs the train extra")
TINY_VOICE = [
    "train", "--fusion", "voice", "--limit-per-class", "4", "--voice-repeats", "1",
    "--batch-size", "8", "--epochs", "3", "--patience", "1", "--seed", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def voice_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("recipe") / "voice"
    result = run_cli(*TINY_VOICE, "--output", str(run))
    assert result.returncode == 0, result.stderr[-2000:]
    return run


def test_the_recipe_run_records_what_it_used(voice_run):
    metrics = json.loads((voice_run / "metrics.json").read_text())
    recipe = metrics["recipe"]
    assert recipe["class_weights"] == "balanced" and recipe["voice_augment"] == "strong"
    assert recipe["select_by"] == "macro_f1" and recipe["warmup_epochs"] == 1.0
    extra = recipe["extra_voices"]
    assert extra["clips"] == 8 and extra["per_class"]["positive"] == 0  # 4 per class and split
    counts = recipe["voices_train_per_class"]
    assert counts == {"negative": 8, "neutral": 8, "positive": 4}
    assert recipe["class_weight_values"]["positive"] == pytest.approx(20 / 12, abs=1e-4)
    config = json.loads((voice_run / "config.json").read_text())
    assert config["extra_voices"] == extra["mapping"] and config["patience"] == 1


def test_the_best_macro_f1_epoch_is_kept_and_patience_stops_the_run(voice_run):
    state = json.loads((voice_run / "state.json").read_text())
    history = state["history"]
    assert (state["best_epoch"], state["best_score"]) == best_epoch(history, "macro_f1")
    assert state["best_val_macro_f1"] == history[state["best_epoch"] - 1]["val_macro_f1"]
    if state["stopped_early"]:
        assert len(history) < 3 and history[-1]["epoch"] - state["best_epoch"] == 1
    else:
        assert len(history) == 3
    metrics = json.loads((voice_run / "metrics.json").read_text())
    assert metrics["best_epoch"] == state["best_epoch"]
    assert metrics["best_val_macro_f1"] == state["best_val_macro_f1"]
    assert metrics["sets"]["val"]["macro_f1"] == pytest.approx(state["best_val_macro_f1"])
    assert 0.0 < history[0]["learning_rate"] <= 1e-4  # warmed up within the first epoch


def test_resume_continues_or_only_rewrites_the_reports(voice_run, tmp_path):
    run = tmp_path / "voice"
    shutil.copytree(voice_run, run)
    before = json.loads((run / "state.json").read_text())
    args = [a if a != "3" else "4" for a in TINY_VOICE]  # one more epoch allowed
    result = run_cli(*args, "--output", str(run), "--resume")
    assert result.returncode == 0, result.stderr[-2000:]
    after = json.loads((run / "state.json").read_text())
    assert after["history"][: len(before["history"])] == before["history"]
    if before["stopped_early"]:
        assert after == before and "stopped early" in result.stderr
    else:
        assert len(after["history"]) > len(before["history"])


def test_same_seed_gives_identical_weights_with_waveform_voices(voice_run, tmp_path):
    import keras

    again = tmp_path / "again"
    result = run_cli(*TINY_VOICE, "--output", str(again))
    assert result.returncode == 0, result.stderr[-2000:]
    a = keras.models.load_model(voice_run / "model.keras").get_weights()
    b = keras.models.load_model(again / "model.keras").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path):
    """Batches and dropout are seeded per epoch, so epoch 2 after a resume is epoch 2 of one run.
    (No warm-up here: a schedule is fixed when a run starts, and one started with --epochs 1 warms
    up over half the steps of one started with --epochs 2.)"""
    import keras

    args = [a for a in TINY_VOICE if a not in ("--epochs", "3")] + ["--warmup-epochs", "0"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    for extra in (
        ["--epochs", "2", "--output", str(whole)],
        ["--epochs", "1", "--output", str(cut)],
    ):
        result = run_cli(*args, *extra)
        assert result.returncode == 0, result.stderr[-2000:]
    resumed = run_cli(*args, "--epochs", "2", "--output", str(cut), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = keras.models.load_model(whole / "checkpoint.keras").get_weights()
    b = keras.models.load_model(cut / "checkpoint.keras").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    histories = [json.loads((run / "state.json").read_text())["history"] for run in (whole, cut)]
    assert [h["loss"] for h in histories[0]] == [h["loss"] for h in histories[1]]
