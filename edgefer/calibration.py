"""Calibration sets: real training-distribution inputs that every INT8 path is calibrated on.

A set holds N samples per input name (``face``, ``voice``: float32 N x S x S x C in [0, 1]), made by
the shared loaders (:mod:`edgefer.data.arrays` -> :mod:`edgefer.preprocess`) from the *training*
splits: faces drawn at random (so the class mix is training's), masked as training masks them (80 %,
by file and seed), each paired with a training voice clip of its class. Drawing from training keeps
the held-out sets of ``build-engine``'s accuracy check unseen.

On disk: ``.npz`` keyed by input name, stored as float16 (the values lie in [0, 1], where float16's
error is below 2.5e-4, far under what INT8 resolves; the file is half the size), plus ``_meta`` (JSON:
content digest, spec digest, provenance) and a sidecar JSON. The in-memory set is already rounded to
float16, so the digest of a built set and of its loaded copy agree and loading can verify it.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgefer import __version__
from edgefer.engines.artifact import atomic_path, read_sidecar, sidecar_path, write_sidecar
from edgefer.engines.base import TensorSpec
from edgefer.errors import EdgeferError
from edgefer.spec import PreprocessSpec

DEFAULT_SAMPLES = 300
TRAIN_MASK_FRACTION = 0.8  # TrainConfig's default: calibration faces look like training faces
STORE_DTYPE = np.float16
META_KEY = "_meta"
Progress = Callable[[str, int, int], None]


def content_digest(arrays: dict[str, np.ndarray]) -> str:
    """Hash of the names, shapes and float32 bytes of the arrays, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name], dtype=np.float32)
        digest.update(f"{name}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


@dataclass
class CalibrationSet:
    """N real samples per input name, with their ``digest`` and ``spec_digest``.

    ``digest`` is the content digest; ``spec_digest`` is that of the preprocessing that made them.
    """

    arrays: dict[str, np.ndarray]
    digest: str
    spec_digest: str
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], spec_digest: str, meta: dict[str, Any] | None = None
    ) -> CalibrationSet:
        """A set from arrays (rounded through float16, as stored); checks ranks, sizes, values."""
        if not arrays:
            raise EdgeferError("a calibration set needs at least one input")
        rounded: dict[str, np.ndarray] = {}
        for name, array in arrays.items():
            array = np.asarray(array)
            if array.ndim != 4 or not np.issubdtype(array.dtype, np.floating):
                raise EdgeferError(
                    f"calibration input {name!r} must be float N x H x W x C, got "
                    f"{array.dtype} {array.shape}"
                )
            if not np.all(np.isfinite(array)):
                raise EdgeferError(f"calibration input {name!r} holds NaN or infinite values")
            rounded[name] = array.astype(STORE_DTYPE).astype(np.float32)
        if len({a.shape[0] for a in rounded.values()}) != 1:
            sizes = {n: a.shape[0] for n, a in rounded.items()}
            raise EdgeferError(f"calibration inputs hold different numbers of samples: {sizes}")
        return cls(rounded, content_digest(rounded), spec_digest, dict(meta or {}))

    def __len__(self) -> int:
        return int(next(iter(self.arrays.values())).shape[0]) if self.arrays else 0

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(self.arrays)

    def batches(
        self, batch_size: int, names: Sequence[str] | None = None
    ) -> Iterator[dict[str, np.ndarray]]:
        """Consecutive full batches in stored order.

        A fixed-batch calibrator needs full ones; ``len(self) % batch_size`` trailing samples are
        left out.
        """
        names = tuple(names) if names is not None else self.input_names
        missing = [n for n in names if n not in self.arrays]
        if missing:
            raise EdgeferError(
                f"calibration set has no input {', '.join(missing)} (it holds "
                f"{', '.join(self.input_names)})"
            )
        if not 1 <= batch_size <= len(self):
            raise EdgeferError(f"batch size {batch_size} does not fit {len(self)} samples")
        for start in range(0, len(self) - batch_size + 1, batch_size):
            yield {n: self.arrays[n][start : start + batch_size] for n in names}

    def check_fits(self, input_specs: dict[str, TensorSpec], min_samples: int) -> None:
        """Refuse a set that does not fit the model.

        That is a set that lacks one of the model's inputs, has another sample shape, or holds fewer
        than ``min_samples`` samples. Extra inputs are fine (a face model can use the face half of a
        fusion set).
        """
        for name, spec in input_specs.items():
            if name not in self.arrays:
                raise EdgeferError(
                    f"calibration set has inputs {', '.join(self.input_names)}, the model needs "
                    f"{', '.join(input_specs)}"
                )
            got, want = self.arrays[name].shape[1:], tuple(spec.shape[1:])
            if len(got) != len(want) or any(
                w is not None and g != w for g, w in zip(got, want, strict=True)
            ):
                raise EdgeferError(
                    f"calibration input {name!r} is {got} per sample, the model wants "
                    f"{spec.describe()}"
                )
        if len(self) < min_samples:
            raise EdgeferError(
                f"calibration set holds {len(self)} samples, fewer than the {min_samples} needed "
                "(build a larger one with `edgefer calibrate -n`, or lower --min-calib)"
            )

    def describe(self) -> str:
        shapes = ", ".join(f"{n}{tuple(a.shape[1:])}" for n, a in self.arrays.items())
        return f"{len(self)} samples of {shapes}, digest {self.digest}"


def save_calibration(calib: CalibrationSet, path: str | Path) -> Path:
    """Write the set atomically as ``.npz``, and its sidecar JSON.

    The ``.npz`` holds float16 arrays keyed by input name, plus ``_meta``.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise EdgeferError(f"a calibration set is saved as .npz: {path}")
    meta = {**calib.meta, "digest": calib.digest, "spec_digest": calib.spec_digest}
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        stored = {n: a.astype(STORE_DTYPE) for n, a in calib.arrays.items()}
        np.savez_compressed(handle, **stored, **{META_KEY: np.array(json.dumps(meta))})
    write_sidecar(
        path,
        {
            **{k: v for k, v in calib.meta.items() if k not in ("samples", "preprocess")},
            "kind": "calibration",  # after the free-form meta, so a stale copy never wins
            "digest": calib.digest,
            "spec_digest": calib.spec_digest,
            "n": len(calib),
            "inputs": {n: list(a.shape[1:]) for n, a in calib.arrays.items()},
            "stored_dtype": np.dtype(STORE_DTYPE).name,
        },
    )
    return path


def load_calibration(path: str | Path) -> CalibrationSet:
    """Read a set, checking the sidecar (when present) and the content digest.

    A corrupt, truncated or edited file is one clear error. A plain ``.npz`` of input arrays is
    accepted with a warning.
    """
    path = Path(path)
    if not path.is_file():
        raise EdgeferError(f"calibration set not found: {path}")
    if sidecar_path(path).is_file():
        read_sidecar(path)  # a truncated or replaced file fails its recorded hash
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files if k != META_KEY}
            meta = json.loads(str(npz[META_KEY])) if META_KEY in npz.files else None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise EdgeferError(f"calibration set {path.name} is corrupt or truncated: {exc}") from exc
    if meta is None:
        warnings.warn(
            f"{path.name} is a plain .npz without edgefer metadata: its preprocessing cannot be "
            "checked against the model's",
            stacklevel=2,
        )
        return CalibrationSet.from_arrays(arrays, spec_digest="", meta={"source": str(path)})
    calib = CalibrationSet.from_arrays(arrays, str(meta.get("spec_digest", "")), meta)
    if calib.digest != meta.get("digest"):
        raise EdgeferError(
            f"calibration set {path.name} does not match its recorded digest (edited or corrupt)"
        )
    return calib


def default_calibration_path(spec: PreprocessSpec, n: int, seed: int = 0) -> Path:
    """Where ``calibrate`` and ``build-engine`` keep a training-split set.

    The file is named by what decides it.
    """
    return Path("calibration") / f"train-{spec.digest()}-n{n}-s{seed}.npz"


def spec_from(source: str | Path) -> PreprocessSpec:
    """The preprocessing spec of a preset name, a spec file, a run folder or a model.

    The source may be a preset name (``edge``/``paper``), a ``spec.json``, a run folder, a
    ``.keras`` model or an exported ``.onnx`` (its embedded metadata).
    """
    from edgefer.spec import PRESET_NAMES, preset_spec

    if str(source) in PRESET_NAMES:
        return preset_spec(str(source))
    path = Path(source)
    if path.suffix == ".onnx":
        from edgefer.onnx_meta import (
            graph_specs,
            load_onnx,
            model_metadata,
            resolve_metadata,
            spec_of,
        )

        model = load_onnx(path)
        meta = model_metadata(model, path.name)
        return spec_of(resolve_metadata(meta, *graph_specs(model), path.name))
    if path.is_dir() or path.suffix == ".keras":
        from edgefer.model_source import resolve_source

        path = resolve_source(path)[1]
    return PreprocessSpec.load(path)


def build_calibration_set(
    spec: PreprocessSpec,
    n: int = DEFAULT_SAMPLES,
    seed: int = 0,
    faces_root: str | Path | None = None,
    voices_roots: Sequence[str | Path] | None = None,
    progress: Progress | None = None,
    *,
    inputs: Sequence[str] = ("face", "voice"),
) -> CalibrationSet:
    """Draw ``n`` class-matched face/voice pairs from the training splits (see module docstring).

    Raises :class:`EdgeferError` when fewer than ``n`` usable faces exist. Voices are dealt evenly
    from the training clips of each class, as training pairs them, so with more samples than clips a
    clip serves several faces (``meta['distinct']`` says how many distinct files each input uses).
    """
    from edgefer.data.arrays import load_voice_array
    from edgefer.data.datasplit import split_faces, split_voices
    from edgefer.data.pairing import pair_by_class
    from edgefer.evalsets import data_config

    names = tuple(inputs)
    if n < 1 or not names or not set(names) <= {"face", "voice"}:
        raise EdgeferError(f"need n >= 1 and inputs among face, voice; got n={n}, {names}")
    config = data_config(seed, faces_root, voices_roots)
    rng = np.random.default_rng([seed, 0xCA1B])

    def report(label: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(label, done, total))

    arrays: dict[str, np.ndarray] = {}
    labels: np.ndarray | None = None
    samples: dict[str, list[str]] = {}
    if "face" in names:
        faces = _usable_faces(split_faces(config)["train"], spec, n, seed, rng, report("faces"))
        arrays["face"], labels = faces.x, faces.y
        samples["face"] = [_key(s.path) for s in faces.samples]
    if "voice" in names:
        clips = load_voice_array(split_voices(config)["train"], spec, report("voices"))
        if labels is None:  # voice only: the training class mix of the clips
            labels = clips.y[rng.permutation(clips.y.size)][np.arange(n) % clips.y.size]
        pick = pair_by_class(labels, clips.y, rng, spec.class_names)
        arrays["voice"] = clips.x[pick]
        samples["voice"] = [_key(clips.samples[i].path) for i in pick]
    assert labels is not None
    counts = {c: int(np.sum(labels == i)) for i, c in enumerate(spec.class_names)}
    meta = {
        "n": n,
        "seed": seed,
        "split": "train",
        "mask_fraction": TRAIN_MASK_FRACTION if "face" in names else None,
        "class_counts": counts,
        "distinct": {k: len(set(v)) for k, v in samples.items()},
        "faces_root": str(config.face_root()),
        "voices_roots": [str(r) for r in config.voice_roots()],
        "preprocess": spec.to_dict(),
        "edgefer_version": __version__,
        "samples": samples,
    }
    return CalibrationSet.from_arrays(arrays, spec.digest(), meta)


def _key(path: Path) -> str:
    return "/".join(Path(path).parts[-2:])


def _usable_faces(
    candidates: Sequence[Any],
    spec: PreprocessSpec,
    n: int,
    seed: int,
    rng: np.random.Generator,
    progress: Callable[[int, int], None] | None,
) -> Any:
    """Load faces in random order until ``n`` decode; refuse if the split runs out first."""
    from edgefer.data.arrays import FaceArrays, load_face_array

    if n > len(candidates):
        raise EdgeferError(
            f"only {len(candidates)} training faces, fewer than the {n} calibration samples asked for"
        )
    order = rng.permutation(len(candidates))
    parts: list[FaceArrays] = []
    have, start = 0, 0
    while have < n and start < order.size:
        want = n - have
        chunk = [candidates[i] for i in order[start : start + want + max(4, want // 20)]]
        start += len(chunk)
        try:
            part = load_face_array(chunk, spec, TRAIN_MASK_FRACTION, seed, progress)
        except EdgeferError:  # every file of this chunk was unusable: try the next ones
            continue
        parts.append(part)
        have += len(part.y)
    if have < n:
        raise EdgeferError(
            f"only {have} usable training faces, fewer than the {n} calibration samples asked for"
        )
    x = np.concatenate([p.x for p in parts])[:n]
    y = np.concatenate([p.y for p in parts])[:n]
    kept = [s for p in parts for s in p.samples][:n]
    return FaceArrays(x=x, y=y, samples=kept)
