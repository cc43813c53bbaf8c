"""Waveform-domain voice augmentation (``--voice-augment strong``).

It applies what changes between a studio actor and a speaker at a laptop to the audio, before the
one shared log-mel.

The paper's rotation and zoom only move the log-mel image around; a model trained on 14 RAVDESS
actors still learns their voices, their room and their microphone. Per sample and epoch, on a
context of audio a little longer than the model window around the clip's speech:

- speed perturbation, x0.9-1.1 (resampling: tempo and pitch move together, as in Kaldi's speed
  perturbation; a separate pitch shift needs a phase vocoder, ~10x the cost, for little more);
- time shift, +-0.3 s: the live ring buffer is not centred on the utterance as the training crop is;
- per-band gain: a spectral tilt of up to +-6 dB across the band (p=0.5), i.e. another microphone
  or room colour. A broadband gain is deliberately absent: the log-mel is referenced to the window's
  loudest bin (:func:`edgefer.preprocess.log_mel`), so a level change alone gives the same input;
- additive noise at a random SNR of 5-30 dB (p=0.5), white or brownish (a random spectral slope);

then :func:`edgefer.preprocess.voice_tensor` (the live loop's own path), the paper's rotation/zoom
and SpecAugment masks (:func:`edgefer.data.augment.spec_augment`).

Every call draws the same number of values from the generator whatever branches are taken (the
noise comes from a child generator seeded by one draw), so a seed gives the same batches.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edgefer.data.augment import augment_voice, spec_augment
from edgefer.errors import EdgeferError
from edgefer.preprocess import centre_window, voice_tensor
from edgefer.spec import PreprocessSpec, VoiceSpec

SPEED_RANGE = (0.9, 1.1)
MAX_SHIFT_S = 0.3
TILT_P = 0.5
MAX_TILT_DB = 6.0
NOISE_P = 0.5
SNR_DB = (5.0, 30.0)
MAX_NOISE_SLOPE_DB = 6.0  # per octave, downwards: 0 = white, 6 = brown


def context_spec(voice: VoiceSpec) -> VoiceSpec:
    """The spec whose ``clip_window`` cuts the training context.

    The window is long enough for the slowest speed-up (x1.1 shortens it) to still fill the model
    window after the largest shift.
    """
    seconds = voice.window_s * SPEED_RANGE[1] + 2 * MAX_SHIFT_S
    return replace(voice, window_s=round(seconds, 3))


def augment_voice_wave(
    context: np.ndarray, rng: np.random.Generator, spec: PreprocessSpec
) -> np.ndarray:
    """One augmented ``voice`` input (S, S, 1) from a context window (see :func:`context_spec`).

    With identity draws (speed 1, no shift, no tilt, no noise) the window is the context's centre,
    which is the clip's own model window wherever the clip is long enough around its speech.
    """
    context = np.asarray(context, dtype=np.float32)
    if context.ndim != 1 or context.size == 0:
        raise EdgeferError(f"voice context must be a 1-D signal, got shape {context.shape}")
    speed, shift = rng.uniform(*SPEED_RANGE), rng.uniform(-MAX_SHIFT_S, MAX_SHIFT_S)
    tilt, tilt_db = rng.random(), rng.uniform(-MAX_TILT_DB, MAX_TILT_DB)
    noisy, snr_db = rng.random(), rng.uniform(*SNR_DB)
    slope_db, noise_seed = rng.uniform(0.0, MAX_NOISE_SLOPE_DB), int(rng.integers(2**63))

    voice = spec.voice
    audio = resample_speed(context, float(speed))
    centre = audio.size // 2 + int(round(shift * voice.sample_rate))
    window = centre_window(audio, centre, voice.window_samples)
    gains = tilt_db if tilt < TILT_P else 0.0
    noise = (snr_db, slope_db, noise_seed) if noisy < NOISE_P else None
    window = colour_and_noise(window, voice, float(gains), noise)
    image = voice_tensor(window, spec)
    return spec_augment(augment_voice(image, rng), rng)


def resample_speed(audio: np.ndarray, speed: float) -> np.ndarray:
    """Play ``audio`` ``speed`` times faster (linear interpolation; 1.0 returns it unchanged)."""
    if speed == 1.0:
        return audio
    n_out = max(1, int(round(audio.size / speed)))
    positions = np.arange(n_out, dtype=np.float64) * speed
    return np.interp(positions, np.arange(audio.size), audio).astype(np.float32)


def colour_and_noise(
    window: np.ndarray,
    voice: VoiceSpec,
    tilt_db: float,
    noise: tuple[float, float, int] | None,
) -> np.ndarray:
    """Apply a spectral tilt and add noise ``(snr_db, slope_db_per_octave, seed)``.

    The tilt is ``tilt_db`` more at ``fmax`` than at ``fmin``, linear in log-frequency, and 0 dB
    at 1 kHz.

    Both in one real FFT of the window. The SNR is against the tilted signal's power over the
    whole window, so a quiet clip gets as much noise relative to itself as a loud one.
    """
    if tilt_db == 0.0 and noise is None:
        return window
    spectrum = np.fft.rfft(window.astype(np.float64))
    octaves = _octaves_from_1k(window.size, voice)
    if tilt_db != 0.0:
        span = octaves.max() - octaves.min()
        spectrum *= 10.0 ** (tilt_db * octaves / span / 20.0)
    out = np.fft.irfft(spectrum, n=window.size)
    if noise is not None:
        snr_db, slope_db, seed = noise
        out = out + _noise(out, octaves, snr_db, slope_db, seed)
    return out.astype(np.float32)


def _octaves_from_1k(n: int, voice: VoiceSpec) -> np.ndarray:
    """Octaves of every rFFT bin above or below 1 kHz, clamped to the mel band [fmin, fmax].

    The model sees nothing outside the band, so a tilt or noise slope is spread over what it sees.
    """
    freqs = np.fft.rfftfreq(n, 1.0 / voice.sample_rate)
    return np.log2(np.clip(freqs, voice.fmin, voice.fmax) / 1000.0)


def _noise(
    signal: np.ndarray, octaves: np.ndarray, snr_db: float, slope_db: float, seed: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bins = octaves.size
    spectrum = rng.standard_normal(bins) + 1j * rng.standard_normal(bins)
    spectrum *= 10.0 ** (-slope_db * (octaves - octaves.min()) / 20.0)
    noise = np.fft.irfft(spectrum, n=signal.size)
    signal_power = float(np.mean(signal**2))
    noise_power = float(np.mean(noise**2))
    if signal_power <= 0.0 or noise_power <= 0.0:
        return np.zeros_like(signal)
    return noise * np.sqrt(signal_power / noise_power / 10.0 ** (snr_db / 10.0))
