"""The live voice input: the ring's last window, gated for silence, as the model's log-mel image.

The spectrogram is recomputed every ``hop_s`` of *audio* (counted in samples written to the ring, not
wall time), so a file advanced at media time gives the same inputs however fast the loop runs, and a
loop ticking faster than the hop reuses the last image instead of redoing ~1 ms of work per frame.
Both the gate and the image come from :mod:`edgefer.preprocess`: the exact functions training used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.live.audio import AudioRing
from edgefer.preprocess import is_silent, rms_dbfs, voice_tensor
from edgefer.spec import PreprocessSpec, VoiceSpec


@dataclass(frozen=True)
class VoiceInput:
    """The voice modality at one tick.

    tensor : (S, S, 1) float32 model input, or None when absent (silence, or no audio yet).
    silent : the window failed the silence gate (or the ring is still empty).
    level_dbfs : RMS level of the window (for display and logs).
    refreshed : computed at this call; False when the last hop's result was reused.
    spectrogram_ms : time spent on the gate and the log-mel image at this call (0 when reused).
    """

    tensor: np.ndarray | None
    silent: bool
    level_dbfs: float
    refreshed: bool
    spectrogram_ms: float

    @property
    def present(self) -> bool:
        return self.tensor is not None


_ABSENT = VoiceInput(None, True, -200.0, False, 0.0)


class VoiceWindow:
    """Turns ``ring`` into a :class:`VoiceInput`, refreshed every ``hop_s`` seconds of audio."""

    def __init__(self, ring: AudioRing, spec: PreprocessSpec, hop_s: float = 0.25) -> None:
        if ring.sample_rate != spec.voice.sample_rate:
            raise EdgeferError(
                f"audio at {ring.sample_rate} Hz but the model expects {spec.voice.sample_rate} Hz"
            )
        if ring.capacity < spec.voice.window_samples:
            raise EdgeferError(
                f"audio ring holds {ring.capacity / ring.sample_rate:.2f} s, shorter than the "
                f"model's {spec.voice.window_s:.2f} s window"
            )
        if hop_s <= 0:
            raise EdgeferError(f"voice hop must be positive, got {hop_s}")
        self.ring, self.spec = ring, spec
        self.hop_samples = max(1, int(round(hop_s * ring.sample_rate)))
        self._last = _ABSENT
        self._computed_at: int | None = None

    def update(self) -> VoiceInput:
        """The current voice input; recomputed only once ``hop_s`` of new audio has arrived."""
        total = self.ring.total_written
        if total == 0:
            return _ABSENT
        if self._computed_at is not None and total - self._computed_at < self.hop_samples:
            return VoiceInput(
                self._last.tensor, self._last.silent, self._last.level_dbfs, False, 0.0
            )
        start = time.perf_counter()
        window = self.ring.read_last(self.spec.voice.window_samples)
        silent = is_silent(window, self.spec.voice)
        tensor = None if silent else voice_tensor(window, self.spec)
        ms = (time.perf_counter() - start) * 1000.0
        self._last = VoiceInput(tensor, silent, rms_dbfs(window), True, ms)
        self._computed_at = total
        return self._last

    @property
    def last(self) -> VoiceInput:
        """The most recent voice input (absent before the first update)."""
        return self._last

    def reset(self) -> None:
        """Forget the cached input (after the audio source failed or was replaced)."""
        self._last, self._computed_at = _ABSENT, None


class SilenceWatch:
    """Says out loud when an audio source carries no voice, instead of quietly going face-only.

    A muted microphone, a wrong input device or a silent file all look alike to the loop: the voice
    window fails the silence gate and the face model answers alone. The user should know: a notice
    when silence starts (once the ring holds ``min_clip_s`` of audio, so the empty ring at start-up
    is not "silence"), a reminder every ``repeat_s`` seconds while it lasts, and a notice when a voice
    is heard again. :attr:`silent` feeds the ``--json`` records and the overlay.
    """

    def __init__(self, source: str, voice: VoiceSpec, repeat_s: float = 10.0) -> None:
        self.source, self.voice, self.repeat_s = source, voice, repeat_s
        self.min_samples = voice.min_clip_samples
        self.silent = False
        self._since: float | None = None
        self._told_at: float | None = None

    def update(self, voice: VoiceInput, t: float, filled: bool) -> str | None:
        """Feed one tick (``t`` in seconds of stream time); returns a notice to show, or None."""
        if not filled:
            return None
        if voice.silent and not self.silent:
            self.silent, self._since, self._told_at = True, t, t
            return (
                f"audio from {self.source} is silent ({voice.level_dbfs:.0f} dBFS, below "
                f"{self.voice.silence_dbfs:.0f}): face only until a voice is heard"
            )
        if voice.silent and self._told_at is not None and t - self._told_at >= self.repeat_s:
            self._told_at = t
            return f"audio still silent after {t - (self._since or t):.0f} s: face only"
        if not voice.silent and self.silent:
            self.silent, self._since, self._told_at = False, None, None
            return f"voice heard on {self.source} ({voice.level_dbfs:.0f} dBFS): face + voice"
        return None
