"""The preprocessing spec: every number that turns a face crop or audio window into a model input.

One frozen object, saved as JSON beside every trained model and embedded in every exported ONNX file,
so the live loop and the benchmarks rebuild exactly the inputs the model was trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from edgefer import CLASS_NAMES
from edgefer.errors import EdgeferError

FUSIONS: tuple[str, ...] = ("face", "voice", "early", "middle", "late")
PRESET_NAMES: tuple[str, ...] = ("edge", "paper")


DETECTOR_FAMILIES: tuple[str, ...] = ("yunet", "haar")


@dataclass(frozen=True)
class CropRule:
    """How one detector's box becomes the square crop the face model was trained on.

    Detectors frame a face their own way (YuNet's box is narrower than a FER2013 crop and sits a
    little lower; Haar's is square and about as tight), while the model learnt on FER2013's crops.
    The crop is a square of side ``scale`` x the box's longer side, centred on the box's centre
    moved by ``shift_x`` and ``shift_y`` of that side (positive: right and down). Chosen per
    detector by ``benchmarks/crop_rule.py``; used only where a detector finds the face (live loop,
    video clips), since training and test crops are FER2013's own.
    """

    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0

    def __post_init__(self) -> None:
        if not 0.5 <= self.scale <= 2.0:
            raise EdgeferError(f"crop scale {self.scale} outside [0.5, 2.0]")
        if not (abs(self.shift_x) <= 0.5 and abs(self.shift_y) <= 0.5):
            raise EdgeferError(f"crop shift ({self.shift_x}, {self.shift_y}) outside [-0.5, 0.5]")


# Measured by benchmarks/crop_rule.py (results/crop_rule.md): chosen on one half of FER2013 val.
DEFAULT_CROPS: tuple[tuple[str, CropRule], ...] = (
    ("yunet", CropRule(scale=0.85)),
    ("haar", CropRule(scale=0.95)),
)


@dataclass(frozen=True)
class FaceSpec:
    """How a face crop becomes the ``face`` input.

    channels : 1 (grey, as FER2013 and M-LFW-FER are used) or 3 (BGR).
    crops : the :class:`CropRule` of each detector family (``yunet``, ``haar``), as pairs so the
        spec stays hashable; :meth:`crop_rule` looks one up.
    """

    channels: int = 1
    crops: tuple[tuple[str, CropRule], ...] = DEFAULT_CROPS

    def crop_rule(self, detector: str) -> CropRule:
        """The crop rule for boxes of ``detector``.

        ``detector`` is a family name from :data:`DETECTOR_FAMILIES`.
        """
        for name, rule in self.crops:
            if name == detector:
                return rule
        known = ", ".join(name for name, _ in self.crops)
        raise EdgeferError(f"no crop rule for detector {detector!r} in the spec (has: {known})")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceSpec:
        """Read ``{"channels", "crops": {family: {scale, shift_x, shift_y}}}``.

        A version-1 spec's ``crop_margin`` (one margin for any box) becomes the Haar rule it
        described, and detector families it does not name get today's measured rules.
        """
        data = dict(data)
        crops = dict(DEFAULT_CROPS)
        if "crop_margin" in data:
            crops["haar"] = CropRule(scale=1.0 + 2.0 * float(data.pop("crop_margin")))
        for name, rule in dict(data.pop("crops", {})).items():
            crops[str(name)] = CropRule(**rule)
        return cls(channels=int(data.pop("channels", 1)), crops=tuple(crops.items()), **data)


@dataclass(frozen=True)
class VoiceSpec:
    """How 16 kHz mono audio becomes the ``voice`` log-mel image.

    window_s : seconds of audio in one model input (the live ring buffer holds this much).
    min_clip_s : a clip shorter than this is refused; clips between this and ``window_s`` are centred
        and padded with silence, as the live buffer holds silence around short utterances.
    top_db : dynamic range kept below the window's loudest bin; the image maps [-top_db, 0] dB to [0, 1].
    trim_db : silence trimming threshold for whole clips (training and files), below the clip's peak.
    silence_dbfs : frame level (dBFS) under which a window counts as silence (no voice modality).
    """

    sample_rate: int = 16000
    window_s: float = 2.0
    min_clip_s: float = 1.0
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float = 8000.0
    top_db: float = 80.0
    trim_db: float = 40.0
    silence_dbfs: float = -55.0

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.sample_rate))

    @property
    def min_clip_samples(self) -> int:
        return int(round(self.min_clip_s * self.sample_rate))


@dataclass(frozen=True)
class PreprocessSpec:
    """Everything needed to make model inputs; both inputs are ``image_size`` square images.

    Both modalities share one size because early fusion stacks them on the channel axis.
    """

    image_size: int = 64
    face: FaceSpec = field(default_factory=FaceSpec)
    voice: VoiceSpec = field(default_factory=VoiceSpec)
    class_names: tuple[str, ...] = CLASS_NAMES
    version: int = 2  # SPEC_VERSION

    def input_shape(self, name: str) -> tuple[int, int, int]:
        """Shape (H, W, C) of the named model input, without the batch axis."""
        if name == "face":
            return (self.image_size, self.image_size, self.face.channels)
        if name == "voice":
            return (self.image_size, self.image_size, 1)
        raise EdgeferError(f"unknown input name {name!r}: expected 'face' or 'voice'")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["class_names"] = list(self.class_names)
        data["face"]["crops"] = {name: asdict(rule) for name, rule in self.face.crops}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessSpec:
        try:
            return cls(
                image_size=int(data["image_size"]),
                face=FaceSpec.from_dict(data.get("face", {})),
                voice=VoiceSpec(**data.get("voice", {})),
                class_names=tuple(data.get("class_names", CLASS_NAMES)),
                version=_spec_version(data),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EdgeferError(f"invalid preprocessing spec: {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)

    def digest(self) -> str:
        """Short content hash: two specs with the same digest make identical inputs."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> PreprocessSpec:
        path = Path(path)
        if not path.is_file():
            raise EdgeferError(f"preprocessing spec not found: {path}")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise EdgeferError(f"preprocessing spec is not valid JSON: {path} ({exc})") from exc
        return cls.from_dict(data)


SPEC_VERSION = 2  # 2: per-detector crop rules (version 1 had one crop_margin)


def _spec_version(data: dict[str, Any]) -> int:
    """The format version a read spec is held in.

    Older ones are translated on reading; newer ones (from a later edgefer) are refused rather than
    half-understood.
    """
    version = int(data.get("version", 1))
    if version > SPEC_VERSION:
        raise EdgeferError(
            f"preprocessing spec version {version} is newer than this edgefer reads "
            f"({SPEC_VERSION}): upgrade edgefer"
        )
    return SPEC_VERSION


def preset_spec(preset: str, image_size: int | None = None) -> PreprocessSpec:
    """The spec of a model preset: ``edge`` (64 px, 64 mels) or ``paper`` (224 px, 128 mels).

    Examples
    --------
    >>> spec = preset_spec("edge")
    >>> spec.image_size, spec.voice.n_mels
    (64, 64)
    >>> preset_spec("paper", image_size=96).image_size
    96
    """
    if preset == "edge":
        spec = PreprocessSpec(image_size=64, voice=VoiceSpec(n_mels=64))
    elif preset == "paper":
        spec = PreprocessSpec(image_size=224, voice=VoiceSpec(n_mels=128))
    else:
        raise EdgeferError(f"unknown preset {preset!r}: choose one of {', '.join(PRESET_NAMES)}")
    if image_size is not None:
        if image_size < 32:
            raise EdgeferError(
                f"image size {image_size} is too small: the entry flow needs >= 32 px"
            )
        spec = replace(spec, image_size=image_size)
    return spec


def fusion_inputs(fusion: str) -> tuple[str, ...]:
    """Names of the model inputs a fusion variant takes."""
    if fusion == "face":
        return ("face",)
    if fusion == "voice":
        return ("voice",)
    if fusion in FUSIONS:
        return ("face", "voice")
    raise EdgeferError(f"unknown fusion {fusion!r}: choose one of {', '.join(FUSIONS)}")
