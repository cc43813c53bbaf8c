"""Which engines a benchmark compares, and getting each one (built or reused) as a file.

The model argument is an exported ``.onnx`` file, a run folder holding ``model.onnx``, or the name of
a shipped variant (``middle``). ``--engines auto`` is every engine this machine can run: the Keras
reference (when TensorFlow is importable and the source ``.keras`` is found), ONNX Runtime
FP32/FP16/INT8, TensorRT FP16/INT8 (when TensorRT and a GPU are present). ORT and TensorRT engines
come from :func:`edgefer.engines.build.build_engine`, the one builder, so they share its cache.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgefer.engines.base import TensorSpec
from edgefer.engines.kinds import PRECISIONS
from edgefer.errors import EdgeferError

Progress = Callable[[str, int, int], None]
BACKEND_ALIASES = {
    "ort": "onnxruntime",
    "onnxruntime": "onnxruntime",
    "trt": "tensorrt",
    "tensorrt": "tensorrt",
}
CALIBRATION_DIR = Path(__file__).resolve().parent.parent / "assets" / "calibration"
# build_engine's own --max-drop is not used to judge: the benchmark reports every engine and applies
# its own floor after measuring, on its own held-out sample.
_NO_REJECT = 100.0


@dataclass(frozen=True)
class EngineChoice:
    """One row of the benchmark: a backend, a precision, and for Keras the call (``mode``)."""

    backend: str
    precision: str
    mode: str | None = None
    url: str | None = None  # a model on a Triton server (backend "triton", mode its protocol)

    @property
    def name(self) -> str:
        parts = [self.backend, self.precision] + ([self.mode] if self.mode else [])
        return "-".join(parts)


def remote_choice(url: str) -> EngineChoice:
    """The row of a served model; opening it once checks the server and learns its precision."""
    from edgefer.engines.triton import TritonEngine

    with TritonEngine(url) as engine:
        return EngineChoice("triton", engine.precision, engine.url.scheme, url)


def remote_reference(url: str) -> Path:
    """The local FP32 ONNX a served model is compared with.

    It is the file the server says it serves (same machine), else the shipped model with the same
    preprocessing and class names.
    """
    from edgefer.engines.triton import TritonEngine
    from edgefer.shipped import shipped_path
    from edgefer.spec import FUSIONS

    with TritonEngine(url) as engine:
        meta = engine.metadata
    served = Path(str(meta.get("served_from", "")))
    if served.suffix == ".onnx" and served.is_file() and meta.get("precision") == "fp32":
        return served
    fusion = meta.get("fusion")
    if fusion in FUSIONS:
        from edgefer.engines.onnxruntime import OrtEngine

        candidate = shipped_path(str(fusion), ".onnx")
        with OrtEngine(candidate) as shipped:
            same = shipped.metadata.get("spec_digest") == meta.get("spec_digest")
        if same:
            return candidate
    raise EdgeferError(
        f"no local FP32 ONNX to compare {url} with: bench MODEL.onnx --engines ort-fp32,{url}"
    )


@dataclass
class Source:
    """The FP32 ONNX model under test, its metadata, and its Keras source (or why there is none)."""

    onnx: Path
    label: str
    meta: dict[str, Any]
    inputs: dict[str, TensorSpec]
    keras: Path | None
    keras_note: str | None


def resolve_model(arg: str | Path) -> Path:
    """The ``.onnx`` file meant by a path, a run folder or a shipped variant's name."""
    from edgefer.engines.triton import is_remote

    if is_remote(str(arg)):
        return remote_reference(str(arg))
    path = Path(arg)
    if path.is_dir():
        onnx = path / "model.onnx"
        if not onnx.is_file():
            raise EdgeferError(f"{path} holds no model.onnx: export it first (`edgefer export`)")
        return onnx
    if path.is_file():
        if path.suffix != ".onnx":
            raise EdgeferError(f"bench takes an exported .onnx model or a run folder, got {path}")
        return path
    from edgefer.shipped import shipped_path
    from edgefer.spec import FUSIONS

    if str(arg) in FUSIONS:
        return shipped_path(str(arg), ".onnx")
    raise EdgeferError(f"model not found: {path}")


def load_source(arg: str | Path) -> Source:
    """Parse and check the FP32 ONNX model (a corrupt file fails here, before any data is read)."""
    from edgefer.bench.keras_ref import find_source, keras_available
    from edgefer.engines.artifact import read_sidecar, sidecar_path
    from edgefer.onnx_meta import graph_specs, load_onnx, model_metadata, resolve_metadata

    path = resolve_model(arg)
    sidecar = read_sidecar(path) if sidecar_path(path).is_file() else None
    model = load_onnx(path)
    inputs, outputs = graph_specs(model)
    meta = resolve_metadata(model_metadata(model, path.name), inputs, outputs, path.name)
    if meta.get("precision") not in ("fp32", "unknown"):
        raise EdgeferError(f"{path.name} is {meta['precision']}: bench the FP32 export instead")
    keras_path, note = None, keras_available()
    if note is None:
        try:
            keras_path = find_source(path, meta, sidecar)
        except EdgeferError as exc:
            note = str(exc)
    label = path.parent.name if path.name == "model.onnx" else path.stem
    return Source(path, label, meta, inputs, keras_path, note)


def _trt_usable() -> str | None:
    """None when TensorRT engines can be built here, else why not."""
    from edgefer.engines.open import resolve_backend
    from edgefer.engines.trt_module import tensorrt_installed

    if not tensorrt_installed():  # not find_spec: the type stubs alone make a "tensorrt" folder
        return "TensorRT is not installed"
    if resolve_backend("auto") != "tensorrt":
        return "no NVIDIA GPU"
    return None


def parse_engines(text: str, source: Source) -> tuple[list[EngineChoice], list[str]]:
    """The engines ``--engines`` names, and notes on the ones ``auto`` left out and why.

    ``--engines`` is ``auto`` or a comma list such as ``keras,ort-fp32,ort-int8``.
    """
    notes: list[str] = []
    ort_missing = importlib.util.find_spec("onnxruntime") is None
    if text.strip() == "auto":
        choices: list[EngineChoice] = []
        if source.keras is not None:
            choices += [
                EngineChoice("keras", "fp32", "predict"),
                EngineChoice("keras", "fp32", "predict_on_batch"),
            ]
        else:
            notes.append(f"Keras reference skipped: {source.keras_note}")
        if ort_missing:
            raise EdgeferError("ONNX Runtime is not installed: pip install 'edgefer[cpu]'")
        choices += [EngineChoice("onnxruntime", p) for p in PRECISIONS]
        trt_problem = _trt_usable()
        if trt_problem is None:
            choices += [EngineChoice("tensorrt", p) for p in ("fp16", "int8")]
        else:
            notes.append(f"TensorRT skipped: {trt_problem}")
        return choices, notes
    from edgefer.engines.triton import is_remote

    choices = []
    for token in (t.strip() for t in text.split(",")):
        if is_remote(token):
            choices.append(remote_choice(token))
            continue
        token = token.lower()
        if not token:
            continue
        for choice in _parse_token(token, source):
            if choice not in choices:
                choices.append(choice)
    if not choices:
        raise EdgeferError("--engines names no engine: use auto or e.g. keras,ort-fp32,ort-int8")
    return choices, notes


def _parse_token(token: str, source: Source) -> list[EngineChoice]:
    from edgefer.bench.keras_ref import MODES

    if token == "keras" or token.startswith("keras-"):
        if source.keras is None:
            raise EdgeferError(f"engine {token} is not available: {source.keras_note}")
        modes = [
            m for m in MODES if token in ("keras", "keras-fp32", f"keras-{m}", f"keras-fp32-{m}")
        ]
        if not modes:
            raise EdgeferError(
                f"unknown Keras engine {token!r}: keras, keras-predict, keras-predict_on_batch"
            )
        return [EngineChoice("keras", "fp32", m) for m in modes]
    backend, _, precision = token.partition("-")
    if backend not in BACKEND_ALIASES or precision not in PRECISIONS:
        raise EdgeferError(
            f"unknown engine {token!r}: use auto, keras, ort-fp32|fp16|int8 or trt-fp32|fp16|int8"
        )
    backend = BACKEND_ALIASES[backend]
    if backend == "tensorrt" and (problem := _trt_usable()) is not None:
        raise EdgeferError(f"engine {token} is not available here: {problem}")
    return [EngineChoice(backend, precision)]


def default_calibration(meta: dict[str, Any]) -> Path | None:
    """A shipped calibration set made with this model's preprocessing, if there is one.

    Shipped models are benched with the set they ship with instead of one rebuilt from the training
    data.
    """
    from edgefer.engines.artifact import read_sidecar

    digest = meta.get("spec_digest")
    for path in sorted(CALIBRATION_DIR.glob("*.npz")):
        try:
            record = read_sidecar(path, verify_hash=False)
        except EdgeferError:
            continue
        if digest and record.get("spec_digest") == digest:
            return path
    return None


@contextlib.contextmanager
def data_env(data: Path | None) -> Iterator[None]:
    """Point ``EDGEFER_DATA`` at ``data`` for the block.

    The builder's default calibration set is made from the training data under the data root.
    """
    if data is None:
        yield
        return
    old = os.environ.get("EDGEFER_DATA")
    os.environ["EDGEFER_DATA"] = str(data)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("EDGEFER_DATA", None)
        else:
            os.environ["EDGEFER_DATA"] = old


@dataclass
class Built:
    """One engine file ready to open, and what the builder said about it."""

    choice: EngineChoice
    path: Path | str  # a str for a remote model's URL
    cached: bool
    seconds: float
    calibration: str | None


def build_all(
    source: Source,
    choices: list[EngineChoice],
    heldout: Any,
    calib: Path | None,
    engines_dir: Path,
    data: Path | None = None,
    progress: Progress | None = None,
) -> list[Built]:
    """Build (or reuse from the cache) every non-Keras engine; Keras rows use the source file."""
    from edgefer.engines.build import build_engine

    built: list[Built] = []
    todo = [c for c in choices if c.backend not in ("keras", "triton")]
    for done, choice in enumerate(todo):
        if progress is not None:
            progress("building engines", done, len(todo))
        with data_env(data):
            result = build_engine(
                source.onnx,
                choice.precision,
                choice.backend,
                calib=calib,
                max_drop=_NO_REJECT,
                heldout=heldout,
                engines_dir=engines_dir,
            )
        built.append(Built(choice, result.path, result.cached, result.seconds, result.calibration))
    if progress is not None and todo:
        progress("building engines", len(todo), len(todo))
    for choice in choices:
        if choice.backend == "keras":
            assert source.keras is not None
            built.append(Built(choice, source.keras, True, 0.0, None))
        elif choice.url is not None:  # served as it is: nothing to build here
            built.append(Built(choice, choice.url, True, 0.0, None))
    order = {c: i for i, c in enumerate(choices)}
    return sorted(built, key=lambda b: order[b.choice])
