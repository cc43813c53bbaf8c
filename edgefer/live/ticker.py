"""One inference tick of the live loop: detect -> preprocess -> route -> infer -> smooth.

:class:`Ticker` keeps what must survive from one tick to the next (the followed face, the held boxes,
the smoother, the audio feed, what the screen shows), so :mod:`edgefer.live.loop` only paces frames,
draws and records. Frames between inferences reuse :attr:`Ticker.shown`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgefer.live.audio import AudioSource
from edgefer.live.audio_feed import AudioFeed
from edgefer.live.capture import Frame
from edgefer.live.config import RunConfig
from edgefer.live.detect import Box, BoxHold, HaarFaceDetector, YuNetFaceDetector, face_inputs
from edgefer.live.engines import shared_voice_spec, spec_of_engine
from edgefer.live.face_finder import FaceFinder
from edgefer.live.router import Route, Router
from edgefer.live.smoothing import parse_smoothing_text
from edgefer.live.synthetic_mask import SyntheticMasker
from edgefer.live.timing import StageTimer
from edgefer.live.voice import VoiceInput
from edgefer.spec import PreprocessSpec

__all__ = ["Shown", "Ticker", "absent_reason"]


@dataclass
class Shown:
    """What the screen shows between inferences."""

    boxes: list[Box] = field(default_factory=list)
    probs: np.ndarray | None = None
    modalities: tuple[str, ...] = ()
    labels: np.ndarray | None = None  # the smoother's held label per face (may differ from argmax)


class Ticker:
    """One frame through detect -> preprocess -> route -> infer -> smooth; keeps the state between."""

    def __init__(
        self,
        config: RunConfig,
        engines: dict[str, Any],
        audio: AudioSource | None,
        timer: StageTimer,
        detector: HaarFaceDetector | YuNetFaceDetector,
    ) -> None:
        self.config, self.timer = config, timer
        self.router = Router(engines)
        self.face_specs = {r: spec_of_engine(e) for r, e in engines.items() if "face" in e.inputs}
        self.feed = AudioFeed(
            audio, shared_voice_spec(engines), config.hop_s, media_time=not config.realtime
        )
        self.events: list[str] = []
        first = next(iter(engines.values()))
        self.class_names = tuple(
            first.metadata.get("class_names") or spec_of_engine(first).class_names
        )
        self.finder = FaceFinder(detector, config.detect_width, follow=not config.all_faces)
        hold = config.box_hold
        self.hold = BoxHold(self.finder.detector.hold_frames if hold is None else hold)
        primary = next(iter(self.face_specs.values()), None)
        self.masker = (
            SyntheticMasker(primary, self.finder.detector.family)
            if config.synthetic_mask and primary is not None
            else None
        )
        self.smoother = parse_smoothing_text(config.smoothing)
        self.shown = Shown()

    def infer(self, frame: Frame) -> tuple[Route | None, str | None]:
        """Run one inference tick; updates :attr:`shown`.

        Returns the route and, when nothing could be predicted, why.
        """
        timer = self.timer
        self.feed.follow(frame.timestamp)
        primary = next(iter(self.face_specs.values()), None)
        image = self.masked(frame.image, self.shown.boxes)  # masked where the face was
        with timer.stage("detect"):
            boxes = self.hold.update(self.finder.find(image))
        with timer.stage("preprocess"):
            faces = self._faces(image, boxes, primary)
        voice, notice = self.feed.listen(frame.timestamp)
        if voice is not None and voice.refreshed:
            timer.add("spectrogram", voice.spectrogram_ms)
        if notice:
            self.events.append(notice)
        route = self.router.choose(faces, voice.tensor if voice is not None else None)
        if route is not None and "face" in route.modalities:
            spec = self.face_specs[route.role]
            if spec.face != primary.face or spec.image_size != primary.image_size:
                with timer.stage("preprocess"):  # this engine crops its own way
                    again = self._faces(image, boxes, spec)
                route = dataclasses.replace(route, inputs={**route.inputs, "face": again})
        if route is None:
            self.smoother.reset()
            self.shown = Shown(boxes, None, ())
            return None, absent_reason(boxes, voice, self.feed.audio)
        with timer.stage("infer"):
            raw = route.predict()
        probs = self.smoother.update(raw, (route.role, route.modalities))
        self.shown = Shown(boxes, probs, route.modalities, self.smoother.labels)
        return route, None

    def masked(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """With ``--synthetic-mask``, the frame with a mask on each face box; else the frame.

        The boxes are the last tick's: the detector then sees the masked face too, as it would a real
        mask.
        """
        return image if self.masker is None else self.masker.apply(image, boxes)

    def display_image(self, frame: Frame) -> np.ndarray:
        """The frame to draw the overlay on: masked on the shown boxes with ``--synthetic-mask``."""
        return self.masked(frame.image, self.shown.boxes)

    def _faces(
        self, image: np.ndarray, boxes: list[Box], spec: PreprocessSpec | None
    ) -> np.ndarray | None:
        if spec is None:
            return None
        return face_inputs(
            image, boxes, spec, self.finder.detector.family, all_faces=self.config.all_faces
        )


def absent_reason(boxes: list[Box], voice: VoiceInput | None, audio: AudioSource | None) -> str:
    """The ``reason`` of a record with no prediction: what was missing of the face and the voice."""
    face = "no face" if not boxes else "face unused"
    if audio is None:
        sound = "no audio"
    elif voice is None or voice.tensor is None:
        sound = "silence"
    else:
        sound = "voice unused"
    return f"{face}, {sound}: no prediction"
