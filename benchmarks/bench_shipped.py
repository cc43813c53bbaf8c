"""``edgefer bench`` on the shipped models: benchmarks/results/bench/<run>/ and results/bench/README.md

Usage: python benchmarks/bench_shipped.py [--models middle,face,voice] [--out benchmarks/results/bench]

Runs the real command (``python -m edgefer.cli bench``, default settings: every engine this machine
has, batch 1 and 8, 200 held-out pairs per class) on each shipped model; INT8 is calibrated on the
shipped calibration set where its preprocessing matches the model's, else on the builder's default
set from the training split (kept under calibration/). Then the middle model once more with
``--threads 1`` (a busy 2-core machine makes two-thread timings noisy; one thread shows what a core
does undisturbed), then ``--pipeline`` (the live loop's stages on the packaged demo clips, INT8 and
FP32). Each run writes bench.json, bench.md, latency.png and accuracy_latency.png (pipeline.* for the
pipeline) into its own folder; README.md there gathers the ratios of every run with the load average
it ran under. A run whose INT8 engine breaks the default accuracy floor (exit 1) still writes its
report, and the summary says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "edgefer" / "assets" / "models"


def bench(args: list[str], out: Path) -> int:
    """One ``edgefer bench`` run into ``out``; its table goes to this terminal."""
    out = out.resolve().relative_to(ROOT) if out.resolve().is_relative_to(ROOT) else out
    command = [sys.executable, "-m", "edgefer.cli", "bench", *args, "--out", str(out)]
    print("$ edgefer bench " + " ".join(args + ["--out", str(out)]), flush=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"}
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def _ratio(result: dict, name: str) -> str:
    target = next((t for t in result["targets"] if t["name"] == name), None)
    if target is None or target["value"] is None:
        return "-"
    value = target["value"]
    text = f"{value:.1%}" if target["unit"] == "share" else f"{value:.2f}"
    return f"{text} ({'met' if target['met'] else 'missed'})"


def _exit_code(result: dict) -> str:
    """What ``edgefer bench`` exited with: 1 when an engine broke its --max-drop floor."""
    limit = result["settings"]["max_drop"]
    broken = [r["name"] for r in result["engines"] if r["drop_points"] > limit + 1e-9]
    return f"1 (accuracy floor: {', '.join(broken)})" if broken else "0"


def summary(out: Path) -> str:
    """README.md of the results folder: one line of ratios per run folder, links to each report."""
    lines = [
        "# edgefer bench on the shipped models",
        "",
        "Produced by `python benchmarks/bench_shipped.py`; each folder holds `bench.md` (the full "
        "report: machine, every engine, targets and why a miss is missed, method), `bench.json` "
        "and the figures. Ratios come from one interleaved run each, so machine drift hits all "
        "engines alike; the load average says how busy the machine was.",
        "",
        "| run | ORT FP32 / Keras predict (b1) | INT8 / FP32 speed (b1) | INT8 drop (points) | "
        "FP32 GFLOP/s @8 / peak | load avg start -> end | exit |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in sorted(out.glob("*/bench.json")):
        name, result = path.parent.name, json.loads(path.read_text())
        system = result["system"]
        lines.append(
            f"| [{name}]({name}/bench.md) "
            f"| {_ratio(result, 'ONNX Runtime FP32 vs Keras predict, batch 1')} "
            f"| {_ratio(result, 'ONNX Runtime INT8 vs FP32 speed, batch 1')} "
            f"| {_ratio(result, 'ONNX Runtime INT8 accuracy drop')} "
            f"| {_ratio(result, 'ONNX Runtime FP32 GFLOP/s vs measured peak, largest batch')} "
            f"| {system['load_average_start'][0]} -> {system['load_average_end'][0]} "
            f"| {_exit_code(result)} |"
        )
    if (out / "middle-pipeline" / "pipeline.md").is_file():
        lines += ["", "Live-loop stages: [middle-pipeline](middle-pipeline/pipeline.md)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="middle,face,voice")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench")
    parser.add_argument("--no-pipeline", action="store_true")
    parser.add_argument(
        "--summary-only", action="store_true", help="rewrite README.md from the JSONs there"
    )
    args = parser.parse_args()
    if args.summary_only:
        (args.out / "README.md").write_text(summary(args.out))
        return
    runs: dict[str, int] = {}
    for variant in [m.strip() for m in args.models.split(",") if m.strip()]:
        onnx = str((SHIPPED / f"{variant}.onnx").relative_to(ROOT))
        runs[variant] = bench([onnx], args.out / variant)
        if variant == "middle":
            runs["middle-threads1"] = bench([onnx, "--threads", "1"], args.out / "middle-threads1")
    if not args.no_pipeline:
        middle = str((SHIPPED / "middle.onnx").relative_to(ROOT))
        code = bench([middle, "--pipeline", "--engines", "ort-fp32,ort-int8"],
                     args.out / "middle-pipeline")  # fmt: skip
        if code != 0:
            print(f"pipeline run failed with exit code {code}", file=sys.stderr)
    (args.out / "README.md").write_text(summary(args.out))
    print(f"wrote {args.out / 'README.md'}")
    if any(code not in (0, 1) for code in runs.values()):
        sys.exit(2)


if __name__ == "__main__":
    main()
