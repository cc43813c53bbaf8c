"""The ``edgefer serve`` command: parses its options and hands them to :mod:`edgefer.serving.server`."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from edgefer.serving.server import LOOPBACK, ServeOptions, resolve_models, serve


def serve_command(
    models: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[MODEL_OR_ENGINE]...",
            help="Shipped variants (middle, face, voice, early, late), engine files (.onnx, "
            "TensorRT .plan) or NAME=FILE; default: the shipped middle, face and voice models.",
        ),
    ] = None,
    address: Annotated[
        str, typer.Option(help="Address every port binds to (0.0.0.0 serves other machines).")
    ] = LOOPBACK,
    http_port: Annotated[int, typer.Option(help="HTTP/REST endpoint (KServe v2).")] = 8000,
    grpc_port: Annotated[
        int, typer.Option(help="gRPC endpoint (what `run --engine grpc://` uses).")
    ] = 8001,
    metrics_port: Annotated[int, typer.Option(help="Prometheus metrics at /metrics.")] = 8002,
    max_batch: Annotated[
        int, typer.Option(help="Largest batch the dynamic batcher forms from concurrent requests.")
    ] = 16,
    max_queue_delay_us: Annotated[
        int,
        typer.Option(help="How long a request may wait for others to fill a batch (microseconds)."),
    ] = 500,
    instances: Annotated[
        int, typer.Option(help="Engine instances per model (each runs a batch at a time).")
    ] = 1,
    threads: Annotated[
        int | None, typer.Option(help="ONNX Runtime intra-op threads per instance.")
    ] = 1,
    log_file: Annotated[
        Path | None,
        typer.Option(help="tritonserver's own log (default: runs/serve/tritonserver.log)."),
    ] = None,
) -> None:
    """Serve edgefer models from a real Triton Inference Server (PyTriton).

    With dynamic batching, health and readiness, Prometheus metrics; SIGTERM or Ctrl-C stops it
    cleanly.

    Needs `make serve-venv` (PyTriton pins numpy<2): [cyan].venv-serve/bin/edgefer serve[/cyan]

    A client: [cyan]edgefer run --engine grpc://127.0.0.1:8001/middle --camera 0[/cyan]

    An INT8 engine under its own name, 2 instances, on every interface:
    [cyan]edgefer serve m8=engines/middle-onnxruntime-int8-KEY.onnx --instances 2 --address 0.0.0.0[/cyan]
    """
    from rich.console import Console

    err = Console(stderr=True)
    log = log_file or Path("runs") / "serve" / "tritonserver.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    options = ServeOptions(
        address, http_port, grpc_port, metrics_port, max_batch, max_queue_delay_us, instances,
        threads, log,
    )  # fmt: skip
    chosen = resolve_models(models or [])
    stop = threading.Event()

    def request_stop(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    def ready(served: list[Any], endpoints: dict[str, str]) -> None:
        for model in served:
            engine = model.engines[0]
            err.print(
                f"serving [bold]{model.name}[/bold]: {engine.backend} {engine.precision}, "
                f"{len(model.engines)} instance(s), from {model.path}",
                highlight=False,
                soft_wrap=True,
            )
        err.print(
            f"listening on {endpoints['grpc']} and {endpoints['http']}, metrics "
            f"{endpoints['metrics']}, max batch {max_batch}, queue delay {max_queue_delay_us} us; "
            f"server log {log}; Ctrl-C or SIGTERM stops",
            highlight=False,
            soft_wrap=True,
        )
        if address != LOOPBACK:
            err.print(f"[yellow]bound to {address}: reachable from other machines[/yellow]")

    serve(chosen, options, stop, ready)
    err.print("stopped: tritonserver shut down, engines closed", highlight=False)
