"""The building blocks wired as the ``edgefer run`` loop will wire them, on a real clip's frames and
its own sound track, with real ONNX Runtime engines: every frame answered, fused while the actor
speaks, face only when the audio source fails, one JSON line per inference, a playable saved video."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edgefer.live.detect import BoxHold, face_inputs, make_detector
from edgefer.live.mic_option import open_audio_source
from edgefer.live.overlay import VideoWriter, draw_overlay
from edgefer.live.router import Router
from edgefer.live.smoothing import make_smoother
from edgefer.live.sources import open_video_source
from edgefer.live.timing import StageTimer, json_record
from edgefer.live.voice import VoiceWindow
from edgefer.spec import preset_spec
from tests.live.tiny_engine import tiny_ort_engine

EDGE = preset_spec("edge")


def run_clip(flv, save, fail_audio_at: int | None = None) -> tuple[list[dict], StageTimer]:
    router = Router(
        {
            "fused": tiny_ort_engine(("face", "voice"), 1),
            "face": tiny_ort_engine(("face",), 2),
            "voice": tiny_ort_engine(("voice",), 3),
        }
    )
    detector, hold, smoother, timer = (
        make_detector(),
        BoxHold(5),
        make_smoother("ema"),
        StageTimer(),
    )
    audio = open_audio_source("video", str(flv), realtime=False)
    voice_window = VoiceWindow(audio.ring, EDGE, hop_s=0.25)
    records = []
    with open_video_source(str(flv), paced=False) as video, VideoWriter(save, video.fps) as out:
        while (frame := video.read_latest(5.0)) is not None:
            timer.start_tick()
            timer.add("capture", frame.capture_ms)
            audio_ok = fail_audio_at is None or frame.index < fail_audio_at
            if audio_ok:
                audio.advance_to(frame.timestamp)  # audio follows the frames' media time
            with timer.stage("detect"):
                boxes = hold.update(detector.detect(frame.image))
            with timer.stage("preprocess"):
                faces = face_inputs(frame.image, boxes, EDGE, detector.family)
            voice = voice_window.update() if audio_ok else None
            if voice is not None and voice.refreshed:
                timer.add("spectrogram", voice.spectrogram_ms)
            route = router.choose(faces, voice.tensor if voice else None)
            probs = None
            if route is not None:
                with timer.stage("infer"):
                    probs = smoother.update(route.predict(), route.modalities)[0]
            used = route.modalities if route else ()
            with timer.stage("overlay"):
                out.write(draw_overlay(frame.image, boxes=boxes, probs=probs, modalities=used))
            ms = timer.end_tick()
            line = json_record(
                timestamp=frame.timestamp,
                probs=probs,
                class_names=EDGE.class_names,
                modalities=used,
                stages_ms=ms,
                engine=route.role if route else None,
                boxes=boxes[:1],
            )
            records.append(json.loads(line))
    return records, timer


@pytest.fixture(scope="module")
def clip_run(flv, tmp_path_factory):
    save = tmp_path_factory.mktemp("run") / "annotated.mp4"
    records, timer = run_clip(flv, save)
    return records, timer, save


def test_every_frame_is_answered_and_fused_while_the_actor_speaks(clip_run):
    records, _, _ = clip_run
    assert len(records) == 67
    engines = [r["engine"] for r in records]
    assert engines.count("fused") > 40  # the actor speaks through most of the clip
    assert set(engines) <= {"fused", "face"}  # the face is always found (held through misses)
    for record in records:
        assert sum(record["probs"].values()) == pytest.approx(1.0, abs=1e-3)
        assert record["ms"]["total"] >= record["ms"]["detect"] > 0


def test_saved_video_and_stage_summary(clip_run):
    _, timer, save = clip_run
    cap = cv2.VideoCapture(str(save))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 67
    cap.release()
    summary = timer.summary()
    assert {"capture", "detect", "preprocess", "spectrogram", "infer", "overlay", "total"} <= set(
        summary
    )
    assert summary["spectrogram"]["n"] < summary["total"]["n"]  # once per hop, not per frame


def test_audio_failure_falls_back_to_the_face_model(flv, tmp_path):
    records, _ = run_clip(flv, tmp_path / "fallback.mp4", fail_audio_at=40)
    assert {r["engine"] for r in records[40:]} == {"face"}
    assert all(r["modalities"] == ["face"] for r in records[40:])
    assert np.mean([r["engine"] == "fused" for r in records[:40]]) > 0.5
