"""Calibration sets from real training data: contents, batches, fit checks, storage, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edgefer.calibration import (
    CalibrationSet,
    build_calibration_set,
    load_calibration,
    save_calibration,
)
from edgefer.engines.artifact import read_sidecar, sidecar_path
from edgefer.engines.base import TensorSpec
from edgefer.errors import EdgeferError
from edgefer.evalsets import heldout_set
from edgefer.spec import preset_spec
from tests.cli_helpers import error_lines, run_cli

pytestmark = pytest.mark.slow
SPECS = {
    "face": TensorSpec("face", (None, 64, 64, 1)),
    "voice": TensorSpec("voice", (None, 64, 64, 1)),
}


@pytest.fixture(scope="module")
def loaded(calib_set: Path) -> CalibrationSet:
    return load_calibration(calib_set)


def test_set_holds_300_masked_training_pairs_of_matching_classes(loaded):
    assert len(loaded) == 300 and loaded.input_names == ("face", "voice")
    for name in ("face", "voice"):
        array = loaded.arrays[name]
        assert array.shape == (300, 64, 64, 1) and array.dtype == np.float32
        assert array.min() >= 0.0 and array.max() <= 1.0 and array.std() > 0.05
    meta = loaded.meta
    assert meta["split"] == "train" and meta["mask_fraction"] == 0.8
    assert sum(meta["class_counts"].values()) == 300
    assert meta["distinct"]["face"] == 300  # every face a different real image
    counts = meta["class_counts"]
    assert counts["negative"] > counts["positive"] > counts["neutral"]  # training's class mix
    assert loaded.spec_digest == preset_spec("edge").digest()


def test_calibration_samples_never_come_from_the_held_out_sets(loaded):
    faces, voices = loaded.meta["samples"]["face"], loaded.meta["samples"]["voice"]
    assert all(Path(f).name.startswith("Training_") for f in faces)  # not FER2013 val
    held_out = {f"Actor_{a}" for a in range(15, 21)}  # validation and test actors
    assert not any(v.split("/")[0] in held_out for v in voices)
    assert not any(Path(v).name.startswith(("1001_", "1002_")) for v in voices)


def test_save_load_round_trip_keeps_digest_and_float16_storage(loaded, calib_set, tmp_path):
    with np.load(calib_set) as npz:
        assert npz["face"].dtype == np.float16 and set(npz.files) == {"face", "voice", "_meta"}
    again = save_calibration(loaded, tmp_path / "copy.npz")
    assert load_calibration(again).digest == loaded.digest
    assert read_sidecar(again)["digest"] == loaded.digest
    assert calib_set.stat().st_size < 300 * 2 * 64 * 64 * 2  # float16, compressed


def test_a_set_given_a_new_spec_digest_records_it_over_its_old_meta(loaded, tmp_path):
    """Re-specced sets (a new spec format, same arrays) keep the new digest, not the old copy that
    their free-form metadata still carries."""
    moved = CalibrationSet(loaded.arrays, loaded.digest, "0123456789abcdef", dict(loaded.meta))
    path = save_calibration(moved, tmp_path / "respec.npz")
    assert read_sidecar(path)["spec_digest"] == "0123456789abcdef"
    assert load_calibration(path).spec_digest == "0123456789abcdef"


def test_batches_are_full_deterministic_and_select_inputs(loaded):
    first = list(loaded.batches(32, ["face"]))
    assert len(first) == 9 and all(set(b) == {"face"} and len(b["face"]) == 32 for b in first)
    second = list(loaded.batches(32, ["face"]))
    assert all(np.array_equal(a["face"], b["face"]) for a, b in zip(first, second, strict=True))
    assert sum(len(b["voice"]) for b in loaded.batches(30)) == 300
    with pytest.raises(EdgeferError, match="no input"):
        next(loaded.batches(8, ["image"]))


def test_check_fits_refuses_wrong_names_shapes_and_too_few(loaded):
    loaded.check_fits(SPECS, 300)
    loaded.check_fits({"face": SPECS["face"]}, 100)  # the face half serves a face model
    with pytest.raises(EdgeferError, match="fewer than the 500"):
        loaded.check_fits(SPECS, 500)
    with pytest.raises(EdgeferError, match="needs"):
        loaded.check_fits({"image": TensorSpec("image", (None, 64, 64, 1))}, 10)
    with pytest.raises(EdgeferError, match="per sample"):
        loaded.check_fits({"face": TensorSpec("face", (None, 224, 224, 1))}, 10)


def test_building_twice_with_one_seed_gives_the_same_set():
    spec = preset_spec("edge")
    a = build_calibration_set(spec, n=12, seed=5, inputs=["face"])
    b = build_calibration_set(spec, n=12, seed=5, inputs=["face"])
    c = build_calibration_set(spec, n=12, seed=6, inputs=["face"])
    assert a.digest == b.digest != c.digest


def test_asking_for_more_samples_than_exist_is_refused_not_shrunk(fer_dir, tmp_path):
    for split in ("train", "val"):
        for emotion in ("angry", "neutral", "happy"):
            folder = tmp_path / "faces" / split / emotion
            folder.mkdir(parents=True)
            for src in sorted((fer_dir / split / emotion).glob("*.jpg"))[:5]:
                shutil.copy(src, folder / src.name)
    with pytest.raises(EdgeferError, match="fewer than the 40"):
        build_calibration_set(preset_spec("edge"), n=40, faces_root=tmp_path / "faces",
                              inputs=["face"])  # fmt: skip


def test_truncated_or_edited_sets_are_refused(calib_set, tmp_path):
    data = calib_set.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(EdgeferError, match="corrupt or truncated"):
        load_calibration(truncated)
    shutil.copy(sidecar_path(calib_set), sidecar_path(truncated))
    with pytest.raises(EdgeferError, match="does not match its metadata"):
        load_calibration(truncated)


def test_a_set_of_the_wrong_shape_cannot_be_made_with_mixed_sizes():
    with pytest.raises(EdgeferError, match="different numbers"):
        CalibrationSet.from_arrays(
            {"face": np.zeros((4, 8, 8, 1)), "voice": np.zeros((3, 8, 8, 1))}, "x"
        )
    with pytest.raises(EdgeferError, match="N x H x W x C"):
        CalibrationSet.from_arrays({"face": np.zeros((4, 8, 8))}, "x")


def test_heldout_set_is_masked_fer_val_with_test_actor_voices():
    spec = preset_spec("edge")
    data = heldout_set(spec, ["face", "voice"], limit_per_class=4)
    assert len(data) == 12 and set(data.inputs) == {"face", "voice"}
    assert {g.split(":")[0] for g in data.groups} <= {"ravdess", "cremad"}
    assert all(g in {"ravdess:17", "ravdess:18", "ravdess:19", "ravdess:20", "cremad:1001",
                     "cremad:1002"} for g in data.groups)  # fmt: skip


def test_calibrate_command_writes_the_set_and_prints_its_summary(tmp_path):
    out = tmp_path / "edge-30.npz"
    result = run_cli("calibrate", "edge", "-n", "30", "--seed", "2", "-o", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    calib = load_calibration(out)
    assert len(calib) == 30 and calib.meta["seed"] == 2
    assert calib.digest in result.stdout and "negative" in result.stdout


def test_calibrate_command_refuses_an_impossible_size(tmp_path):
    result = run_cli("calibrate", "edge", "-n", "100000", "-o", str(tmp_path / "x.npz"))
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "fewer than the 100000" in lines[0]
    assert not (tmp_path / "x.npz").exists()
