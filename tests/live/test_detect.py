"""Face detection for the live loop on real faces, with and without synthetic masks; the crop is the
one training and evaluation use. Numbers over a few hundred faces: benchmarks/detection_rate.py."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgefer.errors import EdgeferError
from edgefer.evaluation.scenes import held_out_faces, iou, scene
from edgefer.live.detect import (
    BoxHold,
    HaarFaceDetector,
    YuNetFaceDetector,
    face_inputs,
    make_detector,
)
from edgefer.live.face_finder import FaceFinder
from edgefer.masks import apply_mask
from edgefer.media import read_image, read_video_frames
from edgefer.preprocess import crop_face, face_tensor
from edgefer.shipped import shipped_path
from edgefer.spec import preset_spec

EDGE = preset_spec("edge")


def _iou(a, b) -> float:
    w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / float(a[2] * a[3] + b[2] * b[3] - w * h)


def _fer_frame(face48: np.ndarray, seed: int | None) -> np.ndarray:
    """A 48x48 FER2013 face upscaled to 160 px (masked when seeded) in a 320x240 grey frame."""
    face = cv2.resize(face48, (160, 160), interpolation=cv2.INTER_CUBIC)
    if seed is not None:
        face = apply_mask(face, seed)
    frame = np.full((240, 320), 128, np.uint8)
    frame[40:200, 80:240] = face
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def test_live_detector_finds_masked_fer2013_faces(fer_dir):
    detector = make_detector()
    paths = [
        p
        for e in ("happy", "neutral", "sad")
        for p in sorted((fer_dir / "val" / e).glob("*.jpg"))[:20:2]
    ]
    hits = {False: 0, True: 0}
    for i, path in enumerate(paths):
        face = read_image(path, grey=True)
        for masked in (False, True):
            boxes = detector.detect(_fer_frame(face, i if masked else None))
            hits[masked] += any(_iou(b, (80, 40, 160, 160)) >= 0.3 for b in boxes)
    unmasked, masked = hits[False] / len(paths), hits[True] / len(paths)
    print(
        f"live detector on {len(paths)} FER2013 val faces: unmasked {unmasked:.2f}, masked {masked:.2f}"
    )
    assert unmasked > 0.6 and masked > 0.3 and masked < unmasked


def test_live_detector_finds_masked_faces_in_real_video_frames(av_dir):
    """CREMA-D frames: the face found unmasked is masked in place and searched for again."""
    detector = make_detector()
    seen = found = masked_found = 0
    for c, path in enumerate(sorted(av_dir.glob("*.flv"))[:3]):
        for j, frame in enumerate(read_video_frames(path, 6)):
            seen += 1
            boxes = detector.detect(frame)
            if not boxes:
                continue
            found += 1
            masked = apply_mask(frame, seed=c * 100 + j, box=boxes[0])
            masked_found += any(_iou(b, boxes[0]) >= 0.3 for b in detector.detect(masked))
    rates = f"unmasked {found / seen:.2f}, masked {masked_found / found:.2f}"
    print(f"live detector on {seen} CREMA-D frames: {rates}")
    assert found / seen > 0.9 and masked_found / found > 0.3


def test_face_inputs_crop_as_training_does(flv):
    frame = read_video_frames(flv, 1)[0]
    boxes = make_detector().detect(frame)
    assert boxes
    two = boxes + [(10, 10, 60, 60)]
    single = face_inputs(frame, two, EDGE, "yunet")
    everyone = face_inputs(frame, two, EDGE, "yunet", all_faces=True)
    assert single.shape == (1, 64, 64, 1) and everyone.shape == (2, 64, 64, 1)
    expected = face_tensor(crop_face(frame, boxes[0], EDGE, "yunet"), EDGE)
    np.testing.assert_array_equal(single[0], expected)
    np.testing.assert_array_equal(everyone[0], single[0])
    assert face_inputs(frame, [], EDGE, "yunet") is None


def test_haar_detects_largest_first_and_nothing_in_a_blank_frame(flv):
    detector = make_detector("haar")
    assert isinstance(detector, HaarFaceDetector)
    assert detector.detect(np.full((240, 320, 3), 90, np.uint8)) == []
    frame = read_video_frames(flv, 1)[0]
    canvas = np.full((360, 480 + 240, 3), 90, np.uint8)
    canvas[:, :480] = frame
    canvas[:180, 480:] = cv2.resize(frame, (240, 180), interpolation=cv2.INTER_AREA)
    boxes = detector.detect(canvas)
    assert len(boxes) == 2 and boxes[0][0] < 480 <= boxes[1][0]  # the full-size face first
    assert boxes[0][2] > 1.5 * boxes[1][2]


def test_the_detector_choice_is_checked_with_one_line_each(tmp_path):
    assert isinstance(make_detector(), YuNetFaceDetector)  # the shipped model is the default
    assert make_detector("yunet", 0.4).score_threshold == 0.4
    with pytest.raises(EdgeferError, match="detector model not found"):
        make_detector(tmp_path / "face_detection_yunet_2023mar.onnx")
    garbage = tmp_path / "yunet.onnx"
    garbage.write_bytes(b"not an onnx model" * 10)
    with pytest.raises(EdgeferError, match="cannot load YuNet model .*not a YuNet ONNX file"):
        make_detector(garbage)
    with pytest.raises(EdgeferError, match="not a YuNet ONNX file"):  # ONNX, but not a detector
        make_detector(shipped_path("face", ".onnx"))
    with pytest.raises(EdgeferError, match="unknown detector 'mtcnn': choose yunet or haar"):
        make_detector("mtcnn")
    with pytest.raises(EdgeferError, match="applies to YuNet"):
        make_detector("haar", 0.5)


def test_yunet_finds_masked_faces_that_haar_misses(fer_dir):
    """Held-out masked faces of 128-200 px in 640x480 frames, one full search as the loop's."""
    faces = held_out_faces(fer_dir / "val", 24, part="val")
    rng = np.random.default_rng(3)
    scenes = [
        scene([(face, (128, 160, 200)[i % 3], 500 + i)], (640, 480), rng)
        for i, face in enumerate(faces)
    ]
    rates = {}
    for name in ("yunet", "haar"):
        finder = FaceFinder(make_detector(name), follow=False)
        hits = [any(iou(b, truth) >= 0.3 for b in finder.search(f)) for f, (truth,) in scenes]
        rates[name] = float(np.mean(hits))
    print(f"masked faces found (n={len(scenes)}): {rates}")
    assert rates["yunet"] >= 0.55 and rates["yunet"] > rates["haar"] + 0.1


def test_a_followed_face_is_kept_below_the_score_a_new_face_needs(flv):
    """Hysteresis: a face first found at a high score is followed down to the track threshold."""
    frame = read_video_frames(flv, 1)[0]
    strict = YuNetFaceDetector(score_threshold=0.99, track_threshold=0.3)
    assert strict.detect(frame) == []  # no new face reaches 0.99
    finder = FaceFinder(strict, refresh=100)
    finder._last = make_detector().detect(frame)[0]  # as if found on an earlier frame
    assert finder.find(frame) and finder.followed == 1 and finder.full_searches == 0


def test_searches_of_an_empty_scene_alternate_the_detectors_scales():
    scales = []

    class Recorder(YuNetFaceDetector):
        def detect(self, frame):
            scales.append(frame.shape[1])
            return super().detect(frame)

    finder = FaceFinder(Recorder())
    empty = np.full((480, 640, 3), 120, np.uint8)
    for _ in range(4):
        assert finder.find(empty) == []
    assert scales == [640, 960, 640, 960]


def test_box_hold_bridges_a_few_missed_frames():
    hold = BoxHold(max_misses=2)
    box = (10, 20, 30, 30)
    assert hold.update([box]) == [box]
    assert hold.update([]) == [box] and hold.update([]) == [box]
    assert hold.update([]) == []  # the third miss in a row: the face is gone
    assert hold.update([(1, 1, 5, 5)]) == [(1, 1, 5, 5)] and hold.update([]) == [(1, 1, 5, 5)]
