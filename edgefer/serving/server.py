"""``edgefer serve``: edgefer engines hosted by a real NVIDIA Triton Inference Server, via PyTriton.

We do not write a server. PyTriton (``pip install 'edgefer[serve]'``, its own venv: it pins
``numpy<2``) starts the ``tritonserver`` it bundles and binds Python callables to it; each callable
here runs one edgefer :class:`~edgefer.engines.base.Engine` (ONNX Runtime here, TensorRT where it is
installed), so Triton brings what a fleet of cameras needs: dynamic batching across clients, HTTP and
gRPC endpoints, health and readiness, Prometheus metrics, several instances per model.

Every served model carries its edgefer metadata (class names, preprocessing spec) as the config
parameter :data:`edgefer.serving.METADATA_PARAMETER`, so a client (:mod:`edgefer.engines.triton`)
needs no local file. PyTriton has no public field for extra config parameters; the metadata is added
to the model's generated config before the server loads it (:func:`_attach_metadata`), and a test
against the real server checks that it arrives.
"""

from __future__ import annotations

import json
import os
import socket
import sysconfig
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.serving import METADATA_PARAMETER, OUTPUT_NAME

DEFAULT_MODELS: tuple[str, ...] = ("middle", "face", "voice")  # the live loop's three roles
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServeOptions:
    """Where the server listens and how it batches; every port binds to ``address`` only."""

    address: str = LOOPBACK
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    max_batch: int = 16
    max_queue_delay_us: int = 500
    instances: int = 1
    threads: int | None = 1
    log_file: Path | None = None

    def __post_init__(self) -> None:
        ports = (self.http_port, self.grpc_port, self.metrics_port)
        for port in ports:
            if not 1 <= port <= 65535:
                raise EdgeferError(f"port {port} is not between 1 and 65535")
        if len(set(ports)) != 3:
            raise EdgeferError(f"--http-port, --grpc-port and --metrics-port must differ: {ports}")
        if self.max_batch < 1:
            raise EdgeferError(f"--max-batch must be at least 1, got {self.max_batch}")
        if self.max_queue_delay_us < 0:
            raise EdgeferError(
                f"--max-queue-delay-us cannot be negative: {self.max_queue_delay_us}"
            )
        if self.instances < 1:
            raise EdgeferError(f"--instances must be at least 1, got {self.instances}")

    def endpoints(self) -> dict[str, str]:
        return {
            "grpc": f"grpc://{self.address}:{self.grpc_port}",
            "http": f"http://{self.address}:{self.http_port}",
            "metrics": f"http://{self.address}:{self.metrics_port}/metrics",
        }


@dataclass
class ServedModel:
    """One model as the server hosts it: its name, its file, and the engines of its instances."""

    name: str
    path: Path
    engines: list[Any] = field(default_factory=list)


def resolve_models(args: Sequence[str]) -> dict[str, Path]:
    """Model names to files from ``MODEL_OR_ENGINE`` arguments.

    An argument is a shipped variant (``middle``), an engine file (``engines/x.onnx``, a ``.plan``),
    or ``NAME=FILE`` to choose the served name. None: the shipped middle, face and voice models.
    """
    from edgefer.shipped import shipped_path
    from edgefer.spec import FUSIONS

    models: dict[str, Path] = {}
    for arg in args or DEFAULT_MODELS:
        name, sep, target = arg.partition("=")
        if not sep:
            name, target = "", arg
        if target in FUSIONS:
            path = shipped_path(target, ".onnx")
        else:
            path = Path(target)
            if not path.is_file():
                raise EdgeferError(f"model not found: {target} (give a file or one of {FUSIONS})")
        name = name or (target if target in FUSIONS else path.stem)
        if not all(c.isalnum() or c in "._-" for c in name):
            raise EdgeferError(f"a served name may hold letters, digits, '.', '_', '-': {name!r}")
        if name in models:
            raise EdgeferError(f"two models would be served as {name!r}: name one with NAME=FILE")
        models[name] = path
    return models


def check_port_free(address: str, port: int, what: str) -> None:
    """Fail with one line before starting anything when ``port`` is taken (Triton would only log it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as exc:
            raise EdgeferError(
                f"{what} port {port} on {address} is in use ({exc.strerror}): choose another "
                f"with --{what}-port"
            ) from None


def _libpython_on_path() -> None:
    """Put the folder of the interpreter's libpython on the path the server process inherits.

    Triton's Python backend stub links the interpreter's libpython.
    """
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    current = os.environ.get("LD_LIBRARY_PATH", "")
    if libdir and libdir not in current.split(":"):
        os.environ["LD_LIBRARY_PATH"] = f"{libdir}:{current}" if current else libdir


def make_infer(engine: Any) -> Callable[..., dict[str, np.ndarray]]:
    """A PyTriton callable over one engine: a batch of named float32 inputs -> ``probs``."""
    from pytriton.decorators import batch

    @batch  # type: ignore[misc]
    def infer(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        return {OUTPUT_NAME: np.asarray(engine.predict(inputs), dtype=np.float32)}

    return infer  # type: ignore[no-any-return]


def _attach_metadata(triton: Any, name: str, metadata: dict[str, Any]) -> None:
    models = [m for m in triton._model_manager.models if m.model_name == name]
    if len(models) != 1 or not hasattr(models[0], "_get_triton_model_config"):
        raise EdgeferError(
            "this nvidia-pytriton is not one edgefer knows (0.7.x): pip install 'edgefer[serve]'"
        )
    config = models[0]._get_triton_model_config()
    config.backend_parameters[METADATA_PARAMETER] = json.dumps(metadata, sort_keys=True)


def _bind(triton: Any, model: ServedModel, options: ServeOptions) -> None:
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor

    first = model.engines[0]
    inputs = [
        Tensor(name=n, shape=tuple(d or -1 for d in spec.shape[1:]), dtype=np.float32)
        for n, spec in first.inputs.items()
    ]
    width = len(first.metadata.get("class_names") or [None] * 3)
    outputs = [Tensor(name=OUTPUT_NAME, shape=(width,), dtype=np.float32)]
    batcher = DynamicBatcher(max_queue_delay_microseconds=options.max_queue_delay_us)
    triton.bind(
        model_name=model.name,
        infer_func=[make_infer(e) for e in model.engines],
        inputs=inputs,
        outputs=outputs,
        config=ModelConfig(max_batch_size=options.max_batch, batcher=batcher),
        strict=True,
    )
    metadata = {
        **first.metadata,
        "served_from": str(model.path.resolve()),
        "backend": first.backend,
        "precision": first.precision,
    }
    _attach_metadata(triton, model.name, metadata)


def serve(
    models: dict[str, Path],
    options: ServeOptions,
    stop: threading.Event,
    on_ready: Callable[[list[ServedModel], dict[str, str]], None] | None = None,
) -> None:
    """Host ``models`` until ``stop`` is set or the server dies; every engine is closed after."""
    from edgefer.engines.open import open_engine

    try:
        from pytriton.triton import Triton, TritonConfig
    except ImportError as exc:
        raise EdgeferError(
            f"edgefer serve needs PyTriton ({exc}): `make serve-venv`, then .venv-serve/bin/edgefer "
            "serve (its numpy<2 pin lives apart from TensorFlow's side)"
        ) from None
    for what, port in (
        ("http", options.http_port),
        ("grpc", options.grpc_port),
        ("metrics", options.metrics_port),
    ):
        check_port_free(options.address, port, what)
    served: list[ServedModel] = []
    try:
        for name, path in models.items():
            model = ServedModel(name, path)
            served.append(model)
            model.engines = [open_engine(path, options.threads) for _ in range(options.instances)]
        _libpython_on_path()
        config = TritonConfig(
            http_address=options.address,
            http_port=options.http_port,
            grpc_address=options.address,
            grpc_port=options.grpc_port,
            metrics_address=options.address,
            metrics_port=options.metrics_port,
            log_verbose=0,
            log_file=options.log_file,
            allow_gpu_metrics=False,
        )
        triton = Triton(config=config)
        try:
            for model in served:
                _bind(triton, model, options)
            try:
                triton.run()
            except (
                Exception
            ) as exc:  # PyTriton raises its own types for a server that will not start
                raise EdgeferError(f"tritonserver did not start: {exc}") from None
            if on_ready is not None:
                on_ready(served, options.endpoints())
            while not stop.wait(0.5):
                if not triton.is_alive():
                    raise EdgeferError("tritonserver stopped by itself (see its log)")
        finally:
            triton.stop()
    finally:
        for model in served:
            for engine in model.engines:
                engine.close()
