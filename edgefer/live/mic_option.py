"""``--mic SPEC`` -> an audio source.

Nothing, the video's own sound track, an audio file, or a microphone (by index, name or
``default``). Its own module so that files (:mod:`.audio`) and microphones (:mod:`.microphone`,
which writes into :class:`~edgefer.live.audio.AudioRing`) need not import each other.
"""

from __future__ import annotations

import re
from pathlib import Path

from edgefer.errors import EdgeferError
from edgefer.live.audio import AudioRing, AudioSource, FileAudioSource
from edgefer.media import AUDIO_SUFFIXES


def open_audio_source(
    spec: str | None,
    video_spec: str | None = None,
    *,
    sample_rate: int = 16000,
    realtime: bool = True,
    ring: AudioRing | None = None,
    loop: bool = False,
) -> AudioSource | None:
    """Open ``--mic SPEC``.

    ``none`` (no audio), ``video`` or the ``--camera`` file itself (its own sound track), an
    audio/video file path, or a microphone by index (``0``), name, or ``default``.
    """
    text = "none" if spec is None else str(spec).strip()
    if text.lower() in ("", "none", "off"):
        return None
    if text.lower() == "video" or (video_spec is not None and text == str(video_spec)):
        if video_spec is None or not Path(video_spec).is_file():
            raise EdgeferError(
                "--mic video plays the video file's own sound track, but --camera is not a file"
            )
        text = str(video_spec)
    path = Path(text).expanduser()
    if path.is_file():
        return FileAudioSource(path, sample_rate, realtime, ring=ring, loop=loop)
    if path.suffix.lower() in AUDIO_SUFFIXES or "/" in text or "\\" in text:
        raise EdgeferError(f"audio file not found: {path}")
    from edgefer.live.microphone import MicrophoneSource  # sounddevice only when asked for

    device: int | str | None = None if text.lower() == "default" else text
    if re.fullmatch(r"\d+", text):
        device = int(text)
    return MicrophoneSource(device, sample_rate, ring=ring)
