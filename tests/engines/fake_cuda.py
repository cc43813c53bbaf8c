"""A recording stand-in for cuda-python's runtime API (``cuda.bindings.runtime``), over NumPy.

It implements the calls :class:`edgefer.engines.gpu_buffers.CudaPythonBuffers` makes, with
cuda-python's conventions: every call returns ``(cudaError_t, *values)``, a stream is a
``cudaStream_t`` that converts to an int, device and pinned memory are separate allocations
addressed by integers. "Device" memory is NumPy memory that only copies reach; pinned memory is
NumPy memory whose address the host may read (as real pinned memory). Copies are asynchronous
as on a GPU: ``cudaMemcpyAsync`` queues the copy on its stream and only ``cudaStreamSynchronize``
performs the queue, so a result read before a synchronise is stale here too. Wrong pointers
(unknown, freed, out of bounds, host memory given as device memory) are CUDA errors.

The fake TensorRT (:mod:`tests.engines.fake_tensorrt`) queues its inference on the same
streams and reads and writes the same device memory.
"""

from __future__ import annotations

import enum
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Calls:
    """Every call the stand-ins received, in order: ``(name, details)``."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, Any]]] = []

    def record(self, call: str, /, **details: Any) -> None:
        self.entries.append((call, details))

    def names(self) -> list[str]:
        return [name for name, _ in self.entries]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [details for n, details in self.entries if n == name]

    def first(self, name: str) -> int:
        return self.names().index(name)

    def last(self, name: str) -> int:
        names = self.names()
        return len(names) - 1 - names[::-1].index(name)

    def clear(self) -> None:
        self.entries.clear()


# cuda-python's own names (mixedCase), set on the module under them.
CUDA_ERROR = enum.IntEnum(
    "cudaError_t",
    {
        "cudaSuccess": 0,
        "cudaErrorInvalidValue": 1,
        "cudaErrorMemoryAllocation": 2,
        "cudaErrorInvalidDevice": 101,
        "cudaErrorInvalidResourceHandle": 400,
    },
)
MEMCPY_KIND = enum.IntEnum(
    "cudaMemcpyKind",
    {
        "cudaMemcpyHostToHost": 0,
        "cudaMemcpyHostToDevice": 1,
        "cudaMemcpyDeviceToHost": 2,
        "cudaMemcpyDeviceToDevice": 3,
    },
)


class cudaStream_t:  # noqa: N801
    """A stream handle; ``int()`` gives the address cuda-python exposes."""

    def __init__(self, handle: int) -> None:
        self._handle = handle

    def __int__(self) -> int:
        return self._handle


@dataclass
class DeviceProperties:
    """The fields of ``cudaDeviceProp`` edgefer reads (``name`` is NUL-padded bytes, as there)."""

    name: bytes
    major: int
    minor: int


class CudaError(Exception):
    """A failing call inside the stand-in; becomes the error code the call returns."""

    def __init__(self, code: int, why: str) -> None:
        super().__init__(why)
        self.code = code


@dataclass
class FakeDevice:
    """One GPU: its name, memory and streams. Shared by the CUDA and the TensorRT stand-ins."""

    name: str = "Fake Orin (stand-in)"
    compute_capability: tuple[int, int] = (8, 7)
    calls: Calls = field(default_factory=Calls)
    device_memory: dict[int, np.ndarray] = field(default_factory=dict)
    pinned_memory: dict[int, np.ndarray] = field(default_factory=dict)
    streams: dict[int, list[Callable[[], None]]] = field(default_factory=dict)
    freed: list[int] = field(default_factory=list)
    next_stream: int = 0x7000

    def capability(self) -> str:
        return f"{self.compute_capability[0]}.{self.compute_capability[1]}"

    # ---------------------------------------------------------------------------------- memory
    def malloc(self, nbytes: int, pinned: bool) -> int:
        if nbytes <= 0:
            raise CudaError(CUDA_ERROR.cudaErrorInvalidValue, f"size {nbytes}")
        block = np.zeros(int(nbytes), np.uint8)
        address = int(block.ctypes.data)
        (self.pinned_memory if pinned else self.device_memory)[address] = block
        return address

    def free(self, address: int, pinned: bool) -> None:
        table = self.pinned_memory if pinned else self.device_memory
        if int(address) not in table:
            raise CudaError(CUDA_ERROR.cudaErrorInvalidValue, f"free of unknown {address:#x}")
        del table[int(address)]
        self.freed.append(int(address))

    def view(self, address: int, nbytes: int, device: bool = True) -> np.ndarray:
        """The ``nbytes`` at ``address`` inside one allocation of device (or pinned) memory."""
        table = self.device_memory if device else self.pinned_memory
        for start, block in table.items():
            if start <= int(address) and int(address) + int(nbytes) <= start + block.nbytes:
                offset = int(address) - start
                return block[offset : offset + int(nbytes)]
        kind = "device" if device else "pinned host"
        raise CudaError(
            CUDA_ERROR.cudaErrorInvalidValue,
            f"{nbytes} bytes at {int(address):#x} are not inside one {kind} allocation",
        )

    def is_device_pointer(self, address: int) -> bool:
        return any(s <= int(address) < s + b.nbytes for s, b in self.device_memory.items())

    # --------------------------------------------------------------------------------- streams
    def create_stream(self) -> int:
        self.next_stream += 0x10
        self.streams[self.next_stream] = []
        return self.next_stream

    def enqueue(self, stream: int, work: Callable[[], None]) -> None:
        if int(stream) not in self.streams:
            raise CudaError(CUDA_ERROR.cudaErrorInvalidResourceHandle, f"stream {stream:#x}")
        self.streams[int(stream)].append(work)

    def synchronize(self, stream: int) -> None:
        if int(stream) not in self.streams:
            raise CudaError(CUDA_ERROR.cudaErrorInvalidResourceHandle, f"stream {stream:#x}")
        queue = self.streams[int(stream)]
        while queue:
            queue.pop(0)()

    def pending(self) -> int:
        return sum(len(q) for q in self.streams.values())


def _host_view(address: int, nbytes: int, device: FakeDevice) -> np.ndarray:
    """Pinned memory of the stand-in (as CudaPythonBuffers stages through it)."""
    return device.view(address, nbytes, device=False)


def make_cudart(device: FakeDevice) -> types.ModuleType:
    """A ``cuda.bindings.runtime`` module backed by ``device``."""
    module = types.ModuleType("cuda.bindings.runtime")
    calls = device.calls

    def call(name: str, fn: Callable[..., tuple[Any, ...]]) -> Callable[..., tuple[Any, ...]]:
        def wrapper(*args: Any) -> tuple[Any, ...]:
            calls.record(name, args=args)
            try:
                return (CUDA_ERROR.cudaSuccess, *fn(*args))
            except CudaError as exc:
                calls.record(f"{name} failed", why=str(exc))
                return (exc.code,)

        return wrapper

    def set_device(index: int) -> tuple[()]:
        if index != 0:
            raise CudaError(CUDA_ERROR.cudaErrorInvalidDevice, f"no device {index}")
        return ()

    def memcpy_async(dst: int, src: int, count: int, kind: int, stream: Any) -> tuple[()]:
        if kind == MEMCPY_KIND.cudaMemcpyHostToDevice:
            target, source = device.view(dst, count), _host_view(src, count, device)
        elif kind == MEMCPY_KIND.cudaMemcpyDeviceToHost:
            target, source = _host_view(dst, count, device), device.view(src, count)
        else:
            raise CudaError(CUDA_ERROR.cudaErrorInvalidValue, f"copy kind {kind}")

        def copy() -> None:
            target[:] = source

        device.enqueue(int(stream), copy)
        return ()

    def destroy(stream: Any) -> tuple[()]:
        device.synchronize(int(stream))
        del device.streams[int(stream)]
        return ()

    def free(pinned: bool) -> Callable[[int], tuple[()]]:
        def release(address: int) -> tuple[()]:
            device.free(address, pinned)
            return ()

        return release

    def synchronize(stream: Any) -> tuple[()]:
        device.synchronize(int(stream))
        return ()

    def properties(index: int) -> tuple[DeviceProperties]:
        set_device(index)  # one device, 0: any other index is cudaErrorInvalidDevice, as in CUDA
        name = device.name.encode().ljust(256, b"\x00")
        return (DeviceProperties(name, *device.compute_capability),)

    functions: dict[str, Callable[..., tuple[Any, ...]]] = {
        "cudaSetDevice": set_device,
        "cudaStreamCreate": lambda: (cudaStream_t(device.create_stream()),),
        "cudaMalloc": lambda n: (device.malloc(n, pinned=False),),
        "cudaMallocHost": lambda n: (device.malloc(n, pinned=True),),
        "cudaFree": free(pinned=False),
        "cudaFreeHost": free(pinned=True),
        "cudaMemcpyAsync": memcpy_async,
        "cudaStreamSynchronize": synchronize,
        "cudaStreamDestroy": destroy,
        "cudaGetDeviceProperties": properties,
    }
    for fn_name, fn in functions.items():
        setattr(module, fn_name, call(fn_name, fn))
    module.cudaError_t = CUDA_ERROR
    module.cudaMemcpyKind = MEMCPY_KIND
    module.cudaStream_t = cudaStream_t
    module.cudaGetErrorString = lambda err: (CUDA_ERROR.cudaSuccess, CUDA_ERROR(err).name.encode())
    return module


def install_cuda(monkeypatch: Any, device: FakeDevice) -> types.ModuleType:
    """Put ``cuda``, ``cuda.bindings`` and ``cuda.bindings.runtime`` into ``sys.modules`` for the
    test (``monkeypatch`` undoes it), so ``from cuda.bindings import runtime`` finds the fake."""
    runtime = make_cudart(device)
    cuda = types.ModuleType("cuda")
    cuda.__path__ = []  # a package
    bindings = types.ModuleType("cuda.bindings")
    bindings.__path__ = []
    bindings.runtime = runtime
    cuda.bindings = bindings
    for name, module in (
        ("cuda", cuda),
        ("cuda.bindings", bindings),
        ("cuda.bindings.runtime", runtime),
    ):
        monkeypatch.setitem(sys.modules, name, module)
    return runtime


# ------------------------------------------------------------------------------------- pycuda
def make_pycuda(device: FakeDevice) -> types.ModuleType:
    """A ``pycuda.driver`` module backed by ``device``: the driver API on a primary context that
    must be pushed around each call (as :class:`~edgefer.engines.gpu_buffers.PycudaBuffers`
    does), ``mem_alloc`` allocations that convert to a pointer, page-locked NumPy arrays, and
    asynchronous copies queued on a ``Stream``."""
    module = types.ModuleType("pycuda.driver")
    calls = device.calls
    contexts: list[Any] = []

    class Error(Exception):
        """``pycuda.driver.Error``."""

    def current() -> None:
        if not contexts:
            raise Error("cuCtxGetCurrent failed: invalid device context")

    class Context:
        def push(self) -> None:
            contexts.append(self)

        @staticmethod
        def pop() -> None:
            if not contexts:
                raise Error("cuCtxPopCurrent failed: invalid context")
            contexts.pop()

    class Device:
        def __init__(self, ordinal: int) -> None:
            if ordinal != 0:
                raise Error(f"cuDeviceGet failed: invalid device ordinal {ordinal}")

        def retain_primary_context(self) -> Context:
            calls.record("pycuda.Device.retain_primary_context")
            return Context()

        def name(self) -> str:
            return device.name

        def compute_capability(self) -> tuple[int, int]:
            return device.compute_capability

    class DeviceAllocation:
        def __init__(self, nbytes: int) -> None:
            self.address = device.malloc(nbytes, pinned=False)

        def __int__(self) -> int:
            return self.address

        def free(self) -> None:
            current()
            device.free(self.address, pinned=False)

    class Stream:
        def __init__(self) -> None:
            current()
            self.handle = device.create_stream()

        def synchronize(self) -> None:
            current()
            calls.record("cudaStreamSynchronize", args=(self.handle,))
            device.synchronize(self.handle)

    def mem_alloc(nbytes: int) -> DeviceAllocation:
        current()
        calls.record("cudaMalloc", args=(nbytes,))
        return DeviceAllocation(nbytes)

    def pagelocked_empty(shape: int, dtype: Any) -> np.ndarray:
        current()
        calls.record("cudaMallocHost", args=(shape,))
        return np.zeros(shape, dtype)

    def copy(target: np.ndarray, source: np.ndarray, stream: Stream) -> None:
        current()
        try:
            device.enqueue(stream.handle, lambda: target.__setitem__(slice(None), source))
        except CudaError as exc:
            raise Error(str(exc)) from exc

    def memcpy_htod_async(dest: Any, src: np.ndarray, stream: Stream) -> None:
        calls.record("cudaMemcpyAsync", args=(int(dest), src.nbytes, "htod"))
        raw = np.ascontiguousarray(src).reshape(-1).view(np.uint8)
        try:
            target = device.view(int(dest), raw.nbytes)
        except CudaError as exc:
            raise Error(str(exc)) from exc
        copy(target, raw, stream)

    def memcpy_dtoh_async(dest: np.ndarray, src: Any, stream: Stream) -> None:
        calls.record("cudaMemcpyAsync", args=(int(src), dest.nbytes, "dtoh"))
        try:
            source = device.view(int(src), dest.nbytes)
        except CudaError as exc:
            raise Error(str(exc)) from exc
        copy(dest.reshape(-1).view(np.uint8), source, stream)

    module.Error = Error
    module.Context = Context
    module.Device = Device
    module.Stream = Stream
    module.init = lambda flags=0: calls.record("pycuda.init")
    module.mem_alloc = mem_alloc
    module.pagelocked_empty = pagelocked_empty
    module.memcpy_htod_async = memcpy_htod_async
    module.memcpy_dtoh_async = memcpy_dtoh_async
    module.contexts = contexts  # for tests: every push was popped
    return module


def install_pycuda(monkeypatch: Any, device: FakeDevice) -> types.ModuleType:
    """Put ``pycuda`` and ``pycuda.driver`` into ``sys.modules`` (and hide cuda-python), so
    :func:`edgefer.engines.gpu_buffers.make_buffers` picks pycuda, as on a classic JetPack."""
    driver = make_pycuda(device)
    pycuda = types.ModuleType("pycuda")
    pycuda.__path__ = []
    pycuda.driver = driver
    monkeypatch.setitem(sys.modules, "pycuda", pycuda)
    monkeypatch.setitem(sys.modules, "pycuda.driver", driver)
    for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    return driver
