"""The held-out set an accuracy guard runs on: the dataset's when it is there, else the shipped one.

``build-engine`` and ``bench`` compare every engine with FP32 on held-out real data. With the dataset
(``edgefer.paths.data_root()``) present that is the full masked FER2013 ``val`` set of
:func:`edgefer.evalsets.heldout_set`. An install without the dataset (a Jetson, CI's runtime job)
uses the *check set* shipped in ``edgefer/assets/checkset/``: a small, class-balanced slice of that
very set (made by the same builder, so the faces are masked exactly as the test set's), stored as
float16 ``.npz`` with a sidecar JSON saying what made it. A check set is only valid for the
preprocessing that made it, so one whose spec digest differs from the model's is refused. It holds
face/voice pairs; a one-input model reads its own column (the voice model thus sees a clip once per
face it was paired with, where the dataset's voice set holds each clip once).

Every report records which set was used and its size (:class:`HeldoutInfo`).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.spec import PreprocessSpec

if TYPE_CHECKING:
    from edgefer.data.evalset import EvalSet

CHECKSET_DIR = Path(__file__).resolve().parent / "assets" / "checkset"
DEFAULT_PER_CLASS = 120  # 360 face/voice pairs: ~4 MB as float16, one sample = 0.28 points
STORE_DTYPE = np.float16
META_KEY = "_meta"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class HeldoutInfo:
    """Which held-out set a report's accuracy figures come from.

    source : ``dataset`` (built from the data root), ``checkset`` (the shipped file) or ``given``.
    """

    source: str
    n: int
    path: str | None = None
    spec_digest: str | None = None
    digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n": self.n,
            "path": self.path,
            "spec_digest": self.spec_digest,
            "digest": self.digest,
        }

    def describe(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.source}{where}, n={self.n}"


def checkset_path(spec_digest: str) -> Path:
    """Where the shipped check set for preprocessing ``spec_digest`` lives."""
    return CHECKSET_DIR / f"heldout-{spec_digest}.npz"


def make_checkset(
    spec: PreprocessSpec,
    path: str | Path,
    per_class: int = DEFAULT_PER_CLASS,
    seed: int = 0,
    faces_root: str | Path | None = None,
    voices_roots: Sequence[str | Path] | None = None,
    progress: Progress | None = None,
) -> Path:
    """Build the two-input held-out set and save it atomically.

    It is built with :func:`~edgefer.evalsets.heldout_set` (the test set's masking, test actors,
    seeded pairing) at ``per_class`` per class.
    """
    from edgefer import __version__
    from edgefer.calibration import content_digest
    from edgefer.data.evalset import heldout_mask_seed
    from edgefer.engines.artifact import atomic_path, write_sidecar
    from edgefer.evalsets import data_config, heldout_set

    path = Path(path)
    data = heldout_set(
        spec,
        ["face", "voice"],
        per_class,
        seed,
        faces_root=faces_root,
        voices_roots=voices_roots,
        progress=progress,
    )
    stored = {n: np.asarray(a).astype(STORE_DTYPE) for n, a in data.inputs.items()}
    digest = content_digest({**stored, "y": data.y.astype(np.float32)[:, None, None, None]})
    config = data_config(seed, faces_root, voices_roots, per_class)
    counts = {c: int(np.sum(data.y == i)) for i, c in enumerate(spec.class_names)}
    meta = {
        "kind": "checkset",
        "split": "test (masked FER2013 val faces + held-out voice actors)",
        "builder": "edgefer.evalsets.heldout_set",
        "faces_root": str(config.face_root()),
        "voices_roots": [str(v) for v in config.voice_roots()],
        "voice_test_actors": list(config.voice_test_actors),
        "per_class": per_class,
        "class_counts": counts,
        "seed": seed,
        "mask_fraction": 1.0,
        "mask_seed": heldout_mask_seed(seed),
        "spec_digest": spec.digest(),
        "digest": digest,
        "n": len(data),
        "inputs": {n: list(a.shape[1:]) for n, a in stored.items()},
        "stored_dtype": np.dtype(STORE_DTYPE).name,
        "edgefer_version": __version__,
    }
    groups = np.array(data.groups if data.groups is not None else [], dtype=str)
    payload: dict[str, Any] = {  # Any: numpy's stubs type savez's keywords as allow_pickle's bool
        **stored,
        "y": data.y.astype(np.int16),
        "groups": groups,
        META_KEY: np.array(json.dumps(meta)),
    }
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, **payload)
    write_sidecar(path, meta)
    return path


def load_checkset(
    path: str | Path, spec_digest: str, inputs: Sequence[str]
) -> tuple[EvalSet, HeldoutInfo]:
    """The stored set as an :class:`~edgefer.data.evalset.EvalSet` holding ``inputs``.

    It is checked against its sidecar hash, its content digest and the model's ``spec_digest``.
    """
    from edgefer.calibration import content_digest
    from edgefer.data.evalset import EvalSet
    from edgefer.engines.artifact import read_sidecar

    path = Path(path)
    if not path.is_file():
        raise EdgeferError(f"check set not found: {path}")
    record = read_sidecar(path)  # a truncated or replaced file fails its recorded hash
    made_with = record.get("spec_digest")
    if made_with != spec_digest:
        raise EdgeferError(
            f"check set {path.name} was made with preprocessing {made_with}, the model uses "
            f"{spec_digest}: point EDGEFER_DATA at the dataset or remake it (scripts/make_checkset.py)"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise EdgeferError(f"check set {path.name} is corrupt or truncated: {exc}") from exc
    y = arrays.pop("y").astype(np.int64)
    groups = [str(g) for g in arrays.pop("groups")] or None
    arrays.pop(META_KEY, None)
    digest = content_digest({**arrays, "y": y.astype(np.float32)[:, None, None, None]})
    if digest != record.get("digest"):
        raise EdgeferError(f"check set {path.name} does not match its recorded digest (edited?)")
    missing = [n for n in inputs if n not in arrays]
    if missing:
        raise EdgeferError(f"check set {path.name} has no input {', '.join(missing)}")
    data = EvalSet({n: arrays[n].astype(np.float32) for n in inputs}, y, groups)
    return data, HeldoutInfo("checkset", len(data), str(path), made_with, digest)


def heldout_for(
    spec: PreprocessSpec,
    inputs: Sequence[str],
    limit_per_class: int | None = None,
    seed: int = 0,
    faces_root: str | Path | None = None,
    voices_roots: Sequence[str | Path] | None = None,
    progress: Progress | None = None,
) -> tuple[EvalSet, HeldoutInfo]:
    """The dataset's held-out set, else the shipped check set for ``spec``.

    The dataset's set is used when the dataset is there (or folders are given); refuses with one
    line when neither exists.
    """
    from edgefer.evalsets import data_config, heldout_set

    given = faces_root is not None or voices_roots is not None
    if not given:
        try:
            data_config(seed)
        except EdgeferError:
            path = checkset_path(spec.digest())
            if not path.is_file():
                shipped = sorted(CHECKSET_DIR.glob("*.npz"))
                if not shipped:
                    raise EdgeferError(
                        "no held-out data: the dataset is not under the data root (set "
                        "EDGEFER_DATA) and no check set is shipped"
                    ) from None
                path = shipped[0]  # refused below with the digests it was made for
            return load_checkset(path, spec.digest(), inputs)
    data = heldout_set(
        spec, list(inputs), limit_per_class, seed, faces_root, voices_roots, progress=progress
    )
    return data, HeldoutInfo("dataset", len(data), None, spec.digest())
