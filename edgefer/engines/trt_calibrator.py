"""The legacy INT8 entropy calibrator for TensorRT 8.5-10, fed by edgefer's calibration sets.

TensorRT 11 removed calibrators (INT8 comes from a Q/DQ ONNX there); 8.5-10 keep them, and the
builder may offer one. The batching and the cache live in :class:`CalibrationFeeder`, plain Python
tested without TensorRT; the ``IInt8EntropyCalibrator2`` subclass is defined inside
:func:`make_entropy_calibrator` (``tensorrt`` is imported only there) and only forwards
TensorRT's four calls to a feeder.

The cache file is named after the calibration set's digest (and the source model's hash), and
carries them in a one-line header as well, so a cache made from other data or another model is
never fed back to TensorRT: that would silently give the engine scales from the wrong images.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edgefer.engines.artifact import atomic_write_bytes
from edgefer.errors import EdgeferError

if TYPE_CHECKING:
    import tensorrt

    from edgefer.engines.base import TensorSpec
    from edgefer.engines.gpu_buffers import DeviceBuffers

_MAGIC = b"edgefer-trt-calibration-cache v1"


class CalibrationSetLike(Protocol):
    """What the feeder needs of :class:`edgefer.calibration.CalibrationSet`."""

    digest: str

    def __len__(self) -> int: ...

    def batches(
        self, batch_size: int, names: Sequence[str] | None = None
    ) -> Iterator[dict[str, np.ndarray]]: ...

    def check_fits(self, input_specs: dict[str, TensorSpec], min_samples: int) -> None: ...


class CalibrationFeeder:
    """Full batches of the calibration set, in the set's order, then ``None``; and the cache.

    Parameters
    ----------
    calibration_set : a calibration set (``.digest``, ``len()``, ``.batches(batch_size, names)``)
    input_names : the network inputs TensorRT asks for, e.g. ("face", "voice")
    batch_size : samples per batch; a tail shorter than this is dropped (TensorRT needs full ones)
    cache_dir : folder of the cache file ``trt-calib-<digest>[-<model>].cache``
    model_key : the source ONNX hash; the cached scales belong to that network's tensors
    """

    def __init__(
        self,
        calibration_set: CalibrationSetLike,
        input_names: Sequence[str],
        batch_size: int,
        cache_dir: str | Path,
        model_key: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise EdgeferError(f"calibration batch size must be >= 1, got {batch_size}")
        if len(calibration_set) < batch_size:
            raise EdgeferError(
                f"calibration set has {len(calibration_set)} samples, fewer than one batch of "
                f"{batch_size}; use a larger set or a smaller --calib-batch"
            )
        self.calibration_set = calibration_set
        self.input_names = tuple(input_names)
        self.batch_size = int(batch_size)
        self.digest = str(calibration_set.digest)
        self.model_key = model_key
        suffix = f"-{model_key}" if model_key else ""
        self.cache_path = Path(cache_dir) / f"trt-calib-{self.digest}{suffix}.cache"
        self.batches_served = 0
        self.error: Exception | None = None  # raised inside TensorRT's callback, re-raised after
        self._iterator: Iterator[dict[str, np.ndarray]] | None = None

    @property
    def n_batches(self) -> int:
        return len(self.calibration_set) // self.batch_size

    def reset(self) -> None:
        """Start again from the first batch (TensorRT may calibrate more than once)."""
        self._iterator = None
        self.batches_served = 0

    def next_batch(self) -> dict[str, np.ndarray] | None:
        """The next full batch as C-contiguous float32 arrays keyed by input name, or None."""
        if self._iterator is None:
            self._iterator = iter(self.calibration_set.batches(self.batch_size, self.input_names))
        batch = next(self._iterator, None)
        if batch is None:
            return None
        missing = [name for name in self.input_names if name not in batch]
        if missing:
            raise EdgeferError(f"calibration set has no input {missing[0]!r}")
        out = {}
        for name in self.input_names:
            array = np.ascontiguousarray(batch[name], dtype=np.float32)
            if array.shape[0] != self.batch_size:
                raise EdgeferError(
                    f"calibration batch of {name!r} has {array.shape[0]} samples, "
                    f"expected {self.batch_size}"
                )
            out[name] = array
        self.batches_served += 1
        return out

    def _header(self) -> bytes:
        return b" ".join([_MAGIC, self.digest.encode(), (self.model_key or "-").encode()]) + b"\n"

    def read_cache(self) -> bytes | None:
        """TensorRT's cached scales if the cache was made from this set (and model), else None."""
        if not self.cache_path.is_file():
            return None
        data = self.cache_path.read_bytes()
        header, sep, payload = data.partition(b"\n")
        if not sep or header + b"\n" != self._header() or not payload:
            return None
        return payload

    def write_cache(self, payload: bytes) -> Path:
        """Store TensorRT's scales under this set's digest (atomically)."""
        atomic_write_bytes(self.cache_path, self._header() + bytes(payload))
        return self.cache_path


def make_entropy_calibrator(
    feeder: CalibrationFeeder, buffers: DeviceBuffers
) -> tensorrt.IInt8EntropyCalibrator2:
    """A ``tensorrt.IInt8EntropyCalibrator2`` that serves ``feeder``'s batches and keeps its cache.

    The batches go through ``buffers`` (a :class:`~edgefer.engines.gpu_buffers.DeviceBuffers` with
    one buffer per input name, each at least one batch large). Needs TensorRT 8.5-10.
    """
    from edgefer.engines.trt_module import import_tensorrt, tensorrt_version

    trt = import_tensorrt()
    if not hasattr(trt, "IInt8EntropyCalibrator2"):
        raise EdgeferError(
            f"TensorRT {tensorrt_version(trt)} has no calibrator (removed in 11): build a Q/DQ ONNX"
        )
    # The same module, imported by name so that the base class below is one mypy can check
    # the four overrides against (the 10.x stubs).
    import tensorrt

    class _EntropyCalibrator(tensorrt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            tensorrt.IInt8EntropyCalibrator2.__init__(self)  # the binding needs the base init
            self.feeder = feeder

        def get_batch_size(self) -> int:
            return feeder.batch_size

        def get_batch(self, names: list[str], *_: Any) -> list[int]:
            # An exception would die inside TensorRT's C++ caller: keep it for the builder.
            # An empty list is the documented "no more batches".
            try:
                batch = feeder.next_batch()
                if batch is None:
                    return []
                for name in names:
                    buffers.upload(name, batch[name])
                buffers.synchronize()
                return [buffers.ptr(name) for name in names]
            except Exception as exc:  # re-raised by build_trt_engine
                feeder.error = exc
                return []

        # The stubs say Buffer; TensorRT's documentation says None means "no cache, calibrate".
        def read_calibration_cache(self, *_: Any) -> bytes | None:
            return feeder.read_cache()

        def write_calibration_cache(self, cache: Any) -> None:
            feeder.write_cache(bytes(cache))

    return _EntropyCalibrator()
