"""The overlay on real frames, and the saved mp4: playable with the right frame count, finalised on
an exception, and never a broken file under the final name (even after a hard kill)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest

from edgefer.errors import EdgeferError
from edgefer.live.overlay import (
    CLASS_COLOURS,
    VideoWriter,
    bar_chart_rect,
    draw_overlay,
    has_display,
)
from edgefer.media import read_video_frames


@pytest.fixture(scope="module")
def frames(flv):
    return read_video_frames(flv, 12)


def _bar_pixels(frame: np.ndarray, row: int, colour) -> int:
    x, y, w, _ = bar_chart_rect()
    band = frame[y + row * 22 + 6 : y + row * 22 + 17, x : x + w]
    return int(np.all(band == colour, axis=2).sum())


def test_overlay_draws_a_bar_per_class_proportional_to_its_probability(frames):
    frame = frames[0].copy()
    out = draw_overlay(
        frame,
        boxes=[(180, 60, 150, 150)],
        probs=np.array([0.1, 0.2, 0.7]),
        modalities=("face", "voice"),
        fps=29.5,
    )
    assert out is frame
    x, y, w, h = bar_chart_rect()
    assert not np.array_equal(frame[y : y + h, x : x + w], frames[0][y : y + h, x : x + w])
    bars = [_bar_pixels(frame, i, CLASS_COLOURS[n]) for i, n in enumerate(CLASS_COLOURS)]
    assert bars[0] < bars[1] < bars[2]
    assert bars[2] / bars[0] == pytest.approx(7.0, rel=0.2)
    assert not np.array_equal(frame[60:211, 180], frames[0][60:211, 180])  # the face box edge


def test_overlay_without_a_prediction_still_draws_the_panel(frames):
    frame = frames[1].copy()
    draw_overlay(frame, probs=None, modalities=(), note="microphone lost: face only")
    assert not np.array_equal(frame, frames[1])
    assert all(_bar_pixels(frame, i, CLASS_COLOURS[n]) == 0 for i, n in enumerate(CLASS_COLOURS))
    with pytest.raises(EdgeferError, match="4 probabilities"):
        draw_overlay(frames[1].copy(), probs=np.ones(4) / 4)
    with pytest.raises(EdgeferError, match="uint8 BGR"):
        draw_overlay(np.zeros((10, 10), np.uint8))


def _count_frames(path) -> tuple[int, tuple[int, int]]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    n, size = 0, None
    while True:
        ok, image = cap.read()
        if not ok:
            break
        n, size = n + 1, image.shape[:2]
    cap.release()
    return n, size


def test_saved_video_opens_with_every_annotated_frame(frames, tmp_path):
    path = tmp_path / "out.mp4"
    with VideoWriter(path, fps=30) as writer:
        for frame in frames:
            writer.write(draw_overlay(frame.copy(), probs=np.array([0.2, 0.5, 0.3]), fps=30.0))
        writer.write(cv2.resize(frames[0], (240, 180)))  # a reconnect at another size
        assert not path.exists() and writer.temp.exists()  # recording under the hidden name
    assert _count_frames(path) == (len(frames) + 1, (360, 480))
    assert not writer.temp.exists()


def test_an_exception_mid_recording_still_leaves_a_playable_file(frames, tmp_path):
    path = tmp_path / "crash.mp4"
    with pytest.raises(RuntimeError), VideoWriter(path) as writer:
        for i, frame in enumerate(frames):
            writer.write(frame)
            if i == 4:
                raise RuntimeError("engine blew up")
    assert _count_frames(path) == (5, (360, 480))
    assert not writer.temp.exists()
    empty = tmp_path / "nothing.mp4"
    with pytest.raises(KeyboardInterrupt), VideoWriter(empty):
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == [path]  # no file for a recording without frames


def test_a_hard_kill_never_leaves_a_broken_file_under_the_final_name(flv, tmp_path):
    path = tmp_path / "killed.mp4"
    script = textwrap.dedent(
        f"""
        import os
        from edgefer.live.overlay import VideoWriter
        from edgefer.media import read_video_frames
        writer = VideoWriter({str(path)!r})
        for frame in read_video_frames({str(flv)!r}, 5):
            writer.write(frame)
        os._exit(1)  # killed before close: no index written
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == 1
    assert not path.exists()
    assert (tmp_path / ".killed.mp4.partial.mp4").exists()


def test_bad_save_targets_are_one_line_errors(tmp_path):
    with pytest.raises(EdgeferError, match="does not exist"):
        VideoWriter(tmp_path / "no" / "such" / "out.mp4")
    with pytest.raises(EdgeferError, match="give a .mp4 name"):
        VideoWriter(tmp_path / "out.avi")


def test_headless_without_a_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if sys.platform.startswith("linux"):
        assert has_display() is False
        monkeypatch.setenv("DISPLAY", ":0")
    assert has_display() is True
