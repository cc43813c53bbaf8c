"""What this machine has, asked without importing heavy packages: installed package versions (from
their metadata) and the NVIDIA GPU (from ``nvidia-smi``). ``doctor``, the engine builder's cache key,
``--precision auto`` and the benchmarks' machine record all ask here, so they agree."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
from pathlib import Path


def package_version(module: str, distributions: tuple[str, ...]) -> str | None:
    """Version of an installed module, or None. Reads package metadata instead of importing, so the
    doctor stays fast and quiet (importing TensorFlow takes seconds and logs to stderr)."""
    if module == "tensorrt":  # tensorrt-stubs leave an importable folder of .pyi files
        from edgefer.engines.trt_module import tensorrt_installed

        if not tensorrt_installed():
            return None
    elif importlib.util.find_spec(module) is None:
        return None
    for dist in distributions:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "installed (JetPack or source build)"


def gpu_info() -> tuple[str | None, str | None]:
    """(GPU name, compute capability) from ``nvidia-smi``, or (None, None) on a CPU machine."""
    if shutil.which("nvidia-smi") is None:
        return None, None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    name, _, cap = out.splitlines()[0].partition(",") if out else ("", "", "")
    return name.strip() or None, cap.strip() or None


def has_gpu() -> bool:
    return gpu_info()[0] is not None or Path("/etc/nv_tegra_release").is_file()
