"""Checks of a Triton model repository against the files it serves, before a server is trusted.

Written beside :mod:`edgefer.serving.repository` (which writes the folders): each ``config.pbtxt``
is parsed with Triton's own ``model_config_pb2``, then its inputs, outputs, labels and plan
profile are compared with the ONNX file or plan it names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgefer.engines.base import TensorSpec
from edgefer.errors import EdgeferError
from edgefer.serving import METADATA_PARAMETER
from edgefer.serving.repository import (
    _FILES,
    _TYPES,
    LABELS,
    PLAN_SUFFIX,
    _graph,
    _pb,
    _tensor_dims,
)


def check_repository(repo: str | Path) -> list[str]:
    """Problems of every model in ``repo``, one line each (empty: all fine).

    Each ``config.pbtxt`` is parsed with Triton's own protobuf schema, so a misspelt field is caught
    here rather than when tritonserver refuses to load it, and compared with the ONNX it serves. A
    missing repository is an :class:`EdgeferError`.
    """
    repo = Path(repo)
    if not repo.is_dir():
        raise EdgeferError(f"no model repository at {repo}")
    configs = sorted(repo.glob("*/config.pbtxt"))
    if not configs:
        return [f"{repo}: no model folder with a config.pbtxt"]
    problems: list[str] = []
    for path in configs:
        problems += _check_model(path.parent)
    return problems


def _parse_config(folder: Path) -> Any:
    """The folder's ``config.pbtxt`` as a ``ModelConfig``; a parse error is raised as one line."""
    pb, text_format = _pb()
    try:
        return text_format.Parse((folder / "config.pbtxt").read_text(), pb.ModelConfig())
    except text_format.ParseError as exc:
        raise EdgeferError(f"config.pbtxt does not parse: {exc}") from None


def _check_model(folder: Path) -> list[str]:
    """Problems of one model folder, each prefixed with the model's name."""
    try:
        config = _parse_config(folder)
        problems = _check_config(folder, config)
    except EdgeferError as exc:
        problems = [str(exc)]
    return [f"{folder.name}: {p}" for p in problems]


def _check_config(folder: Path, config: Any) -> list[str]:
    problems = []
    if config.name != folder.name:
        problems.append(f"config names the model {config.name!r}")
    if config.max_batch_size < 1:
        problems.append(f"max_batch_size {config.max_batch_size} (needs >= 1)")
    too_big = [b for b in config.dynamic_batching.preferred_batch_size if b > config.max_batch_size]
    if too_big:
        problems.append(f"preferred_batch_size {too_big} exceeds max_batch_size")
    file_name = _FILES.get(config.platform)
    if file_name is None:
        return [*problems, f"platform {config.platform!r} is not one edgefer writes"]
    if not (folder / "1" / file_name).is_file():
        return [*problems, f"1/{file_name} is missing"]
    meta = _served_metadata(config)
    problems += _check_labels(folder, meta)
    if config.platform == "tensorrt_plan":
        problems += _check_plan_config(folder, config, meta)
    else:
        problems += _against_onnx(config, folder / "1" / file_name, meta)
    return problems


def _served_metadata(config: Any) -> dict[str, Any]:
    """The edgefer metadata a client will read from the config; absent or not JSON is an error."""
    if METADATA_PARAMETER not in config.parameters:
        raise EdgeferError(f"no {METADATA_PARAMETER} parameter")
    try:
        meta = json.loads(config.parameters[METADATA_PARAMETER].string_value)
    except json.JSONDecodeError as exc:
        raise EdgeferError(f"{METADATA_PARAMETER} is not JSON ({exc})") from None
    if not isinstance(meta, dict) or "class_names" not in meta:
        raise EdgeferError(f"{METADATA_PARAMETER} has no class_names")
    return meta


def _check_labels(folder: Path, meta: dict[str, Any]) -> list[str]:
    labels_path = folder / LABELS
    if not labels_path.is_file():
        return [f"{LABELS} is missing"]
    labels = labels_path.read_text().splitlines()
    if labels != list(meta["class_names"]):
        return [f"{LABELS} {labels} is not the model's classes {meta['class_names']}"]
    return []


def _io_problems(
    config: Any, inputs: dict[str, TensorSpec], outputs: dict[str, TensorSpec]
) -> list[str]:
    """Where the config's inputs/outputs (names, types, dims) differ from the graph's."""
    pb, _ = _pb()
    problems = []
    for kind, declared, graph in (
        ("input", config.input, inputs),
        ("output", config.output, outputs),
    ):
        got = {t.name: (pb.DataType.Name(t.data_type), list(t.dims)) for t in declared}
        want = {s.name: (_TYPES[s.dtype], _tensor_dims(s)) for s in graph.values()}
        if got != want:
            problems.append(f"{kind}s {got} do not match the ONNX's {want}")
    return problems


def _against_onnx(config: Any, onnx: Path, meta: dict[str, Any]) -> list[str]:
    inputs, outputs, onnx_meta = _graph(onnx)
    problems = _io_problems(config, inputs, outputs)
    if meta != onnx_meta:
        problems.append(f"{METADATA_PARAMETER} is not the metadata inside {onnx.name}")
    return problems


def _check_plan_config(folder: Path, config: Any, meta: dict[str, Any]) -> list[str]:
    """A plan model against its profile and the ONNX model it was built from.

    The profile is recorded in its metadata; the ONNX model (``<name>`` beside ``<name>_trt``) is
    checked only when the repository holds it.
    """
    problems = []
    profile = int(meta.get("max_batch") or 0)
    if profile and config.max_batch_size > profile:
        problems.append(
            f"max_batch_size {config.max_batch_size} exceeds the plan's profile {profile}"
        )
    base = folder.parent / folder.name.removesuffix(PLAN_SUFFIX) / "1" / "model.onnx"
    if folder.name.endswith(PLAN_SUFFIX) and base.is_file():
        inputs, outputs, _ = _graph(base)
        problems += _io_problems(config, inputs, outputs)
    return problems
