"""Classification metrics in plain NumPy (the runtime side and the benchmarks use them too).

Every figure carries its ``n``: small test sets lie, so per-class recall and per-group (per-actor)
accuracy are reported beside the overall accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``[true, predicted]``, shape (n_classes, n_classes).

    Examples
    --------
    >>> confusion_matrix([0, 1, 2, 2], [0, 2, 2, 2], n_classes=3)
    array([[1, 0, 0],
           [0, 0, 1],
           [0, 0, 2]])
    """
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return matrix


def classification_report(
    y_true: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
    groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1 and, given groups, per-group accuracy.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n,)] integer labels
    probs : np.ndarray [shape=(n, n_classes)] class probabilities
    groups : one id per sample (e.g. the voice actor), or None

    Examples
    --------
    >>> probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    >>> names = ("negative", "neutral", "positive")
    >>> report = classification_report(np.array([0, 1, 2, 2]), probs, names)
    >>> report["accuracy"], report["macro_f1"]
    (0.75, 0.6)
    >>> report["per_class_recall"]
    {'negative': 1.0, 'neutral': 0.0, 'positive': 1.0}
    """
    y_true = np.asarray(y_true, np.int64)
    y_pred = np.asarray(probs).argmax(axis=1)
    n_classes = len(class_names)
    matrix = confusion_matrix(y_true, y_pred, n_classes)
    true_counts = matrix.sum(axis=1)
    pred_counts = matrix.sum(axis=0)
    hits = np.diag(matrix)
    recall = np.divide(hits, true_counts, out=np.zeros(n_classes), where=true_counts > 0)
    precision = np.divide(hits, pred_counts, out=np.zeros(n_classes), where=pred_counts > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(n_classes), where=denom > 0)
    present = true_counts > 0
    report: dict[str, Any] = {
        "n": int(y_true.size),
        "accuracy": float(hits.sum() / max(y_true.size, 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class_recall": {c: float(r) for c, r in zip(class_names, recall, strict=True)},
        "per_class_precision": {c: float(p) for c, p in zip(class_names, precision, strict=True)},
        "per_class_f1": {c: float(v) for c, v in zip(class_names, f1, strict=True)},
        "per_class_n": {c: int(v) for c, v in zip(class_names, true_counts, strict=True)},
        "confusion_matrix": matrix.tolist(),
    }
    if groups is not None:
        report["per_group"] = per_group_accuracy(y_true, y_pred, groups)
    return report


def per_group_accuracy(
    y_true: np.ndarray, y_pred: np.ndarray, groups: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Accuracy and n for each group id (e.g. each held-out actor)."""
    groups_arr = np.asarray(list(groups))
    out = {}
    for group in sorted(set(groups_arr.tolist())):
        mask = groups_arr == group
        out[str(group)] = {
            "n": int(mask.sum()),
            "accuracy": float((y_true[mask] == y_pred[mask]).mean()),
        }
    return out


def plot_confusion(
    matrix: np.ndarray, class_names: Sequence[str], title: str, path: str | Path
) -> None:
    """Write a confusion-matrix PNG with counts and row-normalised recall in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix)
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    fig, ax = plt.subplots(figsize=(4.2, 3.8), dpi=120)
    ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=30)
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} (n={int(matrix.sum())})", fontsize=9)
    for i in ticks:
        for j in ticks:
            colour = "white" if norm[i, j] > 0.5 else "black"
            ax.text(
                j,
                i,
                f"{matrix[i, j]}\n{norm[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=8,
                color=colour,
            )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
