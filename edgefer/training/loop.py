"""The training loop: seeded epochs, a Rich progress bar, a checkpoint after every epoch, resume.

A run folder holds: ``config.json``, ``spec.json`` (the preprocessing spec), ``checkpoint.keras`` +
``state.json`` (the last finished epoch, for ``--resume``), ``model.keras`` (the best epoch by the
validation figure of ``--select-by``), ``history.json``, ``metrics.json`` and ``confusion*.png``.
Every file is written atomically, so a run killed mid-epoch resumes from the last finished one. A
run stopped early (``--patience``) records it in ``state.json`` and is finished: resuming it only
writes the reports again. The folder and its state live in :mod:`edgefer.training.run_state`, what
the run trains with in :mod:`edgefer.training.recipe`; this module runs the epochs.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from edgefer import __version__
from edgefer.data.evalset import EvalSet, eval_set
from edgefer.errors import EdgeferError
from edgefer.spec import PreprocessSpec
from edgefer.training.batches import AugmentPlan, epoch_length, prefetch, train_batches
from edgefer.training.config import TrainConfig
from edgefer.training.evaluate import evaluate, write_reports
from edgefer.training.init_from import copy_matching_weights
from edgefer.training.prepare import TrainData, prepare_data
from edgefer.training.recipe import augment_plan, class_weights, recipe, recipe_line
from edgefer.training.run_state import atomic_write_text, end_epoch, new_state, open_run
from edgefer.training.schedule import learning_rate

RUN_FILES = (
    "config.json",
    "spec.json",
    "model.keras",
    "metrics.json",
    "confusion.png",
    "history.json",
)


def _seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


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
        optimizer=keras.optimizers.Adam(learning_rate(config, steps_per_epoch)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def train(config: TrainConfig, resume: bool = False, console: Console | None = None) -> Path:
    """Train one variant end to end and return the run folder."""
    from edgefer.quiet_tf import import_tensorflow

    import_tensorflow()  # first, with its start-up notices filtered
    with _single_thread_blas():
        return _train(config, resume, console)


@contextlib.contextmanager
def _single_thread_blas() -> Iterator[None]:
    """Run NumPy's BLAS on one thread while training.

    Why: every waveform-augmented clip goes through the log-mel's small (64 x 257) @ (257 x 201)
    product; OpenBLAS splits it over threads that then wait on cores TensorFlow keeps busy, and on
    the 2-core machine a log-mel took 6-19 ms instead of 2 ms. TensorFlow's own threads are not
    OpenBLAS's and are unaffected; without threadpoolctl (a librosa dependency) nothing changes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _train(config: TrainConfig, resume: bool, console: Console | None) -> Path:
    from edgefer.models.keras_engine import load_keras

    console = console or Console(stderr=True)
    spec, state = open_run(config, resume)
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
    weights = class_weights(config, data, spec)
    plan = augment_plan(config, spec)
    console.print(recipe_line(config, spec, data, weights), soft_wrap=True)

    n_per_epoch = epoch_length(config.fusion, faces, voices, config.voice_repeats)
    model, state = _model_to_train(config, spec, state, n_per_epoch, console)
    first = state["epoch"] + 1 if model is not None else config.epochs + 1
    with _progress(console) as progress:
        for epoch in range(first, config.epochs + 1):
            task = progress.add_task(f"epoch {epoch}/{config.epochs}", total=n_per_epoch, status="")
            record = _run_epoch(
                model, epoch, config, spec, data, plan, weights, val, progress, task
            )
            best = end_epoch(model, state, record, config)
            console.print(_epoch_line(record, config, best), soft_wrap=True)
            if state["stopped_early"]:
                console.print(
                    f"stopping early: no better val {config.select_by} for {config.patience} "
                    f"epochs; keeping epoch {state['best_epoch']}"
                )
                break
    atomic_write_text(config.output / "history.json", json.dumps(state["history"], indent=2))
    best_model = load_keras(config.output / "model.keras")
    _final_reports(config, spec, data, best_model, state, weights)
    return config.output


def reseed_dropout(model, seed: int, epoch: int) -> int:
    """Set every dropout layer's random state from (seed, epoch, layer); returns how many.

    Why: a Keras ``Dropout`` draws its masks from its own seed generator, created when the layer is
    built (or loaded) and advanced by every training step; the global seed set each epoch does not
    reach it. Without this a resumed run, whose layers were rebuilt from the checkpoint, drops other
    units than the uninterrupted run would have, and the two drift apart from the first resumed
    step on. Resetting the generators at each epoch start makes epoch N the same either way.
    """
    count = 0
    for index, layer in enumerate(model._flatten_layers(include_self=False)):
        generator = getattr(layer, "seed_generator", None)
        if generator is None:
            continue
        value = int(np.random.default_rng([seed, epoch, index]).integers(2**31))
        state = generator.state
        state.assign(np.array([value, 0], dtype=np.dtype(state.dtype)))
        count += 1
    return count


def _model_to_train(
    config: TrainConfig,
    spec: PreprocessSpec,
    state: dict[str, Any] | None,
    n_per_epoch: int,
    console: Console,
) -> tuple[Any, dict[str, Any]]:
    """(model, state): a new model, the checkpoint to continue, or None.

    None when nothing is left to train (the reports of the best epoch are written again).
    """
    import keras

    if state is None:
        steps_per_epoch = -(-n_per_epoch // config.batch_size)
        return _new_model(config, spec, steps_per_epoch, console), new_state(config)
    if state["epoch"] < config.epochs and not state["stopped_early"]:
        if not (config.output / "checkpoint.keras").is_file():
            raise EdgeferError(
                f"{config.output} has no checkpoint.keras to continue from: pass "
                f"--epochs {state['epoch']} to write the reports of its best epoch"
            )
        console.print(f"resuming {config.output} after epoch {state['epoch']}")
        return keras.models.load_model(config.output / "checkpoint.keras"), state
    # A run stopped after its last epoch or early, or whose checkpoint was not kept.
    why = "stopped early" if state["stopped_early"] else f"all {state['epoch']} epochs done"
    console.print(f"{config.output}: {why}; writing the reports")
    return None, state


def _run_epoch(
    model,
    epoch: int,
    config: TrainConfig,
    spec: PreprocessSpec,
    data: TrainData,
    plan: AugmentPlan,
    weights: np.ndarray | None,
    val: EvalSet,
    progress: Progress,
    task,
) -> dict[str, Any]:
    """Train one seeded epoch and evaluate it on the validation set; returns its record."""
    _seed_everything(config.seed * 1000 + epoch)
    reseed_dropout(model, config.seed, epoch)
    rng = np.random.default_rng([config.seed, epoch])
    started = time.perf_counter()
    batches = train_batches(
        config.fusion,
        data.faces_train,
        data.voices_train,
        config.batch_size,
        rng,
        config.augment,
        config.voice_repeats,
        config.voice_mismatch,
        plan=plan,
    )
    loss, accuracy = _train_epoch(model, prefetch(batches), progress, task, weights)
    val_report = evaluate(model, val, spec.class_names)
    record = {
        "epoch": epoch,
        "loss": loss,
        "accuracy": accuracy,
        "val_accuracy": val_report["accuracy"],
        "val_macro_f1": val_report["macro_f1"],
        "learning_rate": _current_rate(model),
        "seconds": round(time.perf_counter() - started, 1),
    }
    progress.update(
        task,
        status=f"loss {loss:.3f} acc {accuracy:.3f} val {record['val_accuracy']:.3f} "
        f"F1 {record['val_macro_f1']:.3f}",
    )
    return record


def _current_rate(model) -> float:
    """The optimizer's learning rate at its current step (after a schedule's warm-up or decay)."""
    return float(np.asarray(model.optimizer.learning_rate))


def _epoch_line(record: dict[str, Any], config: TrainConfig, best: bool) -> str:
    """One printed line per epoch, so a log file (where the progress bar is not drawn) shows it."""
    mark = f" [green]best {config.select_by}[/green]" if best else ""
    return (
        f"epoch {record['epoch']}/{config.epochs}: loss {record['loss']:.4f} "
        f"acc {record['accuracy']:.3f} val acc {record['val_accuracy']:.3f} "
        f"val macro-F1 {record['val_macro_f1']:.3f} lr {record['learning_rate']:.2e} "
        f"{record['seconds']:.0f} s{mark}"
    )


def _train_epoch(
    model, batches, progress: Progress, task, class_weights: np.ndarray | None = None
) -> tuple[float, float]:
    """One pass over ``batches``; returns the epoch's sample-weighted mean loss and accuracy.

    Keras 3's ``train_on_batch`` resets its metrics on every call, so the running means are kept
    here rather than read from its logs. With ``class_weights`` each sample's loss is weighted by
    its class's weight (the reported loss is that weighted loss; the accuracy stays unweighted).
    """
    seen, loss_sum, hits = 0, 0.0, 0.0
    for inputs, y in batches:
        weight = None if class_weights is None else class_weights[y].astype(np.float32)
        logs = model.train_on_batch(inputs, y, sample_weight=weight, return_dict=True)
        seen += len(y)
        loss_sum += float(logs["loss"]) * len(y)
        hits += float(logs["accuracy"]) * len(y)
        progress.update(
            task, advance=len(y), status=f"loss {loss_sum / seen:.3f} acc {hits / seen:.3f}"
        )
    return loss_sum / max(seen, 1), hits / max(seen, 1)


def _final_reports(
    config: TrainConfig,
    spec: PreprocessSpec,
    data: TrainData,
    model,
    state: dict[str, Any],
    weights: np.ndarray | None,
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
        "select_by": config.select_by,
        "best_val_macro_f1": state["best_val_macro_f1"],
        "best_val_accuracy": state["best_val_accuracy"],
        "epochs": state["epoch"],
        "stopped_early": state["stopped_early"],
        "recipe": recipe(config, spec, data, weights),
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
