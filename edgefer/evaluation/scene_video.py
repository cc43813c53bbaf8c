"""A test video for the live path: held-out faces shown one after another, with a voice track.

The live loop is measured on what a camera would give it, through ``edgefer run`` itself. The video is
made of segments of ``segment_s`` seconds: the first half holds an empty scene (no face: false alarms
are counted there) while the sound of one held-out voice clip plays; in the second half faces of that
voice's class appear one after another, each for ``face_frames`` frames with ``gap_frames`` empty
frames between, at a random size and place, masked or not. The voice track repeats the clip's 2 s
model window, so while faces are shown the loop's last voice window holds only that voice: the fused
reading is scored on class-matched pairs, as the paper pairs faces and voices. Every frame gets the
sensor noise of a camera (no two frames alike, as a still face on a real camera).

:func:`make_scene_video` writes ``NAME.mp4`` (mp4v), ``NAME.wav`` (16 kHz) and ``NAME.truth.json``
(per frame: the true box, label, masked, mask style; None on empty frames).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from edgefer.engines.artifact import atomic_path, atomic_write_text
from edgefer.errors import EdgeferError
from edgefer.evaluation.scenes import (
    BACKGROUNDS,
    HeldOutFace,
    background,
    camera_noise,
    face_pixels,
    mask_shape,
    paste,
    random_position,
)
from edgefer.media import read_audio
from edgefer.preprocess import clip_window
from edgefer.spec import VoiceSpec

FPS = 30.0


@dataclass(frozen=True)
class SceneVideoPlan:
    """What the video holds.

    Parameters
    ----------
    size : (width, height) of the frames.
    sides : face sizes in px, drawn at random per face.
    masked_share : share of faces wearing a synthetic mask (alternating, so both are balanced).
    """

    size: tuple[int, int] = (640, 480)
    sides: tuple[int, ...] = (96, 128, 160, 200)
    faces_per_segment: int = 5
    face_frames: int = 8
    gap_frames: int = 4
    masked_share: float = 0.5
    noise_sigma: float = 3.0
    seed: int = 0

    @property
    def lead_frames(self) -> int:
        """Empty frames at the start of each segment: the 2 s the voice window needs, at least."""
        return int(round(2.0 * FPS))

    @property
    def segment_frames(self) -> int:
        return self.lead_frames + self.faces_per_segment * (self.face_frames + self.gap_frames)


def make_scene_video(
    faces: Sequence[HeldOutFace],
    voices: Sequence[tuple[Path, str]],
    out_stem: Path,
    plan: SceneVideoPlan | None = None,
) -> dict:
    """Write the video, its voice track and its truth for ``faces`` and ``voices``.

    ``faces`` are grouped by class into segments; ``voices`` (``(path, class)`` pairs) are dealt
    round-robin per class. Returns the truth dict.
    """
    plan = plan or SceneVideoPlan()
    rng = np.random.default_rng(plan.seed)
    voice_spec = VoiceSpec()
    by_class: dict[str, list[Path]] = {}
    for path, label in voices:
        by_class.setdefault(label, []).append(Path(path))
    width, height = plan.size
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    video_path, wav_path = out_stem.with_suffix(".mp4"), out_stem.with_suffix(".wav")
    tmp_video = video_path.with_name(f".{video_path.name}.partial.mp4")
    writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"mp4v"), FPS, plan.size)
    if not writer.isOpened():
        raise EdgeferError(f"cannot write video {tmp_video}")
    frames: list[dict | None] = []
    audio: list[np.ndarray] = []
    dealt: dict[str, int] = {}
    face_index = 0
    try:
        for label, group in _segments(faces, plan.faces_per_segment):
            if label not in by_class:
                raise EdgeferError(f"no voice of class {label!r} for the scene video")
            pool = by_class[label]
            clip = pool[dealt.get(label, 0) % len(pool)]
            dealt[label] = dealt.get(label, 0) + 1
            window = clip_window(read_audio(clip, voice_spec.sample_rate), voice_spec)
            seconds = plan.segment_frames / FPS
            repeats = int(np.ceil(seconds * voice_spec.sample_rate / window.size))
            track = np.tile(window, repeats)[: int(round(seconds * voice_spec.sample_rate))]
            audio.append(track)
            kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
            scenery = background(kind, width, height, rng)
            for _ in range(plan.lead_frames):
                writer.write(camera_noise(scenery, rng, plan.noise_sigma))
                frames.append(None)
            for face in group:
                side = int(rng.choice(plan.sides))
                masked = _is_masked(face_index, plan.masked_share)
                seed = plan.seed * 1_000_003 + face_index if masked else None
                face_index += 1
                x, y = random_position(side, width, height, rng)
                frame = scenery.copy()
                box = paste(frame, face_pixels(face, side, seed), x, y)
                truth = {
                    "box": list(box),
                    "label": label,
                    "masked": masked,
                    "mask": mask_shape(seed) if seed is not None else None,
                    "face": face.path.name,
                    "side": side,
                    "mask_seed": seed,
                }
                for _ in range(plan.face_frames):
                    writer.write(camera_noise(frame, rng, plan.noise_sigma))
                    frames.append(truth)
                for _ in range(plan.gap_frames):
                    writer.write(camera_noise(scenery, rng, plan.noise_sigma))
                    frames.append(None)
    finally:
        writer.release()
    os.replace(tmp_video, video_path)
    _write_wav(wav_path, np.concatenate(audio), voice_spec.sample_rate)
    truth_doc = {
        "video": video_path.name,
        "audio": wav_path.name,
        "fps": FPS,
        "size": list(plan.size),
        "plan": plan.__dict__
        | {"size": list(plan.size), "sides": list(plan.sides), "lead_frames": plan.lead_frames},
        "frames": frames,
    }
    atomic_write_text(out_stem.with_suffix(".truth.json"), json.dumps(truth_doc) + "\n")
    return truth_doc


def _is_masked(index: int, share: float) -> bool:
    """Spread ``share`` of the faces evenly through the video (0.5: every other face)."""
    return int((index + 1) * share) > int(index * share)


def _segments(faces: Sequence[HeldOutFace], per: int) -> list[tuple[str, list[HeldOutFace]]]:
    """Faces grouped by class into runs of ``per``, the classes interleaved.

    A class's last run may be shorter; the interleaving makes the video change class from one
    segment to the next.
    """
    by_class: dict[str, list[HeldOutFace]] = {}
    for face in faces:
        by_class.setdefault(face.label, []).append(face)
    runs = {
        label: [group[i : i + per] for i in range(0, len(group), per)]
        for label, group in by_class.items()
    }
    out: list[tuple[str, list[HeldOutFace]]] = []
    for i in range(max((len(r) for r in runs.values()), default=0)):
        for label in sorted(runs):
            if i < len(runs[label]):
                out.append((label, runs[label][i]))
    return out


def _write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    with atomic_path(path) as tmp:
        sf.write(str(tmp), audio.astype(np.float32), rate, subtype="PCM_16")
