"""The training loop: seeded epochs, a Rich progress bar, a checkpoint after every epoch, resume.

A run folder holds: ``config.json``, ``spec.json`` (the preprocessing spec), ``checkpoint.keras`` +
``state.json`` (the last finished epoch, for ``--resume``), ``model.keras`` (best validation accuracy),
``history.json``, ``metrics.json`` and ``confusion*.png``. Every file is written atomically, so a run
killed mid-epoch resumes from the last finished one.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from edgefer import __version__
from edgefer.errors import EdgeferError
from edgefer.spec import PreprocessSpec, preset_spec
from edgefer.training.batches import epoch_length, eval_set, train_batches
from edgefer.training.config import COSINE_FLOOR, TrainConfig
from edgefer.training.evaluate import evaluate, write_reports
from edgefer.training.init_from import copy_matching_weights
from edgefer.training.prepare import TrainData, prepare_data

RUN_FILES = (
    "config.json",
    "spec.json",
    "model.keras",
    "metrics.json",
    "confusion.png",
    "history.json",
)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _atomic_save_model(model, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}-partial.keras")
    model.save(tmp)
    os.replace(tmp, path)


def _seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _learning_rate(config: TrainConfig, steps_per_epoch: int):
    """A float for the paper's constant rate, or a cosine decay over all the configured epochs
    (saved with the optimizer in the checkpoint, so a resumed run continues the same curve)."""
    import keras

    if config.lr_schedule == "constant":
        return config.learning_rate
    return keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=config.epochs * steps_per_epoch, alpha=COSINE_FLOOR
    )


def _new_model(config: TrainConfig, spec: PreprocessSpec, steps_per_epoch: int, console: Console):
    import keras

    from edgefer.models import build_model

    _seed_everything(config.seed)
    model = build_model(config.fusion, config.preset, spec)
    if config.init_from:
        copied = copy_matching_weights(model, config.init_from)
        with_weights = sum(1 for layer in model.layers if layer.weights)
        console.print(f"initialised {len(copied)} of {with_weights} layers from --init-from")
    model.compile(
        optimizer=keras.optimizers.Adam(_learning_rate(config, steps_per_epoch)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _open_run(config: TrainConfig, resume: bool) -> tuple[PreprocessSpec, dict[str, Any] | None]:
    """Create the run folder, or reopen it for ``--resume``; never overwrite a finished run."""
    run = config.output
    state_path = run / "state.json"
    if resume:
        if not state_path.is_file() or not (run / "model.keras").is_file():
            raise EdgeferError(f"nothing to resume in {run}: no model.keras/state.json")
        config.check_resumable_from(
            TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
        )
        return PreprocessSpec.load(run / "spec.json"), json.loads(state_path.read_text())
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


def train(config: TrainConfig, resume: bool = False, console: Console | None = None) -> Path:
    """Train one variant end to end and return the run folder."""
    import keras

    from edgefer.models.keras_engine import load_keras

    console = console or Console(stderr=True)
    spec, state = _open_run(config, resume)
    config.save(config.output / "config.json")
    with _progress(console, transient=True) as progress:
        task = progress.add_task("loading data", total=None, status="")

        def on_load(label: str, done: int, total: int) -> None:
            progress.update(task, description=f"loading {label}", completed=done, total=total)

        data = prepare_data(config, spec, on_load)
        progress.remove_task(task)
    if data.skipped():
        console.print(f"[yellow]skipped {data.skipped()} unreadable or unusable files[/yellow]")
    faces, voices = data.faces_train, data.voices_train
    val = eval_set(config.fusion, data.faces_val, data.voices_val, seed=config.seed)

    n_per_epoch = epoch_length(config.fusion, faces, voices, config.voice_repeats)
    if state is None:
        steps_per_epoch = -(-n_per_epoch // config.batch_size)
        model = _new_model(config, spec, steps_per_epoch, console)
        state = {"epoch": 0, "best_val_accuracy": -1.0, "best_epoch": 0, "history": []}
    elif state["epoch"] < config.epochs:
        if not (config.output / "checkpoint.keras").is_file():
            raise EdgeferError(
                f"{config.output} has no checkpoint.keras to continue from: pass "
                f"--epochs {state['epoch']} to write the reports of its best epoch"
            )
        model = keras.models.load_model(config.output / "checkpoint.keras")
        console.print(f"resuming {config.output} after epoch {state['epoch']}")
    else:
        # Nothing left to train (a run stopped after its last epoch, or its checkpoint was not kept):
        # only the reports of the best model are written.
        model = None
        console.print(f"{config.output}: all {state['epoch']} epochs done; writing the reports")

    with _progress(console) as progress:
        for epoch in range(state["epoch"] + 1, config.epochs + 1):
            _seed_everything(config.seed * 1000 + epoch)
            rng = np.random.default_rng([config.seed, epoch])
            task = progress.add_task(f"epoch {epoch}/{config.epochs}", total=n_per_epoch, status="")
            started = time.perf_counter()
            batches = train_batches(
                config.fusion,
                faces,
                voices,
                config.batch_size,
                rng,
                config.augment,
                config.voice_repeats,
                config.voice_mismatch,
            )
            loss, accuracy = _train_epoch(model, batches, progress, task)
            val_report = evaluate(model, val, spec.class_names)
            record = {
                "epoch": epoch,
                "loss": loss,
                "accuracy": accuracy,
                "val_accuracy": val_report["accuracy"],
                "val_macro_f1": val_report["macro_f1"],
                "seconds": round(time.perf_counter() - started, 1),
            }
            progress.update(
                task,
                status=f"loss {record['loss']:.3f} acc {record['accuracy']:.3f} "
                f"val {record['val_accuracy']:.3f}",
            )
            state["history"].append(record)
            if record["val_accuracy"] > state["best_val_accuracy"]:
                state["best_val_accuracy"], state["best_epoch"] = record["val_accuracy"], epoch
                _atomic_save_model(model, config.output / "model.keras")
            state["epoch"] = epoch
            _atomic_save_model(model, config.output / "checkpoint.keras")
            _atomic_write_text(config.output / "state.json", json.dumps(state, indent=2))
    _atomic_write_text(config.output / "history.json", json.dumps(state["history"], indent=2))
    best = load_keras(config.output / "model.keras")
    _final_reports(config, spec, data, best, state)
    return config.output


def _train_epoch(model, batches, progress: Progress, task) -> tuple[float, float]:
    """One pass over ``batches``; returns the epoch's sample-weighted mean loss and accuracy.

    Keras 3's ``train_on_batch`` resets its metrics on every call, so the running means are kept
    here rather than read from its logs.
    """
    seen, loss_sum, hits = 0, 0.0, 0.0
    for inputs, y in batches:
        logs = model.train_on_batch(inputs, y, return_dict=True)
        seen += len(y)
        loss_sum += float(logs["loss"]) * len(y)
        hits += float(logs["accuracy"]) * len(y)
        progress.update(
            task, advance=len(y), status=f"loss {loss_sum / seen:.3f} acc {hits / seen:.3f}"
        )
    return loss_sum / max(seen, 1), hits / max(seen, 1)


def _final_reports(
    config: TrainConfig, spec: PreprocessSpec, data: TrainData, model, state: dict[str, Any]
) -> None:
    """Evaluate the best model on the held-out test sets and write metrics + confusion matrices."""
    fusion, seed = config.fusion, config.seed
    sets = {}
    if fusion == "voice":
        sets["test"] = eval_set(fusion, None, data.voices_test, seed)
    else:
        sets["test_masked"] = eval_set(fusion, data.faces_test_masked, data.voices_test, seed)
        sets["test_unmasked"] = eval_set(fusion, data.faces_test_unmasked, data.voices_test, seed)
        if fusion != "face":
            sets["test_masked_random_voice"] = eval_set(
                fusion, data.faces_test_masked, data.voices_test, seed, matched=False
            )
    sets["val"] = eval_set(fusion, data.faces_val, data.voices_val, seed)
    reports = {name: evaluate(model, s, spec.class_names) for name, s in sets.items()}
    extra = {
        "fusion": fusion,
        "preset": config.preset,
        "edgefer_version": __version__,
        "best_epoch": state["best_epoch"],
        "epochs": state["epoch"],
        "parameters": int(model.count_params()),
        "spec_digest": spec.digest(),
        "skipped_files": data.skipped(),
    }
    write_reports(config.output, reports, spec.class_names, extra, f"{fusion} ({config.preset})")


def _progress(console: Console, transient: bool = False) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=transient,
    )
