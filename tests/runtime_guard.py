"""Run code in a fresh interpreter where the training stack cannot be imported, as on a Jetson.

Checking ``sys.modules`` afterwards only sees what stayed imported, and passes on a machine without
TensorFlow whatever the code tried; here a ``sys.meta_path`` finder installed before anything else
raises ImportError for :data:`BLOCKED`, so any import of them, however deep or lazy, fails the run.
"""

from __future__ import annotations

import os
import subprocess
import sys

# edgefer.training may need no TensorFlow itself, but it is the training side: the runtime never
# imports it, so a Jetson install can leave it (and its Keras models) out.
BLOCKED = ("edgefer.training", "tensorflow", "keras", "tf2onnx")

GUARD = f"""\
import importlib.abc
import sys


class _TrainingStackBlocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in {BLOCKED!r}):
            raise ImportError(f"the runtime imported {{name}}")
        return None


sys.meta_path.insert(0, _TrainingStackBlocker())
"""


def run_without_training(
    code: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``code`` run by ``python -c`` after :data:`GUARD`, with ``env`` added to the environment;
    the result, for its returncode and stderr."""
    return subprocess.run(
        [sys.executable, "-c", GUARD + code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
