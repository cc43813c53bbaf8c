"""What ``edgefer run`` was asked to do, as one dataclass.

The CLI fills it; the loop, the demo, the engine chooser and the pipeline benchmark read it (its own
module, so none of them imports another for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgefer.live.smoothing import DEFAULT_SMOOTHING


@dataclass
class RunConfig:
    """What ``edgefer run`` was asked to do (every field has the CLI's default).

    camera : device index (``0``), video file, ``rtsp://``/``http(s)://`` URL or ``csi://N``.
    mic : ``auto`` (the camera file's own sound track, else the default microphone; face only when
        there is none), ``none``/None (no audio), ``video`` (the file's track), a microphone index or
        name, or an audio file.
    engine : the fused engine file (.onnx or TensorRT plan); None = the shipped middle model at
        ``precision`` (``auto``: the fastest that passes the accuracy check, measured once; INT8/FP16
        built once with ONNX Runtime and cached in ``engines_dir``);
        ``"none"`` = no fused engine.
    max_drop : accuracy points the default engine may lose against FP32 on the check set (None:
        0 for ``auto``, 1 for a fixed INT8/FP16).
    face_engine, voice_engine : unimodal fall-backs; None = the shipped face/voice ONNX, ``"none"`` = off.
    realtime : files play at their own speed (frames dropped when the loop is slower, audio from a
        clock); False = every frame, audio advanced to each frame's media time (offline, repeatable).
    infer_hz : inferences per second (of media time); None = every frame. Frames between reuse the
        last prediction on screen and produce no record.
    smoothing : ``KIND[:VALUE][:margin=M][:hold=N]`` with KIND ``ema``, ``logema``, ``window`` or
        ``none``; the default was chosen on still clips (``benchmarks/results/label_stability.md``):
        an EMA whose label changes only when the new class leads by ``margin`` and the old one was
        shown for ``hold`` updates, so a still face does not flip every few frames.
    all_faces : score every face (one batch) instead of the largest only.
    detector : ``yunet`` (the shipped YuNet model), ``haar`` (OpenCV's cascade) or a YuNet ``.onnx``.
    detect_threshold : the YuNet score a new face needs; None = the detector's default.
    synthetic_mask : draw the project's synthetic mask on each detected face before it is read, so
        an unmasked camera or clip shows the masked case end to end (the demo's masked pass).
    save : write the annotated video to this .mp4 (finalised on any exit).
    show : preview window; None = when a display exists.
    max_frames : stop after this many frames.
    loop : replay a video file from the start at its end (soaks).
    hop_s : the voice input is recomputed once per this much new audio.
    box_hold : frames a face box is kept through detection misses; None = the detector's own
        ``hold_frames`` (Haar 5: it misses masked faces on some frames; YuNet 0: following with
        hysteresis keeps its faces, and a held box on a face that left is read as a face).
    detect_width : full-frame searches run on the frame scaled down to this width (boxes scaled
        back); None = the detector's own working width (YuNet 640: at 320 it misses most masked
        faces under ~100 px; Haar 320); 0 = full size. Between full searches the last face is
        followed in a small window (:class:`FaceFinder`), which keeps the median cost low.
    threads : ONNX Runtime intra-op threads per engine: 1 keeps the p99 of these small models low on
        a busy 2-core board (more threads wait on each other for no gain at batch 1).
    engines_dir : where the default INT8/FP16 engine is built and cached.
    keep_records : collect every record in ``summary.records`` (off for long soaks).
    note : a line drawn on every frame (the demo writes the clip and its true label there).
    """

    camera: str = "0"
    mic: str | None = "auto"
    engine: Path | str | None = None
    face_engine: Path | str | None = None
    voice_engine: Path | str | None = None
    precision: str = "auto"
    max_drop: float | None = None
    realtime: bool = True
    infer_hz: float | None = None
    smoothing: str = DEFAULT_SMOOTHING
    all_faces: bool = False
    detector: str = "yunet"
    detect_threshold: float | None = None
    synthetic_mask: bool = False
    save: Path | None = None
    show: bool | None = None
    max_frames: int | None = None
    loop: bool = False
    hop_s: float = 0.25
    box_hold: int | None = None
    detect_width: int | None = None
    threads: int | None = 1
    engines_dir: Path = Path("engines")
    keep_records: bool = True
    note: str | None = None
