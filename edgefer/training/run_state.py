"""A training run's folder and ``state.json``: creating or reopening it, and what each epoch leaves.

``state.json`` holds the last finished epoch, its history, the best epoch by ``--select-by`` and
whether the run stopped early; with ``checkpoint.keras`` it is all ``--resume`` needs. Every file is
written atomically and ``state.json`` last, so a run killed at any point resumes from the last epoch
whose state was written, and never from a half-written model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edgefer.errors import EdgeferError
from edgefer.spec import PreprocessSpec, preset_spec
from edgefer.training.config import TrainConfig
from edgefer.training.selection import best_epoch, improves, score_of, should_stop

__all__ = [
    "atomic_save_model",
    "atomic_write_text",
    "end_epoch",
    "new_state",
    "open_run",
    "record_epoch",
    "upgrade_state",
]


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a kill leaves the old file whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def atomic_save_model(model: Any, path: Path) -> None:
    """Save a Keras model to ``path`` through a temporary file.

    A kill mid-save leaves the old one.
    """
    tmp = path.with_name(f".{path.stem}-partial.keras")
    model.save(tmp)
    os.replace(tmp, path)


def open_run(config: TrainConfig, resume: bool) -> tuple[PreprocessSpec, dict[str, Any] | None]:
    """Create the run folder, or reopen it for ``--resume``; never overwrite a finished run."""
    run = config.output
    state_path = run / "state.json"
    if resume:
        if not state_path.is_file() or not (run / "model.keras").is_file():
            raise EdgeferError(f"nothing to resume in {run}: no model.keras/state.json")
        config.check_resumable_from(
            TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
        )
        state = upgrade_state(json.loads(state_path.read_text()), config)
        return PreprocessSpec.load(run / "spec.json"), state
    if run.exists() and any(run.iterdir()):
        raise EdgeferError(
            f"run folder {run} is not empty: pass --resume to continue it, or --output"
        )
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeferError(f"cannot create run folder {run}: {exc.strerror}") from exc
    spec = preset_spec(config.preset, config.image_size)
    spec.save(run / "spec.json")
    return spec, None


def new_state(config: TrainConfig) -> dict[str, Any]:
    """The ``state.json`` of a run before its first epoch."""
    return {
        "epoch": 0,
        "select_by": config.select_by,
        "best_epoch": 0,
        "best_score": -1.0,
        "best_val_accuracy": -1.0,
        "best_val_macro_f1": -1.0,
        "stopped_early": False,
        "history": [],
    }


def upgrade_state(state: dict[str, Any], config: TrainConfig) -> dict[str, Any]:
    """A ``state.json`` from before ``--select-by``, with the fields this loop keeps.

    Such a state picked the best epoch by accuracy, with no early stopping; the fields are
    recomputed from its history.
    """
    recompute = "best_score" not in state or state.get("select_by") != config.select_by
    state = {**new_state(config), **state}
    history = state["history"][: state["epoch"]]
    if recompute:
        state["best_epoch"], state["best_score"] = best_epoch(history, config.select_by)
    if state["best_epoch"] > 0:
        record = history[state["best_epoch"] - 1]
        state["best_val_accuracy"] = record["val_accuracy"]
        state["best_val_macro_f1"] = record.get("val_macro_f1", -1.0)
    state["select_by"] = config.select_by
    return state


def record_epoch(state: dict[str, Any], record: dict[str, Any], config: TrainConfig) -> bool:
    """Add ``record`` to the state; True when it is the new best epoch (its model is kept)."""
    state["history"].append(record)
    state["epoch"] = record["epoch"]
    score = score_of(record, config.select_by)
    if not improves(score, state["best_score"]):
        return False
    state["best_epoch"], state["best_score"] = record["epoch"], score
    state["best_val_accuracy"] = record["val_accuracy"]
    state["best_val_macro_f1"] = record["val_macro_f1"]
    return True


def end_epoch(
    model: Any, state: dict[str, Any], record: dict[str, Any], config: TrainConfig
) -> bool:
    """Record a finished epoch and write what it leaves.

    ``model.keras`` when it is the new best, then the checkpoint, then ``state.json`` (with whether
    ``--patience`` stops the run here).

    Returns whether it is the new best epoch. The state goes last: a run killed before it resumes
    from the previous epoch and trains this one again.
    """
    best = record_epoch(state, record, config)
    if best:
        atomic_save_model(model, config.output / "model.keras")
    epoch = record["epoch"]
    state["stopped_early"] = epoch < config.epochs and should_stop(
        epoch, state["best_epoch"], config.patience
    )
    atomic_save_model(model, config.output / "checkpoint.keras")
    atomic_write_text(config.output / "state.json", json.dumps(state, indent=2))
    return best
