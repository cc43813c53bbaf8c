"""Face detection for the live loop and for video clips: OpenCV's Haar cascade by default.

The Haar frontal-face cascade ships with opencv-python < 5, needs no model download and runs in a
few milliseconds on a CPU; it is the default. Boxes are ``(x, y, w, h)`` in frame pixels, largest
first, so "the" face of a frame is ``boxes[0]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgefer.errors import EdgeferError

Box = tuple[int, int, int, int]


def default_cascade_path() -> Path:
    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    if not path.is_file():
        raise EdgeferError(
            f"Haar cascade not found at {path}: install opencv-python < 5 (5.x ships none)"
        )
    return path


@dataclass
class HaarFaceDetector:
    """Frontal faces by Haar cascade on a grey, histogram-equalised frame.

    min_size_frac : smallest face side as a fraction of the frame's shorter side.
    """

    cascade_path: Path | None = None
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size_frac: float = 0.08

    def __post_init__(self) -> None:
        path = self.cascade_path or default_cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise EdgeferError(f"cannot load Haar cascade: {path}")

    def detect(self, frame: np.ndarray) -> list[Box]:
        """Faces in a BGR or grey frame, largest first (empty list when none)."""
        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        grey = cv2.equalizeHist(grey)
        side = max(int(min(grey.shape[:2]) * self.min_size_frac), 16)
        found = self._cascade.detectMultiScale(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(side, side),
        )
        boxes = [tuple(int(v) for v in box) for box in np.asarray(found).reshape(-1, 4)]
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)
