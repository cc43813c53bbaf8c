"""The live loop behind ``edgefer run``: frames and sound in, one prediction per tick out.

Each tick takes the newest frame, finds the face, takes the last voice window, lets the
:class:`~edgefer.live.router.Router` pick the fused, face or voice engine for the modalities present,
smooths the probabilities, draws them, and hands one record to the caller. The building blocks live
in their own modules (see :mod:`edgefer.live`; the tick itself in :mod:`~edgefer.live.ticker`, the
sound in :mod:`~edgefer.live.audio_feed`, the record in :mod:`~edgefer.live.records`, the pace in
:mod:`~edgefer.live.pacing`); this module only wires them, so the CLI, the packaged demo, the
benchmarks and the tests all run the very same loop through :func:`run_live`.

What keeps it running: a microphone that dies mid-run leaves the face model answering (and an event
saying so); no face leaves the voice model; neither leaves a record that says nothing was predicted.
Ctrl-C or ``stop`` end it cleanly: sources stopped, the saved video finalised, the summary returned.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgefer.errors import EdgeferError
from edgefer.live.audio import AudioSource
from edgefer.live.audio_feed import open_run_audio
from edgefer.live.capture import VideoSource
from edgefer.live.config import RunConfig
from edgefer.live.detect import make_detector
from edgefer.live.engines import open_engines
from edgefer.live.overlay import PreviewWindow, VideoWriter, draw_overlay, has_display
from edgefer.live.pacing import InferenceClock, running_fps
from edgefer.live.records import Record, tick_record
from edgefer.live.smoothing import Smoother, parse_smoothing_text
from edgefer.live.sources import open_video_source
from edgefer.live.ticker import Ticker
from edgefer.live.timing import StageTimer

__all__ = ["RunConfig", "RunSummary", "parse_smoothing", "run_live"]


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
    """``KIND[:VALUE][:margin=M][:hold=N]`` -> a smoother; see :mod:`edgefer.live.smoothing`.

    For example ``ema:0.2:margin=0.05:hold=12``, ``window:8`` or ``none``.
    """
    return parse_smoothing_text(text)


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
    """Run the loop until the source ends or is stopped, then stop the sources.

    It runs until the source ends, ``max_frames``, ``stop`` is set, q in the preview, or Ctrl-C
    (then ``summary.interrupted``); it always stops the sources and finalises the saved video.

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
            audio, notes = open_run_audio(config, video)
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
        ticker = Ticker(config, engines, audio, summary.timer, detector)
        summary.audio = ticker.feed.name
        preview = PreviewWindow() if show else None
        if preview is not None:
            stack.callback(preview.close)
        video.start()
        strict = audio_given or str(config.mic).strip().lower() != "auto"
        not_started = ticker.feed.start(strict)
        if not_started:
            event(not_started)
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
    ticker: Ticker,
    summary: RunSummary,
    writer: VideoWriter | None,
    preview: PreviewWindow | None,
    stop: threading.Event,
    on_record: Callable[[Record], None] | None,
    event: Callable[[str], None],
) -> None:
    timer = summary.timer
    clock = InferenceClock(config.infer_hz)
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
        fps_shown = running_fps(fps_shown, last_tick, now)
        last_tick = now
        timer.start_tick()
        timer.add("capture", frame.capture_ms)
        failure = ticker.feed.failure()
        if failure:
            event(failure)
        due = clock.due(frame.timestamp)
        route, reason = ticker.infer(frame) if due else (None, None)
        while ticker.events:
            event(ticker.events.pop(0))
        shown = ticker.shown
        with timer.stage("overlay"):
            silent = "silent audio" if ticker.feed.silent else None
            note = " | ".join(n for n in (config.note, ticker.feed.note, silent) if n) or None
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
            record = tick_record(frame, route, reason, shown, ticker.class_names, ms)
            record.update(ticker.feed.state())
            if config.keep_records:
                summary.records.append(record)
            if on_record is not None:
                on_record(record)
    _drain_source_events(video, event)


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


def _describe(engine: Any) -> str:
    """Which file served a role, for ``summary.engines``.

    Written as ``name.onnx (backend precision: inputs)``.
    """
    path = getattr(engine, "path", None)
    name = f"{Path(path).name} " if path is not None else ""
    return f"{name}({engine.describe()})"
