"""--extra-voices on the real RAVDESS folders: training split only, the right actors, mapped labels;
validation and test stay the paper's three emotions of unseen actors."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace

import pytest

from edgefer.data.labels import RAVDESS_TO_CLASS
from edgefer.errors import EdgeferError
from edgefer.training.config import EXTRA_VOICES_DEFAULT, TrainConfig
from edgefer.training.prepare import describe_extra_voices, split_voices

CLASS_INDEX = {"negative": 0, "neutral": 1, "positive": 2}
PAPER_EMOTIONS = {"neutral", "happy", "angry", "NEU", "HAP", "ANG"}


def _split(tmp_path, **kwargs) -> dict:
    return split_voices(TrainConfig(output=tmp_path, fusion="voice", **kwargs))


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> dict:
    return _split(tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def extra(tmp_path_factory) -> dict:
    return _split(tmp_path_factory.mktemp("extra"), extra_voices=EXTRA_VOICES_DEFAULT)


def test_extra_voices_join_only_the_training_split_of_training_actors(plain, extra, data_dir):
    assert extra["val"] == plain["val"] and extra["test"] == plain["test"]
    assert extra["train"] == plain["train"] + extra["extra"]
    train_actors = {s.group for s in plain["train"]}
    held_actors = {s.group for s in plain["val"] + plain["test"]}
    assert train_actors == {f"ravdess:{i:02d}" for i in range(1, 15)}
    assert {s.group for s in extra["extra"]} == train_actors
    assert not {s.group for s in extra["extra"]} & held_actors
    more = data_dir / "voice" / "ravdess_more"
    assert all(s.path.is_relative_to(more) for s in extra["extra"])
    assert all(s.emotion in PAPER_EMOTIONS for s in extra["val"] + extra["test"])


def test_extra_voices_carry_the_mapped_labels_and_leave_surprised_out(extra, data_dir):
    mapping = {"calm": "neutral", "sad": "negative", "fearful": "negative", "disgust": "negative"}
    for sample in extra["extra"]:
        assert sample.label == CLASS_INDEX[mapping[sample.emotion]], sample
        assert sample.path.parent.name == "Actor_" + sample.group.split(":")[1]
    # 8 clips per emotion and actor in the folder, 14 training actors.
    assert Counter(s.emotion for s in extra["extra"]) == dict.fromkeys(mapping, 8 * 14)
    files = list((data_dir / "voice" / "ravdess_more").glob("Actor_*/03-01-08-*.flac"))
    assert len(files) == 160 and all(s.emotion != "surprised" for s in extra["extra"])


def test_metrics_say_what_was_added(tmp_path, extra):
    config = TrainConfig(output=tmp_path, fusion="voice", extra_voices=EXTRA_VOICES_DEFAULT)
    described = describe_extra_voices(config, extra["extra"])
    assert described["clips"] == 448
    assert described["per_class"] == {"negative": 336, "neutral": 112, "positive": 0}
    assert described["per_emotion"] == {"calm": 112, "disgust": 112, "fearful": 112, "sad": 112}
    assert described["mapping"] == EXTRA_VOICES_DEFAULT
    assert len(described["actors"]) == 14
    assert describe_extra_voices(TrainConfig(output=tmp_path), []) == {"mapping": "", "clips": 0}


def test_another_mapping_and_a_random_actor_split(tmp_path):
    parts = _split(
        tmp_path, extra_voices="surprised=positive", voice_test_actors=(), voice_val_actors=()
    )
    train_actors = {s.group for s in parts["train"] if s.emotion in RAVDESS_TO_CLASS}
    assert parts["extra"] and {s.emotion for s in parts["extra"]} == {"surprised"}
    assert {s.label for s in parts["extra"]} == {CLASS_INDEX["positive"]}
    assert {s.group for s in parts["extra"]} == train_actors - {"cremad:1001", "cremad:1002"}
    held = {s.group for s in parts["val"] + parts["test"]}
    assert not {s.group for s in parts["extra"]} & held


def test_clips_already_in_the_main_set_are_not_added_twice(tmp_path, ravdess_dir):
    with pytest.warns(UserWarning, match="no extra voice"):
        parts = _split(tmp_path, extra_voices="neutral=neutral", extra_voices_root=ravdess_dir)
    assert parts["extra"] == []


def test_actors_outside_the_main_set_are_left_out(tmp_path, data_dir):
    """An extra actor that the main voice set never split has no side: not trained on."""
    more = tmp_path / "more"
    shutil.copytree(data_dir / "voice" / "ravdess_more" / "Actor_03", more / "Actor_03")
    shutil.copytree(data_dir / "voice" / "ravdess_more" / "Actor_18", more / "Actor_18")
    parts = _split(tmp_path, extra_voices="calm=neutral", extra_voices_root=more)
    assert {s.group for s in parts["extra"]} == {"ravdess:03"}  # 18 is a test actor
    assert len(parts["extra"]) == 8


def test_a_missing_extra_folder_is_an_error(tmp_path):
    config = TrainConfig(
        output=tmp_path,
        fusion="voice",
        extra_voices="calm=neutral",
        extra_voices_root=tmp_path / "none",
    )
    with pytest.raises(EdgeferError, match="extra voice.*not found"):
        config.check_paths()
    replace(config, extra_voices="").check_paths()  # no extra voices: the folder is not needed
    face = replace(config, fusion="face")
    assert not face.uses_extra_voices  # a face model has no voices to add to
