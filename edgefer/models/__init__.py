"""Keras models: the modified Xception flows and the five fusion variants.

Importing this package imports Keras; the runtime side (engines, live loop, benchmarks) never does.
TensorFlow is imported first through :func:`edgefer.quiet_tf.import_tensorflow`, so its start-up
notices do not reach the terminal.
"""

from edgefer.quiet_tf import import_tensorflow

import_tensorflow()

from edgefer.models.fusion import OUTPUT_NAME, build_model, parameter_counts  # noqa: E402
from edgefer.models.xception import ARCHITECTURES, Architecture, architecture  # noqa: E402

__all__ = [
    "ARCHITECTURES",
    "OUTPUT_NAME",
    "Architecture",
    "architecture",
    "build_model",
    "parameter_counts",
]
