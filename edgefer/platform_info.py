"""What this machine has, asked without importing heavy packages.

Installed package versions (from their metadata), the NVIDIA GPU and whether it is a Jetson (L4T's
release file or the device tree). ``doctor``, the engine builder's cache key and workspace default,
the TensorRT plan's sidecar, ``--precision auto`` and the benchmarks' machine record all ask here,
so they agree.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
from pathlib import Path

from edgefer.device_identity import GpuIdentity

__all__ = ["GpuIdentity", "gpu_identity", "has_gpu", "is_jetson", "package_version"]


def package_version(module: str, distributions: tuple[str, ...]) -> str | None:
    """Version of an installed module, or None.

    Reads package metadata instead of importing, so the doctor stays fast and quiet (importing
    TensorFlow takes seconds and logs to stderr).
    """
    if module == "tensorrt":  # tensorrt-stubs leave an importable folder of .pyi files
        from edgefer.engines.trt_module import tensorrt_installed

        if not tensorrt_installed():
            return None
    else:
        try:
            if importlib.util.find_spec(module) is None:
                return None
        except ValueError:  # already imported without a spec (a stand-in, a frozen module): here
            pass
    for dist in distributions:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "installed (JetPack or source build)"


def gpu_identity(index: int = 0) -> GpuIdentity | None:
    """The CUDA device ``index`` as CUDA numbers it, or None when this machine has no usable GPU.

    Asked through the CUDA binding the TensorRT runner itself would use (cuda-python, else pycuda),
    because that is what a plan's sidecar records: the cache key then names the GPU exactly as the
    sidecar does, also on a Jetson, which has no ``nvidia-smi``. A binding that imports but cannot
    reach a GPU (no driver, no device, a driver older than the binding) means no GPU for TensorRT,
    so None. Only when no binding imports at all is ``nvidia-smi`` asked, so that ``doctor`` still
    names the GPU of a machine without cuda-python. Never raises; the bindings are imported here,
    not with this module.
    """
    from edgefer.engines.gpu_buffers import NoCudaBindingError, binding_identity

    try:
        return binding_identity(index)
    except NoCudaBindingError:
        return _nvidia_smi_identity(index)
    except Exception:  # whatever a binding raises when it cannot reach a GPU: none usable here
        return None


def _nvidia_smi_identity(index: int) -> GpuIdentity | None:
    """GPU ``index`` from ``nvidia-smi``, or None when it is absent, fails or lists no such GPU.

    The index is nvidia-smi's own numbering: by PCI bus, as CUDA's default is not.
    """
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [line for line in out.splitlines() if line.strip()]
    if index >= len(lines):
        return None
    name, _, cap = lines[index].partition(",")
    if not name.strip() or not cap.strip():
        return None
    return GpuIdentity(name.strip(), cap.strip())


def has_gpu() -> bool:
    """A GPU CUDA can use here, or a Jetson (whose GPU a missing binding may hide)."""
    return gpu_identity() is not None or Path("/etc/nv_tegra_release").is_file()


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
