"""Index emotional speech datasets whose file names carry the labels: RAVDESS and CREMA-D.

RAVDESS: ``Actor_NN/MM-CC-EE-II-SS-RR-AA.(wav|flac)`` (modality, channel, emotion, intensity,
statement, repetition, actor). CREMA-D: ``AAAA_SSS_EEE_LL.(wav|flv|mp3|mp4)`` flat in one folder
(actor, sentence, emotion, level).

Every sample's group is ``"<source>:<actor>"``: splits must keep a speaker on one side, and the
prefix keeps actors of two datasets apart. A file whose name does not parse is skipped with one
warning (a stray download should not stop training); a folder with no usable clip is an error.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from edgefer.data.labels import CREMAD_LABELS, RAVDESS_EMOTIONS, RAVDESS_LABELS, LabelMap
from edgefer.data.samples import Sample, list_files, require_all_classes
from edgefer.errors import EdgeferError

RAVDESS_SUFFIXES = {".wav", ".flac"}
# Preference when one CREMA-D clip exists in several containers: the lossless one first.
CREMAD_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".mp3", ".mp4", ".flv")
VOICE_SUFFIXES = RAVDESS_SUFFIXES | set(CREMAD_SUFFIXES)

_RAVDESS_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
_RAVDESS_FIELDS = (
    "modality",
    "channel",
    "emotion",
    "intensity",
    "statement",
    "repetition",
    "actor",
)
_RAVDESS_RANGES = {
    "modality": ("01", "02", "03"),  # full AV, video only, audio only
    "channel": ("01", "02"),  # speech, song
    "emotion": tuple(RAVDESS_EMOTIONS),
    "intensity": ("01", "02"),
    "statement": ("01", "02"),
    "repetition": ("01", "02"),
}
_CREMAD_RE = re.compile(r"^(\d{4})_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX|X)$")


def _stem(name: str | Path) -> str:
    name = Path(name).name
    return name.split(".", 1)[0] if "." in name else name


def clip_id(name: str | Path) -> str:
    """A clip's identity: its file name without extensions.

    RAVDESS and CREMA-D names are unique per recording, so the same id in two folders (or
    containers) is the same clip.
    """
    return _stem(name)


def parse_ravdess_name(name: str | Path) -> dict[str, str]:
    """Fields of a RAVDESS file name, each as its two-digit code.

    ``emotion`` is the emotion's name (``"happy"``) and ``emotion_code`` its code (``"03"``);
    ``actor`` is ``"01"``..``"24"``. Raises :class:`EdgeferError` for anything else.
    """
    match = _RAVDESS_RE.match(_stem(name))
    if match is None:
        raise EdgeferError(f"not a RAVDESS file name (MM-CC-EE-II-SS-RR-AA): {Path(name).name}")
    fields = dict(zip(_RAVDESS_FIELDS, match.groups(), strict=True))
    for key, allowed in _RAVDESS_RANGES.items():
        if fields[key] not in allowed:
            raise EdgeferError(f"RAVDESS file name {Path(name).name}: bad {key} code {fields[key]}")
    if not 1 <= int(fields["actor"]) <= 24:
        raise EdgeferError(f"RAVDESS file name {Path(name).name}: bad actor {fields['actor']}")
    fields["emotion_code"] = fields["emotion"]
    fields["emotion"] = RAVDESS_EMOTIONS[fields["emotion_code"]]
    return fields


def parse_cremad_name(name: str | Path) -> dict[str, str]:
    """Fields of a CREMA-D file name: ``actor``, ``sentence``, ``emotion`` and ``level``.

    ``actor`` is like ``"1001"``, ``sentence`` like ``"DFA"``, ``emotion`` one of
    ``ANG DIS FEA HAP NEU SAD`` and ``level`` one of ``LO MD HI XX``.
    """
    match = _CREMAD_RE.match(_stem(name))
    if match is None:
        raise EdgeferError(f"not a CREMA-D file name (AAAA_SSS_EEE_LL): {Path(name).name}")
    return dict(zip(("actor", "sentence", "emotion", "level"), match.groups(), strict=True))


def list_audio(root: str | Path, suffixes: set[str] | Sequence[str], what: str) -> list[Path]:
    """Audio files under ``root`` (any depth), sorted by relative path; hidden files ignored."""
    root = Path(root)
    if not root.is_dir():
        raise EdgeferError(f"{what} folder not found: {root}")
    return list_files(root, suffixes)


def _warn_skipped(skipped: list[Path], what: str) -> None:
    if skipped:
        shown = ", ".join(p.name for p in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        warnings.warn(
            f"skipped {len(skipped)} file(s) whose names are not {what} names: {shown}",
            stacklevel=3,
        )


def _ravdess_sample(path: Path, label_map: LabelMap) -> Sample | None:
    fields = parse_ravdess_name(path.name)
    if fields["modality"] == "02" or fields["channel"] != "01":
        return None  # video-only files hold no sound; sung clips are not speech
    label = label_map.label(fields["emotion"])
    if label is None:
        return None
    return Sample(path, label, fields["emotion"], f"ravdess:{fields['actor']}", "ravdess")


def _cremad_sample(path: Path, label_map: LabelMap) -> Sample | None:
    fields = parse_cremad_name(path.name)
    label = label_map.label(fields["emotion"])
    if label is None:
        return None
    return Sample(path, label, fields["emotion"], f"cremad:{fields['actor']}", "cremad")


def _build(
    files: list[Path], make: Callable[[Path], Sample | None]
) -> tuple[list[Sample], list[Path]]:
    """Samples of the files ``make`` keeps, and the files whose names did not parse."""
    samples, bad = [], []
    for path in files:
        try:
            sample = make(path)
        except EdgeferError:
            bad.append(path)
            continue
        if sample is not None:
            samples.append(sample)
    return samples, bad


def _prefer_one_container(files: list[Path]) -> list[Path]:
    """Keep one file per clip when CREMA-D ships it as .wav, .mp3 and .flv.

    CREMA-D names are unique clip ids, so the same name in two folders is the same recording.
    """
    rank = {suffix: i for i, suffix in enumerate(CREMAD_SUFFIXES)}
    best: dict[str, Path] = {}
    for path in files:
        key = _stem(path.name)
        if key not in best or rank[path.suffix.lower()] < rank[best[key].suffix.lower()]:
            best[key] = path
    kept = set(best.values())
    return [p for p in files if p in kept]


def _finish(
    samples: list[Sample],
    n_clips: int,
    root: Path,
    what: str,
    label_map: LabelMap,
    all_classes: bool = True,
) -> list[Sample]:
    if n_clips == 0:
        raise EdgeferError(f"no {what} clips found in {root}")
    if not samples:
        raise EdgeferError(f"no {what} clip in {root} has an emotion the label map keeps")
    if all_classes:
        require_all_classes(samples, label_map.class_names, root)
    return samples


def index_ravdess(
    root: str | Path, label_map: LabelMap = RAVDESS_LABELS, all_classes: bool = True
) -> list[Sample]:
    """Index RAVDESS speech clips under ``root`` (``Actor_NN/`` folders, any depth).

    Only spoken audio is kept: video-only files and sung clips are left out, as are emotions the
    label map drops (by default all but neutral, happy and angry). ``all_classes=False`` accepts
    an index that leaves a class empty: extra training voices (calm, sad, ...) that only add to
    the classes the main set already holds.
    """
    root = Path(root)
    files = list_audio(root, RAVDESS_SUFFIXES, "RAVDESS")
    samples, bad = _build(files, lambda p: _ravdess_sample(p, label_map))
    _warn_skipped(bad, "RAVDESS")
    return _finish(samples, len(files) - len(bad), root, "RAVDESS", label_map, all_classes)


def index_cremad(root: str | Path, label_map: LabelMap = CREMAD_LABELS) -> list[Sample]:
    """Index CREMA-D clips (``AAAA_SSS_EEE_LL`` wav/flac/mp3/mp4/flv) under ``root``."""
    root = Path(root)
    files = _prefer_one_container(list_audio(root, CREMAD_SUFFIXES, "CREMA-D"))
    samples, bad = _build(files, lambda p: _cremad_sample(p, label_map))
    _warn_skipped(bad, "CREMA-D")
    return _finish(samples, len(files) - len(bad), root, "CREMA-D", label_map)


def index_voices(
    root: str | Path,
    ravdess_map: LabelMap = RAVDESS_LABELS,
    cremad_map: LabelMap = CREMAD_LABELS,
) -> list[Sample]:
    """Index every RAVDESS and CREMA-D clip under ``root``, telling them apart by file name.

    ``root`` may be one dataset's folder or a folder holding both (``voice/``); the result lists
    RAVDESS samples first, then CREMA-D, each sorted.
    """
    root = Path(root)
    files = list_audio(root, VOICE_SUFFIXES, "voice dataset")
    ravdess, cremad, unknown = [], [], []
    for path in files:
        stem, suffix = _stem(path.name), path.suffix.lower()
        if _RAVDESS_RE.match(stem):
            if suffix in RAVDESS_SUFFIXES:  # RAVDESS videos (.mp4) repeat the audio-only clips
                ravdess.append(path)
        elif _CREMAD_RE.match(stem):
            cremad.append(path)
        else:
            unknown.append(path)
    r_samples, r_bad = _build(ravdess, lambda p: _ravdess_sample(p, ravdess_map))
    c_samples, c_bad = _build(
        _prefer_one_container(cremad), lambda p: _cremad_sample(p, cremad_map)
    )
    _warn_skipped(unknown + r_bad + c_bad, "RAVDESS or CREMA-D")
    return _finish(
        r_samples + c_samples,
        len(ravdess) + len(cremad) - len(r_bad) - len(c_bad),
        root,
        "RAVDESS or CREMA-D",
        ravdess_map,
    )
