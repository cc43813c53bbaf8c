"""``edgefer run``: the live face + voice loop on a camera and a microphone, or the offline demo.

The loop lives in :mod:`edgefer.live.loop` (the demo in :mod:`edgefer.live.demo`) and what it prints
in :mod:`edgefer.live.run_report`; here are the options, the stop signal and the exit codes
(130 after Ctrl-C, as a shell reports it). Nothing here imports TensorFlow: this command is the one
a runtime-only install (a Jetson) uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from edgefer.cli._common import err
from edgefer.errors import EdgeferError
from edgefer.live.smoothing import DEFAULT_SMOOTHING


def run_command(
    camera: Annotated[
        str,
        typer.Option(
            help="Camera index (0, /dev/video0), video file, rtsp:// or http(s):// URL, "
            "or csi://N (Jetson CSI camera)."
        ),
    ] = "0",
    mic: Annotated[
        str,
        typer.Option(
            help="auto: the --camera file's own sound track, else the default microphone (face "
            "only when there is none) | none | video | a microphone index or name (a part of "
            "it, any case; edgefer doctor lists them; one that refuses 16 kHz is opened at its "
            "own rate and resampled) | an audio file. Silence is reported, not passed over."
        ),
    ] = "auto",
    engine: Annotated[
        str | None,
        typer.Option(
            help="Fused face+voice engine (.onnx, or a TensorRT .plan from build-engine); none = "
            "off (default: the shipped middle model at --precision, built once into engines/)"
        ),
    ] = None,
    face_engine: Annotated[
        str | None,
        typer.Option(
            help="Face-only engine used while the voice is absent; none = off "
            "(default: the shipped face model)"
        ),
    ] = None,
    voice_engine: Annotated[
        str | None,
        typer.Option(
            help="Voice-only engine used while no face is found; none = off "
            "(default: the shipped voice model)"
        ),
    ] = None,
    precision: Annotated[
        str,
        typer.Option(
            help="auto | int8 | fp16 | fp32: precision of the default engine; auto times each "
            "on this machine once and keeps the fastest that passes the accuracy check."
        ),
    ] = "auto",
    max_drop: Annotated[
        float | None,
        typer.Option(
            help="Accuracy points the default engine may lose against FP32 on the check set "
            "(default: 0 for auto, 1 for int8/fp16)."
        ),
    ] = None,
    realtime: Annotated[
        bool,
        typer.Option(
            "--realtime/--no-realtime",
            help="A video file plays at its own speed (frames dropped when the loop is slower); "
            "--no-realtime processes every frame with the sound at media time (offline, repeatable).",
        ),
    ] = True,
    rate: Annotated[
        float | None,
        typer.Option(
            help="Inferences per second (default: every frame; the overlay keeps the last)."
        ),
    ] = None,
    smoothing: Annotated[
        str,
        typer.Option(
            help="KIND[:VALUE][:margin=M][:hold=N], KIND ema | logema | window | none: the shown "
            "label changes only when the new class leads by M and the old one held N updates "
            "(default chosen on still clips: benchmarks/results/label_stability.md).",
        ),
    ] = DEFAULT_SMOOTHING,
    all_faces: Annotated[
        bool, typer.Option("--all-faces", help="Score every face, not only the largest.")
    ] = False,
    detector: Annotated[
        str,
        typer.Option(
            metavar="yunet|haar|PATH.onnx",
            help="Face detector: yunet (shipped; finds masked faces), haar (OpenCV's cascade), "
            "or another YuNet .onnx file.",
        ),
    ] = "yunet",
    detect_threshold: Annotated[
        float | None,
        typer.Option(
            help="YuNet score a new face needs (default: chosen on "
            "benchmarks/results/detection_rate.md; lower finds more masked faces and more "
            "false alarms).",
        ),
    ] = None,
    box_hold: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Frames a face box is kept through detection misses (default: the detector's: "
            "yunet 0, haar 5).",
        ),
    ] = None,
    synthetic_mask: Annotated[
        bool,
        typer.Option(
            "--synthetic-mask/--no-synthetic-mask",
            help="Draw the project's synthetic mask on each detected face before it is read "
            "(shows the masked case on an unmasked camera; the demo runs with and without).",
        ),
    ] = False,
    save: Annotated[
        Path | None,
        typer.Option(help="Write the annotated video to this .mp4 (finalised on Ctrl-C too)."),
    ] = None,
    show: Annotated[
        bool | None,
        typer.Option("--show/--no-show", help="Preview window (default: when a display exists)."),
    ] = None,
    json_lines: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON line per inference on stdout: t, label, probs, box, modalities, engine, "
            "ms per stage (summary on stderr).",
        ),
    ] = False,
    max_frames: Annotated[int | None, typer.Option(help="Stop after this many frames.")] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Run the packaged CREMA-D clips offline (no camera or microphone needed): "
            "per-clip true vs predicted, accuracy, timings; video to --save "
            "(default: runs/demo/demo.mp4).",
        ),
    ] = False,
) -> None:
    """Run the live face + voice loop: camera and microphone in, emotion out.

    The emotion (negative / neutral / positive) goes to an overlay, a saved video or JSON lines.

    The fused model answers while a face is found and someone speaks;
    the face or voice model alone when the other is missing (a lost microphone: face only).
    A per-stage timing summary (p50/p90/p99 ms) is printed at exit.
    Ctrl-C stops cleanly: exit 130, the saved video finalised.

    Camera 0 and microphone 1: [cyan]edgefer run --camera 0 --mic 1[/cyan]

    A clip with its own sound, as JSON lines: [cyan]edgefer run --camera clip.flv --json[/cyan]

    Every frame of a clip, saved: [cyan]edgefer run --camera clip.flv --no-realtime --save out.mp4[/cyan]

    A Jetson CSI camera, 10 inferences/s: [cyan]edgefer run --camera csi://0 --rate 10[/cyan]

    The offline demo on the packaged clips: [cyan]edgefer run --demo[/cyan]
    """
    import signal
    import threading

    from edgefer.live.loop import RunConfig, run_live
    from edgefer.live.run_report import (
        StatusPrinter,
        event_printer,
        log_printer,
        print_json_line,
        print_summary,
    )

    config = RunConfig(
        camera=camera, mic=mic, engine=engine, face_engine=face_engine, voice_engine=voice_engine,
        precision=precision, max_drop=max_drop, realtime=realtime, infer_hz=rate, smoothing=smoothing,
        all_faces=all_faces, detector=detector, detect_threshold=detect_threshold,
        box_hold=box_hold, synthetic_mask=synthetic_mask,
        save=save, show=show, max_frames=max_frames,
    )  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # a service manager's stop: as q does
    on_event, log = event_printer(err), log_printer(err)

    if demo:
        if json_lines or camera != "0" or mic != "auto":
            raise EdgeferError("--demo plays the packaged clips: drop --camera, --mic and --json")
        from edgefer.live.demo import DEFAULT_VIDEO, run_demo

        result = run_demo(
            save or DEFAULT_VIDEO, config, out=print, log=log, on_event=on_event, stop=stop
        )
        if result.interrupted:
            raise typer.Exit(code=130)
        return

    report = err if json_lines else Console()  # with --json, stdout is the records only
    on_record = print_json_line if json_lines else StatusPrinter()
    summary = run_live(config, on_record, stop, on_event=on_event, log=log)
    print_summary(summary, report)
    if summary.error:
        raise EdgeferError(summary.error)
    if summary.interrupted:
        raise typer.Exit(code=130)
