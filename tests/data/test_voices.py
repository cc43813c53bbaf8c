"""Voice indexes on the real RAVDESS and CREMA-D files."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from edgefer.data.labels import CLASS_NAMES, CREMAD_LABELS, RAVDESS_LABELS, parse_label_map
from edgefer.data.samples import class_counts
from edgefer.data.voices import (
    index_cremad,
    index_ravdess,
    index_voices,
    parse_cremad_name,
    parse_ravdess_name,
)
from edgefer.errors import EdgeferError
from tests.markers import needs_full_data


def test_parse_ravdess_name():
    fields = parse_ravdess_name("03-01-05-02-01-02-12.flac")
    assert fields == {
        "modality": "03",
        "channel": "01",
        "emotion": "angry",
        "emotion_code": "05",
        "intensity": "02",
        "statement": "01",
        "repetition": "02",
        "actor": "12",
    }
    assert parse_ravdess_name("Actor_01/03-01-01-01-01-01-01.wav")["emotion"] == "neutral"


@pytest.mark.parametrize(
    "name",
    [
        "03-01-09-01-01-01-01.wav",  # emotion 09 does not exist
        "03-01-01-01-01-01-25.wav",  # actor 25 does not exist
        "03-01-01-01-01-01.wav",  # six fields
        "1001_DFA_ANG_XX.wav",
        "readme.txt",
    ],
)
def test_parse_ravdess_name_refuses(name):
    with pytest.raises(EdgeferError, match="RAVDESS"):
        parse_ravdess_name(name)


def test_parse_cremad_name():
    assert parse_cremad_name("1001_DFA_ANG_XX.wav") == {
        "actor": "1001",
        "sentence": "DFA",
        "emotion": "ANG",
        "level": "XX",
    }
    assert parse_cremad_name("1091_IEO_HAP_HI.flv")["level"] == "HI"


@pytest.mark.parametrize(
    "name",
    ["1001_DFA_JOY_XX.wav", "101_DFA_ANG_XX.wav", "1001_DFA_ANG.wav", "03-01-01-01-01-01-01"],
)
def test_parse_cremad_name_refuses(name):
    with pytest.raises(EdgeferError, match="CREMA-D"):
        parse_cremad_name(name)


@needs_full_data
def test_voice_folders_hold_the_published_counts(ravdess_dir, cremad_dir):
    files = sorted(ravdess_dir.glob("Actor_*/*.flac"))
    assert len(files) == 400
    assert Counter(p.name.split("-")[2] for p in files) == {"05": 160, "01": 80, "03": 160}
    assert sorted(p.name for p in ravdess_dir.glob("Actor_*")) == [
        f"Actor_{i:02d}" for i in range(1, 21)
    ]
    assert set(Counter(p.parent.name for p in files).values()) == {20}
    assert len(list(cremad_dir.glob("*.wav"))) == 12


def test_ravdess_counts(ravdess_dir):
    samples = index_ravdess(ravdess_dir)
    files = sorted(ravdess_dir.glob("Actor_*/*.flac"))
    assert len(samples) == len(files)
    # From the files themselves: emotion code 05 angry, 01 neutral, 03 happy.
    codes = Counter(p.name.split("-")[2] for p in files)
    assert set(codes) == {"05", "01", "03"}
    assert class_counts(samples, CLASS_NAMES) == {
        "negative": codes["05"],
        "neutral": codes["01"],
        "positive": codes["03"],
    }
    groups = Counter(s.group for s in samples)
    per_folder = Counter(p.parent.name for p in files)
    assert groups == {"ravdess:" + name.removeprefix("Actor_"): n for name, n in per_folder.items()}
    for s in samples:  # the group is the actor of the folder the clip lies in
        assert s.path.parent.name == "Actor_" + s.group.split(":")[1]
        assert s.source == "ravdess"
        assert s.label == RAVDESS_LABELS.label(s.emotion)
    assert samples == index_ravdess(ravdess_dir)


def test_cremad_counts(cremad_dir, data_dir):
    samples = index_cremad(cremad_dir)
    wavs = list(cremad_dir.glob("*.wav"))  # the paper's ANG/HAP/NEU are indexed; the rest not
    assert len(samples) == sum(p.stem.split("_")[2] in ("ANG", "HAP", "NEU") for p in wavs)
    assert class_counts(samples, CLASS_NAMES) == {"negative": 2, "neutral": 2, "positive": 2}
    assert sorted({s.group for s in samples}) == ["cremad:1001", "cremad:1002"]
    assert sorted(s.emotion for s in samples) == ["ANG", "ANG", "HAP", "HAP", "NEU", "NEU"]
    av = index_cremad(data_dir / "av" / "cremad")  # FLV videos and MP3s
    assert sorted(s.path.suffix for s in av) == [".flv"] * 3 + [".mp3"] * 3


def test_cremad_override_keeps_sad(cremad_dir):
    labels = parse_label_map("SAD=negative", CREMAD_LABELS)
    counts = class_counts(index_cremad(cremad_dir, labels), CLASS_NAMES)
    assert counts == {"negative": 4, "neutral": 2, "positive": 2}


def test_index_voices_detects_and_combines(data_dir, ravdess_dir, cremad_dir):
    assert index_voices(ravdess_dir) == index_ravdess(ravdess_dir)
    assert index_voices(cremad_dir) == index_cremad(cremad_dir)
    both = index_voices(data_dir / "voice")
    n_ravdess = len(list(ravdess_dir.glob("Actor_*/*.flac")))  # 400 in the full data
    assert Counter(s.source for s in both) == {"ravdess": n_ravdess, "cremad": 6}
    # voice/cremad/*.wav and av/cremad/*.flv|mp3 are the same recordings: kept once, as WAV.
    everything = index_voices(data_dir)
    assert everything == both


def test_unparsable_names_are_skipped_with_a_warning(tmp_path, ravdess_dir, cremad_dir):
    for actor in ("Actor_01", "Actor_02"):
        shutil.copytree(ravdess_dir / actor, tmp_path / actor)
    shutil.copy(tmp_path / "Actor_01" / "03-01-01-01-01-01-01.flac", tmp_path / "take_2.flac")
    shutil.copy(tmp_path / "Actor_01" / "03-01-01-01-01-01-01.flac", tmp_path / "99-01-01.wav")
    (tmp_path / "notes.txt").write_text("not audio: ignored silently")
    n_clips = len(list(tmp_path.glob("Actor_*/*.flac")))  # 40 in the full data
    with pytest.warns(UserWarning, match="skipped 2 file"):
        samples = index_ravdess(tmp_path)
    assert len(samples) == n_clips
    with pytest.warns(UserWarning, match="skipped 2 file"):
        assert index_voices(tmp_path) == samples

    crema = tmp_path / "crema"
    shutil.copytree(cremad_dir, crema)
    shutil.copy(crema / "1001_DFA_ANG_XX.wav", crema / "1001_DFA_ANGRY_XX.wav")
    with pytest.warns(UserWarning, match="skipped 1 file.*1001_DFA_ANGRY_XX.wav"):
        assert len(index_cremad(crema)) == 6


def test_missing_folder_or_no_clips_are_errors(tmp_path, cremad_dir):
    with pytest.raises(EdgeferError, match="RAVDESS folder not found"):
        index_ravdess(tmp_path / "nowhere")
    with pytest.raises(EdgeferError, match="no RAVDESS clips found"):
        index_ravdess(tmp_path)
    with pytest.raises(EdgeferError, match="no CREMA-D clips found"):
        index_cremad(tmp_path)
    with pytest.raises(EdgeferError, match="no RAVDESS or CREMA-D clips found"):
        index_voices(tmp_path)
    # Clips of one class only: the model would never see the other two.
    shutil.copy(cremad_dir / "1001_DFA_ANG_XX.wav", tmp_path)
    with pytest.raises(EdgeferError, match="no samples of class neutral, positive"):
        index_cremad(tmp_path)
