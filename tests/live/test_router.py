"""Engine choice per tick, run through real ONNX Runtime sessions behind the project's ``Engine``
interface (tiny graphs whose output is known), on real face and voice inputs."""

from __future__ import annotations

import numpy as np
import pytest

from edgefer.errors import EdgeferError
from edgefer.live.router import Router
from edgefer.media import read_audio, read_image
from edgefer.preprocess import clip_tensor, face_tensor
from edgefer.spec import preset_spec
from tests.live.tiny_engine import tiny_expected, tiny_ort_engine

EDGE = preset_spec("edge")


@pytest.fixture(scope="module")
def engines():
    return {
        "fused": tiny_ort_engine(("face", "voice"), 1),
        "face": tiny_ort_engine(("face",), 2),
        "voice": tiny_ort_engine(("voice",), 3),
    }


@pytest.fixture(scope="module")
def real_inputs(fer_dir, speech_wav):
    faces = sorted((fer_dir / "val" / "happy").glob("*.jpg"))[:2]
    face = [face_tensor(read_image(p, grey=True), EDGE) for p in faces]
    voice = clip_tensor(read_audio(speech_wav), EDGE)
    return face, voice


def test_fused_engine_when_both_modalities_are_present(engines, real_inputs):
    (face, _), voice = real_inputs
    route = Router(engines).choose(face, voice)
    assert route.role == "fused" and route.modalities == ("face", "voice")
    probs = route.predict()
    assert probs.shape == (1, 3)
    np.testing.assert_allclose(probs, tiny_expected(engines["fused"], route.inputs), rtol=1e-5)


def test_unimodal_engine_when_one_modality_is_absent(engines, real_inputs):
    (face, _), voice = real_inputs
    router = Router(engines)
    silent = router.choose(face, None)
    assert silent.role == "face" and silent.modalities == ("face",)
    assert set(silent.inputs) == {"face"}
    no_face = router.choose(None, voice)
    assert no_face.role == "voice" and no_face.modalities == ("voice",)
    np.testing.assert_allclose(
        no_face.predict(), tiny_expected(engines["voice"], no_face.inputs), rtol=1e-5
    )
    assert router.choose(None, None) is None


def test_every_face_shares_the_voice_window(engines, real_inputs):
    faces, voice = real_inputs
    route = Router(engines).choose(np.stack(faces), voice)
    assert route.inputs["face"].shape == (2, 64, 64, 1)
    assert route.inputs["voice"].shape == (2, 64, 64, 1)
    np.testing.assert_array_equal(route.inputs["voice"][0], route.inputs["voice"][1])
    probs = route.predict()
    assert probs.shape == (2, 3) and not np.allclose(probs[0], probs[1])


def test_missing_engines_fall_back_in_order(engines, real_inputs):
    (face, _), voice = real_inputs
    only_unimodal = Router({"face": engines["face"], "voice": engines["voice"], "fused": None})
    assert only_unimodal.choose(face, voice).role == "face"
    only_fused = Router({"fused": engines["fused"]})
    assert only_fused.choose(face, None) is None  # the fused model cannot run on one modality
    assert only_fused.modalities_needed == {"face", "voice"}
    assert Router({"face": engines["face"]}).modalities_needed == {"face"}


def test_wrong_engine_sets_are_refused(engines):
    with pytest.raises(EdgeferError, match="no engine"):
        Router({"fused": None})
    with pytest.raises(EdgeferError, match="unknown engine role"):
        Router({"audio": engines["voice"]})
    with pytest.raises(EdgeferError, match="must take only 'face'"):
        Router({"face": engines["fused"]})
