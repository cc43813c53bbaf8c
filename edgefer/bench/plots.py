"""The benchmark's two figures, drawn from its JSON alone (so a committed result can be redrawn).

- ``latency.png``: the batch-1 latency distribution of every engine (box = p25-p75, whiskers = p1-p99,
  log scale, since Keras ``predict`` and ONNX Runtime differ a hundred-fold);
- ``accuracy_latency.png``: held-out accuracy against batch-1 p50 latency, the trade-off an edge
  deployment picks from (bars reach p90 and p99).
Matplotlib's Agg backend: no display needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _horizontal() -> dict[str, Any]:
    """Horizontal boxes: ``orientation`` since Matplotlib 3.10, ``vert`` (deprecated) before."""
    import matplotlib

    major, minor = (int(v) for v in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _title(result: dict[str, Any], what: str) -> str:
    cpu = result["system"]["cpu"]
    return (
        f"{result['model']['label']}: {what}\n{cpu['model']}, {cpu['usable_cores']} cores, "
        f"load {(result['system'].get('load_average_start') or ['?'])[0]}"
    )


def latency_plot(result: dict[str, Any], path: Path) -> Path:
    """Box plot of each engine's batch-1 call times (ms, log scale)."""
    plt = _plt()
    names = [r["name"] for r in result["engines"] if f"{r['name']}@1" in result["latency_ms"]]
    data = [np.asarray(result["latency_ms"][f"{n}@1"]) for n in names]
    fig, ax = plt.subplots(figsize=(8.0, 0.55 * len(names) + 1.8), dpi=120)
    if names:
        ax.boxplot(data, whis=(1, 99), showfliers=False, widths=0.6, **_horizontal())
        labels = [f"{n} (n={len(d)})" for n, d in zip(names, data, strict=True)]
        ax.set_yticks(range(1, len(names) + 1), labels)
        for i, d in enumerate(data, start=1):
            ax.plot(np.median(d), i, "o", color="tab:red", markersize=4)
        ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("batch-1 latency, ms (log); box p25-p75, whiskers p1-p99, dot p50")
    ax.set_title(_title(result, "latency per engine"), fontsize=9)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def accuracy_latency_plot(result: dict[str, Any], path: Path) -> Path:
    """Accuracy (%) against p50 latency (log ms), one labelled point per engine."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=120)
    accs = []
    for i, row in enumerate(r for r in result["engines"] if r.get("latency_p50_ms")):
        p50, acc = row["latency_p50_ms"], 100.0 * row["accuracy"]
        accs.append(acc)
        err = [[0.0], [max(row["latency_p99_ms"] - p50, 0.0)]]
        ax.errorbar(p50, acc, xerr=err, fmt="o", capsize=3)
        offset = (5, 6) if i % 2 == 0 else (5, -12)  # neighbours with equal accuracy stay legible
        ax.annotate(row["name"], (p50, acc), textcoords="offset points", xytext=offset, fontsize=7)
    if accs:  # at least +-1 point around the points: equal accuracies do not fill the axis
        mid = (max(accs) + min(accs)) / 2
        half = max((max(accs) - min(accs)) / 2 + 0.5, 1.0)
        ax.set_ylim(mid - half, mid + half)
    ax.set_xscale("log")
    ax.set_xlabel("latency at batch 1, p50 (ms, log scale; bar to p99)")
    ax.set_ylabel(f"accuracy on the held-out set (%), n={result['data']['n']}")
    ax.set_title(_title(result, "accuracy vs latency"), fontsize=9)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
