"""Finding the real ``tensorrt`` module, and the part of it edgefer calls, typed.

Two reasons this is its own module. First, "is TensorRT installed" is not ``find_spec("tensorrt")``:
the ``tensorrt-stubs`` package (for mypy) installs a ``tensorrt/`` folder of ``.pyi`` files, which
Python imports as an empty namespace package, and a JetPack or pip TensorRT has ``__init__.py``
and ``__version__``. Second, :class:`TensorRT` names every attribute of the module edgefer uses,
typed from the 10.x stubs, so ``import_tensorrt()`` returns something mypy can check each call on
(a misspelt method or a wrong argument fails ``mypy edgefer/engines``).

TensorRT wants one logger for the whole process (a builder or runtime made with another logger
warns and logs through the first), so :func:`trt_logger` keeps one per imported module.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING, Any, Protocol

from edgefer.errors import EdgeferError

if TYPE_CHECKING:
    import tensorrt

INSTALL_HINT = (
    "TensorRT is not installed here: use the onnxruntime backend, or install it "
    "(JetPack ships it; on desktop pip install 'edgefer[trt]' from NVIDIA's index)"
)


class TensorRT(Protocol):
    """The ``tensorrt`` module as edgefer uses it (8.5-11; typed by the 10.x stubs).

    Version differences stay in :mod:`edgefer.engines.trt_versions`: ``BuilderFlag.FP16/INT8``,
    ``IInt8EntropyCalibrator2``, ``IBuilderConfig.int8_calibrator`` and ``set_calibration_profile``
    exist in 8.5-10 and not in 11, ``NetworkDefinitionCreationFlag.EXPLICIT_BATCH`` is needed in
    8.x and ignored from 10. Everything else used here has the same name and arguments from 8.5
    (``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``, the ``get_tensor_*``
    queries, ``set_memory_pool_limit``) to 11.
    """

    Builder: type[tensorrt.Builder]
    Logger: type[tensorrt.Logger]
    OnnxParser: type[tensorrt.OnnxParser]
    Runtime: type[tensorrt.Runtime]
    Dims: type[tensorrt.Dims]
    BuilderFlag: type[tensorrt.BuilderFlag]
    NetworkDefinitionCreationFlag: type[tensorrt.NetworkDefinitionCreationFlag]
    MemoryPoolType: type[tensorrt.MemoryPoolType]
    TensorIOMode: type[tensorrt.TensorIOMode]

    def nptype(self, trt_type: tensorrt.DataType) -> Any: ...


def tensorrt_installed() -> bool:
    """True when a real TensorRT imports here (not the stubs' namespace folder); imports nothing."""
    loaded = sys.modules.get("tensorrt")
    if loaded is not None:
        return hasattr(loaded, "__version__")
    try:
        spec = importlib.util.find_spec("tensorrt")
    except (ImportError, ValueError):
        return False
    # A folder of .pyi files is a namespace package: no origin (3.7+; "namespace" before).
    return spec is not None and spec.origin not in (None, "namespace")


def import_tensorrt() -> TensorRT:
    """The ``tensorrt`` module, or an :class:`EdgeferError` saying how to get it."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise EdgeferError(INSTALL_HINT) from exc
    if not hasattr(trt, "__version__"):  # the stubs' .pyi folder, imported as a namespace
        raise EdgeferError(INSTALL_HINT + "; only its type stubs are")
    return trt


def tensorrt_version(trt: TensorRT) -> str:
    """``tensorrt.__version__`` (a module dunder, which a Protocol cannot declare for mypy)."""
    return str(getattr(trt, "__version__", "unknown"))


_LOGGERS: list[tuple[TensorRT, tensorrt.Logger]] = []


def trt_logger(trt: TensorRT) -> tensorrt.Logger:
    """The one ``tensorrt.Logger`` of this process (at WARNING) for this module."""
    for module, logger in _LOGGERS:
        if module is trt:
            return logger
    logger = trt.Logger(trt.Logger.WARNING)
    _LOGGERS.append((trt, logger))
    return logger


def builder_flag(trt: TensorRT, name: str, why: str) -> tensorrt.BuilderFlag:
    """``trt.BuilderFlag.<name>``, or one line naming the flag and the version that lacks it."""
    flag = trt.BuilderFlag.__members__.get(name)
    if flag is None:
        raise EdgeferError(
            f"TensorRT {tensorrt_version(trt)} has no builder flag {name}, which {why} needs; "
            "build the fp16 or Q/DQ int8 ONNX, which carries its precision itself"
        )
    return flag


def network_flag(trt: TensorRT, name: str) -> tensorrt.NetworkDefinitionCreationFlag:
    """``trt.NetworkDefinitionCreationFlag.<name>``, or one line naming what is missing."""
    flag = trt.NetworkDefinitionCreationFlag.__members__.get(name)
    if flag is None:
        raise EdgeferError(
            f"TensorRT {tensorrt_version(trt)} has no network flag {name}; "
            "edgefer supports TensorRT 8.5 to 11"
        )
    return flag
