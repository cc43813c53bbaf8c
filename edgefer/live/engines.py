"""Which engines the live loop runs.

The shipped middle fusion at the asked precision (built once and cached), the shipped face and voice
models for when one modality is missing, or the user's own.

Kept apart from the loop because the demo, the benchmarks and ``edgefer bench --pipeline`` choose
engines the same way without running the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgefer.engines.kinds import check_precision
from edgefer.errors import EdgeferError
from edgefer.spec import PreprocessSpec

if TYPE_CHECKING:
    from edgefer.live.config import RunConfig

NONE_WORDS = ("none", "off", "")


def default_engine(
    precision: str = "auto",
    engines_dir: str | Path = "engines",
    log: Callable[[str], None] | None = None,
    threads: int | None = None,
    max_drop: float | None = None,
) -> tuple[Path, str | None]:
    """The shipped middle-fusion model at ``precision``, for ONNX Runtime.

    Returns (engine path, fall-back note).

    ``auto`` is the fastest precision on this machine that passes the accuracy check
    (:mod:`edgefer.engines.auto_precision`, measured once with ``threads`` and reused); the log says
    which one and why.

    FP32 is the shipped ONNX itself. INT8 (calibrated on the set shipped for the model's
    preprocessing, which ``build_engine`` picks) and FP16 are built once
    by :func:`~edgefer.engines.build.build_engine`, checked against FP32 on the held-out real set, and
    reused from ``engines_dir`` by cache key afterwards. When that cannot be done (the build is
    rejected, or the held-out data is not on this machine) the shipped FP32 ONNX runs instead and the
    note says why -- a demo on a fresh machine should run, and say what it ran.
    """
    from edgefer.shipped import shipped_path

    check_precision(precision, allow_auto=True)
    source = shipped_path("middle", ".onnx")
    if precision == "fp32":
        return source, None
    if precision == "auto":
        from edgefer.engines.auto_precision import AUTO_MAX_DROP, choose_precision, describe

        floor = AUTO_MAX_DROP if max_drop is None else max_drop
        try:
            choice = choose_precision(
                source, "onnxruntime", engines_dir, floor, threads=threads, log=log
            )
        except EdgeferError as exc:
            return source, f"precision auto failed ({exc}); running the shipped FP32 ONNX"
        if log is not None:
            log(describe(choice))
        return choice.path, None
    from edgefer.engines.build import build_engine

    if log is not None and not any(
        Path(engines_dir).glob(f"middle-onnxruntime-{precision}-*.onnx")
    ):
        log(
            f"building the {precision.upper()} engine of the shipped middle model once (checked "
            f"against FP32 on held-out data, ~30 s on 2 cores); cached in {engines_dir}/"
        )

    try:
        built = build_engine(
            source, precision, "onnxruntime", max_drop=1.0 if max_drop is None else max_drop,
            engines_dir=engines_dir,
        )  # fmt: skip
    except EdgeferError as exc:  # rejected, no held-out data here, unwritable cache, ...
        return source, f"no {precision.upper()} engine ({exc}); running the shipped FP32 ONNX"
    return built.path, None


def _open_one(path: Path | str, threads: int | None) -> Any:
    """A file or a served model; a TensorRT plan that no longer fits this machine is rebuilt."""
    from edgefer.engines.rebuild import open_or_rebuild

    return open_or_rebuild(path, threads)


def _given(value: Path | str | None) -> Path | str | None | bool:
    """A path, a remote model URL (kept as text), None (use the default), or False (``"none"``)."""
    from edgefer.engines.triton import is_remote

    if value is None:
        return None
    if str(value).strip().lower() in NONE_WORDS:
        return False
    return str(value) if is_remote(value) else Path(value)


def open_engines(
    config: RunConfig, log: Callable[[str], None] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The engines ``config`` asks for, by role (fused, face, voice), and the fall-back notes."""
    from edgefer.shipped import shipped_path

    notes: list[str] = []
    paths: dict[str, Path | str] = {}
    fused = _given(config.engine)
    if fused is None:
        fused, note = default_engine(
            config.precision, config.engines_dir, log, config.threads, config.max_drop
        )
        notes += [note] if note else []
    if fused:
        paths["fused"] = fused
    for role, value in (("face", config.face_engine), ("voice", config.voice_engine)):
        chosen = _given(value)
        if chosen is None:
            chosen = shipped_path(role, ".onnx")
        if chosen:
            paths[role] = chosen
    if not paths:
        raise EdgeferError(
            "every engine is switched off: give --engine, --face-engine or --voice-engine"
        )
    engines: dict[str, Any] = {}
    try:
        for role, path in paths.items():
            engines[role] = _open_one(path, config.threads)
    except BaseException:
        for engine in engines.values():
            engine.close()
        raise
    return engines, notes


def spec_of_engine(engine: Any) -> PreprocessSpec:
    from edgefer.onnx_meta import spec_of

    return spec_of(engine.metadata)


def shared_voice_spec(engines: dict[str, Any]) -> PreprocessSpec | None:
    """The one audio preprocessing every voice-taking engine shares.

    None when no engine takes voice.
    """
    specs = {role: spec_of_engine(e) for role, e in engines.items() if "voice" in e.inputs}
    if not specs:
        return None
    keys = {(s.voice, s.image_size) for s in specs.values()}
    if len(keys) > 1:
        raise EdgeferError(
            f"the {' and '.join(specs)} engines expect different audio preprocessing; "
            "use engines trained with the same voice spec"
        )
    return next(iter(specs.values()))
