"""``edgefer train``: parse the training options into a TrainConfig for the training loop.

TensorFlow is imported only once a run starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from edgefer.cli._common import err
from edgefer.data.datasplit import DEFAULT_VOICE_TEST_ACTORS, DEFAULT_VOICE_VAL_ACTORS
from edgefer.training.config import UNSEEN_PEOPLE_RECIPE

FUSION_HELP = (
    "face | voice (unimodal baselines), early (inputs stacked), middle (entry flows "
    "merged; the paper's best), late (softmax outputs averaged)"
)


def train_command(
    fusion: Annotated[str, typer.Option(help=FUSION_HELP)] = "middle",
    preset: Annotated[
        str,
        typer.Option(
            help="edge (64 px, ~0.25-0.5 M params) or paper "
            "(224 px, the paper's widths, 124-247 M params)"
        ),
    ] = "edge",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Run folder [default: runs/<fusion>-<preset>]"),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Epochs in total (also when resuming).")] = 10,
    batch_size: Annotated[int, typer.Option(help="Samples per step.")] = 32,
    seed: Annotated[int, typer.Option(help="Seeds splits, pairing, augmentation, weights.")] = 0,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --output from its last finished epoch.")
    ] = False,
    faces: Annotated[
        Path | None,
        typer.Option(
            help="Face folder: FER2013-style "
            "<split>/<emotion>/*.jpg or M-LFW-FER positive/negative/neutral "
            "[default: $EDGEFER_DATA/faces/fer2013]"
        ),
    ] = None,
    voices: Annotated[
        list[Path] | None,
        typer.Option(
            help="Voice folder(s): RAVDESS Actor_NN/ "
            "or CREMA-D clips; repeat the option for several [default: RAVDESS + "
            "CREMA-D under $EDGEFER_DATA/voice]"
        ),
    ] = None,
    image_size: Annotated[
        int | None, typer.Option(help="Override the preset's input size.")
    ] = None,
    mask_fraction: Annotated[
        float, typer.Option(help="Share of training faces given a synthetic mask.")
    ] = 0.8,
    voice_test_actors: Annotated[
        str, typer.Option(help="Comma-separated held-out voice actors; '' = 20% of actors by seed.")
    ] = ",".join(DEFAULT_VOICE_TEST_ACTORS),
    voice_val_actors: Annotated[
        str, typer.Option(help="Comma-separated validation actors; '' = 15% of the rest by seed.")
    ] = ",".join(DEFAULT_VOICE_VAL_ACTORS),
    limit_per_class: Annotated[
        int | None,
        typer.Option(
            help="At most this many samples per class and split (quick runs); extra voices are "
            "limited apart, so as many again."
        ),
    ] = None,
    learning_rate: Annotated[
        float, typer.Option(help="Adam learning rate (the paper: 1e-4).")
    ] = 1e-4,
    voice_repeats: Annotated[
        int, typer.Option(help="Voice model: augmented passes over the clips per epoch.")
    ] = 10,
    augment: Annotated[
        bool,
        typer.Option(
            help="Augment training inputs as --face-augment and --voice-augment say; "
            "--no-augment: as loaded (fresh masks still drawn)."
        ),
    ] = True,
    voice_mismatch: Annotated[
        float,
        typer.Option(
            help="Fusion: share of training pairs whose voice comes from a random class, so the "
            "model learns how far to trust the voice of an unseen speaker (0 = the paper's "
            "class-matched pairing only)."
        ),
    ] = 0.0,
    lr_schedule: Annotated[
        str,
        typer.Option(
            help="constant (the paper) or cosine (decays to 5% of --learning-rate over --epochs)."
        ),
    ] = "constant",
    init_from: Annotated[
        list[Path] | None,
        typer.Option(
            help="Run folder or .keras model whose layers (matched by name and shape) start this "
            "model, e.g. a trained face and voice run for a fusion; repeat for several."
        ),
    ] = None,
    class_weights: Annotated[
        str,
        typer.Option(
            metavar="balanced|none",
            help="balanced: weight each sample's loss by N / (3 x its class's training count), "
            "mean 1 over the samples, so the 52 %-negative FER2013 set does not teach the model "
            "to say negative when unsure; none: the paper's unweighted loss.",
        ),
    ] = UNSEEN_PEOPLE_RECIPE["class_weights"],
    select_by: Annotated[
        str,
        typer.Option(
            metavar="macro_f1|accuracy",
            help="Validation figure that picks the saved model.keras (its best epoch) and drives "
            "--patience. macro_f1 rewards getting all three classes right; accuracy can rise "
            "while a minority class is lost.",
        ),
    ] = UNSEEN_PEOPLE_RECIPE["select_by"],
    patience: Annotated[
        int,
        typer.Option(
            help="Stop after this many epochs without a better validation --select-by figure "
            "(0: train every epoch). --epochs stays the maximum.",
        ),
    ] = UNSEEN_PEOPLE_RECIPE["patience"],
    warmup_epochs: Annotated[
        float,
        typer.Option(
            help="Raise the learning rate linearly from 0 over this many epochs (per step; at "
            "most half the run), then --lr-schedule. 0: none (the paper).",
        ),
    ] = UNSEEN_PEOPLE_RECIPE["warmup_epochs"],
    face_augment: Annotated[
        str,
        typer.Option(
            metavar="light|strong",
            help="light: flip, +-10 deg, +-8 % shift, +-15 % brightness/contrast. strong: also "
            "+-25/30 % brightness/contrast, blur (p 0.2) and an occluding rectangle (p 0.2).",
        ),
    ] = UNSEEN_PEOPLE_RECIPE["face_augment"],
    voice_augment: Annotated[
        str,
        typer.Option(
            metavar="paper|strong",
            help="paper: rotation/zoom of the log-mel image. strong: on the waveform, speed "
            "x0.9-1.1, +-0.3 s shift, spectral tilt, noise at 5-30 dB SNR; then the paper's "
            "rotation/zoom and SpecAugment time/frequency masks.",
        ),
    ] = UNSEEN_PEOPLE_RECIPE["voice_augment"],
    fresh_masks: Annotated[
        bool,
        typer.Option(
            "--fresh-masks/--fixed-masks",
            help="Draw a new synthetic mask (shape, colour, geometry) for every masked training "
            "face in every epoch, or keep one mask per face (validation and test masks never "
            "change).",
        ),
    ] = UNSEEN_PEOPLE_RECIPE["fresh_masks"],
    extra_voices: Annotated[
        str,
        typer.Option(
            metavar="EMOTION=CLASS,...",
            help="More training voices from RAVDESS's other emotions (calm sad fearful disgust "
            "surprised), for the training split's actors only; validation and test stay the "
            "paper's three emotions. '' or none: no extra voices.",
        ),
    ] = UNSEEN_PEOPLE_RECIPE["extra_voices"],
    extra_voices_dir: Annotated[
        Path | None,
        typer.Option(
            help="RAVDESS folder (Actor_NN/) of the extra voices "
            "[default: $EDGEFER_DATA/voice/ravdess_more]"
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print parameter counts of every "
            "variant of both presets and the data splits, then exit.",
        ),
    ] = False,
) -> None:
    """Train one fusion variant; writes model.keras, spec.json, metrics.json, confusion.png.

    The defaults are the unseen-people recipe (class-balanced loss, best epoch by validation macro-F1
    with early stopping, warm-up, strong face and voice augmentation, fresh masks, extra RAVDESS
    voices); the paper's own: [cyan]--class-weights none --select-by accuracy --patience 0
    --warmup-epochs 0 --face-augment light --voice-augment paper --fixed-masks
    --extra-voices ''[/cyan]. Every setting is saved in the run's config.json, and --resume refuses
    other settings.

    Example: [cyan]edgefer train --fusion middle --preset edge --epochs 10[/cyan]
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from edgefer.training.config import TrainConfig

    def actors(text: str) -> tuple[str, ...]:
        """``"01, 02,"`` -> ``("01", "02")``: blanks dropped, so ``''`` asks for a split by seed."""
        return tuple(a.strip() for a in text.split(",") if a.strip())

    config = TrainConfig(
        output=output or Path("runs") / f"{fusion}-{preset}",
        fusion=fusion,
        preset=preset,
        image_size=image_size,
        faces=faces,
        voices=tuple(voices or ()),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        mask_fraction=mask_fraction,
        voice_test_actors=actors(voice_test_actors),
        voice_val_actors=actors(voice_val_actors),
        limit_per_class=limit_per_class,
        learning_rate=learning_rate,
        voice_repeats=voice_repeats,
        augment=augment,
        voice_mismatch=voice_mismatch,
        lr_schedule=lr_schedule,
        init_from=tuple(init_from or ()),
        class_weights=class_weights,
        select_by=select_by,
        patience=patience,
        warmup_epochs=warmup_epochs,
        face_augment=face_augment,
        voice_augment=voice_augment,
        fresh_masks=fresh_masks,
        extra_voices=extra_voices,
        extra_voices_root=extra_voices_dir,
    )
    config.check_paths()
    if dry_run:
        from edgefer.training.dry_run import dry_run as show

        show(config, Console())
        return
    from edgefer.training.loop import train as run_training

    run = run_training(config, resume=resume, console=err)
    from edgefer.training.summary import print_summary

    print_summary(run, Console())
