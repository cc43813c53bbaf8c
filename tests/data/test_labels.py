"""Label maps: the defaults of the data README and user overrides."""

from __future__ import annotations

import pytest

import edgefer
from edgefer.data.faces import index_fer2013
from edgefer.data.labels import (
    CLASS_NAMES,
    CREMAD_LABELS,
    CREMAD_TO_CLASS,
    FER_LABELS,
    FER_TO_CLASS,
    RAVDESS_EMOTIONS,
    RAVDESS_LABELS,
    RAVDESS_TO_CLASS,
    LabelMap,
    parse_label_map,
)
from edgefer.data.samples import class_counts
from edgefer.errors import EdgeferError

NEG, NEU, POS = 0, 1, 2


def test_class_names_are_the_package_ones():
    assert CLASS_NAMES == edgefer.CLASS_NAMES == ("negative", "neutral", "positive")


def test_fer_default_mapping():
    assert FER_TO_CLASS == {
        "angry": "negative",
        "disgust": "negative",
        "fear": "negative",
        "sad": "negative",
        "neutral": "neutral",
        "happy": "positive",
    }
    assert [FER_LABELS.label(e) for e in ("angry", "disgust", "fear", "sad")] == [NEG] * 4
    assert FER_LABELS.label("neutral") == NEU
    assert FER_LABELS.label("happy") == POS
    assert FER_LABELS.label("surprise") is None
    assert FER_LABELS.label("Angry") == NEG  # folder case does not matter


def test_voice_default_mappings():
    assert RAVDESS_EMOTIONS == {
        "01": "neutral",
        "02": "calm",
        "03": "happy",
        "04": "sad",
        "05": "angry",
        "06": "fearful",
        "07": "disgust",
        "08": "surprised",
    }
    assert RAVDESS_TO_CLASS == {"neutral": "neutral", "happy": "positive", "angry": "negative"}
    assert [RAVDESS_LABELS.label(e) for e in ("angry", "neutral", "happy")] == [NEG, NEU, POS]
    assert RAVDESS_LABELS.label("calm") is None
    assert CREMAD_TO_CLASS == {"ANG": "negative", "NEU": "neutral", "HAP": "positive"}
    assert [CREMAD_LABELS.label(e) for e in ("ANG", "NEU", "HAP")] == [NEG, NEU, POS]
    assert all(CREMAD_LABELS.label(e) is None for e in ("DIS", "FEA", "SAD"))


def test_override_moves_and_drops_emotions():
    labels = parse_label_map("surprise=positive, disgust=-", FER_LABELS)
    assert labels.label("surprise") == POS
    assert labels.label("disgust") is None
    assert labels.label("angry") == NEG  # untouched entries keep their class
    assert FER_LABELS.label("surprise") is None  # the base is not modified
    assert FER_LABELS.label("disgust") == NEG


def test_override_keeps_the_source_spelling_and_ignores_case():
    labels = parse_label_map("sad=negative", CREMAD_LABELS)
    assert labels.mapping["SAD"] == "negative"
    assert labels.label("SAD") == NEG


def test_empty_override_is_the_base():
    assert parse_label_map("", FER_LABELS) == FER_LABELS
    assert parse_label_map(" , ", FER_LABELS) == FER_LABELS


@pytest.mark.parametrize(
    "text, message",
    [
        ("surprise=happy", "unknown class 'happy'"),
        ("suprise=positive", "unknown emotion 'suprise'"),
        ("surprise", "bad label override"),
        ("=positive", "bad label override"),
        ("surprise=", "bad label override"),
    ],
)
def test_bad_overrides_are_refused(text, message):
    with pytest.raises(EdgeferError, match=message):
        parse_label_map(text, FER_LABELS)


def test_label_map_refuses_an_unknown_class():
    with pytest.raises(EdgeferError, match="unknown class 'joy'"):
        LabelMap({"happy": "joy"})


def test_label_maps_hash_like_they_compare():
    same = parse_label_map("surprise=positive", FER_LABELS)
    again = parse_label_map("surprise=positive", FER_LABELS)
    assert same == again and hash(same) == hash(again)
    assert len({FER_LABELS, same, again}) == 2


def test_label_map_copies_its_mapping():
    mapping = {"happy": "positive"}
    labels = LabelMap(mapping)
    mapping["happy"] = "negative"
    assert labels.label("happy") == POS


def test_override_changes_the_real_fer_index(fer_dir):
    labels = parse_label_map("surprise=positive,disgust=-", FER_LABELS)
    counts = class_counts(index_fer2013(fer_dir, "val", labels), CLASS_NAMES)
    # full val folders: angry 467, disgust 56, fear 496, happy 895, neutral 607, sad 653, surprise 415
    n = {d.name: len(list(d.glob("*.jpg"))) for d in (fer_dir / "val").iterdir()}
    assert counts == {
        "negative": n["angry"] + n["fear"] + n["sad"],
        "neutral": n["neutral"],
        "positive": n["happy"] + n["surprise"],
    }
