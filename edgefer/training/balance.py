"""Class-balanced loss weights (``--class-weights balanced``).

Why: 52 % of FER2013's faces are negative, and a model trained on them unweighted learns to say
"negative" whenever unsure (the shipped face model: neutral recall 12 %). Weighting each sample's
loss by ``N / (K * n_c)`` for its class ``c`` (``N`` training samples, ``K`` classes, ``n_c`` of
class ``c``) gives every class the same total weight. The weights average 1 over the training
samples, so the loss keeps its scale and the learning rate its meaning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgefer.errors import EdgeferError


def balanced_class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``N / (K * n_c)`` for each class index ``c`` of ``labels``; float64 (K,).

    Raises :class:`EdgeferError` when a class has no training sample: it cannot be balanced, and a
    model never shown it cannot learn it.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1 or labels.size == 0:
        raise EdgeferError("class weights need a non-empty 1-D array of training labels")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise EdgeferError(f"training labels outside the {n_classes} classes")
    counts = np.bincount(labels, minlength=n_classes)
    if (counts == 0).any():
        missing = ", ".join(str(c) for c in np.flatnonzero(counts == 0))
        raise EdgeferError(f"no training sample of class {missing}: cannot balance the loss")
    return labels.size / (n_classes * counts.astype(np.float64))


def class_weights_for(mode: str, labels: np.ndarray, n_classes: int) -> np.ndarray | None:
    """The weights of ``--class-weights mode`` (``balanced``), or None for ``none``."""
    if mode == "none":
        return None
    if mode == "balanced":
        return balanced_class_weights(labels, n_classes)
    raise EdgeferError(f"unknown class weights {mode!r}: choose balanced or none")


def describe_weights(weights: np.ndarray | None, class_names: Sequence[str]) -> dict[str, float]:
    """``{class name: weight}`` for reports; every weight 1.0 when the loss is unweighted."""
    if weights is None:
        return dict.fromkeys(class_names, 1.0)
    return {name: round(float(w), 4) for name, w in zip(class_names, weights, strict=True)}
