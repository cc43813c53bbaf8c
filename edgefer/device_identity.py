"""What names one GPU: a value type of its own, so the CUDA queries and the platform queries share it.

``platform_info`` (which asks) and ``engines.gpu_buffers`` (which holds the device) both use it;
kept apart from both so that neither has to import the other's module to name a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuIdentity:
    """One GPU as everything in edgefer names it: its model name and compute capability ("8.7").

    A TensorRT plan runs only on the GPU model it was built for, so the engine cache key, the plan's
    sidecar (written at build, checked at load), ``--precision auto``'s machine record, the
    benchmarks and ``doctor`` must all name a GPU the same way: two spellings of one device would
    make a plan look foreign, or a foreign plan look cached. They all get it from
    :func:`gpu_identity` (or, holding buffers already, from ``DeviceBuffers.device_info``, the
    same query).
    """

    name: str
    compute_capability: str

    def sidecar_fields(self) -> dict[str, str]:
        """The GPU keys of a TensorRT plan's sidecar (their names are fixed: old sidecars load)."""
        return {"gpu_name": self.name, "compute_capability": self.compute_capability}

    def as_list(self) -> list[str]:
        """``[name, compute capability]``: the form cache keys and machine records hold."""
        return [self.name, self.compute_capability]
