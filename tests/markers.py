"""Markers shared by test modules (conftest.py is not imported as a module)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from edgefer.paths import data_root

# CI's Python 3.10 job installs only the runtime (edgefer[cpu,live]): tests that train, export or run
# the Keras reference skip there, with this reason, instead of failing.
needs_tensorflow = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="needs TensorFlow (the train extra); the runtime-only install has none",
)

# The small sample shipped in tests/data/sample (tests/conftest.py falls back to it when there is no
# data folder) holds a few hundred of the real files; sample.json marks it. A test that checks what
# only the whole dataset has (its published counts, all 20 RAVDESS actors, the shipped models'
# accuracy on the full held-out set) skips on it. One check, made once: conftest.py has set
# EDGEFER_DATA before any test module imports this one.
SAMPLE_MANIFEST = "sample.json"


def is_sample_data(root: Path) -> bool:
    """Whether ``root`` is the test sample (or a copy of it) rather than the full data folder."""
    return (root / SAMPLE_MANIFEST).is_file()


FULL_DATA = not is_sample_data(data_root(required=False))
needs_full_data = pytest.mark.skipif(
    not FULL_DATA,
    reason="needs the full dataset; the data folder is the small test sample (tests/data/sample)",
)
