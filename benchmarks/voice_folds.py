"""Voice model accuracy over RAVDESS actor folds: benchmarks/results/voice_folds.json

Usage: python benchmarks/voice_folds.py [--epochs 30] [--runs runs/voice-folds] [--folds 5]

With 20 actors, one 4-actor test split swings a voice model by 15 points or more, so the shipped voice
model's single split is complemented by k folds (4 test actors each, the next 2 actors for
validation, the rest for training), each trained with `edgefer train` exactly as the shipped model
was. Finished folds are reused; an interrupted fold resumes.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

from edgefer.paths import data_root


def fold_actors(k: int, folds: int, n_actors: int = 20) -> tuple[list[str], list[str]]:
    per = n_actors // folds
    test = [(k * per + i) % n_actors + 1 for i in range(per)]
    val = [(k * per + per + i) % n_actors + 1 for i in range(2)]
    return [f"ravdess:{a:02d}" for a in test], [f"ravdess:{a:02d}" for a in val]


def _finished(state: dict, epochs: int) -> bool:
    """A fold is done when it ran its epochs or stopped early (no better validation for --patience)."""
    return state["epoch"] >= epochs or bool(state.get("stopped_early"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--runs", type=Path, default=Path("runs/voice-folds"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/voice_folds.json"))
    parser.add_argument(
        "--train-args",
        default="",
        help='Extra `edgefer train` options for every fold, e.g. "--extra-voices none" (an ablation).',
    )
    args = parser.parse_args()
    voices = data_root() / "voice" / "ravdess"
    results = []
    for k in range(args.folds):
        test, val = fold_actors(k, args.folds)
        run = args.runs / f"fold{k + 1}"
        state = run / "state.json"
        done = (run / "metrics.json").is_file() and _finished(
            json.loads(state.read_text()), args.epochs
        )
        if not done:
            command = (
                [
                    sys.executable,
                    "-m",
                    "edgefer.cli",
                    "train",
                    "--fusion",
                    "voice",
                    "--epochs",
                    str(args.epochs),
                    "--voices",
                    str(voices),
                    "--voice-test-actors",
                    ",".join(test),
                    "--voice-val-actors",
                    ",".join(val),
                    "--output",
                    str(run),
                ]
                + shlex.split(args.train_args)
                + (["--resume"] if state.is_file() else [])
            )
            print(f"fold {k + 1}: test {test}", flush=True)
            subprocess.run(command, check=True)
        test_report = json.loads((run / "metrics.json").read_text())["sets"]["test"]
        results.append(
            {
                "fold": k + 1,
                "actors": test,
                "n": test_report["n"],
                "accuracy": test_report["accuracy"],
                "macro_f1": test_report["macro_f1"],
                "per_actor": test_report.get("per_group", {}),
                "val_macro_f1": json.loads(state.read_text()).get("best_val_macro_f1"),
                "epochs_run": json.loads(state.read_text())["epoch"],
            }
        )
    accuracies = [r["accuracy"] for r in results]
    summary = {
        "description": f"{args.folds} folds over RAVDESS actors 01-20 (4 test actors each, the next 2 "
        f"for validation, the rest for training), at most {args.epochs} epochs each, edge "
        "preset, seed 0, `edgefer train`'s defaults (config of fold 1 under 'train_config').",
        "train_config": json.loads((args.runs / "fold1" / "config.json").read_text())
        if (args.runs / "fold1" / "config.json").is_file()
        else None,
        "folds": results,
        "mean": statistics.fmean(accuracies),
        "std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
        "command": "python benchmarks/voice_folds.py " + " ".join(sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"mean {summary['mean']:.3f} +- {summary['std']:.3f} over {len(results)} folds")


if __name__ == "__main__":
    main()
