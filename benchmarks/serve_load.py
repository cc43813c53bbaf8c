"""Load test of ``edgefer serve``: benchmarks/results/serve.{json,md}

Usage: python benchmarks/serve_load.py [--model middle] [--clients 1,2,4,8,16,32] [--seconds 8]

A real Triton server (``edgefer serve``, PyTriton, from ``.venv-serve``) on free 127.0.0.1 ports hosts
the shipped model; 1 to 32 client threads, each with its own gRPC connection (the remote engine
``edgefer run --engine grpc://...`` uses), send batch-1 requests of real held-out inputs (the
shipped check set) back to back for a bounded time. Every reply is compared with the local ONNX
Runtime engine's output for the same sample and counted: ``ok``, ``wrong`` (max abs difference over
``--atol``), ``lost`` (an error or no reply) and ``late`` (slower than ``--late-ms``). Reported per
concurrency: aggregate throughput, p50/p99 latency, the ratio to one client and to the same engine
called in this process. One run; medians and ratios of that run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.bench.system import system_info
from edgefer.checkset import heldout_for
from edgefer.engines.artifact import atomic_write_text
from edgefer.engines.onnxruntime import OrtEngine
from edgefer.engines.triton import TritonEngine
from edgefer.serving.process import ServerProcess
from edgefer.shipped import shipped_path
from edgefer.spec import PreprocessSpec

RESULTS = Path(__file__).resolve().parent / "results"


def client_loop(
    url: str, samples: list[dict[str, np.ndarray]], reference: np.ndarray, stop_at: float,
    atol: float, late_s: float, offset: int, out: dict[str, Any],
) -> None:  # fmt: skip
    """One client: requests back to back until ``stop_at``; counts and latencies into ``out``."""
    latencies: list[float] = []
    counts = {"ok": 0, "wrong": 0, "lost": 0, "late": 0}
    worst = 0.0
    try:
        engine = TritonEngine(url, retry_s=0.0)
    except Exception as exc:  # counted, not raised: a client that cannot connect loses everything
        out.update(counts=counts | {"lost": 1}, latencies=[], worst=0.0, error=str(exc))
        return
    i = offset
    with engine:
        while time.perf_counter() < stop_at:
            k = i % len(samples)
            i += 1
            started = time.perf_counter()
            try:
                probs = engine.predict(samples[k])
            except Exception:
                counts["lost"] += 1
                continue
            seconds = time.perf_counter() - started
            latencies.append(seconds)
            diff = float(np.max(np.abs(probs - reference[k : k + 1])))
            worst = max(worst, diff)
            counts["wrong" if diff > atol else "ok"] += 1
            counts["late"] += seconds > late_s
    out.update(counts=counts, latencies=latencies, worst=worst)


def run_level(
    url: str, clients: int, seconds: float, samples: list[dict[str, np.ndarray]],
    reference: np.ndarray, atol: float, late_s: float,
) -> dict[str, Any]:  # fmt: skip
    outs: list[dict[str, Any]] = [{} for _ in range(clients)]
    stop_at = time.perf_counter() + seconds
    threads = [
        threading.Thread(
            target=client_loop,
            args=(url, samples, reference, stop_at, atol, late_s, c * 37, outs[c]),
            daemon=True,
        )
        for c in range(clients)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)  # bounded: a hung client is reported, not waited for
    wall = time.perf_counter() - started
    hung = sum(t.is_alive() for t in threads)
    latencies = sorted(x for o in outs for x in o.get("latencies", []))
    counts = {
        k: sum(o.get("counts", {}).get(k, 0) for o in outs) for k in ("ok", "wrong", "lost", "late")
    }
    replies = counts["ok"] + counts["wrong"]
    return {
        "clients": clients,
        "seconds": wall,
        "replies": replies,
        **counts,
        "hung_clients": hung,
        "throughput": replies / wall,
        "p50_ms": 1e3 * statistics.median(latencies) if latencies else None,
        "p99_ms": 1e3 * float(np.percentile(latencies, 99)) if latencies else None,
        "max_abs_diff": max((o.get("worst", 0.0) for o in outs), default=0.0),
        "errors": sorted({o["error"] for o in outs if "error" in o}),
    }


def local_throughput(
    engine: OrtEngine, samples: list[dict[str, np.ndarray]], seconds: float
) -> float:
    """Batch-1 calls per second of the same engine in this process, back to back."""
    n, stop_at = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < stop_at:
        engine.predict(samples[n % len(samples)])
        n += 1
    return n / (time.perf_counter() - started)


def markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [
        "# edgefer serve under load",
        "",
        f"`{result['command'].strip()}`: a real tritonserver (PyTriton, {result['pytriton']}) on 127.0.0.1 "
        f"hosting the shipped `{s['model']}` (ONNX Runtime FP32, {s['threads']} thread, "
        f"{s['instances']} instance, max batch {s['max_batch']}, queue delay "
        f"{s['max_queue_delay_us']} us), gRPC clients in threads of one process sending batch-1 "
        f"requests of real held-out inputs ({result['set']['source']}, n={result['samples']}) "
        "back to back for "
        f"{s['seconds']:g} s per level. Every reply compared with the local engine (atol "
        f"{s['atol']:g}); late: slower than {s['late_ms']:g} ms. Machine: {result['machine']}. "
        "One run.",
        "",
        "| clients | replies | req/s | x one client | x local engine | p50 ms | p99 ms | lost | wrong "
        "| late | max abs diff |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["levels"]:
        lines.append(
            f"| {r['clients']} | {r['replies']} | {r['throughput']:.0f} | "
            f"{r['ratio_to_one_client']:.2f} | {r['ratio_to_local']:.2f} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['lost']} | {r['wrong']} | {r['late']} | "
            f"{r['max_abs_diff']:.1e} |"
        )
    lines += [
        "",
        f"Local engine in this process, batch 1: {result['local_throughput']:.0f} calls/s.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="middle")
    parser.add_argument("--clients", default="1,2,4,8,16,32")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--max-queue-delay-us", type=int, default=2000)
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument("--late-ms", type=float, default=250.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    if any(c < 1 or c > 32 for c in levels):
        sys.exit("--clients: 1 to 32")

    local = OrtEngine(shipped_path(args.model, ".onnx"), intra_op_threads=args.threads)
    spec = PreprocessSpec.from_dict(local.metadata["spec"]) if "spec" in local.metadata else None
    from edgefer.onnx_meta import spec_of

    spec = spec or spec_of(local.metadata)
    data, held = heldout_for(spec, list(local.inputs))
    samples = [{k: v[i : i + 1] for k, v in data.inputs.items()} for i in range(len(data))]
    reference = np.concatenate([local.predict(x) for x in samples])
    local_rate = local_throughput(local, samples, args.seconds)
    extra = [
        "--max-batch", str(args.max_batch), "--max-queue-delay-us", str(args.max_queue_delay_us),
        "--instances", str(args.instances), "--threads", str(args.threads),
    ]  # fmt: skip
    results = []
    with ServerProcess([args.model], extra) as server:
        url = server.grpc_url(args.model)
        warm = TritonEngine(url)
        for x in samples[:20]:
            warm.predict(x)
        warm.close()
        for clients in levels:
            level = run_level(
                url, clients, args.seconds, samples, reference, args.atol, args.late_ms / 1e3
            )
            results.append(level)
            print(
                f"{clients:>2} clients: {level['throughput']:7.0f} req/s, p50 {level['p50_ms']:.2f} "
                f"ms, p99 {level['p99_ms']:.2f} ms, lost {level['lost']}, wrong {level['wrong']}, "
                f"late {level['late']}",
                flush=True,
            )
        stopped = server.stop()
    one = next((r["throughput"] for r in results if r["clients"] == 1), results[0]["throughput"])
    for r in results:
        r["ratio_to_one_client"] = r["throughput"] / one
        r["ratio_to_local"] = r["throughput"] / local_rate
    system = system_info()
    from importlib.metadata import version

    result = {
        "command": "python benchmarks/serve_load.py " + " ".join(sys.argv[1:]),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "samples": len(samples),
        "set": held.to_dict(),
        "pytriton": version("nvidia-pytriton") if _has("pytriton") else "from .venv-serve",
        "machine": f"{system['cpu']['model']}, {system['cpu']['usable_cores']} cores",
        "local_throughput": local_rate,
        "levels": results,
        "server_exit_code": stopped,
        "system": system,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "serve.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(args.out / "serve.md", markdown(result))
    print(f"wrote {args.out / 'serve.json'} and serve.md")


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    main()
