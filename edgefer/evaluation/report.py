"""Render the accuracy JSON as the Markdown table of benchmarks/results/accuracy.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LABELS = {
    "face": "unimodal face (masked)",
    "voice": "unimodal voice",
    "early": "early fusion",
    "middle": "middle fusion",
    "late": "late fusion",
}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def wilson_interval(accuracy: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of an accuracy over ``n`` samples.

    It is sound near 0 and 1, unlike the normal approximation, so every headline figure says how
    much its n can be trusted.

    Examples
    --------
    >>> [round(bound, 3) for bound in wilson_interval(0.9, n=100)]
    [0.826, 0.945]
    >>> wilson_interval(0.5, n=0)  # no samples: no information
    (0.0, 1.0)
    """
    if n <= 0:
        return 0.0, 1.0
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _ci(accuracy: float, n: int) -> str:
    low, high = wilson_interval(accuracy, n)
    return f"{100 * low:.1f}-{100 * high:.1f}"


DIFFERENCES = [
    "Faces: FER2013 (48 px grey, in-the-wild) with masks synthesised by `edgefer/masks.py`, "
    "not M-LFW-FER (LFW faces with their masks); 3 classes, surprise left out.",
    "Voices: 400 RAVDESS clips of 20 actors (+ 12 CREMA-D clips held out), not the full CREMA-D "
    "(7,442 clips, 91 actors): 280 training clips from 14 actors. Test voices come from 6 actors "
    "never heard in training or validation.",
    "Inputs and widths: the `edge` preset, 64 x 64 grey faces and 64-mel 2 s spectrograms, about "
    "1/6 of the paper's widths and a global-pool head (0.25-0.5 M parameters, against 124-247 M).",
    "Training: a few epochs, not the paper's schedule. The face model is first trained on unmasked "
    "faces (lr 1e-3), then fine-tuned with 80 % masked faces (lr 5e-4): trained on masked faces "
    "from scratch it stayed at the majority class. `middle` and `late` start from the trained face "
    "and voice networks (`--init-from`) and 40 % of their training pairs get a voice of a random "
    "class (`--voice-mismatch 0.4`). The unmasked face stage (4 of 10 epochs) and `early` (7 of 30 "
    "epochs) ran on a lent H200 with Keras' torch backend until its time ran out; the rest on 2 CPU "
    "cores with TensorFlow. Recipe: `scripts/train-all.sh`.",
    "Test: every face of FER2013 val, scored fully masked and unmasked, each paired with a held-out "
    "voice of the same class (one seeded pairing for all models). The paper's test split is not "
    "described in enough detail to reproduce.",
]


def _recalls(report: dict[str, Any]) -> str:
    return " / ".join(f"{100 * v:.0f}" for v in report["per_class_recall"].values())


def write_markdown(result: dict[str, Any], path: Path) -> None:
    models = result["models"]
    lines = [
        "# Accuracy of the shipped edge models",
        "",
        f"Command: `{result['command']}` (spec {result['spec_digest']}).",
        "",
        "## Test accuracy beside the paper's",
        "",
        "| model | ours: accuracy (n) | 95 % interval | ours: unmasked faces | macro-F1 "
        "| recall neg / neu / pos | paper |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant, m in models.items():
        unmasked = m["sets"].get("test_unmasked", {}).get("accuracy")
        lines.append(
            f"| {LABELS[variant]} | {_pct(m['accuracy'])} ({m['n']}) | {_ci(m['accuracy'], m['n'])} "
            f"| {_pct(unmasked)} | {m['macro_f1']:.3f} | {_recalls(m)} "
            f"| {_pct(m['paper_accuracy'])} |"
        )
    lines += [
        "",
        "Faces: FER2013 val with synthetic masks (and without, second column). Voice row: "
        "the held-out clips themselves; on the voices of the fusion test pairs it scores "
        + _pct(models.get("voice", {}).get("sets", {}).get("test_pairs", {}).get("accuracy"))
        + ". Confusion matrices: `benchmarks/results/accuracy/confusion_<model>.png`.",
        "",
    ]
    lines += ["## How this differs from the paper", ""] + [f"- {d}" for d in DIFFERENCES] + [""]
    lines += _gain_section(models) + _pairing_section(models) + _actor_section(models)
    lines += _folds_section(result.get("voice_folds")) + _av_section(models)
    path.write_text("\n".join(lines) + "\n")


def _gain_section(models: dict[str, Any]) -> list[str]:
    if "middle" not in models or "face" not in models or "voice" not in models:
        return []
    face = models["face"]["sets"]["test_masked"]["accuracy"]
    voice = models["voice"]["sets"]["test_pairs"]["accuracy"]
    middle = models["middle"]["sets"]["test_masked"]["accuracy"]
    clips = models["voice"]  # its primary set: the held-out clips themselves
    best = max(face, voice)
    gain = 100 * (middle - best)
    return [
        "## Targets",
        "",
        f"- Middle fusion vs best unimodal on the same test pairs: {_pct(middle)} vs "
        f"{_pct(best)} = {gain:+.2f} points (target: >= +8; paper: +10). The voice side rests "
        f"on {clips['n']} held-out clips of 6 actors (95 % interval {_ci(clips['accuracy'], clips['n'])} "
        "on the clips themselves), so the gain is well measured on the face side only.",
        f"- Middle fusion vs the paper's 79.81%: {100 * (middle - 0.7981):+.2f} points.",
        f"- Unimodal face on masked faces: {_pct(face)} vs the paper's 68.80% "
        f"({100 * (face - 0.688):+.2f} points).",
        "",
    ] + (_closing_notes(face, voice, middle) if gain < 8 or face < 0.688 else [])


def _closing_notes(face: float, voice: float, middle: float) -> list[str]:
    """Why the targets are missed and what would close them, read off the measured figures."""
    notes = ["What would close the gaps (none of it tuned on the test set):", ""]
    if face < 0.688:
        notes.append(
            "- Face: the face model is still improving when its training stops (validation accuracy "
            "rose every epoch of the masked fine-tune) and its unmasked stage ran 4 of its 10 "
            "epochs; the full `make train-all` schedule, more masked epochs, a class-balanced "
            "loss for the under-recalled neutral class, and the paper's larger inputs (224 px; the "
            "`paper` preset) are the next steps. FER2013 is also harder than M-LFW-FER (48 px "
            "in-the-wild crops against aligned LFW photos)."
        )
    if middle - max(face, voice) < 0.08:
        notes.append(
            "- Fusion gain: the fusion models lean on the voice (see the random-voice table below), "
            "and the voice branch has only 280 training clips of 14 actors, so it generalises to "
            f"unseen speakers far less well than on validation; on the test pairs' voices it scores "
            f"{_pct(voice)}. The full CREMA-D (7,442 clips, 91 actors), as the paper uses, is the "
            "lever; a better face model raises the fusion directly."
        )
    return notes + [""]


def _pairing_section(models: dict[str, Any]) -> list[str]:
    rows = [(v, m["sets"]) for v, m in models.items() if "test_masked_random_voice" in m["sets"]]
    if not rows:
        return []
    lines = [
        "## What class-matched pairing buys",
        "",
        "The datasets are not paired, so training (as in the paper) gives every face a voice of "
        "the same class. At test time a fusion model then sees two cues that always agree. With "
        "the voice drawn from a random class instead:",
        "",
        "| model | matched voice | random-class voice | difference |",
        "| --- | ---: | ---: | ---: |",
    ]
    for variant, sets in rows:
        matched = sets["test_masked"]["accuracy"]
        random = sets["test_masked_random_voice"]["accuracy"]
        lines.append(
            f"| {variant} | {_pct(matched)} | {_pct(random)} | {100 * (random - matched):+.2f} |"
        )
    return lines + [""]


def _actor_section(models: dict[str, Any]) -> list[str]:
    voice = models.get("voice")
    if voice is None:
        return []
    groups = voice["sets"]["test_clips"].get("per_group", {})
    lines = [
        "## Voice model per held-out actor",
        "",
        "| actor | n | accuracy |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {g} | {r['n']} | {_pct(r['accuracy'])} |" for g, r in groups.items()]
    return lines + [""]


def _folds_section(folds: dict[str, Any] | None) -> list[str]:
    if not folds:
        return [
            "## Voice model over actor folds",
            "",
            "Not run yet (`python benchmarks/voice_folds.py`).",
            "",
        ]
    lines = [
        "## Voice model over actor folds",
        "",
        folds.get("description", ""),
        "",
        "| fold | test actors | n | accuracy |",
        "| --- | --- | ---: | ---: |",
    ]
    for fold in folds["folds"]:
        lines.append(
            f"| {fold['fold']} | {', '.join(fold['actors'])} | {fold['n']} | "
            f"{_pct(fold['accuracy'])} |"
        )
    lines += [
        "",
        f"Mean {_pct(folds['mean'])}, standard deviation {100 * folds['std']:.2f} points "
        f"over {len(folds['folds'])} folds.",
        "",
    ]
    return lines


def _av_section(models: dict[str, Any]) -> list[str]:
    lines = [
        "## Genuinely paired audio-visual clips (CREMA-D)",
        "",
        "Face from the video frames (Haar detector, 10 frames averaged), voice from the clip's own "
        "sound track; actor 1001 has video, actor 1002 only sound (voice model only). Paper "
        "mapping: ANG/NEU/HAP; extended: DIS, FEA, SAD also negative.",
        "",
        "| model | paper mapping correct / n | extended mapping correct / n |",
        "| --- | ---: | ---: |",
    ]
    for variant, m in models.items():
        av = m["av_clips"]
        lines.append(
            f"| {variant} | {av['paper']['correct']} / {av['paper']['n']} | "
            f"{av['extended']['correct']} / {av['extended']['n']} |"
        )
    return lines + [
        "",
        "Such small n say only whether a model works on real paired input at all; "
        "they are not accuracy estimates.",
        "",
    ]
