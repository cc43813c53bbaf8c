"""Engines: one ``Engine`` interface, one module per backend, artefact metadata and atomic writes.

Nothing here imports TensorFlow or Keras: this side installs and runs on a Jetson with JetPack's
TensorRT and no training stack.
"""

from edgefer.engines.base import Engine, TensorSpec, validate_inputs

__all__ = ["Engine", "TensorSpec", "validate_inputs"]
