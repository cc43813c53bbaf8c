"""The ``edgefer`` command line: one thin function per command, no logic here.

This package holds the Typer ``app``, its root options and the error handling of :func:`main`; each
command lives in a module of its own and only parses its options and calls into the domain
packages. The command modules import only what their option defaults need, so ``edgefer --help``
and the runtime-only commands (``run``, ``bench``) start without TensorFlow.

User errors (:class:`~edgefer.errors.EdgeferError`) become one red line and exit code 2; ``--debug``
shows the traceback of anything.
"""

from __future__ import annotations

import sys
import warnings
from typing import Annotated, TextIO

import typer

from edgefer import __version__
from edgefer.cli._common import err
from edgefer.cli.bench import bench_command
from edgefer.cli.build_engine import build_engine_command
from edgefer.cli.calibrate import calibrate_command
from edgefer.cli.doctor import doctor_command
from edgefer.cli.export import export_command
from edgefer.cli.run import run_command
from edgefer.cli.train import train_command
from edgefer.errors import EdgeferError

__all__ = ["app", "main"]

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
    """``--version``: an eager option, so it prints and exits before any command is parsed.

    Parameters
    ----------
    value : whether ``--version`` was given.
    """
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


# The order here is the order of ``edgefer --help``: the flow from training to the edge.
app.command("train")(train_command)
app.command("export")(export_command)
app.command("calibrate")(calibrate_command)
app.command("build-engine")(build_engine_command)
app.command("run")(run_command)
app.command("bench")(bench_command)
app.command("doctor")(doctor_command)


def _register_serve() -> None:
    """``edgefer serve`` lives in :mod:`edgefer.serving.cli` (it needs PyTriton only when run)."""
    from edgefer.serving.cli import serve_command

    app.command("serve")(serve_command)


_register_serve()


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Warnings (a skipped corrupt file, a small calibration set) as one yellow line each.

    Installed as :func:`warnings.showwarning`, so it takes that hook's parameters; only the message
    is shown, since the user can act on it and not on the file and line that raised it.
    """
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
