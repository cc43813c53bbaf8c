"""Reading images and audio from files, with one clear error for anything unreadable.

Audio comes back as float32 mono at the requested rate. WAV/FLAC/OGG go through soundfile; any other
container (MP3, the CREMA-D FLV videos, MP4) through PyAV, which decodes the sound track of a video too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgefer.errors import EdgeferError

SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg"}
AUDIO_SUFFIXES = SOUNDFILE_SUFFIXES | {".mp3", ".flv", ".mp4", ".m4a", ".mkv", ".webm", ".avi"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def read_image(path: str | Path, grey: bool = False) -> np.ndarray:
    """Read an image as uint8 BGR (H, W, 3), or grey (H, W) with ``grey=True``."""
    path = Path(path)
    if not path.is_file():
        raise EdgeferError(f"image not found: {path}")
    data = path.read_bytes()
    # OpenCV decodes a truncated JPEG without an error (grey fill); refuse it so a half-copied
    # file never reaches training unnoticed.
    if path.suffix.lower() in {".jpg", ".jpeg"} and b"\xff\xd9" not in data[-32:]:
        raise EdgeferError(f"truncated JPEG (no end marker): {path}")
    import cv2  # here, not at the top: the file indexers import this module only for its suffixes

    flag = cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flag) if data else None
    if image is None or image.size == 0:
        raise EdgeferError(f"cannot decode image: {path}")
    return image


def read_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Read an audio file (or a video's sound track) as float32 mono in [-1, 1] at ``sample_rate``.

    Returns
    -------
    audio : np.ndarray [shape=(n,), dtype=float32]
    """
    path = Path(path)
    if not path.is_file():
        raise EdgeferError(f"audio file not found: {path}")
    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        audio, rate = _read_with_soundfile(path)
    else:
        audio, rate = _read_with_av(path)
    if audio.size == 0:
        raise EdgeferError(f"audio file holds no samples: {path}")
    if rate != sample_rate:
        import librosa

        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(audio, dtype=np.float32)


def _read_with_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise EdgeferError(f"cannot decode audio: {path} ({exc})") from exc
    return audio.mean(axis=1), int(rate)


def _read_with_av(path: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise EdgeferError(f"no audio track in {path}")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate)
            chunks = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
            rate = int(stream.rate)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise EdgeferError(f"cannot decode audio: {path} ({exc})") from exc
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return audio.astype(np.float32), rate


def read_video_frames(path: str | Path, max_frames: int | None = None) -> list[np.ndarray]:
    """Decode a video file's frames as uint8 BGR arrays (PyAV).

    They are evenly subsampled to at most ``max_frames``. Used for clips (evaluation, tests); the
    live loop streams instead.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise EdgeferError(f"video file not found: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise EdgeferError(f"no video track in {path}")
            frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise EdgeferError(f"cannot decode video: {path} ({exc})") from exc
    if not frames:
        raise EdgeferError(f"video holds no frames: {path}")
    if max_frames is not None and len(frames) > max_frames:
        picks = np.linspace(0, len(frames) - 1, max_frames).round().astype(int)
        frames = [frames[i] for i in picks]
    return frames
