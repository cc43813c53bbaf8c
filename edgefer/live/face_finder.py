"""Face boxes for the live loop at a fraction of a full search's cost.

The last face is followed in a small window between full searches.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgefer.live.detect import Box, HaarFaceDetector, YuNetFaceDetector

Detector = HaarFaceDetector | YuNetFaceDetector


class FaceFinder:
    """Face boxes for the loop at a fraction of a full search's cost.

    The full frame is searched (scaled down to ``detect_width``, by default the detector's own
    ``working_width``) when there is no face to follow, every ``refresh`` frames (a new or closer
    face), and whenever following fails; otherwise only a window of twice the last face's size
    around it, scaled to at most ``follow_px`` pixels. A search's cost grows with the pixels
    searched, so following is several times cheaper than a full search of a 640 px frame
    (``benchmarks/results/detection_rate.md``).

    Following also gives hysteresis to YuNet: a face already found is kept while its score stays
    above the detector's ``track_threshold``, lower than the ``score_threshold`` a new face needs, so
    a masked face whose score wavers around the threshold is not lost every few frames.
    ``all_faces`` (``follow=False``: other faces must be found too) always searches the full frame.

    While no face is found, successive full searches step through the detector's
    ``search_scales`` (YuNet: 1.0, then 1.5 x the working width): YuNet scores a masked face higher
    when it is larger (a 96-160 px masked face is found half again as often at 1.5x), but a 1.5x
    search costs twice as much, so it runs only on every other frame of an empty scene.
    """

    def __init__(
        self,
        detector: Detector,
        detect_width: int | None = None,
        *,
        follow: bool = True,
        refresh: int = 15,
        follow_px: int | None = None,
    ) -> None:
        self.detector = detector
        self.detect_width = detect_width if detect_width is not None else detector.working_width
        self.refresh = refresh
        yunet = isinstance(detector, YuNetFaceDetector)
        self.follow_px = follow_px or (192 if yunet else 120)
        self.full_searches = self.followed = 0
        self._near: Detector | None = None
        if follow and yunet:
            self._near = detector
        elif follow and isinstance(detector, HaarFaceDetector):
            self._near = HaarFaceDetector(
                detector.cascade_path,
                detector.scale_factor,
                detector.min_neighbors,
                min_size_frac=0.3,
                equalize=detector.equalize,
            )
        self._last: Box | None = None
        self._since_full = 0
        self.scales: tuple[float, ...] = tuple(getattr(detector, "search_scales", (1.0,)))
        self._scale_index = 0

    def find(self, image: np.ndarray) -> list[Box]:
        """Faces in a BGR frame, largest first (as the detectors return them)."""
        if self._near is not None and self._last is not None and self._since_full < self.refresh:
            box = self._follow(image, self._last)
            if box is not None:
                self._last, self._since_full = box, self._since_full + 1
                self.followed += 1
                return [box]
        boxes = self.search(image, self.scales[self._scale_index])
        self.full_searches += 1
        self._scale_index = 0 if boxes else (self._scale_index + 1) % len(self.scales)
        self._last, self._since_full = (boxes[0] if boxes else None), 0
        return boxes

    def search(self, image: np.ndarray, factor: float = 1.0) -> list[Box]:
        """One full search, the frame scaled to ``factor`` x the working width.

        No following and no scale stepping: what the detection benchmark measures.
        """
        width = self.detect_width or image.shape[1]
        scale = min(1.0, width / image.shape[1]) * factor
        if scale == 1.0:
            return self.detector.detect(image)
        interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
        return [_rescale(box, scale, 0, 0, image.shape) for box in self.detector.detect(resized)]

    def _follow(self, image: np.ndarray, last: Box) -> Box | None:
        x, y, w, h = last
        height, width = image.shape[:2]
        x0, y0 = max(0, x - w // 2), max(0, y - h // 2)
        x1, y1 = min(width, x + w + w // 2), min(height, y + h + h // 2)
        window = image[y0:y1, x0:x1]
        if window.shape[0] < 24 or window.shape[1] < 24:
            return None
        scale = min(1.0, self.follow_px / max(window.shape[:2]))
        if scale < 1.0:
            window = cv2.resize(window, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        found = self._near_boxes(window)
        return _rescale(found[0], scale, x0, y0, image.shape) if found else None

    def _near_boxes(self, window: np.ndarray) -> list[Box]:
        """Faces in the follow window: YuNet's down to its track threshold, best score first."""
        if isinstance(self._near, YuNetFaceDetector):
            return [box for box, _ in self._near.detect_scored(window)]
        assert self._near is not None
        return self._near.detect(window)


def _rescale(box: Box, scale: float, dx: int, dy: int, shape: tuple[int, ...]) -> Box:
    """A box found on a scaled crop, in the full frame's pixels (clipped to it)."""
    x, y, w, h = box
    x0, y0 = dx + int(round(x / scale)), dy + int(round(y / scale))
    x1 = min(dx + int(round((x + w) / scale)), shape[1])
    y1 = min(dy + int(round((y + h) / scale)), shape[0])
    return (x0, y0, x1 - x0, y1 - y0)
