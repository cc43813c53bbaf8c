"""The ``edgefer`` command line: one thin function per command, no logic here.

User errors (:class:`~edgefer.errors.EdgeferError`) become one red line and exit code 2; ``--debug``
shows the traceback of anything.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from edgefer import __version__
from edgefer.errors import EdgeferError
from edgefer.training.config import DEFAULT_VOICE_TEST_ACTORS, DEFAULT_VOICE_VAL_ACTORS

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
        int | None, typer.Option(help="At most this many samples per class and split (quick runs).")
    ] = None,
    learning_rate: Annotated[
        float, typer.Option(help="Adam learning rate (the paper: 1e-4).")
    ] = 1e-4,
    voice_repeats: Annotated[
        int, typer.Option(help="Voice model: augmented passes over the clips per epoch.")
    ] = 10,
    augment: Annotated[
        bool, typer.Option(help="Paper's voice augmentation + light face augmentation.")
    ] = True,
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


def _not_yet(command: str, issue: str) -> None:
    err.print(f"[red]edgefer {command}: not available yet; it arrives with {issue}.[/red]")
    raise typer.Exit(code=3)


@app.command()
def export(model: Annotated[Path, typer.Argument(help="A run folder or a .keras model.")]) -> None:
    """Export a trained model to ONNX with its metadata (arrives with the engines issue)."""
    _not_yet("export", "the engines issue (#4)")


@app.command("build-engine")
def build_engine(model: Annotated[Path, typer.Argument(help="An exported .onnx model.")]) -> None:
    """Build an FP32/FP16/INT8 engine for ONNX Runtime or TensorRT (arrives with the engines issue)."""
    _not_yet("build-engine", "the engines issue (#4)")


@app.command()
def run(
    camera: Annotated[str, typer.Option(help="Camera index, video file, URL or csi://0.")] = "0",
    mic: Annotated[str, typer.Option(help="Microphone index/name or an audio file.")] = "0",
) -> None:
    """Run the live face + voice loop (arrives with the live-loop issue)."""
    _not_yet("run", "the live-loop issue (#5)")


@app.command()
def bench(model: Annotated[Path, typer.Argument(help="A run folder or .onnx model.")]) -> None:
    """Benchmark every engine side by side (arrives with the benchmark issue)."""
    _not_yet("bench", "the benchmark issue (#6)")


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


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings (a skipped corrupt file, a small calibration set) as one yellow line each."""
    err.print(f"[yellow]warning:[/yellow] {message}", highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    warnings.showwarning = _show_warning
    try:
        app()
    except EdgeferError as exc:
        if _state["debug"]:
            raise
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]")
        sys.exit(130)


if __name__ == "__main__":
    main()
