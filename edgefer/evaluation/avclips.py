"""The genuinely paired audio-visual check on CREMA-D clips.

Each clip's face comes from the video frames and its voice from the clip's own sound track (no
class-matched pairing involved).

Faces are found with the live loop's detector (:func:`~edgefer.live.detect.make_detector`) and
cropped exactly as the live loop does; a clip's face prediction averages the probabilities of several
evenly spaced frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgefer.data.labels import CREMAD_LABELS, LabelMap
from edgefer.data.voices import parse_cremad_name
from edgefer.errors import EdgeferError
from edgefer.live.detect import make_detector
from edgefer.media import read_audio, read_video_frames
from edgefer.preprocess import clip_tensor, crop_face, face_tensor
from edgefer.spec import PreprocessSpec

VIDEO_SUFFIXES = {".flv", ".mp4", ".avi", ".mkv"}
AUDIO_ONLY_SUFFIXES = {".mp3", ".wav"}


@dataclass
class AVClip:
    path: Path
    emotion: str
    label: int
    faces: np.ndarray | None  # (frames, S, S, C) face inputs, None for audio-only clips
    voice: np.ndarray  # (S, S, 1)
    frames_total: int = 0  # frames examined
    frames_with_face: int = 0


def load_av_clips(
    folder: Path, spec: PreprocessSpec, label_map: LabelMap = CREMAD_LABELS, frames: int = 10
) -> list[AVClip]:
    """Every clip in ``folder`` whose emotion the label map keeps (video + sound, or sound only)."""
    if not folder.is_dir():
        raise EdgeferError(f"audio-visual clip folder not found: {folder}")
    detector = make_detector()  # the live loop's detector and settings
    clips = []
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if suffix not in VIDEO_SUFFIXES | AUDIO_ONLY_SUFFIXES:
            continue
        emotion = parse_cremad_name(path.name)["emotion"]
        label = label_map.label(emotion)
        if label is None:
            continue
        voice = clip_tensor(read_audio(path, spec.voice.sample_rate), spec)
        faces, seen = None, 0
        if suffix in VIDEO_SUFFIXES:
            crops = []
            for frame in read_video_frames(path, frames):
                seen += 1
                boxes = detector.detect(frame)
                if boxes:
                    crops.append(
                        face_tensor(crop_face(frame, boxes[0], spec, detector.family), spec)
                    )
            faces = np.stack(crops) if crops else None
        clips.append(
            AVClip(path, emotion, label, faces, voice, seen, 0 if faces is None else len(faces))
        )
    return clips


def clip_probs(predict, variant: str, clip: AVClip) -> np.ndarray | None:
    """Probabilities of one clip for a variant, or None when the clip lacks a needed modality.

    ``predict`` maps a dict of batched inputs to probabilities (a Keras model's
    ``predict_on_batch`` or an ``Engine.predict``).
    """
    if variant == "voice":
        return np.asarray(predict({"voice": clip.voice[None]}))[0]
    if clip.faces is None:
        return None
    if variant == "face":
        return np.asarray(predict({"face": clip.faces})).mean(axis=0)
    voices = np.repeat(clip.voice[None], len(clip.faces), axis=0)
    return np.asarray(predict({"face": clip.faces, "voice": voices})).mean(axis=0)
