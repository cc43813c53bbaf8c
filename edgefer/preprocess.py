"""The one preprocessing module: face crop -> ``face`` tensor, audio -> ``voice`` log-mel image.

Training, export metadata, calibration, the live loop and the benchmarks all call these functions, so
the device sees exactly what the model was trained on. Pure functions: NumPy in, NumPy out, every
number taken from a :class:`~edgefer.spec.PreprocessSpec`.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from edgefer.errors import EdgeferError
from edgefer.spec import PreprocessSpec, VoiceSpec

_EPS = 1e-10


# ---------------------------------------------------------------------------------------------- faces
def crop_square(
    box: tuple[int, int, int, int], spec: PreprocessSpec, detector: str
) -> tuple[int, int, int]:
    """The square ``(x0, y0, side)`` that frames a face box ``(x, y, w, h)`` of ``detector``.

    The box is framed as the training crops were, by that detector's (``yunet``/``haar``)
    :class:`~edgefer.spec.CropRule`; the square may reach past the frame's edges.
    """
    x, y, w, h = (int(v) for v in box)
    if w <= 0 or h <= 0:
        raise EdgeferError(f"empty face box {box}")
    rule = spec.face.crop_rule(detector)
    base = max(w, h)
    side = max(2, int(round(base * rule.scale)))
    cx, cy = x + w / 2.0 + rule.shift_x * base, y + h / 2.0 + rule.shift_y * base
    return int(round(cx - side / 2.0)), int(round(cy - side / 2.0)), side


def crop_face(
    frame: np.ndarray, box: tuple[int, int, int, int], spec: PreprocessSpec, detector: str
) -> np.ndarray:
    """Cut the square crop (:func:`crop_square`) of a face box found by ``detector``.

    The square is clipped to the frame, so a face near the border still gives a crop (a smaller one)
    rather than an error.
    """
    x0, y0, side = crop_square(box, spec, detector)
    height, width = frame.shape[:2]
    x0c, y0c = max(x0, 0), max(y0, 0)
    x1c, y1c = min(x0 + side, width), min(y0 + side, height)
    if x1c <= x0c or y1c <= y0c:
        raise EdgeferError(f"face box {box} lies outside the {width}x{height} frame")
    return frame[y0c:y1c, x0c:x1c]


def face_tensor(crop: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Turn a face crop (uint8 grey (H, W) or BGR (H, W, 3)) into the model's ``face`` input.

    Returns
    -------
    face : np.ndarray [shape=(S, S, C), dtype=float32], values in [0, 1]; S = ``image_size``,
        C = ``face.channels``.
    """
    crop = np.asarray(crop)
    if crop.ndim not in (2, 3) or crop.shape[0] < 2 or crop.shape[1] < 2:
        raise EdgeferError(
            f"face crop must be an (H, W) or (H, W, 3) image, got shape {crop.shape}"
        )
    if crop.dtype != np.uint8:
        raise EdgeferError(f"face crop must be uint8, got {crop.dtype}")
    channels = spec.face.channels
    if crop.ndim == 3 and crop.shape[2] == 1:
        crop = crop[:, :, 0]
    if channels == 1 and crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    elif channels == 3 and crop.ndim == 2:
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    size = spec.image_size
    shrinking = crop.shape[0] > size or crop.shape[1] > size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(crop, (size, size), interpolation=interpolation)
    tensor = resized.astype(np.float32) / 255.0
    return tensor.reshape(size, size, channels)


# ---------------------------------------------------------------------------------------------- voice
def validate_audio(audio: np.ndarray) -> np.ndarray:
    """Check that ``audio`` is a finite 1-D signal and return it as float32."""
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise EdgeferError(f"audio must be mono 1-D, got shape {audio.shape}")
    if audio.size == 0:
        raise EdgeferError("audio is empty")
    audio = audio.astype(np.float32, copy=False)
    if not np.all(np.isfinite(audio)):
        raise EdgeferError("audio holds NaN or infinite samples")
    return audio


def rms_dbfs(audio: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (0 dBFS = a full-scale square wave)."""
    audio = validate_audio(audio)
    return float(20.0 * np.log10(np.sqrt(np.mean(np.square(audio, dtype=np.float64))) + _EPS))


def frame_energy_db(audio: np.ndarray, voice: VoiceSpec) -> np.ndarray:
    """Mean power (dBFS) of each ``win_length`` frame, every ``hop_length`` samples."""
    audio = validate_audio(audio)
    if audio.size < voice.win_length:
        audio = np.pad(audio, (0, voice.win_length - audio.size))
    frames = np.lib.stride_tricks.sliding_window_view(audio, voice.win_length)[:: voice.hop_length]
    return 10.0 * np.log10(np.mean(np.square(frames, dtype=np.float64), axis=1) + _EPS)


def is_silent(audio: np.ndarray, voice: VoiceSpec) -> bool:
    """True when the window carries no voice.

    Its loud frames (the 95th percentile of 25 ms frame energies) stay below ``silence_dbfs``.

    Frame energy, not the whole window's RMS: a quiet speaker with pauses (RAVDESS neutral clips
    reach only -45 dBFS at their loudest frame and -56 dBFS overall) is still a voice.
    """
    return float(np.percentile(frame_energy_db(audio, voice), 95)) < voice.silence_dbfs


def clip_window(audio: np.ndarray, voice: VoiceSpec) -> np.ndarray:
    """Choose the model window from a whole clip: trim silence, centre on the speech, pad or cut.

    A clip shorter than ``min_clip_s`` is refused; a silent clip too.

    Returns
    -------
    window : np.ndarray [shape=(window_samples,), dtype=float32]
    """
    audio = validate_audio(audio)
    if audio.size < voice.min_clip_samples:
        raise EdgeferError(
            f"clip is {audio.size / voice.sample_rate:.2f} s long, shorter than the "
            f"{voice.min_clip_s:.2f} s minimum"
        )
    if is_silent(audio, voice):
        raise EdgeferError(f"clip is silent (below {voice.silence_dbfs:.0f} dBFS)")
    start, end = _speech_bounds(audio, voice)
    return centre_window(audio, (start + end) // 2, voice.window_samples)


def centre_window(audio: np.ndarray, centre: int, length: int) -> np.ndarray:
    """Take ``length`` samples centred on ``centre``, kept inside the clip, zero-padded if short.

    Examples
    --------
    >>> centre_window(np.arange(10, dtype=np.float32), centre=8, length=4)  # kept inside
    array([6., 7., 8., 9.], dtype=float32)
    >>> centre_window(np.ones(2, dtype=np.float32), centre=0, length=4)  # padded both sides
    array([0., 1., 1., 0.], dtype=float32)
    """
    if audio.size <= length:
        out = np.zeros(length, dtype=np.float32)
        offset = (length - audio.size) // 2
        out[offset : offset + audio.size] = audio
        return out
    start = int(np.clip(centre - length // 2, 0, audio.size - length))
    return np.ascontiguousarray(audio[start : start + length], dtype=np.float32)


def _speech_bounds(audio: np.ndarray, voice: VoiceSpec) -> tuple[int, int]:
    frame, hop = voice.win_length, voice.hop_length
    if audio.size < frame:
        return 0, audio.size
    energy_db = frame_energy_db(audio, voice)
    loud = np.flatnonzero(energy_db >= energy_db.max() - voice.trim_db)
    return int(loud[0] * hop), int(min(loud[-1] * hop + frame, audio.size))


@lru_cache(maxsize=8)
def _mel_basis(voice: VoiceSpec) -> np.ndarray:
    import librosa

    return librosa.filters.mel(
        sr=voice.sample_rate,
        n_fft=voice.n_fft,
        n_mels=voice.n_mels,
        fmin=voice.fmin,
        fmax=voice.fmax,
    ).astype(np.float32)


@lru_cache(maxsize=8)
def _stft_window(voice: VoiceSpec) -> np.ndarray:
    window = np.zeros(voice.n_fft, dtype=np.float32)
    offset = (voice.n_fft - voice.win_length) // 2
    window[offset : offset + voice.win_length] = np.hanning(voice.win_length + 1)[:-1]
    return window


def log_mel(audio: np.ndarray, voice: VoiceSpec) -> np.ndarray:
    """Log-mel power spectrogram in dB relative to the window's loudest bin, floored at ``-top_db``.

    Returns
    -------
    mel_db : np.ndarray [shape=(n_mels, frames), dtype=float32], values in [-top_db, 0]
    """
    audio = validate_audio(audio)
    pad = voice.n_fft // 2
    padded = np.pad(audio, pad, mode="constant")
    if padded.size < voice.n_fft:
        raise EdgeferError(f"audio of {audio.size} samples is too short for one FFT frame")
    frames = np.lib.stride_tricks.sliding_window_view(padded, voice.n_fft)[:: voice.hop_length]
    spectrum = np.fft.rfft(frames * _stft_window(voice), axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    mel = _mel_basis(voice) @ power.T
    mel_db = 10.0 * np.log10(np.maximum(mel, _EPS))
    mel_db -= mel_db.max()
    return np.maximum(mel_db, -voice.top_db).astype(np.float32)


def voice_tensor(window: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Turn one audio window (16 kHz mono) into the model's ``voice`` input.

    The window is cut or zero-padded to ``window_samples``; the log-mel image is flipped so low
    frequencies sit at the bottom, scaled from [-top_db, 0] dB to [0, 1] and resized to the image size.

    Returns
    -------
    voice : np.ndarray [shape=(S, S, 1), dtype=float32], values in [0, 1]
    """
    voice = spec.voice
    window = validate_audio(window)
    if window.size != voice.window_samples:
        window = centre_window(window, window.size // 2, voice.window_samples)
    mel_db = log_mel(window, voice)
    image = np.flipud((mel_db + voice.top_db) / voice.top_db)
    size = spec.image_size
    resized = cv2.resize(np.ascontiguousarray(image), (size, size), interpolation=cv2.INTER_AREA)
    return np.clip(resized, 0.0, 1.0).astype(np.float32).reshape(size, size, 1)


def clip_tensor(audio: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """A whole clip -> ``voice`` input: :func:`clip_window` then :func:`voice_tensor`."""
    return voice_tensor(clip_window(audio, spec.voice), spec)
