"""One GPU identity everywhere: the engine cache key, the TensorRT plan's sidecar, the buffers,
``doctor``, the benchmarks' machine record and ``--precision auto`` name a GPU alike.

The CUDA bindings are the stand-ins of ``tests/engines/fake_cuda.py`` (cuda-python and pycuda),
and ``nvidia-smi`` is a shell script put on PATH that answers as the real one does, so each test
decides which of them this "machine" has. A machine's real binding or ``nvidia-smi`` is hidden.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from edgefer.engines.artifact import cache_key, read_sidecar
from edgefer.platform_info import GpuIdentity, gpu_identity, has_gpu
from tests.engines.fake_cuda import FakeDevice, install_cuda, install_pycuda
from tests.engines.fake_tensorrt import install

BINDING_MODULES = (
    "cuda",
    "cuda.bindings",
    "cuda.bindings.runtime",
    "cuda.cudart",
    "pycuda",
    "pycuda.driver",
)
# What build_engine hashes into a TensorRT engine's cache key (all of them land in its sidecar).
KEY_FIELDS = (
    "source_onnx_sha256",
    "precision",
    "backend",
    "runtime_version",
    "calibration_digest",
    "recipe",
    "gpu",
    "tensorrt",
)


def _no_bindings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither cuda-python nor pycuda imports (a ``None`` in sys.modules is an ImportError)."""
    for name in BINDING_MODULES:
        monkeypatch.setitem(sys.modules, name, None)


def _path_with_smi(
    monkeypatch: pytest.MonkeyPatch, folder: Path, *lines: str, status: int = 0
) -> Path:
    """An ``nvidia-smi`` in ``folder``, first on PATH, printing ``lines`` for the query edgefer
    makes (another query is an error) and touching ``folder/asked`` when run. Returns the mark."""
    folder.mkdir()
    mark = folder / "asked"
    echo = "".join(f"    echo '{line}'\n" for line in lines)
    script = folder / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        f": > '{mark}'\n"
        'case "$*" in\n'
        "  *--query-gpu=name,compute_cap*--format=csv,noheader*)\n"
        f"{echo}    exit {status} ;;\n"
        "  *) echo 'unexpected query' >&2; exit 9 ;;\n"
        "esac\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return mark


def _path_without_smi(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))  # nothing else: a real nvidia-smi is hidden too


def _everyone(index: int = 0) -> dict[str, object]:
    """How each caller names the GPU here."""
    from edgefer.bench.system import system_info
    from edgefer.doctor import report
    from edgefer.engines.auto_precision import machine_identity

    rows = {item: (status, detail) for item, status, detail in report()}
    return {
        "identity": gpu_identity(index),
        "doctor": rows["gpu"],
        "bench": system_info()["gpu"],
        "auto": machine_identity("tensorrt")["gpu"],
        "has_gpu": has_gpu(),
    }


@pytest.mark.parametrize("binding", ["cuda-python", "pycuda"])
def test_the_binding_names_the_gpu_even_where_nvidia_smi_says_otherwise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, binding: str
) -> None:
    from edgefer.engines.gpu_buffers import make_buffers

    device = FakeDevice(name="NVIDIA H200", compute_capability=(9, 0))
    (install_pycuda if binding == "pycuda" else install_cuda)(monkeypatch, device)
    mark = _path_with_smi(monkeypatch, tmp_path / "bin", "Another GPU, 1.0")
    h200 = GpuIdentity("NVIDIA H200", "9.0")  # cuda-python's name is NUL-padded bytes: stripped

    seen = _everyone()
    assert seen == {
        "identity": h200,
        "doctor": ("ok", "NVIDIA H200 (compute capability 9.0)"),
        "bench": {"name": "NVIDIA H200", "compute_capability": "9.0"},
        "auto": ["NVIDIA H200", "9.0"],
        "has_gpu": True,
    }
    assert not mark.exists()  # a binding answered: nvidia-smi is never asked
    buffers = make_buffers()
    try:
        assert buffers.backend == binding and buffers.device_info() == h200
    finally:
        buffers.free()


@pytest.fixture(scope="module")
def middle_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped middle-fusion export, copied so builds can write beside it."""
    from edgefer.shipped import shipped_path

    target = tmp_path_factory.mktemp("middle") / "middle.onnx"
    target.write_bytes(shipped_path("middle", ".onnx").read_bytes())
    return target


@pytest.mark.parametrize("binding", ["cuda-python", "pycuda"])
def test_cache_key_and_sidecar_name_the_bindings_gpu_on_a_jetson_without_nvidia_smi(
    monkeypatch: pytest.MonkeyPatch, middle_copy: Path, tmp_path: Path, binding: str
) -> None:
    """Defect: the key asked nvidia-smi (absent on a Jetson: None) while the sidecar asked CUDA
    ("Orin"), so the key did not tell the plans of two GPUs apart."""
    from edgefer.engines.build import build_engine
    from edgefer.engines.open import runtime_version
    from edgefer.engines.tensorrt import open_trt_engine

    _path_without_smi(monkeypatch, tmp_path / "bin")
    orin = FakeDevice(name="Orin", compute_capability=(8, 7))
    install(monkeypatch, "10", device=orin, binding=binding)
    built = build_engine(
        middle_copy, "fp32", "tensorrt", engines_dir=tmp_path, heldout_per_class=2, max_drop=100
    )
    side = read_sidecar(built.path)
    assert side["gpu"] == ["Orin", "8.7"]  # the key's GPU field, as the sidecar records it
    assert (side["gpu_name"], side["compute_capability"]) == ("Orin", "8.7")
    key_fields = {k: side[k] for k in KEY_FIELDS}
    # One TensorRT identity too: the key's version is the module's own, as the sidecar records it
    # (the stand-in, like a JetPack install, has no package metadata).
    assert runtime_version("tensorrt") == side["runtime_version"]
    assert cache_key(key_fields) == built.cache_key == side["cache_key"]
    with open_trt_engine(built.path) as engine:  # the load-time check agrees with the build's
        assert engine.sidecar["gpu_name"] == "Orin"

    other = FakeDevice(name="NVIDIA GeForce RTX 3060", compute_capability=(8, 6))
    install(monkeypatch, "10", device=other, binding=binding)
    again = build_engine(
        middle_copy, "fp32", "tensorrt", engines_dir=tmp_path, heldout_per_class=2, max_drop=100
    )
    assert not again.cached and again.cache_key != built.cache_key  # another GPU, another plan
    second = read_sidecar(again.path)
    assert second["gpu"] == ["NVIDIA GeForce RTX 3060", "8.6"]
    assert second["gpu_name"] == "NVIDIA GeForce RTX 3060"


def test_without_a_binding_nvidia_smi_names_the_gpu(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_bindings(monkeypatch)
    mark = _path_with_smi(
        monkeypatch, tmp_path / "bin", "NVIDIA H200, 9.0", "NVIDIA A100-SXM4-80GB, 8.0"
    )
    assert _everyone() == {
        "identity": GpuIdentity("NVIDIA H200", "9.0"),
        "doctor": ("ok", "NVIDIA H200 (compute capability 9.0)"),
        "bench": {"name": "NVIDIA H200", "compute_capability": "9.0"},
        "auto": ["NVIDIA H200", "9.0"],
        "has_gpu": True,
    }
    assert mark.exists()
    assert gpu_identity(1) == GpuIdentity("NVIDIA A100-SXM4-80GB", "8.0")
    assert gpu_identity(2) is None


def test_with_neither_a_binding_nor_nvidia_smi_there_is_no_gpu(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_bindings(monkeypatch)
    _path_without_smi(monkeypatch, tmp_path / "bin")
    assert _everyone() == {
        "identity": None,
        "doctor": ("none", "CPU only (ONNX Runtime CPU backend)"),
        "bench": {"name": None, "compute_capability": None},
        "auto": [None, None],
        "has_gpu": Path("/etc/nv_tegra_release").is_file(),  # a Jetson counts even so
    }


def test_a_failing_nvidia_smi_is_no_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_bindings(monkeypatch)
    mark = _path_with_smi(monkeypatch, tmp_path / "bin", "NVIDIA-SMI has failed", status=9)
    assert gpu_identity() is None and mark.exists()


@pytest.mark.parametrize("binding", ["cuda-python", "pycuda"])
def test_a_binding_that_cannot_reach_the_device_means_no_gpu_not_nvidia_smis(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, binding: str
) -> None:
    """TensorRT would use that binding, so what nvidia-smi sees is no GPU for a plan."""
    (install_pycuda if binding == "pycuda" else install_cuda)(monkeypatch, FakeDevice())
    mark = _path_with_smi(monkeypatch, tmp_path / "bin", "NVIDIA H200, 9.0", "NVIDIA H200, 9.0")
    assert gpu_identity(0) == GpuIdentity("Fake Orin (stand-in)", "8.7")
    assert gpu_identity(1) is None  # the stand-ins have one device: index 1 is a CUDA error
    assert not mark.exists()


def test_the_sidecar_fields_keep_their_names() -> None:
    """Sidecars written before this identity existed must still load: same keys, same text."""
    orin = GpuIdentity("Orin", "8.7")
    assert orin.sidecar_fields() == {"gpu_name": "Orin", "compute_capability": "8.7"}
    assert orin.as_list() == ["Orin", "8.7"]
