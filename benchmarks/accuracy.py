"""Accuracy of the five shipped edge models on held-out real data: benchmarks/results/accuracy.*

Usage: python benchmarks/accuracy.py [--models edgefer/assets/models] [--out benchmarks/results]

Scores every variant on the same test pairs (FER2013 val faces with synthetic masks, and unmasked,
paired by class with the held-out voice actors), the unimodal voice model on those pairs' voices too,
the fusion models with voices of a random class (what class-matched pairing buys), and all of them on
the genuinely paired CREMA-D audio-visual clips. Nothing here is used for training or tuning.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from edgefer.data.labels import CREMAD_LABELS, parse_label_map  # noqa: E402
from edgefer.evaluation.avclips import clip_probs, load_av_clips  # noqa: E402
from edgefer.evaluation.report import write_markdown  # noqa: E402
from edgefer.evaluation.testsets import load_held_out  # noqa: E402
from edgefer.metrics import classification_report, plot_confusion  # noqa: E402
from edgefer.paths import data_root  # noqa: E402
from edgefer.spec import FUSIONS, PreprocessSpec  # noqa: E402
from edgefer.training.evaluate import predict_probs  # noqa: E402

PAPER = {"face": 0.6880, "voice": 0.7239, "early": 0.7610, "middle": 0.7981, "late": 0.7224}
EXTENDED_CREMAD = parse_label_map("DIS=negative,FEA=negative,SAD=negative", CREMAD_LABELS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("edgefer/assets/models"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import keras

    from edgefer.models.keras_engine import load_keras

    variants = [v for v in FUSIONS if (args.models / f"{v}.keras").is_file()]
    if not variants:
        sys.exit(f"no models in {args.models}")
    spec = PreprocessSpec.load(args.models / f"{variants[0]}.spec.json")
    held = load_held_out(spec, seed=args.seed)
    av_root = data_root() / "av" / "cremad"
    clips = {
        "paper": load_av_clips(av_root, spec),
        "extended": load_av_clips(av_root, spec, EXTENDED_CREMAD),
    }
    figures = args.out / "accuracy"
    figures.mkdir(parents=True, exist_ok=True)
    models: dict[str, dict] = {}
    for variant in variants:
        model = load_keras(args.models / f"{variant}.keras")
        sets = {}
        for name, data in held.sets_for(variant).items():
            sets[name] = classification_report(
                data.y, predict_probs(model, data.inputs), spec.class_names, data.groups
            )
        primary = "test_masked" if variant != "voice" else "test_clips"
        plot_confusion(
            np.asarray(sets[primary]["confusion_matrix"]),
            spec.class_names,
            f"{variant} (edge): {primary}",
            figures / f"confusion_{variant}.png",
        )
        av = {}
        for mapping, clip_list in clips.items():
            rows = [(c, clip_probs(model.predict_on_batch, variant, c)) for c in clip_list]
            rows = [(c, p) for c, p in rows if p is not None]
            av[mapping] = {
                "n": len(rows),
                "correct": int(sum(int(p.argmax() == c.label) for c, p in rows)),
                "clips": {
                    c.path.name: {
                        "true": spec.class_names[c.label],
                        "pred": spec.class_names[int(p.argmax())],
                        "probs": [round(float(v), 4) for v in p],
                    }
                    for c, p in rows
                },
            }
        models[variant] = {
            **{k: sets[primary][k] for k in ("n", "accuracy", "macro_f1", "per_class_recall")},
            "primary_set": primary,
            "paper_accuracy": PAPER[variant],
            "sets": sets,
            "av_clips": av,
            "confusion_png": str(figures / f"confusion_{variant}.png"),
        }
        keras.backend.clear_session()
    result = {
        "models": models,
        "data": describe_data(held, clips),
        "voice_folds": _read_json(args.out / "voice_folds.json"),
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "spec_digest": spec.digest(),
    }
    (args.out / "accuracy.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, args.out / "accuracy.md")
    print(f"wrote {args.out / 'accuracy.json'} and {args.out / 'accuracy.md'}")


def describe_data(held, clips) -> dict:
    faces, voices = held.faces_masked, held.voices
    return {
        "faces_test": {
            "source": "FER2013 val (PublicTest), surprise left out",
            "n": int(len(faces.y)),
            "masked": "all (test_masked) / none (test_unmasked)",
        },
        "voices_test": {
            "source": "RAVDESS actors 17-20 + CREMA-D actors 1001-1002",
            "n_clips": int(len(voices.y)),
            "actors": sorted({s.group for s in voices.samples}),
        },
        "pairing": "each test face paired with a test voice of the same class, one seeded pairing "
        "shared by all variants; random-voice control pairs ignore the class",
        "av_clips": {
            "paper_mapping": len(clips["paper"]),
            "extended_mapping": len(clips["extended"]),
        },
    }


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


if __name__ == "__main__":
    main()
