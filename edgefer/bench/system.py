"""What machine a benchmark ran on, recorded with every result.

A latency means nothing without the CPU, its cores, the runtime versions and, on a Jetson, the power
mode and clock state (``nvpmodel``/``jetson_clocks`` change speeds several-fold). The load average is
read at the start and the end of a run: a busy machine explains noisy numbers. Everything is read from
``/proc``, ``/sys``, package metadata and short commands with a timeout; nothing here imports
TensorFlow, and a missing source is recorded as ``None`` rather than failing the benchmark.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgefer import __version__
from edgefer.paths import REPO_ROOT

# CPU flags that decide which kernels ONNX Runtime and oneDNN pick (FP32 FMA, INT8 dot products).
_FLAGS = ("fma", "avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "asimd")
_FLAGS_ARM = ("asimddp", "i8mm", "fphp", "asimdhp")


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return None


def _command(args: list[str], timeout: float = 5.0) -> str | None:
    """First lines of a command's output, or None when it is absent or fails."""
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (done.stdout or done.stderr).strip()
    return "\n".join(text.splitlines()[:12]) or None


def cpu_info() -> dict[str, Any]:
    """CPU model, logical/usable/physical cores and the relevant SIMD flags (from /proc/cpuinfo)."""
    text = _read("/proc/cpuinfo") or ""
    fields: dict[str, str] = {}
    cores: set[tuple[str, str]] = set()
    physical = core = ""
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        fields.setdefault(key, value)
        if key == "physical id":
            physical = value
        elif key == "core id":
            core = value
            cores.add((physical, core))
        elif key in ("flags", "Features"):
            flags.update(value.split())
    model = fields.get("model name") or fields.get("Hardware") or fields.get("Model")
    device_model = (_read("/proc/device-tree/model") or "").strip("\x00\n ") or None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return {
        "model": model or device_model or platform.processor() or platform.machine(),
        "device_model": device_model,
        "architecture": platform.machine(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "physical_cores": len(cores) or None,
        "mhz": float(fields["cpu MHz"]) if "cpu MHz" in fields else None,
        "flags": sorted(f for f in (*_FLAGS, *_FLAGS_ARM) if f in flags),
        "governor": (_read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") or "").strip()
        or None,
    }


def memory_total_gb() -> float | None:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024**2, 1)
    return None


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def versions() -> dict[str, str | None]:
    """Runtime and library versions from package metadata (no TensorFlow import)."""
    import numpy as np

    from edgefer.platform_info import package_version

    blas = None
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {}).get("name")
    except Exception:  # older NumPy: no dict mode; the BLAS name is only informative
        blas = None
    return {
        "edgefer": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": blas,
        "onnx": package_version("onnx", ("onnx",)),
        "onnxruntime": package_version(
            "onnxruntime", ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml")
        ),
        "tensorrt": package_version("tensorrt", ("tensorrt", "tensorrt-cu12", "tensorrt-libs")),
        "tensorflow": package_version("tensorflow", ("tensorflow", "tensorflow-cpu")),
        "keras": package_version("keras", ("keras",)),
    }


def ort_providers() -> list[str] | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    return list(onnxruntime.get_available_providers())


def jetson_info() -> dict[str, Any] | None:
    """L4T release, power mode and clock state on a Jetson; None elsewhere."""
    release = _read("/etc/nv_tegra_release")
    if release is None:
        return None
    return {
        "l4t": release.strip().splitlines()[0] if release.strip() else None,
        "nvpmodel": _command(["nvpmodel", "-q"]),
        "jetson_clocks": _command(["jetson_clocks", "--show"]),
    }


def git_commit() -> str | None:
    if not (REPO_ROOT / ".git").exists():
        return None
    out = _command(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"])
    return out.splitlines()[0] if out else None


def system_info() -> dict[str, Any]:
    """Everything above in one JSON-ready dict."""
    from edgefer.platform_info import gpu_identity

    gpu = gpu_identity()  # the name and capability engine sidecars record for it
    return {
        "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu": cpu_info(),
        "memory_gb": memory_total_gb(),
        "load_average_start": load_average(),
        "versions": versions(),
        "ort_providers": ort_providers(),
        "gpu": {
            "name": gpu.name if gpu else None,
            "compute_capability": gpu.compute_capability if gpu else None,
        },
        "jetson": jetson_info(),
        "git_commit": git_commit(),
    }
