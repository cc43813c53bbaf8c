"""The legacy calibrator's feeder: batching over real preprocessed faces and the digest-keyed cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgefer.calibration import CalibrationSet
from edgefer.engines.trt_calibrator import CalibrationFeeder, make_entropy_calibrator
from edgefer.engines.trt_module import tensorrt_installed
from edgefer.errors import EdgeferError
from tests.engines.trt_helpers import face_calibration_set, real_faces


@pytest.fixture(scope="module")
def faces(fer_dir: Path) -> np.ndarray:
    return real_faces(fer_dir, 22)


@pytest.fixture(scope="module")
def calib(faces: np.ndarray) -> CalibrationSet:
    return face_calibration_set(faces)


def test_feeder_gives_full_batches_in_order_then_none(
    calib: CalibrationSet, tmp_path: Path
) -> None:
    faces = calib.arrays["face"]  # the set's own (float16-rounded) copy of the real faces
    feeder = CalibrationFeeder(calib, ["face"], batch_size=4, cache_dir=tmp_path)
    assert feeder.n_batches == len(faces) // 4 == 5
    served = []
    while (batch := feeder.next_batch()) is not None:
        assert list(batch) == ["face"]
        array = batch["face"]
        assert array.shape == (4, 64, 64, 1) and array.dtype == np.float32
        assert array.flags.c_contiguous
        served.append(array)
    assert len(served) == feeder.batches_served == 5  # the 2-sample tail is dropped
    np.testing.assert_array_equal(np.concatenate(served), faces[:20])
    assert feeder.next_batch() is None  # stays exhausted until reset
    feeder.reset()
    np.testing.assert_array_equal(feeder.next_batch()["face"], faces[:4])


def test_feeder_batches_are_deterministic_across_feeders(
    calib: CalibrationSet, tmp_path: Path
) -> None:
    first = CalibrationFeeder(calib, ["face"], 8, tmp_path)
    second = CalibrationFeeder(calib, ["face"], 8, tmp_path)
    for _ in range(first.n_batches):
        np.testing.assert_array_equal(first.next_batch()["face"], second.next_batch()["face"])
    assert first.next_batch() is None and second.next_batch() is None


def test_feeder_serves_two_inputs_by_name(faces: np.ndarray, tmp_path: Path) -> None:
    both = face_calibration_set(faces, voice=faces[::-1].copy())  # a second, distinct input
    faces, voices = both.arrays["face"], both.arrays["voice"]
    feeder = CalibrationFeeder(both, ["voice", "face"], 5, tmp_path)
    batch = feeder.next_batch()
    assert set(batch) == {"face", "voice"}
    np.testing.assert_array_equal(batch["voice"], voices[:5])
    np.testing.assert_array_equal(batch["face"], faces[:5])


def test_feeder_refuses_too_small_sets_and_missing_inputs(
    calib: CalibrationSet, tmp_path: Path
) -> None:
    with pytest.raises(EdgeferError, match="fewer than one batch of 32"):
        CalibrationFeeder(calib, ["face"], 32, tmp_path)
    with pytest.raises(EdgeferError, match="batch size must be >= 1"):
        CalibrationFeeder(calib, ["face"], 0, tmp_path)
    feeder = CalibrationFeeder(calib, ["face", "voice"], 4, tmp_path)
    with pytest.raises(EdgeferError, match="no input '?voice"):
        feeder.next_batch()


def test_cache_is_named_and_keyed_by_the_set_digest(
    calib: CalibrationSet, faces: np.ndarray, tmp_path: Path
) -> None:
    feeder = CalibrationFeeder(calib, ["face"], 4, tmp_path, model_key="a1b2c3")
    assert feeder.read_cache() is None  # nothing yet
    payload = b"TRT-8601-EntropyCalibration2\nface: 3c010a14\n"
    path = feeder.write_cache(payload)
    assert path.name == f"trt-calib-{calib.digest}-a1b2c3.cache" and path.is_file()
    assert CalibrationFeeder(calib, ["face"], 4, tmp_path, model_key="a1b2c3").read_cache() == (
        payload
    )

    other = face_calibration_set(faces[1:])  # one face fewer: another digest
    assert other.digest != calib.digest
    other_feeder = CalibrationFeeder(other, ["face"], 4, tmp_path, model_key="a1b2c3")
    assert other_feeder.cache_path != path and other_feeder.read_cache() is None
    # Even under the other set's file name, a cache made from this set is not served to it.
    other_feeder.cache_path.write_bytes(path.read_bytes())
    assert other_feeder.read_cache() is None
    # Nor to another model (its tensors have other names and ranges).
    other_model = CalibrationFeeder(calib, ["face"], 4, tmp_path, model_key="ffff")
    other_model.cache_path.write_bytes(path.read_bytes())
    assert other_model.read_cache() is None


def test_cache_without_header_or_payload_is_ignored(calib: CalibrationSet, tmp_path: Path) -> None:
    feeder = CalibrationFeeder(calib, ["face"], 4, tmp_path)
    feeder.cache_path.write_bytes(b"TRT-8601-EntropyCalibration2\nface: 3c010a14\n")
    assert feeder.read_cache() is None  # a bare TensorRT cache: provenance unknown
    feeder.write_cache(b"")
    assert feeder.read_cache() is None


@pytest.mark.skipif(tensorrt_installed(), reason="TensorRT present")
def test_calibrator_needs_tensorrt(calib: CalibrationSet, tmp_path: Path) -> None:
    feeder = CalibrationFeeder(calib, ["face"], 4, tmp_path)
    with pytest.raises(EdgeferError, match="TensorRT is not installed"):
        make_entropy_calibrator(feeder, buffers=None)  # type: ignore[arg-type]


def test_tensorrt_11_has_no_calibrator_to_make(
    calib: CalibrationSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.engines.fake_tensorrt import install

    install(monkeypatch, "11")
    feeder = CalibrationFeeder(calib, ["face"], 4, tmp_path)
    with pytest.raises(
        EdgeferError, match=r"TensorRT 11\.0\.0 has no calibrator \(removed in 11\)"
    ):
        make_entropy_calibrator(feeder, buffers=None)  # type: ignore[arg-type]
