"""Video sources for ``--camera``: a device index, a video file, an RTSP/HTTP stream, a Jetson CSI camera.

Parses the user's spec into an opener for ``cv2.VideoCapture`` (one API for devices, files -- FLV
included, through OpenCV's bundled FFmpeg -- network streams and GStreamer pipelines) and hands it to
the capture thread in :mod:`.capture`. Anything that cannot be opened is one EdgeferError line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import cv2

from edgefer.errors import EdgeferError
from edgefer.live.capture import Frame, SourceEvent, VideoSource

__all__ = ["Frame", "SourceEvent", "VideoSource", "csi_pipeline", "open_video_source"]

NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https")
# Open and read timeouts of a network stream: a dead link fails instead of hanging the loop.
NETWORK_TIMEOUT_MS = 5000


def opencv_has_gstreamer() -> bool:
    """Whether this OpenCV build can run GStreamer pipelines (JetPack's does; pip wheels do not)."""
    match = re.search(r"GStreamer:\s*(\w+)", cv2.getBuildInformation())
    return bool(match and match.group(1).upper() == "YES")


def csi_pipeline(
    sensor_id: int = 0, width: int = 1280, height: int = 720, fps: int = 30, flip: int = 0
) -> str:
    """The nvarguscamerasrc pipeline for a Jetson CSI camera, ending in BGR frames for OpenCV.

    ``drop=1 max-buffers=1`` on the appsink keeps GStreamer from queueing stale frames too.
    """
    return (
        f"nvarguscamerasrc sensor-id={sensor_id} ! "
        f"video/x-raw(memory:NVMM), width={width}, height={height}, framerate={fps}/1, "
        f"format=NV12 ! nvvidconv flip-method={flip} ! "
        f"video/x-raw, width={width}, height={height}, format=BGRx ! "
        "videoconvert ! video/x-raw, format=BGR ! appsink drop=1 max-buffers=1"
    )


def open_video_source(spec: str, **options: Any) -> VideoSource:
    """Open ``--camera SPEC``: a device, a file, a URL or a Jetson CSI camera.

    ``SPEC`` is ``0`` or ``/dev/video0`` (device), a file path, ``rtsp://``, ``http(s)://``, or
    ``csi://N[?width=&height=&fps=&flip=]`` (Jetson). Devices, URLs and CSI cameras are live
    (reconnected when they drop); files end at EOF. ``options`` go to :class:`VideoSource`
    (``paced``, ``loop``, ``on_event``, back-off). Raises EdgeferError naming the problem.
    """
    spec = str(spec).strip()
    if not spec:
        raise EdgeferError("empty video source: give a camera index, a file, or a URL")
    device = re.fullmatch(r"(?:/dev/video)?(\d+)", spec)
    if device:
        index = int(device.group(1))
        return VideoSource(
            lambda: cv2.VideoCapture(index), name=f"camera {spec}", live=True, **options
        )
    url = urlparse(spec)
    scheme = url.scheme.lower() if len(url.scheme) > 1 else ""  # "C:\..." is a path
    if scheme == "csi":
        return _open_csi(spec, url, options)
    if scheme in NETWORK_SCHEMES:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, NETWORK_TIMEOUT_MS]
        params += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, NETWORK_TIMEOUT_MS]
        return VideoSource(
            lambda: cv2.VideoCapture(spec, cv2.CAP_FFMPEG, params), name=spec, live=True, **options
        )
    if scheme == "file":
        spec, scheme = url.path, ""
    if scheme:
        schemes = ", ".join(f"{s}://" for s in NETWORK_SCHEMES)
        raise EdgeferError(
            f"unsupported video source {spec!r}: use a device index, a file, csi://N, {schemes}"
        )
    path = Path(spec).expanduser()
    if not path.is_file():
        raise EdgeferError(f"video file not found: {path}")
    return VideoSource(lambda: cv2.VideoCapture(str(path)), name=str(path), live=False, **options)


def _open_csi(spec: str, url: Any, options: dict[str, Any]) -> VideoSource:
    try:
        sensor = int(url.netloc or url.path.strip("/") or 0)
        query = {k: int(v[-1]) for k, v in parse_qs(url.query).items()}
        pipeline = csi_pipeline(sensor, **query)
    except (ValueError, TypeError) as exc:
        raise EdgeferError(
            f"bad CSI camera {spec!r}: use csi://N[?width=W&height=H&fps=F&flip=M] ({exc})"
        ) from exc
    if not opencv_has_gstreamer():
        raise EdgeferError(
            f"{spec} needs OpenCV built with GStreamer (JetPack's python3-opencv has it; "
            "the pip opencv-python wheel does not)"
        )
    return VideoSource(
        lambda: cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER), name=spec, live=True, **options
    )
