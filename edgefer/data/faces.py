"""Index face datasets laid out as one folder per emotion: FER2013 and M-LFW-FER.

FER2013 (as images): ``<root>/<split>/<emotion>/*.jpg`` with the seven FER emotions.
M-LFW-FER: folders named after the classes (``negative``, ``neutral``, ``positive``), directly
under the root or under a split folder (``train``, ``test``).

Indexing only lists files; nothing is decoded here, so a 28k-image index takes well under a second.
The order is sorted and so the same on every machine, which keeps seeded splits reproducible.
"""

from __future__ import annotations

from pathlib import Path

from edgefer.data.labels import FER_EMOTIONS, FER_LABELS, MLFW_LABELS, LabelMap
from edgefer.data.samples import Sample, list_files, require_all_classes
from edgefer.errors import EdgeferError
from edgefer.media import IMAGE_SUFFIXES

FACE_LAYOUTS: tuple[str, ...] = ("fer2013", "mlfw")


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (any depth), in a machine-independent order."""
    return list_files(folder, IMAGE_SUFFIXES)


def _split_folder(root: str | Path, split: str | None) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise EdgeferError(f"face dataset folder not found: {root}")
    if split is None:
        return root
    folder = root / split
    if not folder.is_dir():
        present = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise EdgeferError(
            f"split folder {split!r} not found in {root} "
            f"(folders there: {', '.join(present) or 'none'})"
        )
    return folder


def _index_class_folders(folder: Path, label_map: LabelMap, source: str, what: str) -> list[Sample]:
    """Samples from the emotion folders of ``folder`` that ``label_map`` keeps."""
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    known = {e.lower() for e in label_map.emotions} | {e.lower() for e in label_map.mapping}
    emotion_folders = [p for p in subfolders if p.name.lower() in known]
    if not emotion_folders:
        names = ", ".join(p.name for p in subfolders) or "none"
        raise EdgeferError(
            f"no {what} class folder found in {folder} (expected folders such as "
            f"{', '.join(sorted(known))}; found: {names})"
        )
    samples: list[Sample] = []
    for sub in emotion_folders:
        label = label_map.label(sub.name)
        if label is None:
            continue  # an emotion the label map leaves out (FER's surprise by default)
        images = list_images(sub)
        if not images:
            raise EdgeferError(f"class folder {sub} holds no images (jpg/png)")
        samples.extend(Sample(p, label, sub.name, "", source) for p in images)
    require_all_classes(samples, label_map.class_names, folder)
    return samples


def index_fer2013(root: str | Path, split: str, label_map: LabelMap = FER_LABELS) -> list[Sample]:
    """Index FER2013 images under ``<root>/<split>/<emotion>/``; dropped emotions are skipped."""
    folder = _split_folder(root, split)
    return _index_class_folders(folder, label_map, "fer2013", "FER2013 emotion")


def index_mlfw_fer(
    root: str | Path, split: str | None = None, label_map: LabelMap = MLFW_LABELS
) -> list[Sample]:
    """Index M-LFW-FER: ``negative/ neutral/ positive/`` under the root or ``root/split``."""
    folder = _split_folder(root, split)
    return _index_class_folders(folder, label_map, "mlfw", "M-LFW-FER")


def detect_face_layout(folder: str | Path) -> str:
    """``mlfw`` when ``folder`` holds class-named folders, ``fer2013`` for FER emotion folders."""
    folder = Path(folder)
    names = {p.name.lower() for p in folder.iterdir() if p.is_dir()}
    if names & {"negative", "positive"}:
        return "mlfw"
    if names & set(FER_EMOTIONS):
        return "fer2013"
    raise EdgeferError(
        f"cannot tell the face dataset layout of {folder}: expected emotion folders "
        f"({', '.join(FER_EMOTIONS)}) or class folders (negative, neutral, positive); "
        f"found {', '.join(sorted(names)) or 'no folders'}"
    )


def index_faces(
    root: str | Path, split: str | None = None, label_map: LabelMap | None = None
) -> list[Sample]:
    """Index a face dataset of either layout, detected from the folder names of ``root/split``.

    ``label_map`` defaults to the detected layout's own map (FER2013's 7 -> 3, or M-LFW-FER's
    identity map).
    """
    folder = _split_folder(root, split)
    if detect_face_layout(folder) == "mlfw":
        return index_mlfw_fer(root, split, label_map or MLFW_LABELS)
    if split is None:
        return _index_class_folders(folder, label_map or FER_LABELS, "fer2013", "FER2013 emotion")
    return index_fer2013(root, split, label_map or FER_LABELS)
