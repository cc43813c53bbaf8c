"""Face indexes on the real FER2013 folders and on an M-LFW-FER-shaped tree."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import cv2
import pytest

from edgefer.data.faces import detect_face_layout, index_faces, index_fer2013, index_mlfw_fer
from edgefer.data.labels import CLASS_NAMES, FER_LABELS, parse_label_map
from edgefer.data.samples import class_counts
from edgefer.errors import EdgeferError
from tests.markers import needs_full_data

# The published FER2013 counts (the full data; the test sample holds a few dozen per folder).
FER_TRAIN = {
    "angry": 3995,
    "disgust": 436,
    "fear": 4097,
    "happy": 7215,
    "neutral": 4965,
    "sad": 4830,
    "surprise": 3171,
}
FER_VAL = {
    "angry": 467,
    "disgust": 56,
    "fear": 496,
    "happy": 895,
    "neutral": 607,
    "sad": 653,
    "surprise": 415,
}


@pytest.fixture(scope="module")
def fer_train(fer_dir):
    return index_fer2013(fer_dir, "train")


def _on_disk(fer_dir: Path, split: str) -> dict[str, int]:
    """Images per emotion folder, counted from the files (not through the index under test)."""
    return {e: len(list((fer_dir / split / e).glob("*.jpg"))) for e in FER_TRAIN}


@needs_full_data
def test_fer_folders_hold_the_published_counts(fer_dir):
    assert _on_disk(fer_dir, "train") == FER_TRAIN
    assert _on_disk(fer_dir, "val") == FER_VAL


def test_fer_train_counts(fer_train, fer_dir):
    n = _on_disk(fer_dir, "train")
    assert class_counts(fer_train, CLASS_NAMES) == {
        "negative": n["angry"] + n["disgust"] + n["fear"] + n["sad"],  # 13358 in the full data
        "neutral": n["neutral"],
        "positive": n["happy"],
    }
    expected = {e: k for e, k in n.items() if e != "surprise"}
    assert Counter(s.emotion for s in fer_train) == expected
    assert {s.source for s in fer_train} == {"fer2013"}
    assert {s.group for s in fer_train} == {""}
    assert all(s.label == FER_LABELS.label(s.emotion) for s in fer_train)


def test_fer_val_counts_with_surprise_kept(fer_dir):
    labels = parse_label_map("surprise=neutral", FER_LABELS)
    samples = index_fer2013(fer_dir, "val", labels)
    n = _on_disk(fer_dir, "val")
    assert Counter(s.emotion for s in samples) == n
    assert class_counts(samples, CLASS_NAMES)["neutral"] == n["neutral"] + n["surprise"]


def test_fer_index_is_sorted_and_deterministic(fer_dir, fer_train):
    assert fer_train == index_fer2013(fer_dir, "train")
    keys = [s.path.relative_to(fer_dir).as_posix() for s in fer_train]
    assert keys == sorted(keys)
    assert all(s.path.is_file() for s in fer_train[:: len(fer_train) // 50])


def test_index_faces_detects_fer(fer_dir):
    assert detect_face_layout(fer_dir / "val") == "fer2013"
    assert index_faces(fer_dir, "val") == index_fer2013(fer_dir, "val")


def _fake_mlfw(root: Path, fer_dir: Path, split: str | None) -> dict[str, int]:
    """An M-LFW-FER-shaped tree of real FER images (one png among them); returns class counts."""
    base = root / split if split else root
    sources = {"negative": "angry", "neutral": "neutral", "positive": "happy"}
    counts = {"negative": 3, "neutral": 2, "positive": 4}
    for name, emotion in sources.items():
        folder = base / name
        folder.mkdir(parents=True)
        images = sorted((fer_dir / "train" / emotion).glob("*.jpg"))[: counts[name]]
        for image in images:
            shutil.copy(image, folder / image.name)
    png = sorted((base / "positive").glob("*.jpg"))[0]
    cv2.imwrite(str(png.with_suffix(".png")), cv2.imread(str(png)))
    png.unlink()
    (base / "positive" / "notes.txt").write_text("not an image")
    return counts


def test_mlfw_layout_under_a_split(tmp_path, fer_dir):
    counts = _fake_mlfw(tmp_path, fer_dir, "train")
    samples = index_mlfw_fer(tmp_path, "train")
    assert class_counts(samples, CLASS_NAMES) == counts
    assert {s.source for s in samples} == {"mlfw"}
    assert sum(s.path.suffix == ".png" for s in samples) == 1
    assert all(s.emotion == CLASS_NAMES[s.label] for s in samples)
    assert detect_face_layout(tmp_path / "train") == "mlfw"
    assert index_faces(tmp_path, "train") == samples


def test_mlfw_layout_without_a_split(tmp_path, fer_dir):
    counts = _fake_mlfw(tmp_path, fer_dir, None)
    assert class_counts(index_mlfw_fer(tmp_path), CLASS_NAMES) == counts
    assert class_counts(index_faces(tmp_path), CLASS_NAMES) == counts


def test_missing_folders_are_errors(tmp_path, fer_dir):
    with pytest.raises(EdgeferError, match="face dataset folder not found"):
        index_fer2013(tmp_path / "nowhere", "train")
    with pytest.raises(EdgeferError, match="split folder 'test' not found"):
        index_fer2013(fer_dir, "test")
    with pytest.raises(EdgeferError, match="split folder"):
        index_mlfw_fer(tmp_path, "train")


def test_no_class_folder_is_an_error(tmp_path):
    (tmp_path / "train" / "cats").mkdir(parents=True)
    with pytest.raises(EdgeferError, match="no FER2013 emotion class folder"):
        index_fer2013(tmp_path, "train")
    with pytest.raises(EdgeferError, match="cannot tell the face dataset layout"):
        index_faces(tmp_path, "train")


def test_empty_class_folder_is_an_error(tmp_path, fer_dir):
    for emotion in ("angry", "happy", "neutral"):
        folder = tmp_path / "train" / emotion
        folder.mkdir(parents=True)
        shutil.copy(next((fer_dir / "train" / emotion).glob("*.jpg")), folder)
    (tmp_path / "train" / "sad").mkdir()
    with pytest.raises(EdgeferError, match=r"class folder .*sad holds no images"):
        index_fer2013(tmp_path, "train")
    # An empty folder of an emotion the map leaves out does not matter.
    (tmp_path / "train" / "sad").rmdir()
    (tmp_path / "train" / "surprise").mkdir()
    assert len(index_fer2013(tmp_path, "train")) == 3


def test_a_class_without_images_is_an_error(tmp_path, fer_dir):
    for emotion in ("angry", "neutral"):
        folder = tmp_path / "train" / emotion
        folder.mkdir(parents=True)
        shutil.copy(next((fer_dir / "train" / emotion).glob("*.jpg")), folder)
    with pytest.raises(EdgeferError, match="no samples of class positive"):
        index_fer2013(tmp_path, "train")
