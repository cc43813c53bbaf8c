"""``edgefer calibrate``: a calibration set of real training samples for INT8 engines.

The set is built by :mod:`edgefer.calibration`; this module parses the options and prints what was
written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgefer.cli._common import _progress, _table


def calibrate_command(
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
