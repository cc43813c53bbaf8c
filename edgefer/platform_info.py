"""What this machine has, asked without importing heavy packages: installed package versions (from
their metadata), the NVIDIA GPU (from ``nvidia-smi``) and whether it is a Jetson (L4T's release
file or the device tree). ``doctor``, the engine builder's cache key and workspace default,
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


def is_jetson(
    release_file: str | Path = "/etc/nv_tegra_release",
    model_file: str | Path = "/proc/device-tree/model",
) -> bool:
    """True on a Jetson (L4T release file present, or a device-tree model naming Jetson/Tegra)."""
    if Path(release_file).is_file():
        return True
    try:
        model = Path(model_file).read_bytes().decode(errors="replace").lower()
    except OSError:
        return False
    return "jetson" in model or "tegra" in model
