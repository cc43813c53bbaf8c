"""Held-out real evaluation sets, and how two engines compare on them.

The accuracy checks of ``export`` (parity) and ``build-engine`` (INT8/FP16 against FP32) run on data
no model or calibration set has seen: FER2013 ``val`` faces, every one wearing a synthetic mask (the
``test_masked`` set of training), each paired with a clip of the same class from the held-out voice
actors. With the same seed and no per-class limit this is exactly the set behind ``test_masked`` in a
run's ``metrics.json``, so an FP32 engine's accuracy here can be checked against training's figure.

No Keras here: the engines side (and a Jetson without TensorFlow) uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgefer.data.datasplit import DataSplit
from edgefer.data.evalset import EvalSet, eval_set, heldout_arrays
from edgefer.spec import PreprocessSpec

Progress = Callable[[str, int, int], None]
Predict = Callable[[dict[str, np.ndarray]], np.ndarray]


def data_config(
    seed: int = 0,
    faces_root: str | Path | None = None,
    voices_roots: Sequence[str | Path] | None = None,
    limit_per_class: int | None = None,
) -> DataSplit:
    """Training's default splits (actors and fractions) over these folders, paths checked."""
    split = DataSplit(
        faces=Path(faces_root) if faces_root is not None else None,
        voices=tuple(Path(v) for v in voices_roots or ()),
        seed=seed,
        limit_per_class=limit_per_class,
    )
    split.check_paths()
    return split


def heldout_set(
    spec: PreprocessSpec,
    inputs: Sequence[str],
    limit_per_class: int | None = None,
    seed: int = 0,
    faces_root: str | Path | None = None,
    voices_roots: Sequence[str | Path] | None = None,
    masked: bool = True,
    progress: Progress | None = None,
) -> EvalSet:
    """Real held-out inputs, with labels, for a model taking ``inputs`` (face, voice or both).

    The arrays are :func:`~edgefer.data.evalset.heldout_arrays`' (faces masked as training's
    ``test_masked``, voices of the test actors); two-input sets pair each face with a voice of its
    class (``eval_set``'s seeded pairing).
    """
    names = tuple(inputs)
    split = data_config(seed, faces_root, voices_roots, limit_per_class)
    held = heldout_arrays(split, spec, names, (masked,), progress)
    fusion = "middle" if len(names) == 2 else names[0]
    return eval_set(fusion, held.faces(masked), held.voices, seed)


def predict_batched(
    predict: Predict, inputs: dict[str, np.ndarray], batch_size: int = 64
) -> np.ndarray:
    """Probabilities for every row of ``inputs``, ``batch_size`` rows per call."""
    n = len(next(iter(inputs.values())))
    parts = [
        np.asarray(predict({k: v[start : start + batch_size] for k, v in inputs.items()}))
        for start in range(0, n, batch_size)
    ]
    return np.concatenate(parts, axis=0)


@dataclass(frozen=True)
class Agreement:
    """A candidate engine against the FP32 reference on one labelled set.

    drop_points : reference accuracy minus candidate accuracy, in percentage points (positive = worse).
    agreement : share of samples where both predict the same class.
    """

    n: int
    reference_accuracy: float
    candidate_accuracy: float
    agreement: float
    max_abs_diff: float

    @property
    def drop_points(self) -> float:
        return 100.0 * (self.reference_accuracy - self.candidate_accuracy)

    def to_dict(self) -> dict[str, float]:
        return {
            "n": self.n,
            "reference_accuracy": self.reference_accuracy,
            "candidate_accuracy": self.candidate_accuracy,
            "agreement": self.agreement,
            "max_abs_diff": self.max_abs_diff,
            "drop_points": self.drop_points,
        }


def compare(
    reference: Predict, candidate: Predict, data: EvalSet, batch_size: int = 64
) -> Agreement:
    """Accuracy of both and their argmax agreement on ``data``."""
    want = predict_batched(reference, data.inputs, batch_size)
    got = predict_batched(candidate, data.inputs, batch_size)
    ref_pred, cand_pred = want.argmax(axis=1), got.argmax(axis=1)
    return Agreement(
        n=len(data),
        reference_accuracy=float(np.mean(ref_pred == data.y)),
        candidate_accuracy=float(np.mean(cand_pred == data.y)),
        agreement=float(np.mean(ref_pred == cand_pred)),
        max_abs_diff=float(np.abs(got - want).max()),
    )
