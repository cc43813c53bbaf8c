"""Keras models: the modified Xception flows and the five fusion variants.

Importing this package imports Keras; the runtime side (engines, live loop, benchmarks) never does.
TensorFlow is imported first through :func:`edgefer.quiet_tf.import_tensorflow`, so its start-up
notices do not reach the terminal.
"""

from edgefer.quiet_tf import import_tensorflow

import_tensorflow()

from edgefer.models.fusion import OUTPUT_NAME  # noqa: E402, build_model, parameter_counts
from edgefer.models.xception import ARCHITECTURES  # noqa: E402, Architecture, architecture

__all__ = [
    "ARCHITECTURES",
    "OUTPUT_NAME",
    "Architecture",
    "architecture",
    "build_model",
    "parameter_counts",
]
