"""``run_live`` for real: the CREMA-D clips' frames and own sound track, a WAV-fed microphone, a
camera that vanishes and comes back, a video with no face, and the shipped ONNX models on ONNX
Runtime. Plus the packaged demo on all six clips."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf

from edgefer.live.capture import VideoSource
from edgefer.live.demo import DEMO_DIR, clip_prediction, demo_clips, run_demo, true_label
from edgefer.live.detect import make_detector
from edgefer.live.face_finder import FaceFinder
from edgefer.live.loop import RunConfig, run_live
from edgefer.live.microphone import MicrophoneSource
from edgefer.live.synthetic_mask import SyntheticMasker
from edgefer.media import read_audio, read_video_frames
from edgefer.shipped import shipped_path, shipped_spec
from tests.live.wav_stream import WavStream

FLV_FRAMES = 67
RECORD_KEYS = {"t", "label", "probs", "box", "modalities", "engine", "ms", "frame"}


def config(camera, **fields) -> RunConfig:
    """The shipped FP32 middle model (no engine build in these tests), headless, offline."""
    fields.setdefault("engine", shipped_path("middle", ".onnx"))
    fields.setdefault("realtime", False)
    fields.setdefault("show", False)
    return RunConfig(camera=str(camera), **fields)


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    count, ok = 0, True
    while ok:
        ok, _ = cap.read()
        count += ok
    cap.release()
    return count


@pytest.fixture(scope="module")
def clip_run(flv, tmp_path_factory):
    save = tmp_path_factory.mktemp("loop") / "annotated.mp4"
    emitted = []
    summary = run_live(config(flv, mic="video", save=save), on_record=emitted.append)
    return summary, emitted, save


def test_every_frame_gets_a_record_and_the_fused_model_while_the_actor_speaks(clip_run):
    summary, emitted, _ = clip_run
    assert summary.frames == FLV_FRAMES and summary.dropped == 0
    assert emitted == summary.records
    assert [r["frame"] for r in summary.records] == list(range(FLV_FRAMES))
    engines = [r["engine"] for r in summary.records]
    assert engines.count("fused") > 40  # the actor speaks through most of the clip
    assert set(engines) <= {"fused", "face"}  # the face is always found
    assert summary.inferences == FLV_FRAMES
    previous = None
    for record in summary.records:
        assert set(record) >= RECORD_KEYS
        assert sum(record["probs"].values()) == pytest.approx(1.0, abs=1e-3)
        if record["label"] != max(record["probs"], key=record["probs"].get):
            assert record["label"] == previous  # the smoother holds the label it showed
        previous = record["label"]
        assert record["audio"] in ("voice", "silent")
        assert record["ms"]["total"] >= record["ms"]["detect"] > 0
        fused = record["engine"] == "fused"
        assert record["modalities"] == (["face", "voice"] if fused else ["face"])
    assert summary.fps > 0 and summary.seconds > 0
    assert summary.audio.endswith("1001_DFA_ANG_XX.flv") and summary.events == []
    assert "int8" not in summary.engines["fused"] and "middle.onnx" in summary.engines["fused"]


def test_saved_video_is_playable_with_every_frame(clip_run):
    summary, _, save = clip_run
    assert summary.saved == save
    assert frame_count(save) == FLV_FRAMES
    assert not list(save.parent.glob(".*partial*"))  # the temporary file was renamed
    cap = cv2.VideoCapture(str(save))
    ok, first = cap.read()
    cap.release()
    assert ok and first.shape == (360, 480, 3)


def test_stage_summary_times_every_stage(clip_run):
    summary, _, _ = clip_run
    stats = summary.timer.summary()
    assert set(stats) == {
        "capture",
        "detect",
        "preprocess",
        "spectrogram",
        "infer",
        "overlay",
        "total",
    }
    assert stats["total"]["n"] == FLV_FRAMES
    assert stats["spectrogram"]["n"] < FLV_FRAMES / 4  # once per 0.25 s hop, not per frame
    assert stats["total"]["p50"] <= stats["total"]["p99"]
    assert "p99 ms" in summary.timer.format_summary()


def test_microphone_failure_falls_back_to_the_face_with_an_event(flv, speech_wav):
    """A real-time WAV-fed microphone that dies after 1.4 s of a 2.2 s clip played in real time."""
    mic = MicrophoneSource(
        None, stream_factory=WavStream.factory(speech_wav, realtime=True, fail_after_s=1.4)
    )
    records: list[dict] = []
    failed_at: list[int] = []

    def on_event(message: str) -> None:
        if "face only" in message:
            failed_at.append(len(records))

    summary = run_live(config(flv, realtime=True), records.append, on_event=on_event, audio=mic)
    assert len(failed_at) == 1, summary.events
    assert any("stopped recording" in e and "face only" in e for e in summary.events)
    before, after = records[: failed_at[0]], records[failed_at[0] :]
    assert any(r["engine"] == "fused" for r in before)  # the microphone was heard first
    assert after and all(r["engine"] == "face" and r["modalities"] == ["face"] for r in after)
    assert summary.audio == "microphone default"


def test_a_video_without_face_or_sound_predicts_nothing_and_says_why(tmp_path):
    gradient = np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1))
    frames = [cv2.cvtColor(np.roll(gradient, i * 4, axis=1), cv2.COLOR_GRAY2BGR) for i in range(30)]
    video = write_video(tmp_path / "gradient.mp4", frames)
    summary = run_live(config(video, mic="auto", save=tmp_path / "out.mp4"))
    assert summary.frames == 30 and summary.inferences == 0
    assert any("no usable sound track" in e for e in summary.events)
    assert len(summary.records) == 30
    for record in summary.records:
        assert record["label"] is None and record["probs"] is None and record["engine"] is None
        assert record["reason"] == "no face, no audio: no prediction"
    assert frame_count(tmp_path / "out.mp4") == 30


def test_a_video_without_face_uses_the_voice_model_while_someone_speaks(tmp_path):
    gradient = np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1))
    frames = [cv2.cvtColor(gradient, cv2.COLOR_GRAY2BGR)] * 75
    video = write_video(tmp_path / "gradient.mp4", frames)
    voice = DEMO_DIR / "1002_DFA_ANG_XX.mp3"  # another actor, as an audio file for --mic
    summary = run_live(config(video, mic=str(voice)))
    engines = {r["engine"] for r in summary.records}
    assert engines <= {"voice", None} and "voice" in engines
    spoken = [r for r in summary.records if r["engine"] == "voice"]
    assert len(spoken) > 30 and all(r["modalities"] == ["voice"] for r in spoken)
    assert all(r["box"] is None for r in spoken)
    silent = [r for r in summary.records if r["engine"] is None]
    assert all(r["reason"] == "no face, silence: no prediction" for r in silent)


def test_inference_rate_limits_the_records_not_the_frames(flv):
    summary = run_live(config(flv, mic="video", infer_hz=10.0))
    assert summary.frames == FLV_FRAMES
    times = [r["t"] for r in summary.records]
    assert 20 <= len(times) <= 24  # 2.2 s of media time at 10 per second
    assert min(np.diff(times)) > 0.09
    assert summary.timer.summary()["detect"]["n"] == len(times)  # no detection between


def test_every_face_is_scored_in_one_batch(flv, tmp_path):
    pairs = [np.hstack([f, f[:, ::-1]]) for f in read_video_frames(flv)[:20]]
    video = write_video(tmp_path / "two.mp4", pairs)
    summary = run_live(config(video, mic="none", all_faces=True))
    assert summary.frames == 20
    two = [r for r in summary.records if len(r.get("faces", [])) == 2]
    assert len(two) > 15
    for record in two:
        left, right = (face["box"] for face in record["faces"])
        assert min(left[0], right[0]) < 480 <= max(left[0], right[0])  # one face per half
        assert record["engine"] == "face"


def test_a_camera_that_vanishes_is_reconnected_and_the_loop_goes_on(flv, tmp_path):
    """A real capture on a file deleted after opening (the camera unplugged), put back after the
    second failed reconnect (plugged in again); the loop keeps answering across it."""
    clip = tmp_path / "camera.flv"
    shutil.copy(flv, clip)

    def replug(event) -> None:
        if event.kind == "retry" and event.attempt == 2:
            shutil.copy(flv, clip)

    camera = VideoSource(
        lambda: cv2.VideoCapture(str(clip)), name="camera", live=True, backoff_s=0.05,
        on_event=replug,
    )  # fmt: skip
    clip.unlink()
    stop = threading.Event()
    watchdog = threading.Timer(60.0, stop.set)
    watchdog.start()

    def on_record(record: dict) -> None:
        if record["frame"] > FLV_FRAMES + 5:  # a frame from after the reconnect
            stop.set()

    try:
        summary = run_live(config("camera", mic="none"), on_record, stop, video=camera)
    finally:
        watchdog.cancel()
    assert summary.records[-1]["frame"] > FLV_FRAMES + 5
    messages = " | ".join(summary.events)
    assert "no frame from the source; reconnecting" in messages
    assert "reconnect attempt 2 failed" in messages
    assert "reconnected after 3 attempt(s)" in messages
    assert summary.error is None and not summary.interrupted
    assert all(r["engine"] == "face" for r in summary.records)


def test_stop_event_ends_a_looping_run_with_the_video_finalised(flv, tmp_path):
    stop = threading.Event()
    seen = []

    def on_record(record: dict) -> None:
        seen.append(record)
        if len(seen) == 90:  # past the end of the clip: it loops
            stop.set()

    save = tmp_path / "stopped.mp4"
    summary = run_live(config(flv, mic="video", loop=True, save=save), on_record, stop)
    assert summary.frames == 90 and not summary.interrupted
    assert seen[-1]["frame"] == 89
    assert frame_count(save) == 90


def test_face_finder_follows_the_face_between_full_searches(flv):
    frames = read_video_frames(flv)
    detector = make_detector()
    finder = FaceFinder(detector, 320, refresh=15)
    for frame in frames:
        boxes = finder.find(frame)
        full = detector.detect(frame)[0]
        x, y, w, h = boxes[0]
        assert abs(x - full[0]) < 0.15 * full[2] and abs(w - full[2]) < 0.2 * full[2]
    assert finder.full_searches == pytest.approx(len(frames) / 16, abs=1)
    assert finder.followed == len(frames) - finder.full_searches


def test_demo_runs_every_clip_unmasked_and_masked_and_reports_true_against_predicted(tmp_path):
    lines: list[str] = []
    video = tmp_path / "demo.mp4"
    fp32 = RunConfig(engine=shipped_path("middle", ".onnx"), show=False)  # the CLI test: INT8
    result = run_demo(video, fp32, out=lines.append)
    names = [p.name for p in demo_clips()]
    assert [c.path.name for c in result.passes(masked=False)] == names
    assert [c.path.name for c in result.passes(masked=True)] == names
    assert len(result.clips) == 12 and not result.interrupted
    trues = {c.path.name[9:12]: c.true for c in result.clips}
    assert trues == {
        "ANG": "negative", "DIS": "negative", "FEA": "negative",
        "HAP": "positive", "NEU": "neutral", "SAD": "negative",
    }  # fmt: skip
    for clip in result.clips:
        assert clip.predicted in ("negative", "neutral", "positive")
        assert clip.modalities["face+voice"] > clip.frames / 2
    for bare, masked in zip(result.passes(False), result.passes(True), strict=True):
        line = next(line for line in lines if line.startswith(bare.path.name))
        assert line.split()[3:7:2] == [bare.predicted, masked.predicted]
    # Six clips are too few for an accuracy floor (tests/test_shipped_models.py holds the floors on
    # held-out data), but the clips must not all look the same, and the mask must change the input.
    probs = np.array([list(c.probs.values()) for c in result.passes(False)])
    assert np.ptp(probs, axis=0).max() > 0.05
    masked_probs = np.array([list(c.probs.values()) for c in result.passes(True)])
    assert np.abs(masked_probs - probs).max() > 0.02
    text = "\n".join(lines)
    assert f"accuracy unmasked {result.correct_of(False)}/6" in text
    assert f"accuracy masked (synthetic mask) {result.correct_of(True)}/6" in text
    assert any("p99 ms" in line for line in lines)
    assert result.video == video and frame_count(video) == result.frames
    assert result.frames == sum(c.frames for c in result.clips) == 2 * 379


def test_clip_prediction_prefers_the_fused_frames():
    names = ("negative", "neutral", "positive")
    records = [
        {"probs": {"negative": 0.9, "neutral": 0.05, "positive": 0.05}, "modalities": ["face"]},
        {
            "probs": {"negative": 0.1, "neutral": 0.2, "positive": 0.7},
            "modalities": ["face", "voice"],
        },
        {"probs": None, "modalities": []},
    ]
    assert clip_prediction(records, names)[0] == "positive"
    assert clip_prediction(records[:1], names)[0] == "negative"
    assert clip_prediction(records[2:], names) == (None, None)
    assert true_label("1001_DFA_FEA_XX.flv") == ("FEA", "negative")


def test_a_silent_sound_track_is_said_out_loud_not_passed_over(flv, tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(16000 * 3, np.float32), 16000)
    events: list[str] = []
    summary = run_live(config(flv, mic=str(silent)), on_event=events.append)
    notices = [e for e in events if "is silent" in e]
    assert len(notices) == 1 and "face only" in notices[0]  # once, at the start
    later = [r for r in summary.records if r["t"] >= 1.0]  # once the ring holds a second
    assert later and all(r["audio"] == "silent" and r["modalities"] == ["face"] for r in later)


def test_a_voice_after_silence_is_announced_and_fused_again(flv, speech_wav, tmp_path):
    speech = read_audio(speech_wav, 16000)
    track = tmp_path / "pause.wav"
    sf.write(str(track), np.concatenate([np.zeros(16000 * 2, np.float32), speech]), 16000)
    events: list[str] = []
    summary = run_live(
        config(flv, mic=str(track), loop=True, max_frames=150), on_event=events.append
    )
    assert any("is silent" in e for e in events) and any("voice heard" in e for e in events)
    assert any(r["audio"] == "voice" and "voice" in r["modalities"] for r in summary.records)


def test_the_synthetic_mask_is_drawn_where_the_model_reads_the_face(flv, tmp_path):
    bare = run_live(config(flv, mic="none", max_frames=20))
    save = tmp_path / "masked.mp4"
    masked = run_live(config(flv, mic="none", max_frames=20, synthetic_mask=True, save=save))
    assert [r["box"] is not None for r in masked.records] == [True] * 20  # still found masked
    diffs = [
        max(abs(a["probs"][c] - b["probs"][c]) for c in a["probs"])
        for a, b in zip(bare.records[1:], masked.records[1:], strict=True)
    ]
    assert max(diffs) > 0.05  # the model read another face
    assert masked.saved == save and frame_count(save) == 20


def test_the_synthetic_mask_covers_the_lower_face_and_moves_with_it(flv):
    frames = read_video_frames(flv, 20)
    detector = make_detector()
    masker = SyntheticMasker(shipped_spec("face"), detector.family)
    for frame in frames:
        (box,) = detector.detect(frame)[:1]
        out = masker.apply(frame, [box])
        x, y, w, h = box
        changed = np.any(out != frame, axis=-1)
        assert changed[y + h // 2 : y + h, x : x + w].mean() > 0.4  # mouth and chin covered
        assert changed[y : y + h // 4, x : x + w].mean() < 0.02  # eyes and forehead clear
        assert not changed[:, : max(0, x - w)].any()  # nothing drawn away from the face
    assert masker.draws == 1  # drawn once, then moved with the face
