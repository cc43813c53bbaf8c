"""GPU memory for the TensorRT runner and calibrator, behind one small interface.

Two CUDA bindings are in use on NVIDIA boards: pycuda (the classic on JetPack; needs a CUDA driver
even to import and compiles on install) and cuda-python (NVIDIA's current samples; wheels). The
runner needs only a handful of operations from either, so each gets a ~60-line class and nothing
else in edgefer sees which one is installed. The GPU's identity is asked here too, once per
binding (:func:`binding_identity`, which :func:`edgefer.platform_info.gpu_identity` uses), so the
buffers and the rest of edgefer name the device alike. Imports happen inside functions: this
module loads on machines with no CUDA at all.
"""

from __future__ import annotations

import abc
import contextlib
import ctypes
import math
from collections.abc import Iterator
from types import ModuleType
from typing import Any, cast

import numpy as np

from edgefer.device_identity import GpuIdentity
from edgefer.errors import EdgeferError

INSTALL_HINT = (
    "no CUDA Python bindings: pip install 'edgefer[trt]' (cuda-python), or pycuda "
    "(on a Jetson: pip install pycuda, with JetPack's CUDA on PATH)"
)


class NoCudaBindingError(EdgeferError):
    """Neither cuda-python nor pycuda imports here (what to install is the message)."""


def batch_nbytes(shape: tuple[int, ...], dtype: Any, batch: int) -> int:
    """Bytes of ``batch`` samples of a tensor whose first axis is the batch."""
    return int(batch) * math.prod(int(d) for d in shape[1:]) * int(np.dtype(dtype).itemsize)


class DeviceBuffers(abc.ABC):
    """Named device buffers with page-locked host staging, on one CUDA stream.

    Copies are asynchronous on ``stream``; call :meth:`synchronize` before reading what
    :meth:`download` returned.
    """

    backend: str

    def __init__(self) -> None:
        self._device: dict[str, int] = {}
        self._host: dict[str, np.ndarray] = {}
        self._closed = False

    @abc.abstractmethod
    def _alloc(self, nbytes: int) -> tuple[int, np.ndarray]:
        """Device pointer and a page-locked uint8 host array of ``nbytes``."""

    @abc.abstractmethod
    def _copy(self, device: int, host: np.ndarray, nbytes: int, to_device: bool) -> None:
        """Asynchronous copy of the first ``nbytes`` between ``host`` and ``device`` on the stream."""

    @property
    @abc.abstractmethod
    def stream(self) -> int:
        """The CUDA stream handle as an int (what ``execute_async_v3`` takes)."""

    @abc.abstractmethod
    def synchronize(self) -> None:
        """Wait for everything queued on the stream."""

    @abc.abstractmethod
    def device_info(self) -> GpuIdentity:
        """The device in use, by the same query as :func:`binding_identity`.

        That query is what a plan's sidecar records, and what the engine cache key holds.
        """

    @abc.abstractmethod
    def _release(self) -> None:
        """Free every allocation and the stream."""

    def allocate(self, name: str, nbytes: int) -> int:
        """Allocate ``nbytes`` on the device (and a pinned host twin) for tensor ``name``."""
        if name in self._device:
            raise EdgeferError(f"buffer {name!r} is already allocated")
        if nbytes <= 0:
            raise EdgeferError(f"buffer {name!r}: size must be positive, got {nbytes}")
        self._device[name], self._host[name] = self._alloc(int(nbytes))
        return self._device[name]

    def ptr(self, name: str) -> int:
        if name not in self._device:
            raise EdgeferError(f"no device buffer named {name!r}")
        return self._device[name]

    def upload(self, name: str, array: np.ndarray) -> None:
        """Stage ``array`` in pinned memory and queue its copy to the device."""
        array = np.ascontiguousarray(array)
        host = self._host.get(name)
        if host is None or array.nbytes > host.nbytes:
            size = 0 if host is None else host.nbytes
            raise EdgeferError(f"buffer {name!r} holds {size} bytes, got {array.nbytes}")
        host[: array.nbytes] = array.reshape(-1).view(np.uint8)
        self._copy(self._device[name], host, array.nbytes, to_device=True)

    def download(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """Queue a copy of ``shape``/``dtype`` from the device; valid after :meth:`synchronize`."""
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        host = self._host.get(name)
        if host is None or nbytes > host.nbytes:
            raise EdgeferError(f"buffer {name!r} is smaller than {shape} {np.dtype(dtype)}")
        self._copy(self._device[name], host, nbytes, to_device=False)
        view: np.ndarray = host[:nbytes].view(dtype).reshape(shape)
        return view

    def free(self) -> None:
        """Release all GPU memory; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._release()
        self._device.clear()
        self._host.clear()

    def __enter__(self) -> DeviceBuffers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()


def _pinned_view(address: int, nbytes: int) -> np.ndarray:
    return np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(address))


class CudaPythonBuffers(DeviceBuffers):
    """cuda-python runtime API; every call returns ``(error, *values)`` and each is checked."""

    backend = "cuda-python"

    def __init__(self, device: int = 0) -> None:
        super().__init__()
        cudart = _import_cudart()
        if cudart is None:
            raise NoCudaBindingError(INSTALL_HINT)
        self._rt = cudart
        self._ptrs: list[tuple[int, int]] = []
        self._index = device
        self._call("cudaSetDevice", device)
        self._stream = self._call("cudaStreamCreate")

    def _call(self, fn: str, *args: Any) -> Any:
        return _cudart_call(self._rt, fn, *args)

    def _alloc(self, nbytes: int) -> tuple[int, np.ndarray]:
        device = int(self._call("cudaMalloc", nbytes))
        self._ptrs.append((device, 0))
        host = int(self._call("cudaMallocHost", nbytes))
        self._ptrs.append((host, 1))
        return device, _pinned_view(host, nbytes)

    def _copy(self, device: int, host: np.ndarray, nbytes: int, to_device: bool) -> None:
        kind = self._rt.cudaMemcpyKind
        if to_device:
            args = (device, host.ctypes.data, nbytes, kind.cudaMemcpyHostToDevice)
        else:
            args = (host.ctypes.data, device, nbytes, kind.cudaMemcpyDeviceToHost)
        self._call("cudaMemcpyAsync", *args, self._stream)

    @property
    def stream(self) -> int:
        return int(self._stream)

    def synchronize(self) -> None:
        self._call("cudaStreamSynchronize", self._stream)

    def device_info(self) -> GpuIdentity:
        return _cudart_identity(self._rt, self._index)

    def _release(self) -> None:
        self._host.clear()  # drop the numpy views before their memory goes
        for ptr, pinned in self._ptrs:
            self._call("cudaFreeHost" if pinned else "cudaFree", ptr)
        self._ptrs.clear()
        self._call("cudaStreamDestroy", self._stream)


class PycudaBuffers(DeviceBuffers):
    """pycuda driver API on the device's primary context; no ``pycuda.autoinit``.

    The primary context is the one TensorRT's runtime API uses; it is pushed around each call so any
    thread may use the buffers.
    """

    backend = "pycuda"

    def __init__(self, device: int = 0) -> None:
        super().__init__()
        cuda = _import_pycuda()
        if cuda is None:
            raise NoCudaBindingError(INSTALL_HINT)
        self._cuda = cuda
        self._allocs: list[Any] = []
        try:
            cuda.init()
            self._dev = cuda.Device(device)
            self._ctx = self._dev.retain_primary_context()
            with self._active():
                self._stream_obj = cuda.Stream()
        except cuda.Error as exc:
            raise EdgeferError(f"CUDA (pycuda) could not start on device {device}: {exc}") from exc

    @contextlib.contextmanager
    def _active(self) -> Iterator[None]:
        self._ctx.push()
        try:
            yield
        finally:
            self._cuda.Context.pop()

    def _alloc(self, nbytes: int) -> tuple[int, np.ndarray]:
        try:
            with self._active():
                device = self._cuda.mem_alloc(nbytes)
                host = self._cuda.pagelocked_empty(nbytes, np.uint8)
        except self._cuda.Error as exc:
            raise EdgeferError(f"CUDA allocation of {nbytes} bytes failed: {exc}") from exc
        self._allocs += [device, host]
        return int(device), host

    def _copy(self, device: int, host: np.ndarray, nbytes: int, to_device: bool) -> None:
        cuda = self._cuda
        try:
            with self._active():
                if to_device:
                    cuda.memcpy_htod_async(device, host[:nbytes], self._stream_obj)
                else:
                    cuda.memcpy_dtoh_async(host[:nbytes], device, self._stream_obj)
        except cuda.Error as exc:
            raise EdgeferError(f"CUDA copy failed: {exc}") from exc

    @property
    def stream(self) -> int:
        return int(self._stream_obj.handle)

    def synchronize(self) -> None:
        try:
            with self._active():
                self._stream_obj.synchronize()
        except self._cuda.Error as exc:
            raise EdgeferError(f"CUDA stream failed: {exc}") from exc

    def device_info(self) -> GpuIdentity:
        return _pycuda_identity(self._cuda, self._dev)

    def _release(self) -> None:
        self._host.clear()
        with self._active():
            for alloc in self._allocs:
                if hasattr(alloc, "free"):
                    alloc.free()
            self._allocs.clear()
            self._stream_obj = None


def _cudart_call(cudart: ModuleType, fn: str, *args: Any) -> Any:
    """``cudart.<fn>(*args)`` with its error code checked: its value(s), or an EdgeferError."""
    result = getattr(cudart, fn)(*args)
    err, values = result[0], result[1:]
    if err != cudart.cudaError_t.cudaSuccess:
        _, text = cudart.cudaGetErrorString(err)
        raise EdgeferError(f"CUDA {fn} failed: {text.decode(errors='replace')} ({err})")
    return values[0] if len(values) == 1 else values or None


def _device_name(name: str | bytes) -> str:
    """A device name as text: cuda-python gives the C struct's NUL-padded bytes, pycuda a str."""
    text = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
    return text.split("\x00", 1)[0].strip()


def _cudart_identity(cudart: ModuleType, index: int) -> GpuIdentity:
    """cuda-python's one query of a device: ``cudaGetDeviceProperties``."""
    props = _cudart_call(cudart, "cudaGetDeviceProperties", index)
    return GpuIdentity(_device_name(props.name), f"{props.major}.{props.minor}")


def _pycuda_identity(cuda: ModuleType, device: Any) -> GpuIdentity:
    """Pycuda's one query of a ``Device``: its name and compute capability."""
    try:
        major, minor = device.compute_capability()
        return GpuIdentity(_device_name(device.name()), f"{major}.{minor}")
    except cuda.Error as exc:
        raise EdgeferError(f"CUDA (pycuda) could not describe the device: {exc}") from exc


def binding_identity(index: int = 0) -> GpuIdentity:
    """Device ``index`` asked through the binding :func:`make_buffers` picks.

    That binding is cuda-python, else pycuda; the query is the same one the buffers'
    :meth:`DeviceBuffers.device_info` makes, so a GPU is named here as the plan's sidecar names it.

    Raises :class:`NoCudaBindingError` when neither binding imports, and an
    :class:`EdgeferError` (or whatever the binding raises) when it cannot reach the device.
    """
    cudart = _import_cudart()
    if cudart is not None:
        return _cudart_identity(cudart, index)
    cuda = _import_pycuda()
    if cuda is None:
        raise NoCudaBindingError(INSTALL_HINT)
    try:
        cuda.init()
        device = cuda.Device(index)
    except cuda.Error as exc:
        raise EdgeferError(f"CUDA (pycuda) could not start on device {index}: {exc}") from exc
    return _pycuda_identity(cuda, device)


def _import_cudart() -> ModuleType | None:
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:  # cuda-python < 12.6 layout
            from cuda import cudart
        except ImportError:
            return None
    return cast(ModuleType, cudart)  # untyped bindings: a module all the same


def _import_pycuda() -> ModuleType | None:
    try:
        import pycuda.driver as cuda
    except (ImportError, OSError):  # not installed, or no libcuda (no driver) to load
        return None
    return cast(ModuleType, cuda)


def available_bindings() -> list[str]:
    """Which CUDA Python bindings import here, preferred first."""
    found = []
    if _import_cudart() is not None:
        found.append("cuda-python")
    if _import_pycuda() is not None:
        found.append("pycuda")
    return found


def make_buffers(device: int = 0, backend: str | None = None) -> DeviceBuffers:
    """Buffers on ``device`` through cuda-python if it imports, else pycuda.

    Raises an :class:`EdgeferError` saying what to install when neither imports.
    """
    found = available_bindings()
    if backend is not None and backend not in found:
        raise EdgeferError(f"{backend} is not installed here; found: {found or 'none'}")
    choice = backend or (found[0] if found else None)
    if choice == "cuda-python":
        return CudaPythonBuffers(device)
    if choice == "pycuda":
        return PycudaBuffers(device)
    raise NoCudaBindingError(INSTALL_HINT)
