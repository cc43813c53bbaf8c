"""Markers shared by test modules (conftest.py is not imported as a module)."""

from __future__ import annotations

import importlib.util

import pytest

# CI's Python 3.10 job installs only the runtime (edgefer[cpu,live]): tests that train, export or run
# the Keras reference skip there, with this reason, instead of failing.
needs_tensorflow = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="needs TensorFlow (the train extra); the runtime-only install has none",
)
