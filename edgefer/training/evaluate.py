"""Evaluate a Keras model on fixed sets and write the run's metrics JSON and confusion PNGs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.data.evalset import EvalSet
from edgefer.metrics import classification_report, plot_confusion


def predict_probs(model, inputs: dict[str, np.ndarray], batch_size: int = 128) -> np.ndarray:
    """Class probabilities for every row of ``inputs``.

    They come from batched ``predict_on_batch`` calls, with no callbacks.
    """
    n = len(next(iter(inputs.values())))
    out = []
    for start in range(0, n, batch_size):
        chunk = {k: v[start : start + batch_size] for k, v in inputs.items()}
        out.append(np.asarray(model.predict_on_batch(chunk)))
    return np.concatenate(out, axis=0)


def evaluate(model, data: EvalSet, class_names: tuple[str, ...]) -> dict[str, Any]:
    probs = predict_probs(model, data.inputs)
    return classification_report(data.y, probs, class_names, data.groups)


def write_reports(
    run_dir: Path,
    reports: dict[str, dict[str, Any]],
    class_names: tuple[str, ...],
    extra: dict[str, Any],
    title: str,
) -> None:
    """``metrics.json`` with every evaluated set, and ``confusion_<set>.png`` for each.

    The primary set's matrix is also written as ``confusion.png``.
    """
    primary = next(iter(reports))
    for name, report in reports.items():
        matrix = np.asarray(report["confusion_matrix"])
        plot_confusion(matrix, class_names, f"{title}: {name}", run_dir / f"confusion_{name}.png")
    plot_confusion(
        np.asarray(reports[primary]["confusion_matrix"]),
        class_names,
        f"{title}: {primary}",
        run_dir / "confusion.png",
    )
    payload = {"primary": primary, **reports[primary], "sets": reports, **extra}
    (run_dir / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n")
