"""Keras models: the modified Xception flows and the five fusion variants.

Importing this package imports Keras; the runtime side (engines, live loop, benchmarks) never does.
"""

from edgefer.models.fusion import OUTPUT_NAME, build_model, parameter_counts
from edgefer.models.xception import ARCHITECTURES, Architecture, architecture

__all__ = [
    "ARCHITECTURES",
    "OUTPUT_NAME",
    "Architecture",
    "architecture",
    "build_model",
    "parameter_counts",
]
