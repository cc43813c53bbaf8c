"""The ``edgefer`` command line: one thin function per command, no logic here.

User errors (:class:`~edgefer.errors.EdgeferError`) become one red line and exit code 2; ``--debug``
shows the traceback of anything.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from edgefer import __version__
from edgefer.errors import EdgeferError
from edgefer.live.smoothing import DEFAULT_SMOOTHING
from edgefer.training.config import DEFAULT_VOICE_TEST_ACTORS, DEFAULT_VOICE_VAL_ACTORS, RECIPE_12

if TYPE_CHECKING:
    from rich.progress import TaskID

err = Console(stderr=True)
app = typer.Typer(
    name="edgefer",
    help=(
        "Masked-face + voice emotion recognition (negative / neutral / positive) from training to "
        "edge engines.\n\n"
        "The flow: [bold]train[/bold] a Keras fusion model -> [bold]export[/bold] it to ONNX -> "
        "[bold]build-engine[/bold] (FP32/FP16/INT8, ONNX Runtime or TensorRT) -> [bold]run[/bold] "
        "it live on a camera and a microphone -> [bold]bench[/bold] every engine side by side."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        print(f"edgefer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    _state["debug"] = debug


FUSION_HELP = (
    "face | voice (unimodal baselines), early (inputs stacked), middle (entry flows "
    "merged; the paper's best), late (softmax outputs averaged)"
)


@app.command()
def train(
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
    ] = RECIPE_12["class_weights"],
    select_by: Annotated[
        str,
        typer.Option(
            metavar="macro_f1|accuracy",
            help="Validation figure that picks the saved model.keras (its best epoch) and drives "
            "--patience. macro_f1 rewards getting all three classes right; accuracy can rise "
            "while a minority class is lost.",
        ),
    ] = RECIPE_12["select_by"],
    patience: Annotated[
        int,
        typer.Option(
            help="Stop after this many epochs without a better validation --select-by figure "
            "(0: train every epoch). --epochs stays the maximum.",
        ),
    ] = RECIPE_12["patience"],
    warmup_epochs: Annotated[
        float,
        typer.Option(
            help="Raise the learning rate linearly from 0 over this many epochs (per step; at "
            "most half the run), then --lr-schedule. 0: none (the paper).",
        ),
    ] = RECIPE_12["warmup_epochs"],
    face_augment: Annotated[
        str,
        typer.Option(
            metavar="light|strong",
            help="light: flip, +-10 deg, +-8 % shift, +-15 % brightness/contrast. strong: also "
            "+-25/30 % brightness/contrast, blur (p 0.2) and an occluding rectangle (p 0.2).",
        ),
    ] = RECIPE_12["face_augment"],
    voice_augment: Annotated[
        str,
        typer.Option(
            metavar="paper|strong",
            help="paper: rotation/zoom of the log-mel image. strong: on the waveform, speed "
            "x0.9-1.1, +-0.3 s shift, spectral tilt, noise at 5-30 dB SNR; then the paper's "
            "rotation/zoom and SpecAugment time/frequency masks.",
        ),
    ] = RECIPE_12["voice_augment"],
    fresh_masks: Annotated[
        bool,
        typer.Option(
            "--fresh-masks/--fixed-masks",
            help="Draw a new synthetic mask (shape, colour, geometry) for every masked training "
            "face in every epoch, or keep one mask per face (validation and test masks never "
            "change).",
        ),
    ] = RECIPE_12["fresh_masks"],
    extra_voices: Annotated[
        str,
        typer.Option(
            metavar="EMOTION=CLASS,...",
            help="More training voices from RAVDESS's other emotions (calm sad fearful disgust "
            "surprised), for the training split's actors only; validation and test stay the "
            "paper's three emotions. '' or none: no extra voices.",
        ),
    ] = RECIPE_12["extra_voices"],
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

    The defaults are the issue-12 recipe (class-balanced loss, best epoch by validation macro-F1
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


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A transient Rich bar per labelled step (``update(label, done, total)``), on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
        transient=True,
    ) as bar:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        yield update


def _dims(shape: list[int | None]) -> str:
    return ",".join("N" if d is None else str(d) for d in shape)


def _table(title: str, rows: list[tuple[str, str]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value", overflow="fold")
    for item, value in rows:
        table.add_row(item, escape(value))
    Console().print(table)


@app.command()
def export(
    model: Annotated[
        str,
        typer.Argument(
            help="A run folder or a .keras model; with --format triton also an exported .onnx or "
            "a shipped variant (middle, face, voice, early, late)."
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write (default: beside the model, .onnx); with --format triton the "
            "model repository folder (required).",
        ),
    ] = None,
    format: Annotated[
        str,
        typer.Option(
            "--format", help="onnx | triton (a model repository for the Triton container)."
        ),
    ] = "onnx",
    opset: Annotated[int, typer.Option(help="ONNX opset.")] = 17,
    parity_samples: Annotated[
        int, typer.Option(help="Held-out real samples Keras and ONNX Runtime must agree on.")
    ] = 60,
    name: Annotated[
        str | None, typer.Option(help="Triton: the model's name (default: the file's stem).")
    ] = None,
    max_batch: Annotated[int, typer.Option(help="Triton: max_batch_size.")] = 8,
    max_queue_delay_us: Annotated[
        int, typer.Option(help="Triton: dynamic batching's max queue delay (microseconds).")
    ] = 100,
    instances: Annotated[int, typer.Option(help="Triton: instances of the model.")] = 1,
    kind: Annotated[
        str,
        typer.Option(
            help="Triton: gpu (with ONNX Runtime's TensorRT accelerator, FP16) | cpu | auto."
        ),
    ] = "gpu",
    plan: Annotated[
        Path | None,
        typer.Option(
            help="Triton: also serve this TensorRT plan from build-engine as NAME_trt "
            "(built on the serving GPU)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Triton: replace a model of the same name in the repository.")
    ] = False,
) -> None:
    """Export a trained model to ONNX with its metadata; checks parity with Keras on real inputs.

    Example: [cyan]edgefer export runs/middle-edge[/cyan]

    A Triton model repository: [cyan]edgefer export middle --format triton -o triton-repo[/cyan]
    """
    if format not in ("onnx", "triton"):
        raise EdgeferError(f"unknown --format {format!r}: choose onnx or triton")
    if format == "triton":
        _export_triton(
            model, output, name, max_batch, max_queue_delay_us, instances, kind, plan, force,
            opset, parity_samples,
        )  # fmt: skip
        return
    _export_onnx(Path(model), output, opset, parity_samples)


def _export_onnx(model: Path, output: Path | None, opset: int, parity_samples: int) -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from edgefer.export import PARITY_ATOL, export_model

    with _progress() as progress:
        result = export_model(model, output, opset, parity_samples, progress)
    meta, parity = result.metadata, result.parity
    _table(
        "edgefer export",
        [
            ("onnx", str(result.path)),
            ("inputs", ", ".join(f"{n}[{_dims(s)}]" for n, s in meta["inputs"].items())),
            ("output", f"{meta['output']} ({', '.join(meta['class_names'])})"),
            ("source", f"{meta['source_model']} sha256 {meta['source_model_sha256']}"),
            ("spec digest", meta["spec_digest"]),
            ("parity (real held-out)", f"n={parity.n}, batches {parity.batch_sizes}"),
            ("max abs diff", f"{parity.max_abs_diff:.2e} (limit {PARITY_ATOL:.0e})"),
            ("argmax agreement", f"{parity.argmax_agreement:.1%}"),
            ("size", f"{result.path.stat().st_size / 1e6:.2f} MB"),
        ],
    )
    return result


def _export_triton(
    model: str, repo: Path | None, name: str | None, max_batch: int, max_queue_delay_us: int,
    instances: int, kind: str, plan: Path | None, force: bool, opset: int, parity_samples: int,
) -> None:  # fmt: skip
    """``export --format triton``: the ONNX of MODEL (exported first, into a temporary folder, when
    MODEL is Keras, so the source folder stays as it was) added to the repository, then checked."""
    import tempfile

    from edgefer.serving.repository import RepoOptions, check_repository, write_triton_model

    if repo is None:
        raise EdgeferError("--format triton writes a model repository: give it with -o REPO")
    options = RepoOptions(max_batch, max_queue_delay_us, instances, kind)
    with tempfile.TemporaryDirectory(prefix="edgefer-triton-") as tmp:
        onnx, default_name, parity = _triton_source(model, Path(tmp), opset, parity_samples)
        written = write_triton_model(onnx, repo, name or default_name, options, plan, force)
    problems = check_repository(repo)
    if problems:
        raise EdgeferError(f"the repository does not check out: {problems[0]}")
    _triton_table(repo, written, options, onnx if parity is None else Path(model), parity)


def _triton_source(
    model: str, tmp: Path, opset: int, parity_samples: int
) -> tuple[Path, str, str | None]:
    """(ONNX file, default model name, parity line or None) of MODEL: a shipped variant, an exported
    .onnx, or a run folder / .keras exported into ``tmp``."""
    from edgefer.shipped import shipped_path
    from edgefer.spec import FUSIONS

    path = Path(model)
    if model in FUSIONS and not path.exists():
        return shipped_path(model, ".onnx"), model, None
    if path.suffix == ".onnx":
        if not path.is_file():
            raise EdgeferError(f"ONNX model not found: {path}")
        return path, path.stem, None
    if not (path.is_dir() or (path.suffix == ".keras" and path.is_file())):
        raise EdgeferError(
            f"not a run folder, .keras, .onnx or shipped variant ({', '.join(FUSIONS)}): {model}"
        )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from edgefer.export import export_model

    stem = path.resolve().name if path.is_dir() else path.stem
    with _progress() as progress:
        result = export_model(path, tmp / f"{stem}.onnx", opset, parity_samples, progress)
    parity = result.parity
    note = (
        f"Keras -> ONNX, n={parity.n} held-out, max abs diff {parity.max_abs_diff:.2e}, "
        f"argmax agreement {parity.argmax_agreement:.1%}"
    )
    return result.path, stem, note


def _triton_table(
    repo: Path, written: list[Path], options: Any, source: Path, parity: str | None
) -> None:
    """What ``export --format triton`` wrote and the config it wrote, as the other commands print."""
    from edgefer.serving.repository import KINDS

    models = [p.parent for p in written if p.name == "config.pbtxt"]
    rows = [
        ("repository", str(repo)),
        ("source", str(source)),
        *([("parity", parity)] if parity else []),
        *(
            (
                f"model {m.name}",
                ", ".join(str(p.relative_to(repo)) for p in written if m in p.parents),
            )
            for m in models
        ),
        ("max_batch_size", str(options.max_batch)),
        ("dynamic batching", f"queue delay {options.max_queue_delay_us} us"),
        (
            "instance_group",
            f"{options.instances} x {KINDS[options.kind]}"
            + (", TensorRT accelerator FP16" if options.kind == "gpu" else ""),
        ),
        ("checked", "every config.pbtxt parses (model_config_pb2) and matches its ONNX"),
        ("serve it", f"tritonserver --model-repository {repo.resolve()}"),
    ]
    _table("edgefer export --format triton", rows)


@app.command()
def calibrate(
    source: Annotated[
        str, typer.Argument(help="Whose preprocessing: an .onnx, run folder, spec.json or preset.")
    ],
    n: Annotated[int, typer.Option("-n", help="Samples per input (never silently fewer).")] = 300,
    seed: Annotated[int, typer.Option(help="Which training samples, and the mask seed.")] = 0,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write (default: calibration/train-<spec>-n<N>-s<seed>.npz).",
        ),
    ] = None,
    faces: Annotated[Path | None, typer.Option(help="Face dataset folder.")] = None,
    voices: Annotated[list[Path] | None, typer.Option(help="Voice dataset folder(s).")] = None,
) -> None:
    """Build a calibration set of real training samples for INT8 engines (.npz + sidecar).

    Example: [cyan]edgefer calibrate runs/middle-edge/model.onnx -n 300[/cyan]
    """
    from edgefer.calibration import (
        build_calibration_set,
        default_calibration_path,
        save_calibration,
        spec_from,
    )

    spec = spec_from(source)
    with _progress() as progress:
        calib = build_calibration_set(spec, n, seed, faces, voices, progress)
    path = save_calibration(calib, output or default_calibration_path(spec, n, seed))
    _table(
        "edgefer calibrate",
        [
            ("set", str(path)),
            ("samples", calib.describe()),
            ("classes", ", ".join(f"{k} {v}" for k, v in calib.meta["class_counts"].items())),
            ("distinct files", ", ".join(f"{k} {v}" for k, v in calib.meta["distinct"].items())),
            ("spec digest", calib.spec_digest),
            ("size", f"{path.stat().st_size / 1e6:.2f} MB"),
        ],
    )


@app.command("build-engine")
def build_engine(
    model: Annotated[Path, typer.Argument(help="An exported .onnx model.")],
    precision: Annotated[
        str,
        typer.Option(
            help="fp32 | fp16 | int8 | auto (build and time each here, keep the fastest that "
            "passes --max-drop; the choice is stored in engines/ for run to reuse)"
        ),
    ] = "fp32",
    backend: Annotated[str, typer.Option(help="auto | onnxruntime | tensorrt")] = "auto",
    calib: Annotated[
        Path | None,
        typer.Option(
            help="Calibration set .npz for int8 (default: built from the training split)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write (default: engines/<name>-<backend>-<precision>-<key>).",
        ),
    ] = None,
    max_drop: Annotated[
        float | None,
        typer.Option(
            help="Fail when accuracy drops more than this many points vs FP32 (default 1); "
            "with --precision auto, the most it may give up for speed (default 0)."
        ),
    ] = None,
    min_calib: Annotated[int, typer.Option(help="Fewest calibration samples accepted.")] = 300,
    heldout_per_class: Annotated[
        int | None, typer.Option(help="Held-out samples per class for the check (default: all).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even when a cached engine matches.")] = False,
    max_batch: Annotated[
        int, typer.Option(help="TensorRT: the optimisation profile covers batches 1..N.")
    ] = 8,
    workspace_mb: Annotated[
        int | None,
        typer.Option(help="TensorRT: builder workspace cap (default: 256 on a Jetson, 1024 else)."),
    ] = None,
    timing_cache: Annotated[
        Path | None,
        typer.Option(help="TensorRT: tactic timing cache, read and updated (faster rebuilds)."),
    ] = None,
    use_calibrator: Annotated[
        bool,
        typer.Option(
            help="TensorRT 8.5-10 int8: the legacy entropy calibrator on the FP32 graph "
            "(default: the Q/DQ graph from the same calibration set)."
        ),
    ] = False,
) -> None:
    """Build an FP32/FP16/INT8 engine for ONNX Runtime or TensorRT, checked against FP32.

    Example: [cyan]edgefer build-engine runs/middle-edge/model.onnx --precision int8[/cyan]
    """
    from edgefer.engines.build import BuildRejectedError, TrtOptions
    from edgefer.engines.build import build_engine as build

    if precision == "auto":
        if output is not None or calib is not None:
            raise EdgeferError(
                "--precision auto builds each precision into engines/ with its own calibration: "
                "drop --output and --calib (or choose one precision)"
            )
        from edgefer.engines.auto_precision import AUTO_MAX_DROP

        drop = AUTO_MAX_DROP if max_drop is None else max_drop
        _build_auto(model, backend, drop, min_calib, heldout_per_class, force,
                    TrtOptions(max_batch, workspace_mb, timing_cache, use_calibrator))  # fmt: skip
        return
    try:
        with _progress() as progress:
            trt = TrtOptions(max_batch, workspace_mb, timing_cache, use_calibrator)
            result = build(
                model, precision, backend, calib, output, 1.0 if max_drop is None else max_drop,
                force=force,
                min_calib=min_calib, heldout_per_class=heldout_per_class, progress=progress,
                trt=trt,
            )  # fmt: skip
    except BuildRejectedError as exc:
        _print_build(exc.result, rejected=True)
        raise
    _print_build(result)


def _build_auto(
    model: Path, backend: str, max_drop: float, min_calib: int, heldout_per_class: int | None,
    force: bool, trt: Any,
) -> None:  # fmt: skip
    from edgefer.engines.auto_precision import choose_precision
    from edgefer.engines.build import TrtOptions

    options: dict[str, Any] = {"min_calib": min_calib, "heldout_per_class": heldout_per_class}
    if trt != TrtOptions():
        options["trt"] = trt
    with _progress() as progress:
        choice = choose_precision(
            model, backend, max_drop=max_drop, force=force, progress=progress,
            log=lambda m: err.print(m, soft_wrap=True), **options,
        )  # fmt: skip
    rows = [("chosen", f"{choice.precision}: {choice.path}"), ("why", choice.reason)]
    for c in choice.candidates:
        ms = f"{c.median_ms:.2f} ms" if c.median_ms is not None else "not timed"
        drop = f"drop {c.drop_points:+.2f}" if c.drop_points is not None else "drop ?"
        rows.append((c.precision, f"{ms}, {drop}" + (f", {c.note}" if c.note else "")))
    rows.append(("record", f"{choice.record} ({'reused' if choice.cached else 'measured now'})"))
    _table(f"edgefer build-engine --precision auto ({choice.backend}, {choice.calls} calls)", rows)


def _print_build(result: Any, rejected: bool = False) -> None:
    report, side = result.report, result.sidecar
    status = "REJECTED" if rejected else ("reused from cache" if result.cached else "built")
    rows = [
        ("engine", str(result.path)),
        ("status", f"{status} in {result.seconds:.1f} s (key {result.cache_key})"),
        ("backend", f"{result.backend} {side.get('runtime_version', '')}, {result.precision}"),
        (
            "gpu",
            f"{side['gpu_name']} (compute {side.get('compute_capability')})"
            if side.get("gpu_name")
            else "none (CPU engine)",
        ),
    ]
    if result.calibration or side.get("calibration_digest"):
        rows.append(("calibration", f"{result.calibration or ''} {side.get('calibration_digest')}"))
    if report:
        rows += [
            ("held-out set", f"n={report['n']} ({(side.get('heldout') or {}).get('source', 'given')})"),
            ("accuracy fp32 -> engine", f"{report['reference_accuracy']:.2%} -> "
             f"{report['candidate_accuracy']:.2%} (drop {report['drop_points']:+.2f} points)"),
            ("argmax agreement", f"{report['agreement']:.2%}"),
            ("max abs diff", f"{report['max_abs_diff']:.2e}"),
        ]  # fmt: skip
    rows.append(("size", f"{side.get('size_bytes', 0) / 1e6:.2f} MB"))
    _table("edgefer build-engine", rows)


@app.command()
def run(
    camera: Annotated[
        str,
        typer.Option(
            help="Camera index (0, /dev/video0), video file, rtsp:// or http(s):// URL, "
            "or csi://N (Jetson CSI camera)."
        ),
    ] = "0",
    mic: Annotated[
        str,
        typer.Option(
            help="auto: the --camera file's own sound track, else the default microphone (face "
            "only when there is none) | none | video | a microphone index or name (a part of "
            "it, any case; edgefer doctor lists them; one that refuses 16 kHz is opened at its "
            "own rate and resampled) | an audio file. Silence is reported, not passed over."
        ),
    ] = "auto",
    engine: Annotated[
        str | None,
        typer.Option(
            help="Fused face+voice engine (.onnx, or a TensorRT .plan from build-engine); none = "
            "off (default: the shipped middle model at --precision, built once into engines/)"
        ),
    ] = None,
    face_engine: Annotated[
        str | None,
        typer.Option(
            help="Face-only engine used while the voice is absent; none = off "
            "(default: the shipped face model)"
        ),
    ] = None,
    voice_engine: Annotated[
        str | None,
        typer.Option(
            help="Voice-only engine used while no face is found; none = off "
            "(default: the shipped voice model)"
        ),
    ] = None,
    precision: Annotated[
        str,
        typer.Option(
            help="auto | int8 | fp16 | fp32: precision of the default engine; auto times each "
            "on this machine once and keeps the fastest that passes the accuracy check."
        ),
    ] = "auto",
    max_drop: Annotated[
        float | None,
        typer.Option(
            help="Accuracy points the default engine may lose against FP32 on the check set "
            "(default: 0 for auto, 1 for int8/fp16)."
        ),
    ] = None,
    realtime: Annotated[
        bool,
        typer.Option(
            "--realtime/--no-realtime",
            help="A video file plays at its own speed (frames dropped when the loop is slower); "
            "--no-realtime processes every frame with the sound at media time (offline, repeatable).",
        ),
    ] = True,
    rate: Annotated[
        float | None,
        typer.Option(
            help="Inferences per second (default: every frame; the overlay keeps the last)."
        ),
    ] = None,
    smoothing: Annotated[
        str,
        typer.Option(
            help="KIND[:VALUE][:margin=M][:hold=N], KIND ema | logema | window | none: the shown "
            "label changes only when the new class leads by M and the old one held N updates "
            "(default chosen on still clips: benchmarks/results/label_stability.md).",
        ),
    ] = DEFAULT_SMOOTHING,
    all_faces: Annotated[
        bool, typer.Option("--all-faces", help="Score every face, not only the largest.")
    ] = False,
    detector: Annotated[
        str,
        typer.Option(
            metavar="yunet|haar|PATH.onnx",
            help="Face detector: yunet (shipped; finds masked faces), haar (OpenCV's cascade), "
            "or another YuNet .onnx file.",
        ),
    ] = "yunet",
    detect_threshold: Annotated[
        float | None,
        typer.Option(
            help="YuNet score a new face needs (default: chosen on "
            "benchmarks/results/detection_rate.md; lower finds more masked faces and more "
            "false alarms).",
        ),
    ] = None,
    box_hold: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Frames a face box is kept through detection misses (default: the detector's: "
            "yunet 0, haar 5).",
        ),
    ] = None,
    synthetic_mask: Annotated[
        bool,
        typer.Option(
            "--synthetic-mask/--no-synthetic-mask",
            help="Draw the project's synthetic mask on each detected face before it is read "
            "(shows the masked case on an unmasked camera; the demo runs with and without).",
        ),
    ] = False,
    save: Annotated[
        Path | None,
        typer.Option(help="Write the annotated video to this .mp4 (finalised on Ctrl-C too)."),
    ] = None,
    show: Annotated[
        bool | None,
        typer.Option("--show/--no-show", help="Preview window (default: when a display exists)."),
    ] = None,
    json_lines: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON line per inference on stdout: t, label, probs, box, modalities, engine, "
            "ms per stage (summary on stderr).",
        ),
    ] = False,
    max_frames: Annotated[int | None, typer.Option(help="Stop after this many frames.")] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Run the packaged CREMA-D clips offline (no camera or microphone needed): "
            "per-clip true vs predicted, accuracy, timings; video to --save "
            "(default: runs/demo/demo.mp4).",
        ),
    ] = False,
) -> None:
    """Run the live face + voice loop: camera and microphone in, emotion (negative / neutral /
    positive) out, on an overlay, a saved video or JSON lines.

    The fused model answers while a face is found and someone speaks;
    the face or voice model alone when the other is missing (a lost microphone: face only).
    A per-stage timing summary (p50/p90/p99 ms) is printed at exit.
    Ctrl-C stops cleanly: exit 130, the saved video finalised.

    Camera 0 and microphone 1: [cyan]edgefer run --camera 0 --mic 1[/cyan]

    A clip with its own sound, as JSON lines: [cyan]edgefer run --camera clip.flv --json[/cyan]

    Every frame of a clip, saved: [cyan]edgefer run --camera clip.flv --no-realtime --save out.mp4[/cyan]

    A Jetson CSI camera, 10 inferences/s: [cyan]edgefer run --camera csi://0 --rate 10[/cyan]

    The offline demo on the packaged clips: [cyan]edgefer run --demo[/cyan]
    """
    import json
    import signal
    import threading

    from rich.markup import escape

    from edgefer.live.loop import RunConfig, run_live

    config = RunConfig(
        camera=camera, mic=mic, engine=engine, face_engine=face_engine, voice_engine=voice_engine,
        precision=precision, max_drop=max_drop, realtime=realtime, infer_hz=rate, smoothing=smoothing,
        all_faces=all_faces, detector=detector, detect_threshold=detect_threshold,
        box_hold=box_hold, synthetic_mask=synthetic_mask,
        save=save, show=show, max_frames=max_frames,
    )  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # a service manager's stop: as q does
    report = err if json_lines else Console()

    def on_event(message: str) -> None:
        err.print(f"[yellow]{escape(message)}[/yellow]", soft_wrap=True)

    def log(message: str) -> None:
        err.print(escape(message), soft_wrap=True)

    if demo:
        if json_lines or camera != "0" or mic != "auto":
            raise EdgeferError("--demo plays the packaged clips: drop --camera, --mic and --json")
        from edgefer.live.demo import DEFAULT_VIDEO, run_demo

        result = run_demo(
            save or DEFAULT_VIDEO, config, out=print, log=log, on_event=on_event, stop=stop
        )
        if result.interrupted:
            raise typer.Exit(code=130)
        return

    last = {"t": float("-inf")}

    def status(record: dict[str, Any]) -> None:  # one line per second of stream time
        if record["t"] - last["t"] < 1.0:
            return
        last["t"] = record["t"]
        if record["label"] is None:
            print(f"{record['t']:8.2f} s  -  ({record.get('reason', 'no prediction')})", flush=True)
        else:
            used = "+".join(record["modalities"])
            p = record["probs"][record["label"]]
            print(f"{record['t']:8.2f} s  {record['label']:<9} {p:.2f}  {used}", flush=True)

    def emit(record: dict[str, Any]) -> None:
        print(json.dumps(record, separators=(",", ":")), flush=True)

    summary = run_live(config, emit if json_lines else status, stop, on_event=on_event, log=log)
    rows = [
        f"frames {summary.frames} ({summary.dropped} dropped), {summary.inferences} inferences "
        f"in {summary.seconds:.1f} s: {summary.fps:.1f} FPS end to end",
        f"audio: {summary.audio or 'none'}",
        *(f"engine {role}: {text}" for role, text in summary.engines.items()),
        *([f"saved: {summary.saved}"] if summary.saved else []),
        summary.timer.format_summary(),
    ]
    report.print(escape("\n".join(rows)), highlight=False, soft_wrap=True)
    if summary.error:
        raise EdgeferError(summary.error)
    if summary.interrupted:
        raise typer.Exit(code=130)


@app.command()
def bench(
    model: Annotated[
        str,
        typer.Argument(
            help="An exported .onnx model, a run folder, a shipped variant name, or a served "
            "model (grpc://HOST:PORT/NAME, http://...: benched beside its local FP32 ONNX)."
        ),
    ],
    engines: Annotated[
        str,
        typer.Option(
            help="auto (every engine this machine runs; with --pipeline: the model as given) or a "
            "list: keras, ort-fp32, ort-fp16, ort-int8, trt-fp16, trt-int8, grpc://HOST:PORT/NAME."
        ),
    ] = "auto",
    batch: Annotated[
        str, typer.Option(help="Batch sizes: 1 is the latency, the largest the throughput.")
    ] = "1,8",
    data: Annotated[
        Path | None, typer.Option(help="Data root (faces/, voice/); default: $EDGEFER_DATA.")
    ] = None,
    per_class: Annotated[
        int, typer.Option(help="Held-out samples per class for accuracy (0 = the whole set).")
    ] = 200,
    iterations: Annotated[
        int, typer.Option(help="Timed batch-1 calls per engine (at most).")
    ] = 300,
    rounds: Annotated[int, typer.Option(help="Interleaved rounds the calls are spread over.")] = 10,
    budget: Annotated[
        float, typer.Option(help="Most seconds of timed calls per engine and batch.")
    ] = 1.5,
    max_drop: Annotated[
        float,
        typer.Option(help="Exit 1 when an engine loses more accuracy points than this vs FP32."),
    ] = 1.0,
    calib: Annotated[
        Path | None,
        typer.Option(help="INT8 calibration set .npz (default: the shipped one for this spec)."),
    ] = None,
    engines_dir: Annotated[Path, typer.Option(help="Engine cache folder.")] = Path("engines"),
    threads: Annotated[
        int | None, typer.Option(help="ONNX Runtime threads (default: physical cores).")
    ] = None,
    fresh_process: Annotated[
        bool, typer.Option(help="Measure load time and peak RSS in a fresh process per engine.")
    ] = True,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Results folder; default: runs/bench/<model>."),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the JSON result here.")
    ] = None,
    pipeline: Annotated[
        bool, typer.Option("--pipeline", help="Time the live loop's stages on a video file.")
    ] = False,
    media: Annotated[
        Path | None,
        typer.Option(
            help="--pipeline: a video with sound, or a folder of them; default: the demo clips."
        ),
    ] = None,
) -> None:
    """Benchmark every engine of a model side by side: latency, throughput, memory, accuracy.

    Example: [cyan]edgefer bench edgefer/assets/models/middle.onnx --json bench.json[/cyan]
    """
    import shlex

    from edgefer.bench.report import print_table, write_all
    from edgefer.bench.runner import BenchOptions, run_bench
    from edgefer.bench.targets import max_drop_violations

    try:
        batches = tuple(int(b) for b in batch.split(",") if b.strip())
    except ValueError as exc:
        raise EdgeferError(f"--batch takes comma-separated integers, got {batch!r}") from exc
    command = "edgefer " + shlex.join(sys.argv[1:])
    console = Console() if sys.stdout.isatty() else Console(width=200)  # a log keeps whole rows
    if pipeline:
        from edgefer.bench.pipeline import print_pipeline, run_pipeline, write_pipeline

        with _progress() as progress:
            result = run_pipeline(model, media, engines, threads, engines_dir, progress)
        result["command"] = command
        print_pipeline(result, console)
        folder = out or Path("runs") / "bench" / f"{result['model']['label']}-pipeline"
        written = write_pipeline(result, folder, json_path)
        print(f"wrote {', '.join(str(p) for p in written)}")
        return
    options = BenchOptions(
        model=model, engines=engines, batches=batches, data=data, per_class=per_class or None,
        iterations=iterations, rounds=rounds, budget_s=budget, max_drop=max_drop, calib=calib,
        engines_dir=engines_dir, threads=threads, fresh_process=fresh_process,
        outputs=[p for p in (out, json_path.parent if json_path else None) if p is not None],
    )  # fmt: skip
    with _progress() as progress:
        result = run_bench(options, progress)
    result["command"] = command
    print_table(result, console)
    folder = out or Path("runs") / "bench" / result["model"]["label"]
    written = write_all(result, folder, json_path)
    print(f"wrote {', '.join(str(p) for p in written)}")
    violations = max_drop_violations(result, max_drop)
    if violations:
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        err.print(f"[red]accuracy floor failed:[/red] {violations[0]}{more}", highlight=False)
        raise typer.Exit(code=1)


@app.command()
def doctor() -> None:
    """Show which backends, packages, data and GPU this machine has."""
    from rich.markup import escape
    from rich.table import Table

    from edgefer.doctor import report

    table = Table(title="edgefer doctor")
    for column in ("item", "status", "detail"):
        table.add_column(column)
    for item, status, detail in report():
        colour = {"ok": "green", "missing": "yellow"}.get(status, "white")
        table.add_row(item, f"[{colour}]{status}[/{colour}]", escape(detail))
    Console().print(table)


def _register_serve() -> None:
    """``edgefer serve`` lives in :mod:`edgefer.serving.cli` (it needs PyTriton only when run)."""
    from edgefer.serving.cli import serve_command

    app.command("serve")(serve_command)


_register_serve()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings (a skipped corrupt file, a small calibration set) as one yellow line each."""
    from rich.markup import escape

    err.print(f"[yellow]warning:[/yellow] {escape(str(message))}", highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    warnings.showwarning = _show_warning
    try:
        app()
    except EdgeferError as exc:
        if _state["debug"]:  # the traceback, then the same exit code as without --debug
            import traceback

            traceback.print_exc()
            sys.exit(2)
        from rich.markup import escape

        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]")
        sys.exit(130)


if __name__ == "__main__":
    main()
