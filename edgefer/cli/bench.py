"""``edgefer bench``: every engine of a model side by side.

With ``--pipeline``, the live loop's stages instead. The measuring lives in :mod:`edgefer.bench`;
here are the options, the results' folder and exit code 1 when an engine breaks the accuracy floor
(so CI can gate on it). Nothing here imports TensorFlow unless the Keras reference is benched.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from edgefer.cli._common import _progress, err
from edgefer.errors import EdgeferError


def bench_command(
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

    from edgefer.bench.options import BenchOptions
    from edgefer.bench.report import print_table, write_all
    from edgefer.bench.runner import run_bench
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
