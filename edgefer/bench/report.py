"""What a benchmark run leaves behind, all in one results folder.

A Rich table in the terminal, ``bench.json``, ``bench.md`` and the PNG figures in one results folder
(and ``--json PATH`` wherever asked).

The JSON is the source of truth (``{"system": {...}, "engines": [{"backend", "precision",
"latency_p50_ms", "latency_p99_ms", "throughput", "accuracy", "agreement", "size_mb", "gflops", ...}],
...}``); the Markdown and the figures are drawn from it, so they always agree with it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from edgefer.engines.artifact import atomic_write_text

# (header, key, format) of the engine table; the Markdown table and the terminal share them.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("engine", "name", "{}"),
    ("size MB", "size_mb", "{:.2f}"),
    ("load s", "load_s", "{:.2f}"),
    ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
    ("p50 ms", "latency_p50_ms", "{:.3f}"),
    ("p90 ms", "latency_p90_ms", "{:.3f}"),
    ("p99 ms", "latency_p99_ms", "{:.3f}"),
    ("samples/s @N", "throughput", "{:.0f}"),
    ("GFLOP/s @N", "gflops", "{:.1f}"),
    ("accuracy", "accuracy", "{:.2%}"),
    ("macro-F1", "macro_f1", "{:.3f}"),
    ("agreement", "agreement", "{:.2%}"),
    ("drop pts", "drop_points", "{:+.2f}"),
)


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def _batch(result: dict[str, Any]) -> int:
    return max(result["settings"]["batches"])


def _headers(result: dict[str, Any]) -> list[str]:
    return [h.replace("@N", f"@{_batch(result)}") for h, _, _ in COLUMNS]


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    return [[_cell(row.get(key), fmt) for _, key, fmt in COLUMNS] for row in result["engines"]]


def _target_value(target: dict[str, Any]) -> str:
    if target["value"] is None:
        return f"not measured ({target['detail']})"
    if target["unit"] == "share":
        return f"{target['value']:.1%} (target >= {target['target']:.0%})"
    sign = ">=" if target["unit"] == "x" else "<="
    return f"{target['value']:.2f} {target['unit']} (target {sign} {target['target']:g})"


def _status(target: dict[str, Any]) -> str:
    return {True: "met", False: "MISSED", None: "n/a"}[target["met"]]


def system_line(result: dict[str, Any]) -> str:
    system = result["system"]
    cpu, versions = system["cpu"], system["versions"]
    parts = [
        f"{cpu['model']} ({cpu['usable_cores']} usable cores, {', '.join(cpu['flags']) or 'no SIMD flags'})",
        f"ONNX Runtime {versions.get('onnxruntime') or '-'}",
        f"TensorRT {versions.get('tensorrt') or '-'}",
        f"TensorFlow {versions.get('tensorflow') or '-'}",
        f"GPU {system['gpu']['name'] or 'none'}",
        f"load avg {system.get('load_average_start')} -> {system.get('load_average_end')}",
    ]
    if system.get("jetson"):
        jetson = system["jetson"]
        parts.append(
            f"Jetson {jetson['l4t']}, nvpmodel: {(jetson['nvpmodel'] or '?').splitlines()[0]}"
        )
    return "; ".join(parts)


def print_table(result: dict[str, Any], console: Any) -> None:
    """The engine table, the targets and the notes, on ``console`` (a Rich Console)."""
    from rich.markup import escape
    from rich.table import Table

    data, model = result["data"], result["model"]
    table = Table(
        title=f"edgefer bench: {model['label']} ({model['flops_per_inference'] / 1e6:.1f} MFLOP per "
        f"inference; held-out {data.get('set', 'dataset')} n={data['n']})",
        caption=escape(system_line(result)),
    )
    for header in _headers(result):
        table.add_column(header, justify="left" if header == "engine" else "right")
    for cells in table_rows(result):
        table.add_row(*cells)
    console.print(table)
    for target in result["targets"]:
        colour = {True: "green", False: "red", None: "yellow"}[target["met"]]
        missed = f", missed by {target['missed_by']}" if target["missed_by"] else ""
        console.print(
            f"[{colour}]{_status(target)}[/{colour}] {escape(target['name'])}: "
            f"{escape(_target_value(target))}{escape(missed)}",
            highlight=False,
        )
    for auto in result.get("auto", []):
        console.print(
            f"[cyan]auto[/cyan] ({auto['backend']}): {auto['precision']}: {escape(auto['reason'])}",
            highlight=False,
        )
    peak = result["peak"]
    console.print(
        f"CPU peak (measured): {peak['gflops']:.1f} GFLOP/s, median {peak['gflops_median']:.1f} "
        f"({escape(peak['method'])})",
        highlight=False,
    )
    for note in result.get("notes", []):
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return lines + ["| " + " | ".join(cells) + " |" for cells in rows]


def markdown(result: dict[str, Any], figures: dict[str, str] | None = None) -> str:
    """The whole report: machine, table, targets with misses explained, profile, method, figures."""
    system, data, model, settings = (
        result["system"],
        result["data"],
        result["model"],
        result["settings"],
    )
    cpu, versions, peak = system["cpu"], system["versions"], result["peak"]
    batch = _batch(result)
    lines = [
        f"# edgefer bench: {model['label']}",
        "",
        f"`{result.get('command') or 'edgefer bench ' + str(settings['model'])}`, "
        f"{system['time_utc']}, edgefer {versions['edgefer']}"
        + (f" (commit {system['git_commit']})" if system.get("git_commit") else "")
        + f", {result['seconds']:.0f} s.",
        "",
        f"Model: `{model['onnx']}` (sha256 {model['sha256']}), inputs "
        + ", ".join(f"{n} {tuple(s)}" for n, s in model["inputs"].items())
        + f", {model['flops_per_inference'] / 1e6:.1f} MFLOP per inference "
        f"(2 x MACs of Conv/MatMul counted from the ONNX graph). Keras reference: "
        f"`{model['keras'] or 'none'}`. INT8 calibration: `{model['calibration'] or 'none'}`.",
        "",
        f"Held-out set ({data.get('set', 'dataset')}): n={data['n']} ({data['description']}; "
        + ", ".join(f"{c} {k}" for c, k in data["class_counts"].items())
        + (f"; {data['per_class']} per class" if data["per_class"] else "; all")
        + ").",
        "",
        "## Machine",
        "",
        f"- CPU: {cpu['model']}, {cpu['architecture']}, {cpu['usable_cores']} usable / "
        f"{cpu['logical_cores']} logical / {cpu['physical_cores']} physical cores, "
        f"{cpu['mhz'] or '?'} MHz, flags {', '.join(cpu['flags']) or '-'}, governor {cpu['governor'] or '-'}",
        f"- Memory: {system['memory_gb']} GB; OS {system['os']}",
        f"- Load average (1, 5, 15 min): {system.get('load_average_start')} at the start, "
        f"{system.get('load_average_end')} at the end",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v),
        f"- ONNX Runtime providers: {', '.join(system.get('ort_providers') or []) or '-'}",
        f"- GPU: {system['gpu']['name'] or 'none'}"
        + (f" (compute {system['gpu']['compute_capability']})" if system["gpu"]["name"] else ""),
    ]
    if system.get("jetson"):
        jetson = system["jetson"]
        lines += [
            f"- Jetson: {jetson['l4t']}",
            f"- nvpmodel: {(jetson['nvpmodel'] or 'unavailable').replace(chr(10), '; ')}",
            f"- jetson_clocks: {(jetson['jetson_clocks'] or 'unavailable').replace(chr(10), '; ')}",
        ]
    lines += ["", "## Engines", ""]
    lines += _md_table(_headers(result), table_rows(result))
    lines += [
        "",
        f"Latency: batch 1, after warm-up, {settings['rounds']} interleaved rounds (n per engine in "
        "the JSON and the figure). Throughput: samples/s from the median call time at batch "
        f"{batch}. GFLOP/s: FLOPs per inference x throughput at batch {batch}. Load time and peak "
        "RSS: "
        + (
            "measured in a fresh process per engine (see Method)."
            if settings["fresh_process"]
            else "in this process (no fresh processes requested)."
        )
        + " Agreement: argmax agreement with the ONNX Runtime FP32 engine; drop: its accuracy "
        "minus this engine's, in points.",
        "",
        "## Ratios and targets",
        "",
    ]
    rows = [
        [t["name"], _target_value(t), _status(t), t["missed_by"] or "-"] for t in result["targets"]
    ]
    lines += _md_table(["target", "measured", "status", "missed by"], rows)
    lines.append("")
    for auto in result.get("auto", []):
        lines.append(
            f"- **--precision auto** ({auto['backend']}, floor {auto['max_drop']:g} points): "
            f"picks {auto['precision']}: {auto['reason']}."
        )
    for target in result["targets"]:
        lines.append(f"- **{target['name']}**: {target['detail']}.")
        if target["why"]:
            lines.append(f"  - Why it is missed: {target['why']}")
    lines += ["", *_more_ratios(result), ""]
    lines += _profile_section(result)
    lines += [
        "## Method",
        "",
        f"- Every timed task (each engine at batch 1 and at batch {batch}, and the peak matmul) runs a "
        f"few calls per round for {settings['rounds']} rounds, the starting task rotating each round, "
        "so drift of the machine's speed hits all engines alike; each task is capped at "
        f"{settings['budget_s']:g} s of timed calls (slow engines get fewer samples, up to "
        f"{settings['iterations']} at batch 1).",
        f"- CPU peak: {peak['gflops']:.1f} GFLOP/s, the {peak['method']} ({peak['n']} calls, median "
        f"{peak['gflops_median']:.1f}); noise only adds time, so the fastest call estimates the "
        "hardware and an engine's median against it is a conservative share.",
        "- Load time and peak RSS: a fresh Python process per engine file imports the runtime, loads "
        f"the engine (load s), runs batch {batch} six times and reports its high-water RSS "
        "(VmHWM); the JSON also has the import time and the RSS the engine adds over the bare runtime.",
        "- Accuracy and macro-F1: on the held-out set above, batch 64 (Keras: predict_on_batch, "
        "whose outputs equal predict's).",
        "",
    ]
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{name}]({file})" for name, file in figures.items()]
        lines.append("")
    if result.get("notes"):
        lines += ["## Notes", ""] + [f"- {note}" for note in result["notes"]] + [""]
    return "\n".join(lines)


def _speed(ratio: float | None) -> str:
    """A speed ratio with the digits a small one needs (Keras predict is ~0.002x)."""
    if ratio is None:
        return "-"
    return f"{ratio:.3f}x" if ratio < 0.1 else f"{ratio:.2f}x"


def _more_ratios(result: dict[str, Any]) -> list[str]:
    """Ratios beside the targets: every engine against ONNX Runtime FP32, at batch 1 and N."""
    base = next((r for r in result["engines"] if r["name"] == "onnxruntime-fp32"), None)
    if base is None or not base.get("latency_p50_ms"):
        return []
    batch = _batch(result)
    rows = []
    for row in result["engines"]:
        speed1 = (
            base["latency_p50_ms"] / row["latency_p50_ms"] if row.get("latency_p50_ms") else None
        )
        speedn = (
            row["throughput"] / base["throughput"]
            if row.get("throughput") and base.get("throughput")
            else None
        )
        rows.append([row["name"], _speed(speed1), _speed(speedn)])
    return [
        "Speed of every engine relative to ONNX Runtime FP32 (above 1 = faster):",
        "",
        *_md_table(["engine", "batch 1 (p50)", f"batch {batch} (throughput)"], rows),
    ]


def _profile_section(result: dict[str, Any]) -> list[str]:
    rows = []
    for row in result["engines"]:
        for batch, prof in (row.get("profile") or {}).items():
            if not prof.get("runs"):
                continue
            top = ", ".join(f"{op} {us:.0f}" for op, us in list(prof["op_us"].items())[:4])
            rows.append(
                [
                    row["name"],
                    batch,
                    str(prof["nodes"]),
                    f"{prof['run_us']:.0f}",
                    f"{prof['kernel_us']:.0f}",
                    f"{prof['overhead_us']:.0f}",
                    top,
                ]
            )
    if not rows:
        return []
    return [
        "## Where the time goes (ONNX Runtime profiler, us per call, median)",
        "",
        *_md_table(
            [
                "engine",
                "batch",
                "kernels",
                "call",
                "in kernels",
                "outside kernels",
                "top op types (us)",
            ],
            rows,
        ),
        "",
        "Profiling adds a little to every call; these figures explain the ratios, the table above "
        "measures them.",
        "",
    ]


def _compact(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON to write: raw latencies rounded to 0.1 us so the file stays small."""
    out = dict(result)
    out["latency_ms"] = {k: [round(v, 4) for v in vs] for k, vs in result["latency_ms"].items()}
    return out


def write_json(result: dict[str, Any], path: Path) -> Path:
    atomic_write_text(
        path, json.dumps(_compact(result), indent=1, sort_keys=False, default=str) + "\n"
    )
    return path


def redraw(folder: Path) -> list[Path]:
    """Rewrite ``bench.md`` and the figures of a results folder from its ``bench.json``.

    This is for after a change to the report's layout, without re-measuring.
    """
    result = json.loads((Path(folder) / "bench.json").read_text())
    return write_all(result, Path(folder))


def write_all(result: dict[str, Any], out_dir: Path, json_path: Path | None = None) -> list[Path]:
    """Write ``bench.json``, ``bench.md`` and the figures to ``out_dir``; return the paths written.

    The figures are ``latency.png`` and ``accuracy_latency.png``; the JSON is also written at
    ``json_path`` when given.
    """
    from edgefer.bench.plots import accuracy_latency_plot, latency_plot
    from edgefer.engines.artifact import ensure_writable

    ensure_writable(out_dir)
    if json_path is not None:
        ensure_writable(json_path.parent)
    figures = {
        "latency per engine": latency_plot(result, out_dir / "latency.png").name,
        "accuracy vs latency": accuracy_latency_plot(result, out_dir / "accuracy_latency.png").name,
    }
    written = [out_dir / name for name in figures.values()]
    written.append(write_json(result, out_dir / "bench.json"))
    md = out_dir / "bench.md"
    atomic_write_text(md, markdown(result, figures))
    written.append(md)
    if json_path is not None:
        written.append(write_json(result, json_path))
    return written


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:]:
        print("\n".join(str(p) for p in redraw(Path(name))))
