"""Copy the best model of each finished training run into edgefer/assets/models/, and export it.

Usage: python scripts/ship_models.py [RUNS_DIR] [VARIANT ...]   (default runs/shipped, every variant
with a finished run there)
       python scripts/ship_models.py --respec   (the shipped models' specs rewritten in the current
       spec format, their ONNX files re-exported from the unchanged .keras files, and the shipped
       calibration set's sidecar given the new spec digest: its arrays are FER2013 crops and RAVDESS
       windows, which no crop rule touches)

The optimizer state is dropped (rebuilt from the architecture, weights copied), which keeps the five
models at a few MB; the run's spec and metrics travel with each model. The ONNX export is made from the
shipped ``.keras`` file right away, since its sidecar names that file's hash (a saved ``.keras`` is not
byte-identical from one save to the next).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from edgefer.export import export_model  # noqa: E402
from edgefer.models import build_model  # noqa: E402
from edgefer.models.keras_engine import load_keras  # noqa: E402
from edgefer.shipped import MODELS_DIR  # noqa: E402
from edgefer.spec import FUSIONS, PreprocessSpec  # noqa: E402


def ship(run: Path, variant: str) -> Path:
    config = json.loads((run / "config.json").read_text())
    spec = PreprocessSpec.load(run / "spec.json")
    trained = load_keras(run / "model.keras")
    clean = build_model(variant, config["preset"], spec)
    clean.set_weights(trained.get_weights())
    target = MODELS_DIR / f"{variant}.keras"
    tmp = MODELS_DIR / f".{variant}-partial.keras"
    clean.save(tmp)
    os.replace(tmp, target)
    shutil.copy(run / "spec.json", MODELS_DIR / f"{variant}.spec.json")
    shutil.copy(run / "metrics.json", MODELS_DIR / f"{variant}.metrics.json")
    keras.backend.clear_session()
    export_model(target, MODELS_DIR / f"{variant}.onnx")
    return target


def respec(calibration_only: bool = False) -> None:
    from edgefer.calibration import CalibrationSet, load_calibration, save_calibration
    from edgefer.shipped import CALIBRATION_DIR

    digests = set()
    for variant in FUSIONS:
        spec_path = MODELS_DIR / f"{variant}.spec.json"
        old = json.loads(spec_path.read_text())
        spec = PreprocessSpec.load(spec_path)
        digests.add(spec.digest())
        if calibration_only:
            continue
        spec.save(spec_path)
        export_model(MODELS_DIR / f"{variant}.keras", MODELS_DIR / f"{variant}.onnx")
        keras.backend.clear_session()
        print(f"{variant}: spec version {old.get('version', 1)} -> {spec.version}, re-exported")
    if len(digests) != 1:
        sys.exit(f"the shipped models disagree on their spec ({sorted(digests)})")
    digest = digests.pop()
    for npz in sorted(CALIBRATION_DIR.glob("*.npz")):
        calib = load_calibration(npz)
        meta = dict(calib.meta)
        if "preprocess" in meta:
            meta["preprocess"] = spec.to_dict()
        save_calibration(CalibrationSet(calib.arrays, calib.digest, digest, meta), npz)
        print(f"{npz.name}: spec digest {calib.spec_digest} -> {digest}, arrays unchanged")


def main() -> None:
    if sys.argv[1:] == ["--respec"]:
        respec()
        return
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/shipped")
    chosen = sys.argv[2:] or list(FUSIONS)
    unknown = sorted(set(chosen) - set(FUSIONS))
    if unknown:
        sys.exit(f"unknown variant(s) {', '.join(unknown)}: choose from {', '.join(FUSIONS)}")
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    for variant in chosen:
        run = runs / variant
        if not (run / "metrics.json").is_file():
            print(f"{variant}: no finished run in {run}, skipped")
            continue
        target = ship(run, variant)
        print(f"{variant}: {target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
