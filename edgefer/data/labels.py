"""Source emotions -> the project's 3 classes (negative, neutral, positive).

Every dataset labels its files with its own emotion vocabulary; a :class:`LabelMap` folds that
vocabulary into the class names the models predict. The defaults follow the paper and the data
README, and ``parse_label_map`` lets a user move an emotion (``surprise=positive``) or drop it
(``disgust=-``) without code changes, because the valence of some emotions is debatable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgefer import CLASS_NAMES
from edgefer.errors import EdgeferError

__all__ = [
    "CLASS_NAMES",
    "CREMAD_EMOTIONS",
    "CREMAD_LABELS",
    "CREMAD_TO_CLASS",
    "FER_EMOTIONS",
    "FER_LABELS",
    "FER_TO_CLASS",
    "MLFW_LABELS",
    "MLFW_TO_CLASS",
    "RAVDESS_EMOTIONS",
    "RAVDESS_LABELS",
    "RAVDESS_TO_CLASS",
    "LabelMap",
    "describe_entries",
    "parse_extra_voices",
    "parse_label_map",
]

FER_EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
# Surprise is left out by default: its valence is ambiguous (pleasant or not).
FER_TO_CLASS: dict[str, str] = {
    "angry": "negative",
    "disgust": "negative",
    "fear": "negative",
    "sad": "negative",
    "neutral": "neutral",
    "happy": "positive",
}

RAVDESS_EMOTIONS: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
# The paper keeps the three emotions that match CREMA-D's ANG / NEU / HAP.
RAVDESS_TO_CLASS: dict[str, str] = {"neutral": "neutral", "happy": "positive", "angry": "negative"}

CREMAD_EMOTIONS: tuple[str, ...] = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
CREMAD_TO_CLASS: dict[str, str] = {"ANG": "negative", "NEU": "neutral", "HAP": "positive"}

# M-LFW-FER is labelled with the class names themselves.
MLFW_TO_CLASS: dict[str, str] = {name: name for name in CLASS_NAMES}

DROP = "-"


@dataclass(frozen=True)
class LabelMap:
    """Which class each source emotion belongs to; an emotion not in ``mapping`` is left out.

    Parameters
    ----------
    mapping : source emotion -> class name. Emotions are matched case-insensitively, since the
        same dataset ships as ``Angry/`` in one copy and ``angry/`` in another.
    class_names : the model's classes, in output order; ``label`` returns an index into it.
    emotions : the source's whole emotion vocabulary, so an override naming an emotion the source
        never uses (a typo) fails loudly instead of silently changing nothing. Empty: any name.
    """

    mapping: dict[str, str]
    class_names: tuple[str, ...] = CLASS_NAMES
    emotions: tuple[str, ...] = ()
    _index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # A private copy: mutating the dict passed in must not desynchronise the lookup table.
        object.__setattr__(self, "mapping", dict(self.mapping))
        index: dict[str, int] = {}
        for emotion, name in self.mapping.items():
            if name not in self.class_names:
                raise EdgeferError(
                    f"emotion {emotion!r} maps to unknown class {name!r}: "
                    f"expected one of {', '.join(self.class_names)}"
                )
            index[emotion.lower()] = self.class_names.index(name)
        object.__setattr__(self, "_index", index)

    def __hash__(self) -> int:  # the dict field would make the generated hash fail
        return hash((tuple(sorted(self._index.items())), self.class_names, self.emotions))

    def label(self, emotion: str) -> int | None:
        """Class index of a source emotion, or None when the emotion is left out."""
        return self._index.get(emotion.lower())

    def class_of(self, emotion: str) -> str | None:
        """Class name of a source emotion, or None when the emotion is left out."""
        label = self.label(emotion)
        return None if label is None else self.class_names[label]

    def describe(self) -> str:
        """One line such as ``angry,sad->negative; neutral->neutral`` for logs and reports."""
        parts = []
        for i, name in enumerate(self.class_names):
            members = sorted(e for e, label in self._index.items() if label == i)
            parts.append(f"{','.join(members) or '(none)'}->{name}")
        return "; ".join(parts)


FER_LABELS = LabelMap(FER_TO_CLASS, emotions=FER_EMOTIONS)
RAVDESS_LABELS = LabelMap(RAVDESS_TO_CLASS, emotions=tuple(RAVDESS_EMOTIONS.values()))
CREMAD_LABELS = LabelMap(CREMAD_TO_CLASS, emotions=CREMAD_EMOTIONS)
MLFW_LABELS = LabelMap(MLFW_TO_CLASS, emotions=CLASS_NAMES)


def parse_label_map(text: str, base: LabelMap) -> LabelMap:
    """Apply overrides such as ``"surprise=positive,disgust=-"`` to ``base``.

    ``emotion=class`` moves (or adds) an emotion; ``emotion=-`` leaves it out. An empty text gives
    ``base`` back unchanged. Unknown class names, unknown emotions (when ``base`` knows its
    vocabulary) and malformed entries raise :class:`EdgeferError`.

    Examples
    --------
    >>> labels = parse_label_map("surprise=positive,disgust=-", FER_LABELS)
    >>> labels.describe()
    'angry,fear,sad->negative; neutral->neutral; happy,surprise->positive'
    >>> labels.class_of("surprise"), labels.label("Disgust")
    ('positive', None)
    """
    mapping = dict(base.mapping)
    # Keep each emotion's spelling as the source writes it (``ANG``, ``angry``).
    spelling = {e.lower(): e for e in (*base.emotions, *base.mapping)}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        emotion, sep, name = (s.strip() for s in entry.partition("="))
        if not sep or not emotion or not name:
            raise EdgeferError(
                f"bad label override {entry!r}: write emotion=class or emotion=- to drop it"
            )
        if base.emotions and emotion.lower() not in {e.lower() for e in base.emotions}:
            raise EdgeferError(
                f"unknown emotion {emotion!r} in label override: expected one of "
                f"{', '.join(base.emotions)}"
            )
        key = spelling.get(emotion.lower(), emotion)
        if name == DROP:
            mapping.pop(key, None)
        elif name not in base.class_names:
            raise EdgeferError(
                f"unknown class {name!r} in label override {entry!r}: expected one of "
                f"{', '.join(base.class_names)} or '-'"
            )
        else:
            mapping[key] = name
    return LabelMap(mapping, class_names=base.class_names, emotions=base.emotions)


def parse_extra_voices(text: str) -> LabelMap:
    """The label map of extra RAVDESS training voices, from ``emotion=class`` entries.

    Entries such as ``"calm=neutral,sad=negative"``; ``""`` or ``"none"`` maps nothing (no extra
    voices).

    Unlike :func:`parse_label_map` nothing is kept by default: only the emotions named are added,
    and ``emotion=-`` simply leaves that emotion out. Emotions must be RAVDESS's own names.

    Examples
    --------
    >>> describe_entries(parse_extra_voices("sad=negative, calm=neutral"))
    'calm=neutral,sad=negative'
    >>> parse_extra_voices("none").mapping
    {}
    """
    if text.strip().lower() == "none":
        text = ""
    empty = LabelMap({}, emotions=tuple(RAVDESS_EMOTIONS.values()))
    return parse_label_map(text, empty)


def describe_entries(label_map: LabelMap) -> str:
    """``label_map`` as sorted ``emotion=class`` entries.

    One spelling for one mapping, so a run's config compares equal however the user ordered or
    spaced the option.
    """
    return ",".join(f"{e}={label_map.class_of(e)}" for e in sorted(label_map.mapping))
