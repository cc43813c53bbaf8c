"""One labelled file of a dataset, and small helpers over lists of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgefer.errors import EdgeferError

SOURCES: tuple[str, ...] = ("fer2013", "mlfw", "ravdess", "cremad")


@dataclass(frozen=True)
class Sample:
    """A labelled file.

    Parameters
    ----------
    path : the image or audio file.
    label : class index into the label map's ``class_names``.
    emotion : the source's own emotion name (``angry``, ``ANG``), kept for reports and re-mapping.
    group : who is speaking, ``"<source>:<actor>"`` for voices (splits keep a group on one side);
        ``""`` for faces, whose datasets carry no identity.
    source : ``fer2013``, ``mlfw``, ``ravdess`` or ``cremad``.
    """

    path: Path
    label: int
    emotion: str
    group: str
    source: str


def class_counts(samples: Iterable[Sample], class_names: Sequence[str]) -> dict[str, int]:
    """Number of samples per class name, every class present (zero included), in class order."""
    counts = dict.fromkeys(class_names, 0)
    for sample in samples:
        if not 0 <= sample.label < len(class_names):
            raise EdgeferError(
                f"{sample.path}: label {sample.label} outside the {len(class_names)} classes"
            )
        counts[class_names[sample.label]] += 1
    return counts


def labels_of(samples: Sequence[Sample]) -> np.ndarray:
    """The samples' labels as an int64 array, in sample order."""
    return np.fromiter((s.label for s in samples), dtype=np.int64, count=len(samples))


def groups_of(samples: Iterable[Sample]) -> list[str]:
    """The distinct groups of the samples, sorted, so seeded shuffles ignore input order."""
    return sorted({s.group for s in samples})


def require_all_classes(
    samples: Sequence[Sample], class_names: Sequence[str], where: str | Path
) -> None:
    """Refuse an index that leaves a class empty: a model cannot learn a class it never sees."""
    counts = class_counts(samples, class_names)
    missing = [name for name, n in counts.items() if n == 0]
    if missing:
        raise EdgeferError(f"no samples of class {', '.join(missing)} found in {where}")


def list_files(folder: Path, suffixes: Iterable[str]) -> list[Path]:
    """Files under ``folder`` (any depth) with one of ``suffixes``, sorted by relative path.

    The order is the same on every machine; hidden files and folders are ignored.
    """
    allowed = {suffix.lower() for suffix in suffixes}
    files = [
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in allowed
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.is_file()
    ]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())
