"""Where the benchmark's Keras reference comes from, without importing Keras.

The reference row ("how much faster is the deployed engine than the training framework?") is the
``.keras`` file an ONNX model was exported from, run by :class:`edgefer.models.keras_engine.KerasEngine`
(training side). This module only finds that file and says whether Keras can be imported at all, so
a Jetson without TensorFlow runs every other row of ``edgefer bench``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from edgefer.engines.artifact import file_sha256
from edgefer.errors import EdgeferError

# Two ways of calling the Keras model are timed, because they differ ten-fold at batch 1 and a ratio
# against only one would mislead: ``predict`` (what the speed target against Keras names; it builds
# a dataset and a step function around every call) and ``predict_on_batch`` (one compiled step).
MODES: tuple[str, ...] = ("predict", "predict_on_batch")


def keras_available() -> str | None:
    """None when Keras with TensorFlow can be imported here, else why not (one line)."""
    for module in ("tensorflow", "keras"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'edgefer[train]')"
    return None


def find_source(onnx_path: Path, meta: dict[str, Any], sidecar: dict[str, Any] | None) -> Path:
    """The ``.keras`` file ``onnx_path`` was exported from, checked by hash; raises with why not.

    Looked for beside the ONNX file first (by the recorded name, ``<stem>.keras``, ``model.keras``:
    a run folder, a shipped model, a fresh clone), then where the export recorded it (the sidecar's
    absolute path, which in another checkout names that checkout's copy).
    """
    want = meta.get("source_model_sha256") or (sidecar or {}).get("source_model_sha256")
    names = [
        meta.get("source_model") and str(onnx_path.parent / Path(meta["source_model"]).name),
        str(onnx_path.with_suffix(".keras")),
        str(onnx_path.parent / "model.keras"),
        (sidecar or {}).get("source_model"),
    ]
    seen: list[Path] = []
    for name in names:
        if not name or not Path(name).is_file() or Path(name).resolve() in seen:
            continue
        path = Path(name).resolve()
        seen.append(path)
        if want is None or file_sha256(path) == want:
            return path
    if seen:
        raise EdgeferError(
            f"{seen[0].name} is not the model {onnx_path.name} was exported from "
            f"(sha256 {want}): re-export it"
        )
    raise EdgeferError(f"no Keras source found for {onnx_path.name} (looked beside it)")
