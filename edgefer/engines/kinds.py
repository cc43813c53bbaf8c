"""The one table of engine kinds: precisions, backends, their file suffixes and where each runs.

CLI validation, ``build-engine``, ``open_engine``, ``bench`` and the live loop all read these names
from here, so a new precision or backend is added in one place.

>>> BACKENDS["tensorrt"].suffixes
('.plan', '.engine')
"""

from __future__ import annotations

from dataclasses import dataclass

from edgefer.errors import EdgeferError

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")
AUTO = "auto"  # --precision auto (measured per machine) and --backend auto (TensorRT where usable)


@dataclass(frozen=True)
class Backend:
    """A runtime edgefer builds engines for: the file suffixes it opens and where it runs.

    The first suffix is what ``build-engine`` writes.
    """

    name: str
    suffixes: tuple[str, ...]
    runs_on: str


BACKENDS: dict[str, Backend] = {
    "onnxruntime": Backend(
        "onnxruntime", (".onnx",), "any CPU (CUDA/TensorRT providers if installed)"
    ),
    "tensorrt": Backend("tensorrt", (".plan", ".engine"), "an NVIDIA GPU or Jetson with TensorRT"),
}


def check_precision(precision: str, allow_auto: bool = False) -> str:
    """``precision`` if edgefer knows it, else one line naming the choices."""
    known = (AUTO, *PRECISIONS) if allow_auto else PRECISIONS
    if precision not in known:
        raise EdgeferError(f"unknown precision {precision!r}: choose {', '.join(known)}")
    return precision


def backend_of_suffix(suffix: str) -> str | None:
    """The backend that opens files ending in ``suffix`` (None: no backend does)."""
    return next((b.name for b in BACKENDS.values() if suffix in b.suffixes), None)


def known_suffixes() -> tuple[str, ...]:
    return tuple(s for b in BACKENDS.values() for s in b.suffixes)
