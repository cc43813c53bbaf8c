"""Shared test fixtures: the real data folder and small real subsets of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgefer.paths import data_root
from tests.slow_guard import (  # noqa: F401  (a hook and an autouse fixture, used by pytest)
    _no_training_unless_slow,
    pytest_collection_modifyitems,
)

# A fresh clone has no ../shared/data: the tests then run on the small real sample shipped in
# tests/data/sample (README there). Set here, at import, before any test module is collected, and in
# the environment, so the CLI the tests start in subprocesses reads the same data. The product itself
# never falls back to test data: only the test session does.
SAMPLE_DATA = Path(__file__).resolve().parent / "data" / "sample"
FELL_BACK = not os.environ.get("EDGEFER_DATA") and not data_root(required=False).is_dir()
if FELL_BACK:
    os.environ["EDGEFER_DATA"] = str(SAMPLE_DATA)

# The sample's files and its make_sample.py are data, not tests.
collect_ignore = ["data/sample"]


def pytest_report_header(config: pytest.Config) -> str:
    """Say which data the session reads: the full folder or the sample decide what runs and skips."""
    from tests.markers import FULL_DATA

    root = data_root(required=False)
    if not root.is_dir():
        return f"edgefer data: {root} (missing)"
    kind = "full data" if FULL_DATA else "small test sample: full-data-only tests skip"
    if FELL_BACK:
        how = "no $EDGEFER_DATA and no ../shared/data: the shipped sample"
    else:
        how = "$EDGEFER_DATA" if os.environ.get("EDGEFER_DATA") else "../shared/data"
    return f"edgefer data: {root} ({kind}; from {how})"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root(required=False)
    if not root.is_dir():
        pytest.fail(f"real test data missing at {root}; set EDGEFER_DATA")
    return root


@pytest.fixture(scope="session")
def fer_dir(data_dir: Path) -> Path:
    return data_dir / "faces" / "fer2013"


@pytest.fixture(scope="session")
def ravdess_dir(data_dir: Path) -> Path:
    return data_dir / "voice" / "ravdess"


@pytest.fixture(scope="session")
def cremad_dir(data_dir: Path) -> Path:
    return data_dir / "voice" / "cremad"


# Real trained models for the export / engine tests: one short run of the real CLI per session
# (a fusion model with both inputs and a one-input face model), exported with the real CLI.
SMALL_MIDDLE = ["--epochs", "1", "--limit-per-class", "40", "--batch-size", "16"]
SMALL_FACE = ["--epochs", "1", "--limit-per-class", "10", "--batch-size", "10"]


def _train_and_export(tmp_path_factory, fusion: str, args: list[str]):
    # Training and export need the train extra; CI's runtime job (no TensorFlow) skips these tests.
    pytest.importorskip("tensorflow", reason="trains and exports a model: needs TensorFlow")
    from tests.cli_helpers import run_cli

    run = tmp_path_factory.mktemp("trained") / fusion
    trained = run_cli("train", "--fusion", fusion, *args, "--output", str(run))
    assert trained.returncode == 0, trained.stderr[-2000:]
    exported = run_cli("export", str(run))
    assert exported.returncode == 0, exported.stderr[-2000:]
    return run, exported


@pytest.fixture(scope="session")
def trained_middle(tmp_path_factory):
    """(run folder, completed `edgefer export` process); the ONNX is ``run / "model.onnx"``."""
    return _train_and_export(tmp_path_factory, "middle", SMALL_MIDDLE)


@pytest.fixture(scope="session")
def trained_face(tmp_path_factory):
    return _train_and_export(tmp_path_factory, "face", SMALL_FACE)


@pytest.fixture(scope="session")
def calib_set(tmp_path_factory, trained_middle):
    """A real 300-sample calibration set for the middle model's spec, saved with its sidecar."""
    from edgefer.calibration import build_calibration_set, save_calibration
    from edgefer.spec import PreprocessSpec

    spec = PreprocessSpec.load(trained_middle[0] / "spec.json")
    path = tmp_path_factory.mktemp("calibration") / "train-300.npz"
    save_calibration(build_calibration_set(spec, n=300, seed=0), path)
    return path
