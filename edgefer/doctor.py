"""``edgefer doctor``: what this machine can run, in one table.

Answers the first questions of a deployment: which backends import, which versions, which face
detector the live loop will use, whether the Haar cascade, the data and microphones are there, whether
a GPU is visible. Imports each package lazily and reports
failures instead of raising, so it works on a Jetson without TensorFlow.
"""

from __future__ import annotations

import platform
from pathlib import Path

from edgefer import __version__
from edgefer.paths import data_root
from edgefer.platform_info import gpu_identity, package_version

# (module, distributions that provide it, extra that installs it)
PACKAGES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("numpy", ("numpy",), "core"),
    ("cv2", ("opencv-python", "opencv-python-headless", "opencv-contrib-python"), "core"),
    ("librosa", ("librosa",), "core"),
    ("soundfile", ("soundfile",), "core"),
    ("av", ("av",), "core"),
    ("onnx", ("onnx",), "core"),
    ("onnxruntime", ("onnxruntime", "onnxruntime-gpu"), "cpu"),
    ("tensorflow", ("tensorflow-cpu", "tensorflow"), "train"),
    ("keras", ("keras",), "train"),
    ("tf2onnx", ("tf2onnx",), "train"),
    ("tensorrt", ("tensorrt", "tensorrt-cu12", "tensorrt-libs"), "trt"),
    ("cuda", ("cuda-python", "cuda-bindings"), "trt"),
    ("pycuda", ("pycuda",), "trt"),
    ("sounddevice", ("sounddevice",), "live"),
)


def haar_cascade_path() -> Path | None:
    try:
        import cv2
    except ImportError:
        return None
    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    return path if path.is_file() else None


def gpu_detail() -> str | None:
    """The GPU and its compute capability, or None on a machine without one.

    Named as the engine cache key and a TensorRT plan's sidecar name it (so a plan refused for its
    ``gpu_name`` can be compared with this line).
    """
    gpu = gpu_identity()
    return None if gpu is None else f"{gpu.name} (compute capability {gpu.compute_capability})"


def microphone_rows() -> list[tuple[str, str, str]]:
    """One row per input device with its native rate, or one row saying why there are none.

    The native rate is the rate the live loop opens it at when it refuses 16 kHz; the row for no
    devices is named ``microphones``. Never raises: a machine without sounddevice or the PortAudio
    library (an OSError on import) still gets its table.
    """
    try:
        import sounddevice  # noqa: F401  (the import alone tells package from library problems)
    except ImportError:
        return [("microphones", "missing", "sounddevice missing: pip install 'edgefer[live]'")]
    except OSError as exc:
        detail = f"PortAudio library missing ({exc}): apt install libportaudio2"
        return [("microphones", "missing", detail)]
    except Exception as exc:  # a broken install must not end the doctor either
        return [("microphones", "error", f"sounddevice fails to import: {exc}")]
    try:
        from edgefer.live.mic_devices import input_devices

        devices = input_devices()
    except Exception as exc:  # PortAudio failing to list devices must not end the doctor
        return [("microphones", "error", f"cannot list input devices: {exc}")]
    if not devices:
        return [("microphones", "none", "none found")]
    return [
        (f"microphone {d.index}", "ok", d.details() + (", default" if d.is_default else ""))
        for d in devices
    ]


def detector_row() -> tuple[str, str, str]:
    """The live loop's default face detector, loaded as ``edgefer run`` would load it.

    A missing or corrupt shipped model (or an OpenCV without ``FaceDetectorYN``) thus shows here
    first.
    """
    try:
        from edgefer.live.detect import make_detector

        detector = make_detector("yunet")
    except Exception as exc:  # the doctor reports, never raises
        return ("face detector", "missing", f"{exc} (--detector haar still works)")
    return ("face detector", "ok", f"{detector.describe()}; --detector haar|PATH.onnx")


def report() -> list[tuple[str, str, str]]:
    """Rows of (item, status, detail)."""
    rows = [
        ("edgefer", "ok", __version__),
        ("python", "ok", f"{platform.python_version()} ({platform.machine()})"),
    ]
    for module, distributions, extra in PACKAGES:
        version = package_version(module, distributions)
        hint = f"pip install 'edgefer[{extra}]'" if extra != "core" else "reinstall edgefer"
        rows.append((module, "ok" if version else "missing", version or hint))
    cascade = haar_cascade_path()
    rows.append(
        (
            "haar cascade",
            "ok" if cascade else "missing",
            str(cascade) if cascade else "needs opencv-python < 5",
        )
    )
    rows.append(detector_row())
    data = data_root(required=False)
    rows.append(("data", "ok" if data.is_dir() else "missing", str(data)))
    gpu = gpu_detail()
    rows.append(("gpu", "ok" if gpu else "none", gpu or "CPU only (ONNX Runtime CPU backend)"))
    rows.extend(microphone_rows())
    return rows
