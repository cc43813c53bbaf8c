"""The live loop's sound: the ``--mic`` source opened for a run, and what feeds the voice engine.

:class:`AudioFeed` holds everything that depends on the audio source (the voice window, the silence
watch, the note shown once it is gone), so losing a microphone mid-run drops all of it in one step and
the tick goes on with the face alone. :func:`open_run_audio` opens ``--mic`` with the rule that
``auto`` never fails a run.
"""

from __future__ import annotations

from typing import Any

from edgefer.errors import EdgeferError
from edgefer.live.audio import AudioSource
from edgefer.live.capture import VideoSource
from edgefer.live.config import RunConfig
from edgefer.live.engines import NONE_WORDS
from edgefer.live.mic_option import open_audio_source
from edgefer.live.voice import SilenceWatch, VoiceInput, VoiceWindow
from edgefer.spec import PreprocessSpec

__all__ = ["AudioFeed", "open_run_audio"]


def open_run_audio(config: RunConfig, video: VideoSource) -> tuple[AudioSource | None, list[str]]:
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


class AudioFeed:
    """An audio source with the voice window and silence watch read from it; all None without one.

    voice_spec : the preprocessing the voice-taking engines share; None (no engine listens) stops
        ``audio`` at once, since nothing would ever read it.
    hop_s : the voice window's refresh period, in seconds of audio.
    media_time : offline runs advance a file source to each frame's timestamp, so the sound follows
        the frames however fast the loop runs.
    """

    def __init__(
        self,
        audio: AudioSource | None,
        voice_spec: PreprocessSpec | None,
        hop_s: float,
        *,
        media_time: bool,
    ) -> None:
        if audio is not None and voice_spec is None:
            audio.stop()  # no engine listens
            audio = None
        self.audio = audio
        self.voice = VoiceWindow(audio.ring, voice_spec, hop_s) if audio else None
        self.silence = SilenceWatch(audio.name, voice_spec.voice) if audio else None
        self.media_time = media_time
        self.note: str | None = None

    @property
    def name(self) -> str | None:
        """The source's name for the run summary, or None without audio."""
        return self.audio.name if self.audio is not None else None

    @property
    def silent(self) -> bool:
        """Whether the silence watch currently hears no voice (the overlay says so)."""
        return self.silence is not None and self.silence.silent

    def start(self, strict: bool) -> str | None:
        """Start recording.

        Not ``strict`` (``--mic auto``), a microphone that will not start is no microphone: it is dropped
        and the event to report is returned; ``strict`` re-raises.
        """
        if self.audio is None:
            return None
        try:
            self.audio.start()
        except EdgeferError as exc:
            if strict:
                raise
            self.drop()
            return f"no microphone ({exc}): face only"
        return None

    def failure(self) -> str | None:
        """Drop a failed audio source (face only from here); the reason, once."""
        if self.audio is None:
            return None
        why = self.audio.failed
        if why is None:
            return None
        self.drop()
        return f"{why}: face only from here"

    def drop(self) -> None:
        """Stop the source and forget everything read from it; the overlay notes the loss."""
        if self.audio is not None:
            self.audio.stop()
        self.audio, self.voice, self.silence = None, None, None
        self.note = "audio lost: face only"

    def follow(self, timestamp: float) -> None:
        """With ``media_time``, bring a file source up to the frame's media time."""
        if self.audio is not None and self.media_time:
            advance = getattr(self.audio, "advance_to", None)
            if advance is not None:
                advance(timestamp)  # the sound follows the frames' media time

    def listen(self, timestamp: float) -> tuple[VoiceInput | None, str | None]:
        """The tick's voice input (None without audio) and the silence watch's notice, if any."""
        voice = self.voice.update() if self.voice is not None else None
        notice = None
        if self.silence is not None and voice is not None and self.audio is not None:
            filled = self.audio.ring.total_written >= self.silence.min_samples
            notice = self.silence.update(voice, timestamp, filled)
        return voice, notice

    def state(self) -> dict[str, Any]:
        """The ``audio`` fields of a record: none, lost, silent or voice, and the level."""
        if self.audio is None or self.voice is None:
            return {"audio": "lost" if self.note else "none"}
        last = self.voice.last
        return {
            "audio": "silent" if last.silent else "voice",
            "audio_dbfs": round(last.level_dbfs, 1),
        }
