"""--extra-voices on the real RAVDESS folders: training split only, the right actors, mapped labels;
validation and test stay the paper's three emotions of unseen actors."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace

import pytest

from edgefer.data.datasplit import split_voices
from edgefer.data.labels import RAVDESS_EMOTIONS, RAVDESS_TO_CLASS
from edgefer.errors import EdgeferError
from edgefer.training.config import (
    DEFAULT_VOICE_TEST_ACTORS,
    DEFAULT_VOICE_VAL_ACTORS,
    EXTRA_VOICES_DEFAULT,
    TrainConfig,
)
from edgefer.training.prepare import describe_extra_voices

CLASS_INDEX = {"negative": 0, "neutral": 1, "positive": 2}
PAPER_EMOTIONS = {"neutral", "happy", "angry", "NEU", "HAP", "ANG"}
MAPPING = {"calm": "neutral", "sad": "negative", "fearful": "negative", "disgust": "negative"}


def _actor(path) -> str:
    return "ravdess:" + path.parent.name.removeprefix("Actor_")


def _extra_files(data_dir, actors: set[str], emotions) -> Counter:
    """Clips per emotion in voice/ravdess_more of ``actors``, counted from the file names."""
    files = (data_dir / "voice" / "ravdess_more").glob("Actor_*/*.flac")
    found = (RAVDESS_EMOTIONS[p.name.split("-")[2]] for p in files if _actor(p) in actors)
    return Counter(e for e in found if e in emotions)


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
    actors = {_actor(p) for p in (data_dir / "voice" / "ravdess").glob("Actor_*/*.flac")}
    held_by_default = set(DEFAULT_VOICE_TEST_ACTORS) | set(DEFAULT_VOICE_VAL_ACTORS)
    assert train_actors == actors - held_by_default  # 01-14 in the full data
    assert {s.group for s in extra["extra"]} == train_actors
    assert not {s.group for s in extra["extra"]} & held_actors
    more = data_dir / "voice" / "ravdess_more"
    assert all(s.path.is_relative_to(more) for s in extra["extra"])
    assert all(s.emotion in PAPER_EMOTIONS for s in extra["val"] + extra["test"])


def test_extra_voices_carry_the_mapped_labels_and_leave_surprised_out(extra, data_dir):
    for sample in extra["extra"]:
        assert sample.label == CLASS_INDEX[MAPPING[sample.emotion]], sample
        assert sample.path.parent.name == "Actor_" + sample.group.split(":")[1]
    # Every mapped clip of the training actors (full data: 8 per emotion and actor, 14 actors).
    train_actors = {s.group for s in extra["train"]}
    assert Counter(s.emotion for s in extra["extra"]) == _extra_files(
        data_dir, train_actors, MAPPING
    )
    files = list((data_dir / "voice" / "ravdess_more").glob("Actor_*/03-01-08-*.flac"))
    assert files and all(s.emotion != "surprised" for s in extra["extra"])


def test_metrics_say_what_was_added(tmp_path, extra, data_dir):
    config = TrainConfig(output=tmp_path, fusion="voice", extra_voices=EXTRA_VOICES_DEFAULT)
    described = describe_extra_voices(config, extra["extra"])
    actors = {s.group for s in extra["train"]}  # the training actors (01-14 in the full data)
    files = _extra_files(data_dir, actors, MAPPING)  # full data: 112 per emotion, 448 in all
    assert described["clips"] == sum(files.values())
    negative = sum(n for e, n in files.items() if MAPPING[e] == "negative")
    assert described["per_class"] == {
        "negative": negative,
        "neutral": files["calm"],
        "positive": 0,
    }
    assert described["per_emotion"] == dict(sorted(files.items()))
    assert described["mapping"] == EXTRA_VOICES_DEFAULT
    assert described["actors"] == sorted(actors) and len(actors) >= 2  # 14 in the full data
    assert describe_extra_voices(TrainConfig(output=tmp_path), []) == {"mapping": "", "clips": 0}


def test_another_mapping_and_a_random_actor_split(tmp_path, data_dir):
    parts = _split(
        tmp_path, extra_voices="surprised=positive", voice_test_actors=(), voice_val_actors=()
    )
    train_actors = {s.group for s in parts["train"] if s.emotion in RAVDESS_TO_CLASS}
    assert parts["extra"] and {s.emotion for s in parts["extra"]} == {"surprised"}
    assert {s.label for s in parts["extra"]} == {CLASS_INDEX["positive"]}
    more = (data_dir / "voice" / "ravdess_more").glob("Actor_*/03-01-08-*.flac")
    with_surprised = {_actor(p) for p in more}  # every actor in the full data
    assert {s.group for s in parts["extra"]} == train_actors & with_surprised
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
    assert len(parts["extra"]) == len(list((more / "Actor_03").glob("03-01-02-*.flac")))  # 8


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
