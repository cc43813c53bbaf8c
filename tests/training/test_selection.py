"""The kept epoch and early stopping: unit-level on the selection functions and the loop's state."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefer.errors import EdgeferError
from edgefer.training.config import TrainConfig
from edgefer.training.run_state import new_state, record_epoch, upgrade_state
from edgefer.training.selection import best_epoch, improves, score_of, should_stop

# Epoch 2 has the best accuracy (it says "negative" to nearly everything on a mostly negative
# set); epoch 3 the best macro-F1 (it gets all three classes partly right).
HISTORY = [
    {"epoch": 1, "val_accuracy": 0.52, "val_macro_f1": 0.23},
    {"epoch": 2, "val_accuracy": 0.61, "val_macro_f1": 0.35},
    {"epoch": 3, "val_accuracy": 0.58, "val_macro_f1": 0.52},
    {"epoch": 4, "val_accuracy": 0.60, "val_macro_f1": 0.52},  # a tie: the earlier epoch stays
    {"epoch": 5, "val_accuracy": 0.59, "val_macro_f1": 0.49},
]


def _config(**kwargs) -> TrainConfig:
    return TrainConfig(output=Path("unused"), **kwargs)


def test_best_epoch_by_macro_f1_is_not_the_best_accuracy_epoch():
    assert best_epoch(HISTORY, "macro_f1") == (3, 0.52)
    assert best_epoch(HISTORY, "accuracy") == (2, 0.61)
    assert best_epoch([], "macro_f1") == (0, -1.0)


def test_improvement_is_strict_and_patience_counts_epochs_since_the_best():
    assert improves(0.5, 0.4) and not improves(0.5, 0.5)
    assert not should_stop(4, 3, 2) and should_stop(5, 3, 2)
    assert not should_stop(100, 1, 0)  # patience 0: never stops


def test_the_loop_state_keeps_the_macro_f1_epoch_and_stops_after_patience():
    config = _config(select_by="macro_f1", patience=2, epochs=10)
    state = new_state(config)
    kept, stopped_at = [], None
    for record in HISTORY:
        if record_epoch(state, dict(record), config):
            kept.append(record["epoch"])  # the loop saves model.keras here
        if should_stop(record["epoch"], state["best_epoch"], config.patience):
            stopped_at = record["epoch"]
            break
    assert kept == [1, 2, 3]
    assert stopped_at == 5
    assert state["best_epoch"] == 3
    assert state["best_val_macro_f1"] == 0.52 and state["best_val_accuracy"] == 0.58


def test_accuracy_selection_keeps_the_accuracy_epoch():
    config = _config(select_by="accuracy")
    state = new_state(config)
    kept = [r["epoch"] for r in HISTORY if record_epoch(state, dict(r), config)]
    assert kept == [1, 2] and state["best_epoch"] == 2 and state["best_val_macro_f1"] == 0.35


def test_a_state_from_before_the_recipe_is_upgraded_from_its_history():
    old = {"epoch": 5, "best_val_accuracy": 0.61, "best_epoch": 2, "history": HISTORY}
    by_accuracy = upgrade_state(dict(old), _config(select_by="accuracy"))
    assert by_accuracy["best_epoch"] == 2 and by_accuracy["best_score"] == 0.61
    assert by_accuracy["stopped_early"] is False
    by_f1 = upgrade_state(dict(old), _config(select_by="macro_f1"))
    assert by_f1["best_epoch"] == 3 and by_f1["best_score"] == 0.52
    assert by_f1["best_val_accuracy"] == 0.58


def test_a_record_without_the_figure_is_an_error():
    with pytest.raises(EdgeferError, match="val_macro_f1"):
        score_of({"epoch": 1, "val_accuracy": 0.5}, "macro_f1")
