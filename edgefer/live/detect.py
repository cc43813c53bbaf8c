"""Face detection for the live loop and for video clips.

The shipped YuNet CNN by default, OpenCV's Haar cascade on request, and the crop of each face into a
model input.

Both run on a CPU in milliseconds and need no download: YuNet's model ships in
``edgefer/assets/detectors`` and the Haar cascade with opencv-python < 5. Boxes are ``(x, y, w, h)``
in frame pixels, largest first, so "the" face of a frame is ``boxes[0]``.
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
    working_width: int = 320
    family = "haar"  # which crop rule of the spec frames its boxes
    hold_frames = 5  # the loop's default BoxHold: bridges the frames a masked face is missed on

    def __post_init__(self) -> None:
        path = self.cascade_path or default_cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise EdgeferError(f"cannot load Haar cascade: {path}")

    def describe(self) -> str:
        name = Path(self.cascade_path or default_cascade_path()).name
        return f"Haar {name} (min_neighbors {self.min_neighbors}, width {self.working_width})"

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


YUNET_MODEL = (
    Path(__file__).resolve().parent.parent
    / "assets"
    / "detectors"
    / ("face_detection_yunet_2023mar.onnx")
)
DETECTOR_NAMES: tuple[str, ...] = ("yunet", "haar")


@dataclass
class YuNetFaceDetector:
    """Faces by the YuNet CNN (Wu et al. 2023) through OpenCV's ``cv2.FaceDetectorYN``.

    YuNet finds masked faces the Haar cascade misses (a mask hides the mouth and nose features Haar
    looks for): every frame of the CREMA-D clips masked in place against 0.86 for the loop's Haar
    (n=612), and on FER2013 faces pasted into 640x480 frames 0.50 at score 0.7 against 0.36
    (n=800; ``benchmarks/results/detection_rate.md``). Its
    2023mar model (232 KB, Apache-2.0) ships in ``edgefer/assets/detectors``; another YuNet ``.onnx``
    can be given as ``model_path``.

    score_threshold : a new face needs at least this score: 0.7, the threshold with the most masked
        faces found at <= 1 false alarm per 100 empty frames on the detection benchmark (every false
        alarm there is on blotchy noise backgrounds; 0.5 finds 0.60 of masked faces at 4.5).
    track_threshold : the lower score that keeps following a face already found (see
        :class:`~edgefer.live.face_finder.FaceFinder`): a masked face's score wavers around the
        threshold from frame to frame, and hysteresis keeps it without admitting new false alarms.
    working_width : frames wider than this are searched scaled down to it (boxes scaled back).
    """

    model_path: Path = YUNET_MODEL
    score_threshold: float = 0.7
    track_threshold: float = 0.3
    nms_threshold: float = 0.3
    top_k: int = 50
    working_width: int = 640
    family = "yunet"
    search_scales = (1.0, 1.5)  # full searches of an empty scene alternate these (FaceFinder)
    hold_frames = 0  # following with hysteresis keeps its faces; see FaceFinder

    def __post_init__(self) -> None:
        self.model_path = Path(self.model_path)
        if not self.model_path.is_file():
            raise EdgeferError(f"YuNet model not found: {self.model_path}")
        if not hasattr(cv2, "FaceDetectorYN"):
            raise EdgeferError(f"OpenCV {cv2.__version__} has no FaceDetectorYN (needs >= 4.8)")
        if not 0.0 < self.track_threshold <= self.score_threshold < 1.0:
            raise EdgeferError(
                f"YuNet thresholds must satisfy 0 < track ({self.track_threshold}) <= "
                f"score ({self.score_threshold}) < 1"
            )
        self._size = (320, 320)
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(self.model_path),
                "",
                self._size,
                self.track_threshold,
                self.nms_threshold,
                self.top_k,
            )
            self._net.detect(np.zeros((self._size[1], self._size[0], 3), np.uint8))
        except cv2.error as exc:
            reason = (exc.err or str(exc)).strip().splitlines()[-1]
            raise EdgeferError(
                f"cannot load YuNet model {self.model_path}: not a YuNet ONNX file ({reason})"
            ) from exc

    def describe(self) -> str:
        return (
            f"YuNet {self.model_path.name} (score >= {self.score_threshold:g}, "
            f"follow >= {self.track_threshold:g}, width {self.working_width})"
        )

    def detect_scored(self, frame: np.ndarray) -> list[tuple[Box, float]]:
        """Faces with their scores (>= ``track_threshold``) in a BGR or grey frame, best first."""
        bgr = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame
        height, width = bgr.shape[:2]
        if (width, height) != self._size:
            self._net.setInputSize((width, height))
            self._size = (width, height)
        _, faces = self._net.detect(bgr)
        found = []
        for row in np.asarray(faces if faces is not None else []).reshape(-1, 15):
            x, y, w, h = row[:4]
            x0, y0 = max(int(round(x)), 0), max(int(round(y)), 0)
            x1, y1 = min(int(round(x + w)), width), min(int(round(y + h)), height)
            if x1 > x0 and y1 > y0:
                found.append(((x0, y0, x1 - x0, y1 - y0), float(row[14])))
        return sorted(found, key=lambda item: item[1], reverse=True)

    def detect(self, frame: np.ndarray) -> list[Box]:
        """New faces (score >= ``score_threshold``) in a BGR or grey frame, largest first."""
        boxes = [box for box, score in self.detect_scored(frame) if score >= self.score_threshold]
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
        """The boxes of this frame, or the last ones.

        The last ones are kept while the misses in a row stay within the limit.
        """
        if boxes:
            self._last, self._misses = list(boxes), 0
            return list(boxes)
        self._misses += 1
        return list(self._last) if self._misses <= self.max_misses else []


def make_detector(
    detector: str | Path = "yunet", score_threshold: float | None = None
) -> HaarFaceDetector | YuNetFaceDetector:
    """The live loop's detector from ``--detector``.

    ``yunet`` (the shipped YuNet, the default), ``haar`` (OpenCV's cascade, tuned for masked faces)
    or the path of another YuNet ``.onnx``. ``score_threshold`` overrides YuNet's (the follow
    threshold stays at most as high).

    Haar is tuned because a mask hides half the features the cascade looks for: no histogram
    equalisation and min_neighbors=3 find 0.36 of masked pasted faces against 0.19 with the plain
    defaults, and 0.86 of masked CREMA-D frames against 0.66 (``benchmarks/results/detection_rate.md``).
    """
    text = str(detector).strip()
    if text.lower() == "haar":
        if score_threshold is not None:
            raise EdgeferError("--detect-threshold applies to YuNet, not to the Haar cascade")
        return HaarFaceDetector(min_neighbors=3, equalize=False)
    path = YUNET_MODEL if text.lower() == "yunet" else Path(text).expanduser()
    if path.suffix.lower() == ".onnx":
        if not path.is_file():
            raise EdgeferError(f"detector model not found: {path}")
        if score_threshold is None:
            return YuNetFaceDetector(path)
        if not 0.0 < score_threshold < 1.0:
            raise EdgeferError(f"--detect-threshold must be in (0, 1), got {score_threshold}")
        track = min(score_threshold, YuNetFaceDetector.track_threshold)
        return YuNetFaceDetector(path, score_threshold=score_threshold, track_threshold=track)
    raise EdgeferError(
        f"unknown detector {text!r}: choose {' or '.join(DETECTOR_NAMES)}, or a YuNet .onnx file"
    )


def face_inputs(
    frame: np.ndarray,
    boxes: list[Box],
    spec: PreprocessSpec,
    detector: str,
    all_faces: bool = False,
) -> np.ndarray | None:
    """The ``face`` inputs of a frame.

    Each box of ``detector`` (its family, ``yunet``/``haar``) is framed by the spec's crop rule for
    it (:func:`~edgefer.preprocess.crop_face`), then made into a tensor exactly as training does
    (:func:`~edgefer.preprocess.face_tensor`).

    Returns (N, S, S, C) float32 for the largest face (N = 1) or every face, or None without a face.
    """
    chosen = boxes if all_faces else boxes[:1]
    if not chosen:
        return None
    return np.stack([face_tensor(crop_face(frame, box, spec, detector), spec) for box in chosen])
