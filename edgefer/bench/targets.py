"""The project's speed and accuracy targets, checked on one run's numbers.

Each is met or missed, by how much, and why.

Targets (ratios from one interleaved run, so machine drift cancels):

- ONNX Runtime FP32 at least 10x faster than Keras ``predict`` at batch 1 (p50 latency);
- ONNX Runtime INT8 at least 1.8x faster than FP32 at batch 1, losing at most 0.5 accuracy points;
- achieved GFLOP/s of ONNX Runtime FP32 at the largest batch at least 30% of the CPU's measured peak.

The "why" of a miss is built from what this run measured (FLOPs, the per-op profile, the load
average), not from a fixed sentence, so it stays true when the shipped models are replaced.
"""

from __future__ import annotations

from typing import Any

ORT_VS_KERAS = 10.0
INT8_SPEEDUP = 1.8
INT8_MAX_DROP = 0.5
PEAK_SHARE = 0.30
EPS = 1e-9  # 3 samples of 600 are 0.5 points, computed as 0.50000000001: not over a 0.5 floor


def _row(result: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((r for r in result["engines"] if r["name"] == name), None)


def _target(
    name: str,
    value: float | None,
    target: float,
    unit: str,
    higher: bool,
    detail: str,
    why: str | None = None,
    missing: str | None = None,
) -> dict[str, Any]:
    """One target's record; ``missing`` says why it could not be measured."""
    if value is None:
        return {
            "name": name,
            "value": None,
            "target": target,
            "unit": unit,
            "met": None,
            "missed_by": None,
            "detail": missing or "not measured",
            "why": None,
        }
    met = value >= target - EPS if higher else value <= target + EPS
    missed_by = None
    if not met:
        gap = (target - value) if higher else (value - target)
        short = f" ({gap / target:.0%} short)" if higher and target else ""
        amount = f"{100 * gap:.1f} percentage points" if unit == "share" else f"{gap:.2f} {unit}"
        missed_by = amount + short
    return {
        "name": name,
        "value": value,
        "target": target,
        "unit": unit,
        "met": met,
        "missed_by": missed_by,
        "detail": detail,
        "why": None if met else why,
    }


def _busy(result: dict[str, Any]) -> str:
    """A sentence on the machine's load when it was busy (it slows and blurs every figure)."""
    system = result.get("system", {})
    cores = system.get("cpu", {}).get("usable_cores") or 1
    loads = [v[0] for v in (system.get("load_average_start"), system.get("load_average_end")) if v]
    if loads and max(loads) > 0.5 * cores:
        return (
            f" The machine was busy (1-min load average {max(loads):.1f} on {cores} cores during "
            "the run): other processes took CPU time from every engine alike."
        )
    return ""


def _profile_why(result: dict[str, Any], fast: str, slow: str, batch: str) -> str:
    """INT8 vs FP32 from their profiles: kernels per call, time in convolutions, overhead."""
    rows = _row(result, fast), _row(result, slow)
    profiles = [(r or {}).get("profile", {}).get(batch) for r in rows]
    if not all(profiles):
        return ""
    p_int8, p_fp32 = profiles
    assert p_int8 is not None and p_fp32 is not None
    conv8 = sum(v for k, v in p_int8["op_us"].items() if "Conv" in k)
    conv32 = sum(v for k, v in p_fp32["op_us"].items() if "Conv" in k)
    qdq = sum(v for k, v in p_int8["op_us"].items() if k in ("QuantizeLinear", "DequantizeLinear"))
    return (
        f" Measured with ONNX Runtime's profiler at batch {batch}: the INT8 convolutions take "
        f"{conv8:.0f} us per call against {conv32:.0f} us in FP32 "
        f"(INT8 at {conv32 / conv8 if conv8 else 0:.2f}x the FP32 speed); the INT8 graph runs "
        f"{p_int8['nodes']} kernels per call (FP32: {p_fp32['nodes']}), "
        f"Quantize/DequantizeLinear add {qdq:.0f} us, "
        f"and {p_int8['overhead_us']:.0f} us of each call is spent outside kernels (FP32: "
        f"{p_fp32['overhead_us']:.0f} us)."
    )


def _shape_words(result: dict[str, Any]) -> str:
    """What kind of network it is, from the FLOP count of its graph.

    Never fixed text: the shipped models will be replaced.
    """
    flops = result.get("flops", {})
    parts = [f"{flops.get('flops_per_sample', 0.0) / 1e6:.0f} MFLOP per inference"]
    convs = flops.get("nodes_by_op", {}).get("Conv")
    if convs:
        grouped, macs = flops.get("grouped_conv_nodes", 0), flops.get("macs") or 1
        text = f"{convs} convolutions"
        if grouped:
            share = flops.get("grouped_conv_macs", 0) / macs
            text += f", {grouped} of them depthwise/grouped with {share:.0%} of the MACs"
        parts.append(text)
    if flops.get("conv_maps") and flops.get("conv_channels"):
        (m0, m1), (c0, c1) = flops["conv_maps"], flops["conv_channels"]
        parts.append(f"{m0}x{m0} to {m1}x{m1} feature maps of {c0} to {c1} channels")
    return "; ".join(parts)


def evaluate_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with its value, whether it is met, by how much it is missed, and why."""
    keras = _row(result, "keras-fp32-predict")
    keras_batch = _row(result, "keras-fp32-predict_on_batch")
    fp32, int8 = _row(result, "onnxruntime-fp32"), _row(result, "onnxruntime-int8")
    busy = _busy(result)
    targets = []

    value = None
    detail = "needs the keras-fp32-predict and onnxruntime-fp32 rows"
    if keras and fp32 and keras["latency_p50_ms"] and fp32["latency_p50_ms"]:
        value = keras["latency_p50_ms"] / fp32["latency_p50_ms"]
        detail = (
            f"batch 1 p50: Keras predict {keras['latency_p50_ms']:.2f} ms, ONNX Runtime FP32 "
            f"{fp32['latency_p50_ms']:.3f} ms"
        )
        if keras_batch and keras_batch["latency_p50_ms"]:
            ratio = keras_batch["latency_p50_ms"] / fp32["latency_p50_ms"]
            detail += (
                f"; against Keras predict_on_batch ({keras_batch['latency_p50_ms']:.2f} ms) "
                f"the ratio is {ratio:.1f}x"
            )
    why = (
        "Keras predict's per-call cost (dataset and step set-up) is small next to the model's "
        "compute here: the model is large enough that both run the same convolutions." + busy
    )
    targets.append(
        _target(
            "ONNX Runtime FP32 vs Keras predict, batch 1",
            value,
            ORT_VS_KERAS,
            "x",
            True,
            detail,
            why,
            detail if value is None else None,
        )
    )

    value, detail = None, "needs the onnxruntime-fp32 and onnxruntime-int8 rows"
    if fp32 and int8 and fp32["latency_p50_ms"] and int8["latency_p50_ms"]:
        value = fp32["latency_p50_ms"] / int8["latency_p50_ms"]
        detail = f"batch 1 p50: FP32 {fp32['latency_p50_ms']:.3f} ms, INT8 {int8['latency_p50_ms']:.3f} ms"
        if fp32.get("throughput") and int8.get("throughput"):
            detail += (
                f"; at batch {fp32['throughput_batch']} INT8/FP32 throughput is "
                f"{int8['throughput'] / fp32['throughput']:.2f}x"
            )
    why = (
        f"Likely reason: the model is small ({_shape_words(result)}), so a kernel call's fixed "
        "cost and memory traffic weigh more than arithmetic, which is all INT8 speeds up."
        + _int8_dot_words(result)
        + _profile_why(result, "onnxruntime-int8", "onnxruntime-fp32", "1")
        + busy
    )
    targets.append(
        _target(
            "ONNX Runtime INT8 vs FP32 speed, batch 1",
            value,
            INT8_SPEEDUP,
            "x",
            True,
            detail,
            why,
            detail if value is None else None,
        )
    )

    value, detail = None, "needs the onnxruntime-fp32 and onnxruntime-int8 rows"
    if fp32 and int8:
        value = 100.0 * (fp32["accuracy"] - int8["accuracy"])
        n = result.get("data", {}).get("n") or 0
        detail = (
            f"accuracy FP32 {fp32['accuracy']:.2%}, INT8 {int8['accuracy']:.2%}, agreement "
            f"{int8['agreement']:.2%}, n={n} (one sample = {100.0 / max(n, 1):.2f} points)"
        )
    why = (
        "Static INT8 with min-max ranges from the calibration set clips or coarsens some "
        "activations; a larger or more representative calibration set, or entropy/percentile "
        "calibration (edgefer build-engine), usually recovers it."
    )
    targets.append(
        _target(
            "ONNX Runtime INT8 accuracy drop",
            value,
            INT8_MAX_DROP,
            "points",
            False,
            detail,
            why,
            detail if value is None else None,
        )
    )

    peak = result.get("peak", {}).get("gflops")
    value, detail = None, "needs the onnxruntime-fp32 row and the peak matmul"
    if fp32 and fp32.get("gflops") and peak:
        value = fp32["gflops"] / peak
        detail = (
            f"{fp32['gflops']:.1f} GFLOP/s (median call) at batch {fp32['throughput_batch']} "
            f"against a measured peak of {peak:.1f} GFLOP/s ({result['peak']['method']})"
        )
        if fp32.get("gflops_best"):
            detail += (
                f"; its fastest call reached {fp32['gflops_best']:.1f} GFLOP/s "
                f"({fp32['gflops_best'] / peak:.0%})"
            )
    why = (
        f"Likely reason: {_shape_words(result)}. Small feature maps and grouped convolutions do "
        "few FLOPs per byte moved and per kernel call, so the CPU waits on memory and call "
        "overheads instead of computing, where a large matmul reuses every loaded value hundreds "
        "of times." + busy
    )
    if fp32 and fp32.get("gflops") and fp32.get("gflops_batch1") and peak:
        detail += (
            f"; at batch 1 it reaches {fp32['gflops_batch1']:.1f} GFLOP/s "
            f"({fp32['gflops_batch1'] / peak:.0%} of the peak)"
        )
        if fp32["gflops_batch1"] > fp32["gflops"] and busy:
            why += (
                f" Per sample the larger batch ran slower than batch 1 here, a sign of the "
                f"engine's {result['peak']['threads']} threads waiting for each other while "
                "other processes hold a core; `--threads 1` measures without that."
            )
    targets.append(
        _target(
            "ONNX Runtime FP32 GFLOP/s vs measured peak, largest batch",
            value,
            PEAK_SHARE,
            "share",
            True,
            detail,
            why,
            detail if value is None else None,
        )
    )
    return targets


def max_drop_violations(result: dict[str, Any], max_drop: float) -> list[str]:
    """One line per engine losing more than ``max_drop`` accuracy points against FP32."""
    return [
        f"{r['name']} loses {r['drop_points']:.2f} accuracy points against FP32 "
        f"(limit {max_drop:g}, n={result.get('data', {}).get('n')})"
        for r in result["engines"]
        if r["drop_points"] > max_drop + EPS
    ]


# CPU flags with an int8 dot-product instruction (x86 VNNI/AMX, Arm SDOT/I8MM).
_INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


def _int8_dot_words(result: dict[str, Any]) -> str:
    """Say so when the CPU has no int8 dot-product instruction.

    ONNX Runtime's INT8 kernels then multiply-add in several AVX2 steps, little faster than float
    FMA.
    """
    flags = set(result.get("system", {}).get("cpu", {}).get("flags") or ())
    if not flags or flags & set(_INT8_DOT_FLAGS):
        return ""
    return (
        f" This CPU has no int8 dot-product instruction (none of {', '.join(_INT8_DOT_FLAGS)}; "
        f"it has {', '.join(sorted(flags))}), so ONNX Runtime's INT8 kernels take several AVX2 "
        "steps per multiply-add and 7-bit weights to avoid their int16 saturation: INT8 speed-ups "
        "need VNNI (Intel Cascade Lake or later, AMD Zen 4) or a GPU."
    )
