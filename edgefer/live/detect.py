"""Face detection for the live loop and for video clips: OpenCV's Haar cascade by default, YuNet
when a model file is given, and the crop of each face into a model input.

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
from edgefer.preprocess import crop_face, face_tensor
from edgefer.spec import PreprocessSpec

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
    equalize : equalise the histogram first (the default, for uneven light); a dark mask skews the
        histogram, and without it masked faces are found a little more often
        (``benchmarks/results/detection_rate.json``).
    """

    cascade_path: Path | None = None
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size_frac: float = 0.08
    equalize: bool = True

    def __post_init__(self) -> None:
        path = self.cascade_path or default_cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise EdgeferError(f"cannot load Haar cascade: {path}")

    def detect(self, frame: np.ndarray) -> list[Box]:
        """Faces in a BGR or grey frame, largest first (empty list when none)."""
        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if self.equalize:
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


@dataclass
class YuNetFaceDetector:
    """Faces by OpenCV's YuNet CNN (``cv2.FaceDetectorYN``, OpenCV >= 4.8) from an ONNX model file.

    More robust than Haar to pose, light and masks, but needs the model (``face_detection_yunet_*.onnx``
    from the OpenCV model zoo), which edgefer does not ship or download. Same API as Haar.
    """

    model_path: Path
    score_threshold: float = 0.6
    nms_threshold: float = 0.3
    top_k: int = 50

    def __post_init__(self) -> None:
        self.model_path = Path(self.model_path)
        if not self.model_path.is_file():
            raise EdgeferError(f"YuNet model not found: {self.model_path}")
        if not hasattr(cv2, "FaceDetectorYN"):
            raise EdgeferError(f"OpenCV {cv2.__version__} has no FaceDetectorYN (needs >= 4.8)")
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(self.model_path),
                "",
                (320, 320),
                self.score_threshold,
                self.nms_threshold,
                self.top_k,
            )
        except cv2.error as exc:
            raise EdgeferError(f"cannot load YuNet model {self.model_path}: {exc.err}") from exc
        self._size = (320, 320)

    def detect(self, frame: np.ndarray) -> list[Box]:
        """Faces in a BGR or grey frame, largest first (empty list when none)."""
        bgr = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame
        height, width = bgr.shape[:2]
        if (width, height) != self._size:
            self._net.setInputSize((width, height))
            self._size = (width, height)
        _, faces = self._net.detect(bgr)
        boxes = []
        for x, y, w, h in np.asarray(faces if faces is not None else []).reshape(-1, 15)[:, :4]:
            x0, y0 = max(int(round(x)), 0), max(int(round(y)), 0)
            x1, y1 = min(int(round(x + w)), width), min(int(round(y + h)), height)
            if x1 > x0 and y1 > y0:
                boxes.append((x0, y0, x1 - x0, y1 - y0))
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)


class BoxHold:
    """Keeps the last face box through up to ``max_misses`` frames without a detection.

    A masked or turning face is missed on some frames and found on the next; holding the box for a
    few frames keeps the face modality (and the fused model) from flickering off. Not used for
    still images, where there is no "last box".
    """

    def __init__(self, max_misses: int = 5) -> None:
        if max_misses < 0:
            raise EdgeferError(f"max_misses must be >= 0, got {max_misses}")
        self.max_misses = max_misses
        self._last: list[Box] = []
        self._misses = 0

    def update(self, boxes: list[Box]) -> list[Box]:
        """This frame's boxes, or the last ones while the misses in a row stay within the limit."""
        if boxes:
            self._last, self._misses = list(boxes), 0
            return list(boxes)
        self._misses += 1
        return list(self._last) if self._misses <= self.max_misses else []


def make_detector(yunet_model: str | Path | None = None) -> HaarFaceDetector | YuNetFaceDetector:
    """The live loop's detector: YuNet when a model file is given, else the Haar cascade tuned for
    masked faces (no histogram equalisation, min_neighbors=3).

    Tuned because a mask hides half the features the cascade looks for: on 400 masked FER2013 val
    faces it finds 50 % against 32 % with the plain defaults (unmasked 79 % against 66 %), on masked
    CREMA-D frames 58 % against 57 % with half the false alarms, and on unmasked CREMA-D frames every
    face, with boxes matching the defaults' (mean IoU 0.96). ``benchmarks/detection_rate.py``.
    """
    if yunet_model is not None:
        return YuNetFaceDetector(Path(yunet_model))
    return HaarFaceDetector(min_neighbors=3, equalize=False)


def face_inputs(
    frame: np.ndarray, boxes: list[Box], spec: PreprocessSpec, all_faces: bool = False
) -> np.ndarray | None:
    """The ``face`` inputs of a frame, cropped exactly as training and evaluation do
    (:func:`~edgefer.preprocess.crop_face` then :func:`~edgefer.preprocess.face_tensor`).

    Returns (N, S, S, C) float32 for the largest face (N = 1) or every face, or None without a face.
    """
    chosen = boxes if all_faces else boxes[:1]
    if not chosen:
        return None
    return np.stack([face_tensor(crop_face(frame, box, spec), spec) for box in chosen])
