"""``edgefer train`` for real on small real subsets: run folder, resume, determinism, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgefer.spec import PreprocessSpec, preset_spec
from tests.cli_helpers import error_lines, run_cli

pytestmark = pytest.mark.slow
SMALL = ["--epochs", "1", "--limit-per-class", "8", "--batch-size", "8"]


def _load_model(path: Path):
    import keras

    return keras.models.load_model(path)


@pytest.fixture(scope="module")
def middle_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "middle"
    result = run_cli("train", "--fusion", "middle", *SMALL, "--output", str(run))
    assert result.returncode == 0, result.stderr[-2000:]
    return run


def test_train_writes_every_file_of_the_run_folder(middle_run):
    for name in (
        "config.json",
        "spec.json",
        "model.keras",
        "checkpoint.keras",
        "state.json",
        "metrics.json",
        "history.json",
        "confusion.png",
        "confusion_test_masked.png",
    ):
        assert (middle_run / name).is_file(), name
    assert PreprocessSpec.load(middle_run / "spec.json") == preset_spec("edge")
    image = cv2.imread(str(middle_run / "confusion.png"))
    assert image is not None and image.shape[0] > 200


def test_metrics_carry_accuracy_f1_per_class_and_n(middle_run):
    metrics = json.loads((middle_run / "metrics.json").read_text())
    assert metrics["fusion"] == "middle" and metrics["preset"] == "edge"
    masked = metrics["sets"]["test_masked"]
    assert masked["n"] == 24  # 8 test faces per class
    assert sum(masked["per_class_n"].values()) == 24
    assert set(masked["per_class_recall"]) == {"negative", "neutral", "positive"}
    assert np.asarray(masked["confusion_matrix"]).sum() == 24
    assert 0.0 <= masked["accuracy"] <= 1.0 and 0.0 <= masked["macro_f1"] <= 1.0
    assert "per_group" in masked  # per voice actor
    assert {"test_unmasked", "test_masked_random_voice", "val"} <= set(metrics["sets"])


def test_saved_model_predicts_probabilities_for_named_inputs(middle_run):
    model = _load_model(middle_run / "model.keras")
    spec = PreprocessSpec.load(middle_run / "spec.json")
    batch = {
        name: np.full((2, *spec.input_shape(name)), 0.5, np.float32) for name in ("face", "voice")
    }
    probs = np.asarray(model.predict_on_batch(batch))
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_resume_continues_from_the_last_epoch(middle_run, tmp_path):
    run = tmp_path / "middle"
    shutil.copytree(middle_run, run)
    first = json.loads((run / "state.json").read_text())["history"][0]
    result = run_cli(
        "train",
        "--fusion",
        "middle",
        *SMALL[:0],
        "--epochs",
        "2",
        "--limit-per-class",
        "8",
        "--batch-size",
        "8",
        "--output",
        str(run),
        "--resume",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert state["history"][0] == first


def test_a_run_stopped_without_its_checkpoint_still_writes_its_reports(middle_run, tmp_path):
    """A run cut off on a lent machine brings back model.keras + state.json, not the optimizer
    checkpoint: resuming it at its finished epoch count writes the reports; asking for more epochs
    says how to finish instead of a traceback."""
    run = tmp_path / "middle"
    shutil.copytree(middle_run, run)
    for name in ("checkpoint.keras", "metrics.json", "history.json"):
        (run / name).unlink()
    common = ["train", "--fusion", "middle", "--limit-per-class", "8", "--batch-size", "8"]
    more = run_cli(*common, "--epochs", "2", "--output", str(run), "--resume")
    assert more.returncode == 2 and "--epochs 1" in error_lines(more)[-1]
    done = run_cli(*common, "--epochs", "1", "--output", str(run), "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    fresh = json.loads((run / "metrics.json").read_text())
    original = json.loads((middle_run / "metrics.json").read_text())
    assert fresh["sets"]["test_masked"]["accuracy"] == original["sets"]["test_masked"]["accuracy"]
    assert json.loads((run / "history.json").read_text()) == json.loads(
        (middle_run / "history.json").read_text()
    )


def test_resume_with_other_settings_and_overwriting_are_refused(middle_run):
    other_seed = run_cli(
        "train",
        "--fusion",
        "middle",
        *SMALL,
        "--seed",
        "7",
        "--output",
        str(middle_run),
        "--resume",
    )
    assert other_seed.returncode == 2
    assert "cannot resume" in error_lines(other_seed)[-1]
    overwrite = run_cli("train", "--fusion", "middle", *SMALL, "--output", str(middle_run))
    assert overwrite.returncode == 2 and "not empty" in error_lines(overwrite)[-1]


def test_same_seed_gives_identical_weights_and_another_seed_does_not(tmp_path):
    args = [
        "train",
        "--fusion",
        "face",
        "--epochs",
        "1",
        "--limit-per-class",
        "6",
        "--batch-size",
        "6",
        "--seed",
        "3",
    ]
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        result = run_cli(*args[:-1], seed, "--output", str(tmp_path / name))
        assert result.returncode == 0, result.stderr[-2000:]
    a, b, c = (_load_model(tmp_path / n / "model.keras").get_weights() for n in "abc")
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    metrics = [json.loads((tmp_path / n / "metrics.json").read_text())["sets"] for n in "ab"]
    assert metrics[0] == metrics[1]


def _small_face_tree(fer_dir: Path, root: Path, per_class: int = 6) -> Path:
    for split in ("train", "val"):
        for emotion in ("angry", "neutral", "happy"):
            target = root / split / emotion
            target.mkdir(parents=True)
            for src in sorted((fer_dir / split / emotion).glob("*.jpg"))[:per_class]:
                shutil.copy(src, target / src.name)
    return root


def test_corrupt_image_is_skipped_and_counted_not_fatal(fer_dir, tmp_path):
    faces = _small_face_tree(fer_dir, tmp_path / "faces")
    (faces / "train" / "happy" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    result = run_cli(
        "train",
        "--fusion",
        "face",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--faces",
        str(faces),
        "--output",
        str(tmp_path / "run"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "broken.jpg" in result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["skipped_files"] == 1


def test_empty_class_folder_is_one_line_and_exit_2(fer_dir, tmp_path):
    faces = _small_face_tree(fer_dir, tmp_path / "faces")
    for image in (faces / "train" / "neutral").glob("*.jpg"):
        image.unlink()
    result = run_cli(
        "train", "--fusion", "face", "--faces", str(faces), "--output", str(tmp_path / "run")
    )
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "neutral" in lines[0]
