"""Re-cut the test sample (this folder) from a full data folder, deterministically.

Why a sample: a fresh clone has no ``../shared/data``, and the tests read real files. This folder is a
few hundred real files copied unchanged from that data, in the same layout, small enough to ship
with the repository; ``tests/conftest.py`` points ``EDGEFER_DATA`` here when no data folder exists.

Every choice below is a pure function of the source folder's file names (the first names in sorted
order, fixed RAVDESS/CREMA-D names), so re-running it on the same data gives the same files.
What is chosen, and why, is in ``README.md`` beside this script; ``sample.json`` records the counts
and marks the folder as the sample (``tests/markers.py`` reads it to skip full-data-only tests).

Usage: python tests/data/sample/make_sample.py [SOURCE] [--out DIR]
(SOURCE defaults to $EDGEFER_DATA or ../shared/data beside the repository; DIR to this folder).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
MANIFEST = "sample.json"  # its presence marks a data folder as this sample (tests/markers.py)

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
# FER2013 train: the same fraction of every emotion folder the default map keeps, so the class mix
# stays FER2013's (negative > positive > neutral; calibration and class-weight tests rely on it),
# and enough faces for one default calibration set: build-engine's INT8 path needs 300 training
# faces (edgefer.calibration.DEFAULT_SAMPLES) after the 10 % validation holdout, which 1.34 % of
# the 25,538 mapped faces gives (344, of which 309 stay in training).
FER_TRAIN_FRACTION = 0.0134
# FER2013 val (the held-out test set), again in FER2013's mix: the fraction that gives the rarest
# class (neutral, 607 faces) 30, so the accuracy guards' `--heldout-per-class 30` sets hold 90 pairs
# as on the full data (their drop bounds assume one sample is about a point). At least a few per
# folder.
FER_VAL_FRACTION = 0.0495
FER_MIN = 4
# Surprise is left out by the default map: a handful in each split, for the tests that map it.
FER_SURPRISE = 8

# RAVDESS: four training actors, then the default validation (15, 16) and test (17-20) actors of
# edgefer.training.config, so the default actor split works unchanged. Tests name 01, 02, 03, 05.
RAVDESS_ACTORS = ("01", "02", "03", "05", "15", "16", "17", "18", "19", "20")
# One clip per emotion and actor: normal intensity (strong clips are louder, so up to twice the
# FLAC bytes), statement 01, repetition 01.
RAVDESS_CLIPS = ("03-01-01-01-01-01-{a}", "03-01-03-01-01-01-{a}", "03-01-05-01-01-01-{a}")
# Clips tests open by name: actor 01's strong angry take (tests/test_preprocess.py).
RAVDESS_NAMED = ("Actor_01/03-01-05-02-01-01-01",)
# RAVDESS's other emotions (ravdess_more): every training actor gets a calm clip (-> neutral), one
# negative clip of the default --extra-voices map (sad, fearful, disgust between them) and a surprised
# clip (left out by default, mapped by a test): four per class, what a `--limit-per-class 4` run
# takes. Test actor 18 gets a calm clip that must never be trained on.
RAVDESS_MORE = {
    "01": ("03-01-02-01-01-01-01", "03-01-04-01-01-01-01", "03-01-08-01-01-01-01"),
    "02": ("03-01-02-01-01-01-02", "03-01-06-01-01-01-02", "03-01-08-01-01-01-02"),
    "03": ("03-01-02-01-01-01-03", "03-01-07-01-01-01-03", "03-01-08-01-01-01-03"),
    "05": ("03-01-02-01-01-01-05", "03-01-04-01-01-01-05", "03-01-08-01-01-01-05"),
    "18": ("03-01-02-01-01-01-18",),
}
# CREMA-D: both actors' ANG/HAP/NEU (the paper's map) and SAD (a test maps it to negative).
CREMAD_VOICE = tuple(
    f"{actor}_DFA_{emotion}_XX.wav"
    for actor in ("1001", "1002")
    for emotion in ("ANG", "HAP", "NEU", "SAD")
)
# The audio-visual clips of the same recordings: actor 1001's videos, actor 1002's MP3s. They are
# byte-identical to edgefer/assets/demo/, so git stores them once.
CREMAD_AV = tuple(f"1001_DFA_{e}_XX.flv" for e in ("ANG", "HAP", "NEU")) + tuple(
    f"1002_DFA_{e}_XX.mp3" for e in ("ANG", "HAP", "NEU")
)


def first_sorted(files: list[Path], k: int) -> list[Path]:
    """The first ``k`` files in name order. FER2013's names are random ids (``Training_10019449``),
    so this is an unbiased pick that needs no random generator; and a test that opens the first few
    sorted files of a folder (``real_faces``, ``sorted(...)[:5]``) sees the very files it sees on the
    full data, so its thresholds hold on both."""
    return sorted(files)[:k]


def plan(source: Path) -> list[Path]:
    """Paths, relative to ``source``, of every file the sample holds."""
    chosen: list[Path] = []
    fer = Path("faces") / "fer2013"
    for split in ("train", "val"):
        for emotion in EMOTIONS:
            folder = fer / split / emotion
            files = [p.relative_to(source) for p in (source / folder).glob("*.jpg")]
            fraction = FER_TRAIN_FRACTION if split == "train" else FER_VAL_FRACTION
            k = max(FER_MIN, round(fraction * len(files)))
            if emotion == "surprise":
                k = FER_SURPRISE
            chosen += first_sorted(files, k)
    for actor in RAVDESS_ACTORS:
        folder = Path("voice") / "ravdess" / f"Actor_{actor}"
        chosen += [folder / (clip.format(a=actor) + ".flac") for clip in RAVDESS_CLIPS]
    chosen += [Path("voice") / "ravdess" / (clip + ".flac") for clip in RAVDESS_NAMED]
    for actor, clips in RAVDESS_MORE.items():
        folder = Path("voice") / "ravdess_more" / f"Actor_{actor}"
        chosen += [folder / (clip + ".flac") for clip in clips]
    chosen += [Path("voice") / "cremad" / name for name in CREMAD_VOICE]
    chosen += [Path("av") / "cremad" / name for name in CREMAD_AV]
    return chosen


def counts(files: list[Path]) -> dict[str, int]:
    """Files per leaf folder (``faces/fer2013/train/angry``, ``voice/ravdess``, ...), for the
    manifest: RAVDESS actors are summed into their dataset folder."""
    tally: Counter[str] = Counter()
    for path in files:
        parent = path.parent
        if parent.name.startswith("Actor_"):
            parent = parent.parent
        tally[parent.as_posix()] += 1
    return dict(sorted(tally.items()))


def make_sample(source: Path, out: Path) -> dict[str, object]:
    """Copy the planned files from ``source`` to ``out`` (replacing the data folders there, keeping
    this script and the README) and write ``sample.json``; returns the manifest."""
    files = plan(source)
    missing = [p.as_posix() for p in files if not (source / p).is_file()]
    if missing:
        raise SystemExit(f"{source} lacks {len(missing)} sample file(s), e.g. {missing[0]}")
    for top in ("faces", "voice", "av"):
        shutil.rmtree(out / top, ignore_errors=True)
    for rel in files:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, out / rel)  # contents only: the source may be read-only
    manifest: dict[str, object] = {
        "what": "a small real sample of the edgefer data folder for the tests (see README.md)",
        "made_by": "tests/data/sample/make_sample.py",
        "files": len(files),
        "bytes": sum((out / p).stat().st_size for p in files),
        "counts": counts(files),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get("EDGEFER_DATA")
    default = Path(env) if env else REPO.parent / "shared" / "data"
    parser.add_argument("source", nargs="?", type=Path, default=default)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    if (args.source / MANIFEST).is_file():
        raise SystemExit(f"{args.source} is itself a sample: cut from the full data folder")
    manifest = make_sample(args.source.resolve(), args.out.resolve())
    print(f"{manifest['files']} files, {manifest['bytes'] / 1e6:.2f} MB -> {args.out}")
    folders = manifest["counts"]
    assert isinstance(folders, dict)
    for folder, n in folders.items():
        print(f"  {n:4d}  {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
