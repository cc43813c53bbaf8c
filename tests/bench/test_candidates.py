"""Which engines a benchmark picks: the model argument's forms, ``--engines`` lists, and Keras being
optional (a Jetson has no TensorFlow: the Keras rows are skipped with a note, never an error)."""

from __future__ import annotations

import importlib.util

import pytest

from edgefer.bench.candidates import default_calibration, load_source, parse_engines
from edgefer.errors import EdgeferError
from edgefer.shipped import shipped_path
from tests.markers import needs_tensorflow


@pytest.fixture(scope="module")
def middle():
    return load_source(shipped_path("middle", ".onnx"))


@needs_tensorflow
def test_shipped_name_and_path_resolve_to_the_same_model(middle):
    by_name = load_source("middle")
    assert by_name.onnx == middle.onnx and by_name.label == "middle"
    assert middle.keras == shipped_path("middle", ".keras").resolve()
    assert set(middle.inputs) == {"face", "voice"}


@needs_tensorflow
def test_auto_lists_keras_and_every_ort_precision(middle):
    choices, notes = parse_engines("auto", middle)
    names = [c.name for c in choices]
    assert names[:5] == ["keras-fp32-predict", "keras-fp32-predict_on_batch", "onnxruntime-fp32",
                         "onnxruntime-fp16", "onnxruntime-int8"]  # fmt: skip
    if importlib.util.find_spec("tensorrt") is None:
        assert any("TensorRT skipped" in n for n in notes)


@needs_tensorflow
def test_lists_aliases_and_duplicates(middle):
    choices, _ = parse_engines("ort-int8, onnxruntime-int8,keras-predict,ORT-FP32", middle)
    assert [c.name for c in choices] == [
        "onnxruntime-int8",
        "keras-fp32-predict",
        "onnxruntime-fp32",
    ]
    for bad in ("ort-fp64", "cuda-fp32", "keras-fp16", ","):
        with pytest.raises(EdgeferError):
            parse_engines(bad, middle)


def test_without_tensorflow_keras_is_skipped_with_a_note(monkeypatch):
    real = importlib.util.find_spec

    def no_tensorflow(name, *args):
        return None if name in ("tensorflow", "keras") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", no_tensorflow)
    source = load_source(shipped_path("middle", ".onnx"))
    assert source.keras is None and "tensorflow is not installed" in source.keras_note
    choices, notes = parse_engines("auto", source)
    assert all(c.backend != "keras" for c in choices)
    assert any(n.startswith("Keras reference skipped: tensorflow is not installed") for n in notes)
    with pytest.raises(EdgeferError, match="keras is not available"):
        parse_engines("keras", source)


@needs_tensorflow
def test_a_keras_file_that_is_not_the_export_source_is_refused(middle, tmp_path):
    onnx = tmp_path / "middle.onnx"
    onnx.write_bytes(middle.onnx.read_bytes())  # no sidecar: the embedded metadata names the source
    (tmp_path / "middle.keras").write_bytes(shipped_path("face", ".keras").read_bytes())
    source = load_source(onnx)
    assert (
        source.keras is None
        and "is not the model middle.onnx was exported from" in source.keras_note
    )


def test_shipped_calibration_set_is_picked_by_spec_digest(middle):
    path = default_calibration(middle.meta)
    assert path is not None and path.suffix == ".npz"
    assert default_calibration({"spec_digest": "0000000000000000"}) is None
