"""The live loop behind ``edgefer run``: frames and sound in, one prediction per tick out.

Each tick takes the newest frame, finds the face, takes the last voice window, lets the
:class:`~edgefer.live.router.Router` pick the fused, face or voice engine for the modalities present,
smooths the probabilities, draws them, and hands one record to the caller. The building blocks live
in their own modules (see :mod:`edgefer.live`); this module only wires them, so the CLI, the packaged
demo, the benchmarks and the tests all run the very same loop through :func:`run_live`.

What keeps it running: a microphone that dies mid-run leaves the face model answering (and an event
saying so); no face leaves the voice model; neither leaves a record that says nothing was predicted.
Ctrl-C or ``stop`` end it cleanly: sources stopped, the saved video finalised, the summary returned.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.live.audio import AudioSource
from edgefer.live.capture import Frame, VideoSource
from edgefer.live.config import RunConfig
from edgefer.live.detect import (
    Box,
    BoxHold,
    HaarFaceDetector,
    YuNetFaceDetector,
    face_inputs,
    make_detector,
)
from edgefer.live.engines import (
    NONE_WORDS,
    open_engines,
    shared_voice_spec,
    spec_of_engine,
)
from edgefer.live.face_finder import FaceFinder
from edgefer.live.mic_option import open_audio_source
from edgefer.live.overlay import PreviewWindow, VideoWriter, draw_overlay, has_display
from edgefer.live.router import Route, Router
from edgefer.live.smoothing import Smoother, parse_smoothing_text
from edgefer.live.sources import open_video_source
from edgefer.live.synthetic_mask import SyntheticMasker
from edgefer.live.timing import StageTimer, json_record
from edgefer.live.voice import SilenceWatch, VoiceWindow
from edgefer.spec import PreprocessSpec

__all__ = ["RunConfig", "RunSummary", "parse_smoothing", "run_live"]

Record = dict[str, Any]


@dataclass
class RunSummary:
    """What a run did.

    frames : frames processed; inferences : engine calls; seconds : wall time from the first frame
        to the end of the last tick (engine loading and building excluded).
    records : the per-inference records (the ``--json`` lines as dicts; empty with ``keep_records=False``).
    events : what the user should know: fall-backs, reconnects, a lost microphone.
    engines : role -> description of the engine that served it.
    """

    frames: int = 0
    inferences: int = 0
    seconds: float = 0.0
    timer: StageTimer = field(default_factory=StageTimer)
    records: list[Record] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    saved: Path | None = None
    engines: dict[str, str] = field(default_factory=dict)
    audio: str | None = None
    dropped: int = 0
    interrupted: bool = False
    error: str | None = None

    @property
    def fps(self) -> float:
        """Frames per second end to end (capture to overlay), over the whole run."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def parse_smoothing(text: str) -> Smoother:
    """``KIND[:VALUE][:margin=M][:hold=N]`` (``ema:0.2:margin=0.05:hold=12``, ``window:8``,
    ``none``) -> a smoother; see :mod:`edgefer.live.smoothing`."""
    return parse_smoothing_text(text)


# ----------------------------------------------------------------------------------------- audio
def _open_audio(config: RunConfig, video: VideoSource) -> tuple[AudioSource | None, list[str]]:
    """The ``--mic`` source; ``auto`` never fails the run, an explicit spec does (one line)."""
    spec = None if config.mic is None else str(config.mic).strip()
    if spec is None or spec.lower() in NONE_WORDS:
        return None, []
    options = {"realtime": config.realtime, "loop": config.loop}
    if spec.lower() != "auto":
        return open_audio_source(spec, config.camera, **options), []
    wanted = "default" if video.live else "video"
    try:
        return open_audio_source(wanted, config.camera, **options), []
    except EdgeferError as exc:
        where = "no microphone" if video.live else "no usable sound track"
        return None, [f"{where} ({exc}): face only"]


# ----------------------------------------------------------------------------------------- ticks
@dataclass
class _Shown:
    """What the screen shows between inferences."""

    boxes: list[Box] = field(default_factory=list)
    probs: np.ndarray | None = None
    modalities: tuple[str, ...] = ()
    labels: np.ndarray | None = None  # the smoother's held label per face (may differ from argmax)


class _Ticker:
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
        voice_spec = shared_voice_spec(engines)
        if audio is not None and voice_spec is None:
            audio.stop()  # no engine listens
            audio = None
        self.audio = audio
        self.voice = VoiceWindow(audio.ring, voice_spec, config.hop_s) if audio else None
        self.silence = SilenceWatch(audio.name, voice_spec.voice) if audio else None
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
        self.smoother = parse_smoothing(config.smoothing)
        self.shown = _Shown()
        self.note: str | None = None
        self._next_due: float | None = None

    def audio_failure(self) -> str | None:
        """Drop a failed audio source (face only from here); the reason, once."""
        if self.audio is None:
            return None
        why = self.audio.failed
        if why is None:
            return None
        self.drop_audio()
        return f"{why}: face only from here"

    def drop_audio(self) -> None:
        if self.audio is not None:
            self.audio.stop()
        self.audio, self.voice, self.silence = None, None, None
        self.note = "audio lost: face only"

    def due(self, frame: Frame) -> bool:
        """Whether this frame gets an inference at ``infer_hz`` (media time, so repeatable offline)."""
        hz = self.config.infer_hz
        if not hz:
            return True
        period = 1.0 / hz
        if self._next_due is None or frame.timestamp + 1e-6 >= self._next_due:
            base = self._next_due if self._next_due is not None else frame.timestamp
            self._next_due = max(base + period, frame.timestamp + period / 2)
            return True
        return False

    def infer(self, frame: Frame) -> tuple[Route | None, str | None]:
        """Run one inference tick; updates :attr:`shown`. Returns the route and, when nothing could
        be predicted, why."""
        timer = self.timer
        if self.audio is not None and not self.config.realtime:
            advance = getattr(self.audio, "advance_to", None)
            if advance is not None:
                advance(frame.timestamp)  # the sound follows the frames' media time
        primary = next(iter(self.face_specs.values()), None)
        image = self.masked(frame.image, self.shown.boxes)  # masked where the face was
        with timer.stage("detect"):
            boxes = self.hold.update(self.finder.find(image))
        with timer.stage("preprocess"):
            faces = self._faces(image, boxes, primary)
        voice = self.voice.update() if self.voice is not None else None
        if voice is not None and voice.refreshed:
            timer.add("spectrogram", voice.spectrogram_ms)
        if self.silence is not None and voice is not None and self.audio is not None:
            filled = self.audio.ring.total_written >= self.silence.min_samples
            message = self.silence.update(voice, frame.timestamp, filled)
            if message:
                self.events.append(message)
        route = self.router.choose(faces, voice.tensor if voice is not None else None)
        if route is not None and "face" in route.modalities:
            spec = self.face_specs[route.role]
            if spec.face != primary.face or spec.image_size != primary.image_size:
                with timer.stage("preprocess"):  # this engine crops its own way
                    again = self._faces(image, boxes, spec)
                route = dataclasses.replace(route, inputs={**route.inputs, "face": again})
        if route is None:
            self.smoother.reset()
            self.shown = _Shown(boxes, None, ())
            return None, _absent_reason(boxes, voice, self.audio)
        with timer.stage("infer"):
            raw = route.predict()
        probs = self.smoother.update(raw, (route.role, route.modalities))
        self.shown = _Shown(boxes, probs, route.modalities, self.smoother.labels)
        return route, None

    def masked(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """With ``--synthetic-mask``, the frame with a mask on each face box (the last tick's:
        the detector then sees the masked face too, as it would a real mask); else the frame."""
        return image if self.masker is None else self.masker.apply(image, boxes)

    def display_image(self, frame: Frame) -> np.ndarray:
        """The frame to draw the overlay on: masked on the shown boxes with ``--synthetic-mask``."""
        return self.masked(frame.image, self.shown.boxes)

    def audio_state(self) -> dict[str, Any]:
        """The ``audio`` fields of a record: none, lost, silent or voice, and the level."""
        if self.audio is None or self.voice is None:
            return {"audio": "lost" if self.note else "none"}
        last = self.voice.last
        return {
            "audio": "silent" if last.silent else "voice",
            "audio_dbfs": round(last.level_dbfs, 1),
        }

    def _faces(
        self, image: np.ndarray, boxes: list[Box], spec: PreprocessSpec | None
    ) -> np.ndarray | None:
        if spec is None:
            return None
        return face_inputs(
            image, boxes, spec, self.finder.detector.family, all_faces=self.config.all_faces
        )


def _absent_reason(boxes: list[Box], voice: Any, audio: AudioSource | None) -> str:
    face = "no face" if not boxes else "face unused"
    if audio is None:
        sound = "no audio"
    elif voice is None or voice.tensor is None:
        sound = "silence"
    else:
        sound = "voice unused"
    return f"{face}, {sound}: no prediction"


# ------------------------------------------------------------------------------------------ run
def run_live(
    config: RunConfig,
    on_record: Callable[[Record], None] | None = None,
    stop: threading.Event | None = None,
    *,
    on_event: Callable[[str], None] | None = None,
    log: Callable[[str], None] | None = None,
    video: VideoSource | None = None,
    audio: AudioSource | None = None,
    timer: StageTimer | None = None,
    writer: VideoWriter | None = None,
) -> RunSummary:
    """Run the loop until the source ends, ``max_frames``, ``stop`` is set, q in the preview, or
    Ctrl-C (then ``summary.interrupted``); always stops the sources and finalises the saved video.

    on_record : called with each inference tick's record (``--json`` prints them).
    on_event : called with each event as it happens (also collected in ``summary.events``).
    log : progress notes (the one-off engine build).
    video, audio : already made sources used instead of opening ``config.camera`` / ``config.mic``
        (a test's reconnecting capture, a WAV-fed microphone); started and stopped here.
    timer, writer : shared with other runs (the demo times and records all its clips as one).
    Raises EdgeferError (one line) for anything the user can fix: camera, microphone, engine, path.
    """
    stop = stop or threading.Event()
    summary = RunSummary(timer=timer or StageTimer())
    show = has_display() if config.show is None else config.show
    if show and not has_display():
        raise EdgeferError(
            "--show needs a display (DISPLAY/WAYLAND_DISPLAY is not set); use --no-show"
        )
    if config.infer_hz is not None and config.infer_hz <= 0:
        raise EdgeferError(f"--rate must be positive, got {config.infer_hz}")
    parse_smoothing(config.smoothing)  # a typo fails now, not after a 30 s engine build
    detector = make_detector(
        config.detector, config.detect_threshold
    )  # so does a missing or corrupt detector model

    def event(message: str) -> None:
        summary.events.append(message)
        if on_event is not None:
            on_event(message)

    with contextlib.ExitStack() as stack:
        if video is None:
            video = open_video_source(config.camera, paced=config.realtime, loop=config.loop)
        stack.callback(video.stop)
        audio_given = audio is not None
        if audio is None:
            audio, notes = _open_audio(config, video)
            for note in notes:
                event(note)
        if audio is not None:
            stack.callback(audio.stop)
        if writer is None and config.save is not None:
            writer = VideoWriter(config.save, video.fps)
            own_writer = writer
            stack.callback(lambda: setattr(summary, "saved", own_writer.close()))
        engines, notes = open_engines(config, log)
        for engine in engines.values():
            stack.callback(engine.close)
        for note in notes:
            event(note)
        summary.engines = {role: _describe(e) for role, e in engines.items()}
        ticker = _Ticker(config, engines, audio, summary.timer, detector)
        summary.audio = ticker.audio.name if ticker.audio is not None else None
        preview = PreviewWindow() if show else None
        if preview is not None:
            stack.callback(preview.close)
        video.start()
        if ticker.audio is not None:
            try:
                ticker.audio.start()
            except EdgeferError as exc:
                if audio_given or str(config.mic).strip().lower() != "auto":
                    raise
                ticker.drop_audio()  # --mic auto: a microphone that will not start is no microphone
                event(f"no microphone ({exc}): face only")
        try:
            with _one_blas_thread():
                _loop(config, video, ticker, summary, writer, preview, stop, on_record, event)
        except KeyboardInterrupt:
            summary.interrupted = True
        summary.dropped = video.dropped
        if video.error:
            summary.error = video.error
    return summary


def _loop(
    config: RunConfig,
    video: VideoSource,
    ticker: _Ticker,
    summary: RunSummary,
    writer: VideoWriter | None,
    preview: PreviewWindow | None,
    stop: threading.Event,
    on_record: Callable[[Record], None] | None,
    event: Callable[[str], None],
) -> None:
    timer = summary.timer
    started: float | None = None
    last_tick, fps_shown = None, None
    while not stop.is_set():
        if config.max_frames is not None and summary.frames >= config.max_frames:
            break
        _drain_source_events(video, event)
        frame = video.read_latest(0.25)
        if frame is None:
            if video.finished:
                break
            continue  # a live source between frames, or reconnecting
        now = time.perf_counter()
        started = now if started is None else started
        fps_shown = _running_fps(fps_shown, last_tick, now)
        last_tick = now
        timer.start_tick()
        timer.add("capture", frame.capture_ms)
        failure = ticker.audio_failure()
        if failure:
            event(failure)
        due = ticker.due(frame)
        route, reason = ticker.infer(frame) if due else (None, None)
        while ticker.events:
            event(ticker.events.pop(0))
        shown = ticker.shown
        with timer.stage("overlay"):
            silent = (
                "silent audio" if ticker.silence is not None and ticker.silence.silent else None
            )
            note = " | ".join(n for n in (config.note, ticker.note, silent) if n) or None
            image = draw_overlay(
                ticker.display_image(frame),
                boxes=shown.boxes,
                probs=None if shown.probs is None else shown.probs[0],
                label_index=None if shown.labels is None else int(shown.labels[0]),
                class_names=ticker.class_names,
                modalities=shown.modalities,
                fps=fps_shown,
                note=note,
            )
            if writer is not None:
                writer.write(image)
            if preview is not None and not preview.show(image):
                stop.set()
        ms = timer.end_tick()
        summary.frames += 1
        summary.seconds = time.perf_counter() - started
        if due:
            summary.inferences += route is not None
            record = _record(frame, route, reason, shown, ticker.class_names, ms)
            record.update(ticker.audio_state())
            if config.keep_records:
                summary.records.append(record)
            if on_record is not None:
                on_record(record)
    _drain_source_events(video, event)


def _record(
    frame: Frame,
    route: Route | None,
    reason: str | None,
    shown: _Shown,
    class_names: tuple[str, ...],
    ms: dict[str, float],
) -> Record:
    import json

    extra: dict[str, Any] = {"frame": frame.index}
    if reason:
        extra["reason"] = reason
    line = json_record(
        timestamp=frame.timestamp,
        probs=shown.probs if route is not None else None,
        labels=shown.labels if route is not None else None,
        class_names=class_names,
        modalities=route.modalities if route is not None else (),
        stages_ms=ms,
        engine=route.role if route is not None else None,
        boxes=shown.boxes,
        extra=extra,
    )
    return json.loads(line)


def _one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """Limit NumPy's BLAS to one thread while the loop runs.

    The log-mel filterbank product is tiny (64x257 @ 257x201); a multi-threaded OpenBLAS on a busy
    2-core CPU spent 20 ms in it instead of 0.07 ms (training running beside it), and its worker
    threads kept spinning afterwards, slowing face detection too: with this limit the loop went
    from 60 to 105 FPS on a demo clip (load average 3.6). threadpoolctl comes with librosa's scikit-learn.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - librosa requires scikit-learn, which requires it
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _drain_source_events(video: VideoSource, event: Callable[[str], None]) -> None:
    """Pass on the capture thread's events (lost, retry, reconnected, gave up) in order."""
    while video.events:
        try:
            item = video.events.popleft()
        except IndexError:
            return
        event(item.message)


def _running_fps(current: float | None, last: float | None, now: float) -> float | None:
    """The FPS drawn on screen: an EMA of the tick rate (steady enough to read)."""
    if last is None or now <= last:
        return current
    instant = 1.0 / (now - last)
    return instant if current is None else 0.9 * current + 0.1 * instant


def _describe(engine: Any) -> str:
    path = getattr(engine, "path", None)
    name = f"{Path(path).name} " if path is not None else ""
    return f"{name}({engine.describe()})"
