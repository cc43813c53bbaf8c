"""``edgefer build-engine``: an FP32/FP16/INT8 engine for ONNX Runtime or TensorRT.

The build and its accuracy check live in :mod:`edgefer.engines.build` and the timed choice of
``--precision auto`` in :mod:`edgefer.engines.auto_precision`; here are the options and the tables
that report a build (also a rejected one, so the user sees why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from edgefer.cli._common import _progress, _table, err
from edgefer.errors import EdgeferError


def build_engine_command(
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
    """``--precision auto``: build and time each precision, keep the fastest that holds accuracy.

    Every candidate is shown, so the user sees what the choice gave up and why.

    Parameters
    ----------
    model : the exported .onnx.
    backend : auto | onnxruntime | tensorrt.
    max_drop : accuracy points the choice may give up for speed.
    min_calib, heldout_per_class, force : as ``build-engine``'s options say.
    trt : the TensorRT options; passed on only when they differ from the defaults, so the
        record of an earlier choice made with the defaults is reused.
    """
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
    """The table of one build: where the engine is, what built it and how it compares with FP32.

    Printed for a rejected build too (before its error line), since the figures are the reason.

    Parameters
    ----------
    result : the build's result (a :class:`~edgefer.engines.build.BuildResult`).
    rejected : the engine failed the accuracy check.
    """
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
