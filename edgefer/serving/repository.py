"""``edgefer export --format triton``: a model repository for the full Triton container on a GPU server.

Each edgefer model becomes ``REPO/<name>/`` with ``config.pbtxt``, ``1/model.onnx`` and
``labels.txt``: platform ``onnxruntime_onnx``, inputs and outputs read from the ONNX graph (the batch
axis left to ``max_batch_size``), dynamic batching, an instance group, and on GPU instances ONNX
Runtime's TensorRT execution accelerator in FP16. A TensorRT plan from ``build-engine`` adds
``REPO/<name>_trt/`` (platform ``tensorrt_plan``) whose ``max_batch_size`` may not exceed the plan's
optimisation profile; a plan only runs on the GPU and TensorRT version it was built with, so build
it on the serving machine.

Every config carries the model's edgefer metadata as the parameter
:data:`edgefer.serving.METADATA_PARAMETER`, so :mod:`edgefer.engines.triton` reads the class names
and preprocessing from the server. Configs are written from tritonclient's ``ModelConfig`` protobuf
message, and :func:`check_repository` parses them back with it (a misspelt field fails to parse)
and checks each against its ONNX.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgefer.engines.artifact import atomic_path, atomic_write_text, file_sha256, read_sidecar
from edgefer.engines.base import TensorSpec
from edgefer.errors import EdgeferError
from edgefer.serving import METADATA_PARAMETER, OUTPUT_NAME, TRITON_TYPES

KINDS = {"gpu": "KIND_GPU", "cpu": "KIND_CPU", "auto": "KIND_AUTO"}
PLAN_SUFFIX = "_trt"
LABELS = "labels.txt"
_TYPES = TRITON_TYPES
_FILES = {"onnxruntime_onnx": "model.onnx", "tensorrt_plan": "model.plan"}


@dataclass(frozen=True)
class RepoOptions:
    """How Triton should batch and place the model.

    Set by ``--max-batch``, ``--max-queue-delay-us``, ``--instances`` and ``--kind``, and checked once
    here so a bad value never reaches a written config.
    """

    max_batch: int = 8
    max_queue_delay_us: int = 100
    instances: int = 1
    kind: str = "gpu"
    trt_fp16: bool = True  # ONNX Runtime's TensorRT accelerator on GPU instances

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise EdgeferError(f"--max-batch must be at least 1, got {self.max_batch}")
        if self.max_queue_delay_us < 0:
            raise EdgeferError("--max-queue-delay-us cannot be negative")
        if self.instances < 1:
            raise EdgeferError(f"--instances must be at least 1, got {self.instances}")
        if self.kind not in KINDS:
            raise EdgeferError(f"unknown --kind {self.kind!r}: choose {', '.join(KINDS)}")


@dataclass(frozen=True)
class _Plan:
    """A TensorRT plan checked against the ONNX it is served beside, before anything is written."""

    path: Path
    max_batch: int  # the largest batch of its optimisation profile
    record: dict[str, Any]  # its sidecar


def _pb() -> tuple[Any, Any]:
    """(model_config_pb2, text_format), imported only here.

    They come with tritonclient, which the rest of edgefer does not need.
    """
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2
    except ImportError as exc:
        raise EdgeferError(
            f"a Triton model repository needs tritonclient ({exc}): pip install 'edgefer[client]'"
        ) from None
    return model_config_pb2, text_format


def _graph(onnx_path: Path) -> tuple[dict[str, TensorSpec], dict[str, TensorSpec], dict[str, Any]]:
    """(inputs, outputs, metadata) of an exported ONNX.

    Refused unless axis 0 of every tensor is the batch, since Triton's ``max_batch_size`` supplies
    that axis itself.
    """
    from edgefer.onnx_meta import graph_specs, load_onnx, model_metadata, resolve_metadata

    model = load_onnx(onnx_path)
    inputs, outputs = graph_specs(model)
    meta = resolve_metadata(model_metadata(model, onnx_path.name), inputs, outputs, onnx_path.name)
    for spec in (*inputs.values(), *outputs.values()):
        if not spec.shape or spec.shape[0] is not None:
            raise EdgeferError(
                f"{onnx_path.name}: {spec.describe()} has no dynamic batch axis; export it with "
                "`edgefer export` (batch axis N)"
            )
        if spec.dtype not in _TYPES:
            raise EdgeferError(f"{onnx_path.name}: {spec.describe()} is not float32 or float16")
    if OUTPUT_NAME not in outputs:
        raise EdgeferError(f"{onnx_path.name} has no output {OUTPUT_NAME!r}: not an edgefer model")
    return inputs, outputs, meta


def _tensor_dims(spec: TensorSpec) -> list[int]:
    """Triton's dims of a tensor: without the batch axis, -1 for any other dynamic axis."""
    return [d if d is not None else -1 for d in spec.shape[1:]]


def model_config(
    name: str,
    platform: str,
    inputs: dict[str, TensorSpec],
    outputs: dict[str, TensorSpec],
    metadata: dict[str, Any],
    options: RepoOptions,
    kind: str | None = None,
) -> Any:
    """The ``ModelConfig`` message of one model (see the module docstring for what it holds).

    ``kind`` overrides ``options.kind`` (a plan runs only on a GPU).
    """
    pb, _ = _pb()
    config = pb.ModelConfig(name=name, platform=platform, max_batch_size=options.max_batch)
    for spec in inputs.values():
        config.input.add(
            name=spec.name, data_type=getattr(pb, _TYPES[spec.dtype]), dims=_tensor_dims(spec)
        )
    for spec in outputs.values():
        config.output.add(
            name=spec.name,
            data_type=getattr(pb, _TYPES[spec.dtype]),
            dims=_tensor_dims(spec),
            label_filename=LABELS if spec.name == OUTPUT_NAME else "",
        )
    batches = sorted({b for b in (1, 4, options.max_batch) if b <= options.max_batch})
    config.dynamic_batching.max_queue_delay_microseconds = options.max_queue_delay_us
    config.dynamic_batching.preferred_batch_size.extend(batches[1:] or batches)
    group_kind = kind or KINDS[options.kind]
    config.instance_group.add(
        count=options.instances, kind=getattr(pb.ModelInstanceGroup, group_kind)
    )
    if platform == "onnxruntime_onnx" and group_kind == "KIND_GPU" and options.trt_fp16:
        accelerator = config.optimization.execution_accelerators.gpu_execution_accelerator.add(
            name="tensorrt"
        )
        accelerator.parameters["precision_mode"] = "FP16"
    config.parameters[METADATA_PARAMETER].string_value = json.dumps(metadata, sort_keys=True)
    return config


def _check_name(name: str) -> str:
    """A model name that is one folder inside the repository (no '..', no hidden folder)."""
    if not name or not name[0].isalnum() or not all(c.isalnum() or c in "._-" for c in name):
        raise EdgeferError(
            f"a model name starts with a letter or digit and holds only those, '.', '_', '-': "
            f"{name!r}"
        )
    return name


def _claim_folder(folder: Path, file_name: str, source: Path, force: bool) -> None:
    """Make ``folder`` ours to write.

    It must be empty, absent, or already serving these very bytes (so a re-run with other options
    updates the config); another model there needs ``force``, which removes it whole so no stale
    version folder stays behind.
    """
    if not folder.exists() or (folder.is_dir() and not any(folder.iterdir())):
        return
    served = folder / "1" / file_name
    if served.is_file() and file_sha256(served) == file_sha256(source):
        return
    if not force:
        raise EdgeferError(
            f"{folder} already holds another model: choose another --name or give --force"
        )
    if folder.is_dir():
        shutil.rmtree(folder)
    else:
        folder.unlink()


def _write_model(
    folder: Path, config: Any, file_name: str, source: Path, labels: list[str], force: bool
) -> list[Path]:
    """Write one model folder, each file atomically, the config last.

    A folder with a config is a complete model.
    """
    _, text_format = _pb()
    _claim_folder(folder, file_name, source, force)
    target, labels_path, config_path = (
        folder / "1" / file_name,
        folder / LABELS,
        folder / "config.pbtxt",
    )
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    atomic_write_text(labels_path, "".join(f"{label}\n" for label in labels))
    atomic_write_text(config_path, text_format.MessageToString(config))
    return [config_path, target, labels_path]


def _profile_max_batch(record: dict[str, Any]) -> int:
    """The largest batch the plan's profile admits.

    That is the max shapes' batch axis (``profile_shapes``, as build-engine records them), else its
    ``max_batch``; 0 when the sidecar records neither.
    """
    shapes = record.get("profile_shapes")
    if isinstance(shapes, dict) and shapes:
        try:
            return min(int(triple[2][0]) for triple in shapes.values())
        except (TypeError, ValueError, IndexError):
            raise EdgeferError("the plan's sidecar has unreadable profile_shapes") from None
    return int(record.get("max_batch") or 0)


def _check_plan(plan: Path, onnx_path: Path, options: RepoOptions) -> _Plan:
    """Refuse a plan that Triton could not serve as this model at ``options.max_batch``.

    Refused: not a TensorRT plan from build-engine, built from another ONNX, or a profile smaller than
    the batch.
    """
    if plan.suffix not in (".plan", ".engine") or not plan.is_file():
        raise EdgeferError(f"--plan takes a TensorRT .plan/.engine from build-engine, got {plan}")
    record = read_sidecar(plan)  # a plan without its sidecar, or a changed one, is refused here
    if record.get("runtime") != "tensorrt":
        raise EdgeferError(f"{plan.name} is not a TensorRT plan (runtime {record.get('runtime')})")
    source = file_sha256(onnx_path)
    if record.get("source_onnx_sha256") != source:
        raise EdgeferError(
            f"{plan.name} was built from another model (source sha256 "
            f"{record.get('source_onnx_sha256')}, {onnx_path.name} is {source}): build it from "
            f"{onnx_path.name}"
        )
    profile = _profile_max_batch(record)
    if profile < 1:
        raise EdgeferError(f"{plan.name}: its sidecar records no optimisation profile (max_batch)")
    if options.max_batch > profile:
        raise EdgeferError(
            f"--max-batch {options.max_batch} exceeds the plan's profile (batches 1..{profile}): "
            f"give --max-batch {profile} or rebuild with build-engine --max-batch"
        )
    return _Plan(plan, profile, record)


def write_triton_model(
    onnx_path: str | Path,
    repo: str | Path,
    name: str | None = None,
    options: RepoOptions | None = None,
    plan: str | Path | None = None,
    force: bool = False,
) -> list[Path]:
    """Add one exported ONNX as ``repo/<name>`` (and its TensorRT plan as ``repo/<name>_trt``).

    Returns the files written. Everything is checked before the first file is written, so a refused
    plan leaves the repository as it was.
    """
    options = options or RepoOptions()
    source = Path(onnx_path)
    if source.suffix != ".onnx" or not source.is_file():
        raise EdgeferError(f"a Triton repository takes an exported .onnx model, got {source}")
    name = _check_name(name or source.stem)
    inputs, outputs, meta = _graph(source)
    checked = _check_plan(Path(plan), source, options) if plan is not None else None
    labels, repo = list(meta["class_names"]), Path(repo)
    config = model_config(name, "onnxruntime_onnx", inputs, outputs, meta, options)
    written = _write_model(repo / name, config, "model.onnx", source, labels, force)
    if checked is not None:
        plan_meta = {
            **meta,
            "precision": checked.record.get("precision", "unknown"),
            "backend": "tensorrt",
            "max_batch": checked.max_batch,
            "plan_sha256": checked.record.get("file_sha256"),
        }
        plan_config = model_config(
            name + PLAN_SUFFIX, "tensorrt_plan", inputs, outputs, plan_meta, options, "KIND_GPU"
        )
        written += _write_model(
            repo / (name + PLAN_SUFFIX), plan_config, "model.plan", checked.path, labels, force
        )
    return written
