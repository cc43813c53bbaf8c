"""The training-free fusion baseline: benchmarks/results/product_baseline.{json,md}

Usage: python benchmarks/product_baseline.py

On the held-out pairs of the accuracy table (FER2013 ``val`` faces with the project's masks, each
paired by class with a clip of the held-out voice actors: ``edgefer.evalsets.heldout_set``, seed 0),
the shipped face and voice models' probabilities are multiplied (then renormalised) and the argmax
taken. A learned fusion that does not beat this product is not earning its parameters. Reported with
n, 95 % Wilson intervals, macro-F1 and per-class recall, beside the shipped middle, early and late
fusions on the same pairs. Nothing here is trained or tuned.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.engines.artifact import atomic_write_text
from edgefer.engines.onnxruntime import OrtEngine
from edgefer.evalsets import heldout_set, predict_batched
from edgefer.onnx_meta import spec_of
from edgefer.shipped import shipped_path

RESULTS = Path(__file__).resolve().parent / "results"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def scores(pred: np.ndarray, y: np.ndarray, classes: list[str]) -> dict[str, Any]:
    n, k = int(y.size), int(np.sum(pred == y))
    recall, f1s = {}, []
    for c, name in enumerate(classes):
        tp = int(np.sum((pred == c) & (y == c)))
        actual, predicted = int(np.sum(y == c)), int(np.sum(pred == c))
        r = tp / actual if actual else 0.0
        p = tp / predicted if predicted else 0.0
        recall[name] = r
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    low, high = wilson(k, n)
    return {
        "n": n,
        "accuracy": k / n,
        "interval95": [low, high],
        "macro_f1": float(np.mean(f1s)),
        "recall": recall,
    }


def main() -> None:
    engines = {
        name: OrtEngine(shipped_path(name, ".onnx"))
        for name in ("face", "voice", "middle", "early", "late")
    }
    spec = spec_of(engines["middle"].metadata)
    data = heldout_set(spec, ["face", "voice"])
    classes = list(engines["middle"].metadata["class_names"])
    probs = {
        name: predict_batched(e.predict, {k: data.inputs[k] for k in e.inputs})
        for name, e in engines.items()
    }
    product = probs["face"] * probs["voice"]
    product /= product.sum(axis=1, keepdims=True)
    rows = {name: scores(p.argmax(axis=1), data.y, classes) for name, p in probs.items()}
    rows["product (face x voice)"] = scores(product.argmax(axis=1), data.y, classes)
    best_unimodal = max(rows["face"]["accuracy"], rows["voice"]["accuracy"])
    result = {
        "command": "python benchmarks/product_baseline.py " + " ".join(sys.argv[1:]),
        "set": "held-out pairs of the accuracy table (FER2013 val masked, held-out voice actors, "
        "paired by class, seed 0)",
        "rows": rows,
        "gain_over_best_unimodal_points": {
            name: 100 * (rows[name]["accuracy"] - best_unimodal)
            for name in ("middle", "early", "late", "product (face x voice)")
        },
        "gain_over_product_points": {
            name: 100 * (rows[name]["accuracy"] - rows["product (face x voice)"]["accuracy"])
            for name in ("middle", "early", "late")
        },
    }
    lines = [
        "# The product baseline beside the learned fusions",
        "",
        f"`{result['command'].strip()}` on the {result['set']}; shipped models, ONNX Runtime FP32. "
        "One split: the fold table of issue 12 is still to come.",
        "",
        "| model | accuracy (n) | 95 % interval | macro-F1 | recall " + " / ".join(classes) + " |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, r in rows.items():
        low, high = r["interval95"]
        recall = " / ".join(f"{100 * r['recall'][c]:.0f}" for c in classes)
        lines.append(
            f"| {name} | {100 * r['accuracy']:.2f}% ({r['n']}) | {100 * low:.1f}-{100 * high:.1f} "
            f"| {r['macro_f1']:.3f} | {recall} |"
        )
    lines += ["", "Gain over the product baseline, points: " + ", ".join(
        f"{k} {v:+.2f}" for k, v in result["gain_over_product_points"].items()
    ), ""]  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / "product_baseline.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(RESULTS / "product_baseline.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
