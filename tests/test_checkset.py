"""The shipped check set: what it holds, that it is refused for another preprocessing, and that the
accuracy guard of ``build-engine`` and ``bench`` falls back to it only when the dataset is absent.

No TensorFlow needed: these run in CI's Python 3.10 runtime job too.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgefer.checkset import CHECKSET_DIR, checkset_path, heldout_for, load_checkset
from edgefer.data.evalset import heldout_mask_seed
from edgefer.errors import EdgeferError
from edgefer.paths import data_root
from edgefer.shipped import shipped_spec
from tests.markers import needs_full_data

SHIPPED_DIGEST = "7863d73f06442589"


@pytest.fixture(scope="module")
def shipped() -> Path:
    path = checkset_path(shipped_spec("middle").digest())
    assert path.is_file(), f"no shipped check set for the shipped models' spec at {path}"
    return path


@pytest.fixture
def no_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """EDGEFER_DATA pointing at an empty folder: an install without the dataset."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    monkeypatch.setenv("EDGEFER_DATA", str(empty))
    return empty


def test_shipped_check_set_is_small_balanced_and_described(shipped: Path) -> None:
    assert shipped_spec("middle").digest() == SHIPPED_DIGEST
    assert shipped.stat().st_size <= 5_000_000
    side = json.loads(shipped.with_name(shipped.name + ".json").read_text())
    assert side["kind"] == "checkset"
    assert side["spec_digest"] == SHIPPED_DIGEST
    assert side["builder"] == "edgefer.evalsets.heldout_set"
    assert side["mask_fraction"] == 1.0 and side["stored_dtype"] == "float16"
    assert side["mask_seed"] == heldout_mask_seed(side["seed"])
    assert {"seed", "edgefer_version", "faces_root", "voices_roots", "voice_test_actors"} <= set(
        side
    )
    assert set(side["class_counts"].values()) == {side["per_class"]}
    assert side["n"] == sum(side["class_counts"].values())
    data, info = load_checkset(shipped, SHIPPED_DIGEST, ["face", "voice"])
    assert info.source == "checkset" and info.n == len(data) == side["n"]
    for x in data.inputs.values():
        assert x.dtype == np.float32 and x.shape[1:] == (64, 64, 1)
        assert x.min() >= 0.0 and x.max() <= 1.0
    assert np.bincount(data.y).tolist() == [side["per_class"]] * len(side["class_counts"])


def test_check_set_with_another_spec_digest_is_refused_in_one_line(shipped: Path) -> None:
    with pytest.raises(EdgeferError) as err:
        load_checkset(shipped, "0123456789abcdef", ["face"])
    message = str(err.value)
    assert "\n" not in message
    assert SHIPPED_DIGEST in message and "0123456789abcdef" in message


def test_edited_check_set_is_refused(shipped: Path, tmp_path: Path) -> None:
    copy = tmp_path / shipped.name
    shutil.copy(shipped, copy)
    shutil.copy(shipped.with_name(shipped.name + ".json"), tmp_path / (shipped.name + ".json"))
    copy.write_bytes(copy.read_bytes()[:-100])
    with pytest.raises(EdgeferError):
        load_checkset(copy, SHIPPED_DIGEST, ["face"])


def test_without_dataset_the_guard_uses_the_shipped_set(shipped: Path, no_dataset: Path) -> None:
    data, info = heldout_for(shipped_spec("face"), ["face"])
    assert info.source == "checkset" and info.path == str(shipped)
    assert list(data.inputs) == ["face"] and info.n == len(data)


def test_without_dataset_another_spec_is_refused(no_dataset: Path) -> None:
    spec = shipped_spec("middle")
    other = dataclasses.replace(spec, voice=dataclasses.replace(spec.voice, top_db=70.0))
    assert other.digest() != SHIPPED_DIGEST
    with pytest.raises(EdgeferError, match="was made with preprocessing"):
        heldout_for(other, ["face", "voice"])


@pytest.mark.skipif(not data_root(required=False).is_dir(), reason="needs the dataset")
def test_with_dataset_the_larger_set_is_used() -> None:
    data, info = heldout_for(shipped_spec("middle"), ["face"], limit_per_class=2)
    assert info.source == "dataset" and info.path is None and len(data) == 6


@pytest.mark.skipif(not data_root(required=False).is_dir(), reason="needs the dataset")
@needs_full_data  # the shipped slice comes from the full val set and test actors' clips
def test_check_set_is_the_builders_held_out_set(shipped: Path) -> None:
    """Rebuilt from the dataset by the same builder, the slice is the shipped one (float16-rounded):
    the faces are masked exactly as the test set's."""
    from edgefer.evalsets import heldout_set

    side = json.loads(shipped.with_name(shipped.name + ".json").read_text())
    rebuilt = heldout_set(
        shipped_spec("middle"), ["face", "voice"], side["per_class"], side["seed"]
    )
    data, _ = load_checkset(shipped, SHIPPED_DIGEST, ["face", "voice"])
    assert np.array_equal(rebuilt.y, data.y)
    for name in ("face", "voice"):
        np.testing.assert_allclose(data.inputs[name], rebuilt.inputs[name], atol=5e-4)


def test_check_set_folder_ships_only_check_sets() -> None:
    for path in CHECKSET_DIR.glob("*.npz"):
        assert path.with_name(path.name + ".json").is_file()
