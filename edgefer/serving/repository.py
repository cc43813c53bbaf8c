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

from edgefer.engines.artifact import atomic_path, atomic_write_text, read_sidecar
from edgefer.errors import EdgeferError
from edgefer.serving import METADATA_PARAMETER, OUTPUT_NAME

KINDS = {"gpu": "KIND_GPU", "cpu": "KIND_CPU", "auto": "KIND_AUTO"}
_TYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16"}


@dataclass(frozen=True)
class RepoOptions:
    """How Triton should batch and place the model (``--max-batch``, ``--max-queue-delay-us``,
    ``--instances``, ``--kind``)."""

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


def _pb() -> tuple[Any, Any]:
    """(model_config_pb2, text_format), imported only here: they come with tritonclient."""
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2
    except ImportError as exc:
        raise EdgeferError(
            f"a Triton model repository needs tritonclient ({exc}): pip install 'edgefer[client]'"
        ) from None
    return model_config_pb2, text_format


def _graph(onnx_path: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(inputs, outputs, metadata) of an exported ONNX; refused unless axis 0 is the batch."""
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


def model_config(
    name: str,
    platform: str,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    metadata: dict[str, Any],
    options: RepoOptions,
    kind: str | None = None,
) -> Any:
    """The ``ModelConfig`` message of one model (see the module docstring for what it holds)."""
    pb, _ = _pb()
    config = pb.ModelConfig(name=name, platform=platform, max_batch_size=options.max_batch)
    for spec in inputs.values():
        config.input.add(
            name=spec.name,
            data_type=getattr(pb, _TYPES[spec.dtype]),
            dims=[d if d is not None else -1 for d in spec.shape[1:]],
        )
    for spec in outputs.values():
        config.output.add(
            name=spec.name,
            data_type=getattr(pb, _TYPES[spec.dtype]),
            dims=[d if d is not None else -1 for d in spec.shape[1:]],
            label_filename="labels.txt" if spec.name == OUTPUT_NAME else "",
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


def _write_model(
    folder: Path, config: Any, file_name: str, source: Path, labels: list[str], force: bool
) -> list[Path]:
    _, text_format = _pb()
    config_path = folder / "config.pbtxt"
    if config_path.is_file() and not force:
        raise EdgeferError(f"{folder} already holds a model: choose another --name or give --force")
    (folder / "1").mkdir(parents=True, exist_ok=True)
    target = folder / "1" / file_name
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    atomic_write_text(folder / "labels.txt", "".join(f"{label}\n" for label in labels))
    atomic_write_text(config_path, text_format.MessageToString(config))
    return [config_path, target, folder / "labels.txt"]


def write_triton_model(
    onnx_path: str | Path,
    repo: str | Path,
    name: str | None = None,
    options: RepoOptions | None = None,
    plan: str | Path | None = None,
    force: bool = False,
) -> list[Path]:
    """Add one exported ONNX (and optionally its TensorRT plan) to the repository ``repo``; return the
    files written."""
    options = options or RepoOptions()
    source = Path(onnx_path)
    if source.suffix != ".onnx" or not source.is_file():
        raise EdgeferError(f"a Triton repository takes an exported .onnx model, got {source}")
    name = name or source.stem
    if not name or not all(c.isalnum() or c in "._-" for c in name):
        raise EdgeferError(f"a model name may hold letters, digits, '.', '_', '-': {name!r}")
    inputs, outputs, meta = _graph(source)
    labels = list(meta["class_names"])
    repo = Path(repo)
    config = model_config(name, "onnxruntime_onnx", inputs, outputs, meta, options)
    written = _write_model(repo / name, config, "model.onnx", source, labels, force)
    if plan is not None:
        written += _write_plan(
            Path(plan), repo, f"{name}_trt", inputs, outputs, meta, options, force
        )
    return written


def _write_plan(
    plan: Path,
    repo: Path,
    name: str,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    meta: dict[str, Any],
    options: RepoOptions,
    force: bool,
) -> list[Path]:
    if plan.suffix not in (".plan", ".engine") or not plan.is_file():
        raise EdgeferError(f"--plan takes a TensorRT .plan/.engine from build-engine, got {plan}")
    record = read_sidecar(plan)  # a plan without its sidecar, or a changed one, is refused here
    profile = int(record.get("max_batch") or 0)
    if profile < 1:
        raise EdgeferError(f"{plan.name}: its sidecar records no optimisation profile (max_batch)")
    if options.max_batch > profile:
        raise EdgeferError(
            f"--max-batch {options.max_batch} exceeds the plan's profile (batches 1..{profile}): "
            f"give --max-batch {profile} or rebuild with build-engine --max-batch"
        )
    plan_meta = {**meta, "precision": record.get("precision", "unknown"), "backend": "tensorrt"}
    config = model_config(name, "tensorrt_plan", inputs, outputs, plan_meta, options, "KIND_GPU")
    labels = list(meta["class_names"])
    return _write_model(repo / name, config, "model.plan", plan, labels, force)


def check_repository(repo: str | Path) -> list[str]:
    """Problems of every model in ``repo``, as lines (empty: all fine). Each ``config.pbtxt`` is
    parsed with Triton's own protobuf schema and compared with the ONNX it serves."""
    pb, text_format = _pb()
    repo = Path(repo)
    problems: list[str] = []
    configs = sorted(repo.glob("*/config.pbtxt"))
    if not configs:
        return [f"{repo}: no model folder with a config.pbtxt"]
    onnx_by_name: dict[str, Path] = {}
    for path in configs:
        where = path.parent.name
        try:
            config = text_format.Parse(path.read_text(), pb.ModelConfig())
        except text_format.ParseError as exc:
            problems.append(f"{where}: config.pbtxt does not parse: {exc}")
            continue
        if config.name != where:
            problems.append(f"{where}: config names the model {config.name!r}")
        if config.max_batch_size < 1:
            problems.append(f"{where}: max_batch_size {config.max_batch_size} (needs >= 1)")
        if METADATA_PARAMETER not in config.parameters:
            problems.append(f"{where}: no {METADATA_PARAMETER} parameter")
        labels = path.parent / "labels.txt"
        if not labels.is_file():
            problems.append(f"{where}: labels.txt is missing")
        if config.platform == "onnxruntime_onnx":
            onnx = path.parent / "1" / "model.onnx"
            onnx_by_name[where] = onnx
            if not onnx.is_file():
                problems.append(f"{where}: 1/model.onnx is missing")
                continue
            problems += _against_onnx(where, config, onnx, pb)
        elif config.platform == "tensorrt_plan":
            if not (path.parent / "1" / "model.plan").is_file():
                problems.append(f"{where}: 1/model.plan is missing")
        else:
            problems.append(f"{where}: platform {config.platform!r} is not one edgefer writes")
    return problems


def _against_onnx(where: str, config: Any, onnx: Path, pb: Any) -> list[str]:
    inputs, outputs, meta = _graph(onnx)
    problems = []
    for kind, declared, graph in (
        ("input", config.input, inputs),
        ("output", config.output, outputs),
    ):
        got = {t.name: (pb.DataType.Name(t.data_type), list(t.dims)) for t in declared}
        want = {
            s.name: (_TYPES[s.dtype], [d if d is not None else -1 for d in s.shape[1:]])
            for s in graph.values()
        }
        if got != want:
            problems.append(f"{where}: {kind}s {got} do not match the ONNX's {want}")
    labels = (onnx.parent.parent / "labels.txt").read_text().split()
    if labels != list(meta["class_names"]):
        problems.append(f"{where}: labels.txt {labels} is not the model's {meta['class_names']}")
    return problems
