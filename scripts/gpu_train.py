"""Train the shipped edge variants on one lent GPU within a fixed time budget.

The same ``edgefer train`` runs as ``scripts/train-all.sh``, started as parallel processes with Keras
3's torch backend (the models and the loop are backend-agnostic). Two stages:

  A  face-unmasked face model on unmasked faces (lr 1e-3 cosine) until it finishes or DEADLINE_U,
                   then face-ft: fine-tuned from it on 80 % masked faces until DEADLINE_A
     voice         the paper's lr 1e-4
     early         from scratch (its first convolution sees both images stacked), until DEADLINE_B
  B  middle, late  start from face-ft and the voice run, fine-tuned with 40 % random-class voices
                   (--voice-mismatch), until DEADLINE_B

A run still going at its deadline is stopped and keeps its best epoch (``model.keras`` is written
atomically on every improvement); ``edgefer train --resume --epochs N`` writes its reports later.

Measured on an H200 (2026-11-27, four processes at once, OMP_NUM_THREADS=3): about 65 s per face
epoch (21k images) and 100 s per middle epoch. The torch backend runs Keras eagerly, so the GPU idles
between small kernels; the 2-core development CPU with TensorFlow took 165 s per face epoch. A face
model trained on 80 % masked faces from scratch stayed at the majority class for 3 epochs at lr 1e-3,
which is why the face model starts unmasked.

Usage: python scripts/gpu_train.py RUNS_DIR [--quick]   (env: DEADLINE_U, DEADLINE_A, DEADLINE_B, s)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

QUICK = "--quick" in sys.argv
RUNS = Path(sys.argv[1])
STARTED = time.monotonic()
DEADLINE_U = float(os.environ.get("DEADLINE_U", 200))
DEADLINE_A = float(os.environ.get("DEADLINE_A", 330))
DEADLINE_B = float(os.environ.get("DEADLINE_B", 555))

STAGE_A = {
    "face-unmasked": "--fusion face --epochs 10 --learning-rate 1e-3 --lr-schedule cosine"
    " --mask-fraction 0",
    "voice": "--fusion voice --epochs 40 --learning-rate 1e-4",
    "early": "--fusion early --epochs 30 --learning-rate 1e-3 --lr-schedule cosine"
    " --voice-mismatch 0.4",
}
FACE_FT = "--fusion face --epochs 20 --learning-rate 5e-4 --lr-schedule cosine"
STAGE_B = {
    "middle": "--fusion middle --epochs 12 --learning-rate 1e-4 --lr-schedule cosine"
    " --voice-mismatch 0.4",
    "late": "--fusion late --epochs 8 --learning-rate 1e-4 --lr-schedule cosine"
    " --voice-mismatch 0.4",
}


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def start(name: str, args: str) -> subprocess.Popen:
    if QUICK:  # a one-epoch rehearsal on 12 samples per class, to check the wiring
        args = re.sub(r"--epochs \d+", "--epochs 1", args) + " --limit-per-class 12"
    out = RUNS / name
    command = [sys.executable, "-m", "edgefer", "train", "--preset", "edge", "--seed", "0"]
    command += args.split() + ["--output", str(out)]
    if (out / "state.json").is_file():
        command.append("--resume")
    log(f"start {name}: {' '.join(command[3:])}")
    logfile = open(RUNS / f"{name}.log", "w")  # noqa: SIM115 - closed when the process ends
    return subprocess.Popen(command, stdout=logfile, stderr=subprocess.STDOUT)


def progress_line(name: str) -> str:
    state = RUNS / name / "state.json"
    if not state.is_file():
        return f"{name}: no epoch yet"
    saved = json.loads(state.read_text())
    last = saved["history"][-1]
    return (
        f"{name}: epoch {saved['epoch']} ({last['seconds']} s) train {last['accuracy']:.3f} "
        f"val {last['val_accuracy']:.3f} best {saved['best_val_accuracy']:.3f}"
    )


def wait(running: dict[str, subprocess.Popen], deadline: float) -> None:
    """Wait for every process, or stop those still running at the deadline (seconds from start)."""
    last_report = 0.0
    while running:
        now = time.monotonic() - STARTED
        for name, proc in list(running.items()):
            if proc.poll() is not None:
                log(f"{name} exited with {proc.returncode}; {progress_line(name)}")
                del running[name]
        if now > deadline:
            for name, proc in running.items():
                log(f"deadline: stopping {name}; {progress_line(name)}")
                proc.terminate()
            for proc in running.values():
                proc.wait(timeout=30)
            return
        if now - last_report > 30:
            last_report = now
            for name in running:
                log(progress_line(name))
        time.sleep(2)


def main() -> None:
    RUNS.mkdir(parents=True, exist_ok=True)
    running = {name: start(name, args) for name, args in STAGE_A.items()}
    early = running.pop("early")
    wait({"face-unmasked": running.pop("face-unmasked")}, DEADLINE_U)
    if (RUNS / "face-unmasked" / "model.keras").is_file():
        running["face-ft"] = start("face-ft", f"{FACE_FT} --init-from {RUNS / 'face-unmasked'}")
    wait(running, DEADLINE_A)
    needed = [RUNS / "face-ft" / "model.keras", RUNS / "voice" / "model.keras"]
    if not all(path.is_file() for path in needed):
        log("no face or voice model: stage B skipped")
        wait({"early": early}, DEADLINE_B)
        return
    init = f" --init-from {RUNS / 'face-ft'} --init-from {RUNS / 'voice'}"
    stage_b = {name: start(name, args + init) for name, args in STAGE_B.items()}
    stage_b["early"] = early
    wait(stage_b, DEADLINE_B)
    log("done")


if __name__ == "__main__":
    main()
