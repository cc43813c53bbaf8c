"""The trained edge models shipped inside the package, so a fresh machine runs offline.

``edgefer/assets/models/<variant>.keras`` (weights only, no optimizer state), ``<variant>.onnx`` once
exported, ``<variant>.spec.json`` (the preprocessing spec) and ``<variant>.metrics.json`` (the test
figures of the run that made it). Models trained on FER2013 / RAVDESS / CREMA-D inherit their
non-commercial licences (see README).
"""

from __future__ import annotations

from pathlib import Path

from edgefer.errors import EdgeferError
from edgefer.spec import FUSIONS, PreprocessSpec

MODELS_DIR = Path(__file__).resolve().parent / "assets" / "models"
CALIBRATION_DIR = Path(__file__).resolve().parent / "assets" / "calibration"


def shipped_path(variant: str, suffix: str = ".keras") -> Path:
    """Path of a shipped artefact, e.g. ``shipped_path("middle", ".onnx")``."""
    if variant not in FUSIONS:
        raise EdgeferError(f"no shipped model {variant!r}: choose one of {', '.join(FUSIONS)}")
    path = MODELS_DIR / f"{variant}{suffix}"
    if not path.is_file():
        raise EdgeferError(
            f"shipped file missing: {path} (reinstall edgefer or run make train-all)"
        )
    return path


def shipped_spec(variant: str) -> PreprocessSpec:
    return PreprocessSpec.load(shipped_path(variant, ".spec.json"))


def shipped_variants() -> list[str]:
    """Variants whose Keras model is shipped, in the paper's order."""
    return [v for v in FUSIONS if (MODELS_DIR / f"{v}.keras").is_file()]


def shipped_calibration(spec_digest: str) -> Path | None:
    """The shipped calibration set made with preprocessing ``spec_digest``, if one is shipped.

    INT8 builds of the shipped models use it by default, so a Jetson without the training data
    builds the same engine as this machine.
    """
    import json

    for sidecar in sorted(CALIBRATION_DIR.glob("*.npz.json")):
        try:
            digest = json.loads(sidecar.read_text()).get("spec_digest")
        except (OSError, ValueError):
            continue
        npz = sidecar.with_suffix("")
        if digest == spec_digest and npz.is_file():
            return npz
    return None
