"""Video sources on real clips: every frame in fast mode, latest-frame-wins when paced, reconnects
with back-off on a real capture whose file disappears, flat memory over a looped soak, one-line errors."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgefer.errors import EdgeferError
from edgefer.live.sources import (
    VideoSource,
    csi_pipeline,
    open_video_source,
    opencv_has_gstreamer,
)
from edgefer.media import read_video_frames
from tests.live.manual_clock import ManualClock

FLV_FRAMES = 67


def drain(source: VideoSource, timeout: float = 5.0, delay: float = 0.0) -> list:
    frames = []
    while (frame := source.read_latest(timeout)) is not None:
        frames.append(frame)
        if delay:
            time.sleep(delay)
    return frames


def test_fast_file_source_delivers_every_frame_in_order(flv):
    with open_video_source(str(flv), paced=False) as source:
        frames = drain(source)
    assert [f.index for f in frames] == list(range(FLV_FRAMES))
    assert source.dropped == 0 and source.finished and source.error is None
    assert abs(source.fps - 29.97) < 0.01
    assert frames[-1].timestamp == pytest.approx((FLV_FRAMES - 1) / source.fps)
    assert frames[0].image.shape == (360, 480, 3) and frames[0].image.dtype == np.uint8
    # The same pictures PyAV decodes (colour conversion may differ by a grey level or two).
    reference = read_video_frames(flv)
    assert len(reference) == FLV_FRAMES
    diff = np.abs(frames[30].image.astype(int) - reference[30].astype(int))
    assert diff.mean() < 3.0


def test_paced_source_keeps_only_the_latest_frame_for_a_slow_consumer(flv):
    """A consumer taking one frame every three frame periods (10 FPS against the file's 30), on a
    clock the test moves: the source publishes exactly the frames due by then, holds only the
    newest, and drops (and counts) the two older ones."""
    clock = ManualClock()
    with open_video_source(str(flv), paced=True, clock=clock) as source:
        period = 1 / source.fps
        frames = []
        clock.advance(period / 2)  # frame 0 is due at the start, frame 1 only at one period
        for step in range(23):  # now at (3 * step + 0.5) periods
            assert source.delivered == 3 * step + 1  # paced at the file's rate, to the frame
            assert source.pending == 1  # one frame held, however slow the consumer
            frames.append(source.read_latest(5.0))
            assert source.pending == 0
            clock.advance(3 * period, asleep=0)  # the thread has ended after the last frame
        assert source.read_latest(5.0) is None and source.finished
    indices = [f.index for f in frames]
    assert indices == list(range(0, FLV_FRAMES, 3))  # always the newest frame, ending on the last
    assert [f.timestamp for f in frames] == pytest.approx([i / source.fps for i in indices])
    assert source.delivered == FLV_FRAMES and source.dropped == FLV_FRAMES - len(frames) == 44


def test_live_source_reconnects_with_backoff_when_its_file_vanishes(flv, tmp_path):
    """A real capture on a real file; the file is deleted after opening (a camera unplugged), read to
    its end, then put back after the second failed reconnect (the camera comes back)."""
    clip = tmp_path / "camera.flv"
    shutil.copy(flv, clip)
    events = []

    def on_event(event):
        events.append(event)
        if event.kind == "retry" and event.attempt == 2:
            shutil.copy(flv, clip)

    source = VideoSource(
        lambda: cv2.VideoCapture(str(clip)),
        name="camera",
        live=True,
        backoff_s=0.05,
        backoff_max_s=1.0,
        on_event=on_event,
    )
    clip.unlink()
    with source:
        deadline = time.monotonic() + 20
        frame = None
        while time.monotonic() < deadline and not (source.reconnects and frame.index > 70):
            frame = source.read_latest(1.0) or frame
    assert source.reconnects == 1 and frame.index > FLV_FRAMES
    kinds = [e.kind for e in events]
    assert kinds == ["lost", "retry", "retry", "reconnected"]
    delays = [e.delay_s for e in events[1:]]
    assert delays == pytest.approx([0.05, 0.1, 0.2])  # exponential back-off
    assert "reconnected after 3 attempt(s)" in events[-1].message


def test_live_source_gives_up_after_max_reconnects(flv, tmp_path):
    clip = tmp_path / "camera.flv"
    shutil.copy(flv, clip)
    source = VideoSource(
        lambda: cv2.VideoCapture(str(clip)),
        name="camera",
        live=True,
        backoff_s=0.02,
        max_reconnects=2,
    )
    clip.unlink()
    with source:
        drain(source)
    assert source.finished and source.captured == FLV_FRAMES
    assert [e.kind for e in source.events] == ["lost", "retry", "retry", "gave_up"]
    assert source.error == "camera: lost, and 2 reconnects failed"


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc (Linux)")
def test_looped_file_soak_holds_memory_flat(flv):
    with open_video_source(str(flv), paced=False, loop=True) as source:
        for _ in range(300):
            source.read_latest(5.0)
        baseline = _rss_mb()
        for _ in range(2700):
            frame = source.read_latest(5.0)
        grown = _rss_mb() - baseline
    assert frame.index == 2999 and source.dropped == 0 and source.error is None
    assert frame.timestamp == pytest.approx(2999 / source.fps)
    assert grown < 25, f"RSS grew {grown:.1f} MB over 2700 frames"


def test_stop_ends_a_source_blocked_on_a_slow_consumer(flv):
    source = open_video_source(str(flv), paced=False).start()
    source.read_latest(5.0)
    stopper = threading.Thread(target=source.stop)
    stopper.start()
    stopper.join(5.0)
    assert not stopper.is_alive()


def _one_line_error(spec: str, match: str) -> None:
    with pytest.raises(EdgeferError, match=match) as info:
        open_video_source(spec)
    assert "\n" not in str(info.value)


def test_bad_video_specs_are_one_line_errors(tmp_path, av_dir):
    _one_line_error(str(tmp_path / "missing.mp4"), "video file not found")
    _one_line_error("99", "camera 99 cannot be opened")
    _one_line_error("/dev/video99", "cannot be opened")
    _one_line_error("ftp://example.org/x.mp4", "unsupported video source")
    _one_line_error("", "empty video source")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all " * 200)
    _one_line_error(str(broken), "cannot decode video file")
    _one_line_error(str(av_dir / "1002_DFA_ANG_XX.mp3"), "cannot decode video file")  # sound only
    _one_line_error("rtsp://127.0.0.1:1/stream", "cannot open video stream")  # refused port
    _one_line_error("csi://zero", "bad CSI camera")


@pytest.mark.skipif(opencv_has_gstreamer(), reason="this OpenCV has GStreamer")
def test_csi_camera_without_gstreamer_says_what_is_missing():
    _one_line_error("csi://0", "needs OpenCV built with GStreamer")


def test_csi_pipeline_is_an_nvargus_pipeline_ending_in_bgr():
    pipeline = csi_pipeline(1, width=1920, height=1080, fps=60, flip=2)
    assert pipeline.startswith("nvarguscamerasrc sensor-id=1 ! ")
    assert "width=1920, height=1080, framerate=60/1" in pipeline
    assert "flip-method=2" in pipeline and pipeline.endswith("appsink drop=1 max-buffers=1")
    assert "format=BGR !" in pipeline
