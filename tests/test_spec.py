"""The preprocessing spec travels with every model: it must round-trip and hash stably."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edgefer.errors import EdgeferError
from edgefer.spec import PreprocessSpec, fusion_inputs, preset_spec


def test_spec_round_trips_through_json(tmp_path):
    spec = preset_spec("paper")
    spec.save(tmp_path / "spec.json")
    loaded = PreprocessSpec.load(tmp_path / "spec.json")
    assert loaded == spec and loaded.digest() == spec.digest()


def test_digest_changes_with_any_parameter():
    spec = preset_spec("edge")
    assert replace(spec, voice=replace(spec.voice, hop_length=161)).digest() != spec.digest()
    assert replace(spec, image_size=65).digest() != spec.digest()


def test_presets_give_square_inputs_of_their_size():
    assert preset_spec("edge").input_shape("face") == (64, 64, 1)
    assert preset_spec("paper").input_shape("voice") == (224, 224, 1)
    assert preset_spec("edge", image_size=96).input_shape("voice") == (96, 96, 1)


def test_bad_names_and_files_are_user_errors(tmp_path):
    with pytest.raises(EdgeferError, match="preset"):
        preset_spec("huge")
    with pytest.raises(EdgeferError, match="fusion"):
        fusion_inputs("sideways")
    with pytest.raises(EdgeferError, match="not found"):
        PreprocessSpec.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(EdgeferError, match="JSON"):
        PreprocessSpec.load(tmp_path / "bad.json")
    assert fusion_inputs("middle") == ("face", "voice") and fusion_inputs("voice") == ("voice",)
