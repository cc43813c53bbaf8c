"""What the user sees: the annotated frame, the saved video and the preview window.

Boxes, label, a 3-bar probability chart, modalities and FPS drawn on the frame; an mp4 writer for
``--save`` that never leaves a broken file; a preview window when a display exists.

Drawing is plain cv2 on the BGR frame, in place, so the same annotated frame goes to the window and to
the saved video. The writer records to a hidden temporary name and renames on close -- including on
an exception or Ctrl-C -- so the final name only ever holds a finalised, playable file.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from edgefer.errors import EdgeferError

Box = tuple[int, int, int, int]
CLASS_COLOURS = {"negative": (60, 60, 230), "neutral": (200, 200, 200), "positive": (80, 200, 80)}
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_PANEL_W, _ROW_H, _PAD = 230, 22, 8


def has_display() -> bool:
    """Whether a window can be shown.

    On Linux an X11 or Wayland display must be set (a Jetson over SSH or in a service has none, so
    the loop runs headless by default there).
    """
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def panel_rect(n_classes: int = 3) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the text + chart panel at the top-left corner."""
    return (0, 0, _PANEL_W, _PAD * 2 + _ROW_H * (n_classes + 3))


def bar_chart_rect(n_classes: int = 3) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the bar chart inside the panel (below the label line)."""
    return (_PAD, _PAD + _ROW_H, _PANEL_W - 2 * _PAD, _ROW_H * n_classes)


def draw_overlay(
    frame: np.ndarray,
    *,
    boxes: Sequence[Box] = (),
    probs: np.ndarray | None = None,
    label_index: int | None = None,
    class_names: Sequence[str] = ("negative", "neutral", "positive"),
    modalities: Sequence[str] = (),
    fps: float | None = None,
    note: str | None = None,
) -> np.ndarray:
    """Annotate a uint8 BGR frame in place (and return it).

    boxes : face boxes, the one the prediction belongs to first (drawn thicker).
    probs : (C,) probabilities, or None when nothing was predicted this tick.
    label_index : the class index to show (the smoother's held label); None = the argmax of ``probs``.
    modalities : inputs the prediction used, e.g. ("face", "voice"); empty -> "no input".
    note : an extra line (e.g. "microphone lost: face only").
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise EdgeferError(f"overlay needs a uint8 BGR frame, got {frame.shape} {frame.dtype}")
    label = None
    if probs is not None:
        probs = np.asarray(probs, dtype=np.float32).reshape(-1)
        if probs.size != len(class_names):
            raise EdgeferError(f"{probs.size} probabilities for {len(class_names)} classes")
        label = class_names[int(np.argmax(probs)) if label_index is None else label_index]
    colour = CLASS_COLOURS.get(label or "", (0, 200, 255))
    for i, (x, y, w, h) in enumerate(boxes):
        cv2.rectangle(
            frame, (x, y), (x + w, y + h), colour if i == 0 else (160, 160, 160), 2 - (i > 0)
        )
    px, py, pw, ph = panel_rect(len(class_names))
    region = frame[py : py + ph, px : px + pw]
    region[:] = (region * 0.35).astype(np.uint8)  # darken, so text reads on any background
    _text(frame, label or "-", (_PAD, _PAD + 16), colour, 0.6)
    bx, by, bw, _ = bar_chart_rect(len(class_names))
    name_w = 70
    for i, name in enumerate(class_names):
        y = by + i * _ROW_H
        value = 0.0 if probs is None else float(probs[i])
        _text(frame, name[:9], (bx, y + 15), (230, 230, 230), 0.42)
        full = bw - name_w - 40
        cv2.rectangle(frame, (bx + name_w, y + 4), (bx + name_w + full, y + 18), (70, 70, 70), 1)
        if value > 0:
            end = bx + name_w + max(1, int(round(value * full)))
            cv2.rectangle(
                frame, (bx + name_w, y + 4), (end, y + 18), CLASS_COLOURS.get(name, colour), -1
            )
        _text(frame, f"{value:.2f}", (bx + bw - 36, y + 15), (230, 230, 230), 0.42)
    used = "+".join(modalities) if modalities else "no input"
    y = by + len(class_names) * _ROW_H
    _text(frame, f"input: {used}", (_PAD, y + 15), (230, 230, 230), 0.45)
    _text(
        frame,
        "fps: -" if fps is None else f"fps: {fps:.1f}",
        (_PAD, y + 15 + _ROW_H),
        (230, 230, 230),
        0.45,
    )
    if note:
        _text(frame, note, (_PAD, min(frame.shape[0] - 8, ph + 18)), (0, 200, 255), 0.45)
    return frame


def _text(frame: np.ndarray, text: str, origin: tuple[int, int], colour, scale: float) -> None:
    cv2.putText(frame, text, origin, _FONT, scale, colour, 1, cv2.LINE_AA)


class VideoWriter:
    """``--save out.mp4``: mp4v frames to ``.out.mp4.partial.mp4``, renamed to ``out.mp4`` on close.

    The size is taken from the first frame; later frames of another size (a camera reconnected at a
    new resolution) are resized, since cv2.VideoWriter silently drops them otherwise. Closing after no
    frame leaves no file. A hard kill leaves only the hidden partial file, never a broken final one.
    """

    def __init__(self, path: str | Path, fps: float = 30.0, fourcc: str = "mp4v") -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in (".mp4", ".m4v", ".mov"):
            raise EdgeferError(f"--save writes mp4 video: give a .mp4 name, not {self.path.name}")
        if not self.path.parent.is_dir():
            raise EdgeferError(f"folder for the saved video does not exist: {self.path.parent}")
        if not 0 < fps <= 240:
            raise EdgeferError(f"video fps must be in (0, 240], got {fps}")
        self.temp = self.path.with_name(f".{self.path.name}.partial{self.path.suffix}")
        self.fps, self.fourcc = float(fps), fourcc
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self._closed = False

    def write(self, frame: np.ndarray) -> None:
        if self._closed:
            raise EdgeferError(f"video {self.path} is already closed")
        if self._writer is None:
            self._size = (frame.shape[1], frame.shape[0])
            self._writer = cv2.VideoWriter(
                str(self.temp), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, self._size
            )
            if not self._writer.isOpened():
                self._writer = None
                raise EdgeferError(f"cannot write video {self.temp} with codec {self.fourcc}")
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> Path | None:
        """Finalise and move into place.

        Returns the final path, or None when nothing was written.
        """
        if self._closed:
            return self.path if self.path.exists() and self.frames else None
        self._closed = True
        if self._writer is not None:
            self._writer.release()  # writes the mp4 index: the file is playable from here
            self._writer = None
        if self.frames and self.temp.is_file():
            os.replace(self.temp, self.path)
            return self.path
        self.temp.unlink(missing_ok=True)
        return None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # also on an exception or KeyboardInterrupt: keep what was recorded


class PreviewWindow:
    """An OpenCV window; :meth:`show` returns False once the user pressed q or Esc."""

    def __init__(self, title: str = "edgefer") -> None:
        self.title = title

    def show(self, frame: np.ndarray) -> bool:
        try:
            cv2.imshow(self.title, frame)
            key = cv2.waitKey(1) & 0xFF
        except cv2.error as exc:
            raise EdgeferError(f"cannot open a window ({exc.err}); run headless") from exc
        return key not in (ord("q"), 27)

    def close(self) -> None:
        with contextlib.suppress(cv2.error):  # already closed by the user
            cv2.destroyWindow(self.title)
