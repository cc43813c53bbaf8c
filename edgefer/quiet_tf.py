"""Import TensorFlow without its start-up lines on the user's terminal.

TensorFlow 2.21 writes a handful of lines from C++ straight to file descriptor 2 while it is first
imported (absl's "All log messages before absl::InitializeLog()", oneDNN's notice, the CPU feature
guard), whatever ``TF_CPP_MIN_LOG_LEVEL`` says. The commands that use TensorFlow (``train``,
``export``, ``bench`` with the Keras reference) import it once through :func:`import_tensorflow`,
which sends descriptor 2 to a temporary file for the import and then replays every line that is not
one of those notices, so a real import error still reaches the user. Later imports are cached and
print nothing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile

NOTICES = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "cpu_feature_guard",
    "To enable the following instructions",
    "rebuild TensorFlow with the appropriate compiler flags",
    "Unable to register cu",
    "TF-TRT Warning",
)


def is_notice(line: str) -> bool:
    return any(text in line for text in NOTICES)


def import_tensorflow() -> bool:
    """Import TensorFlow (and Keras) once with its notices filtered.

    Returns False when it is not installed.
    """
    if "tensorflow" in sys.modules:
        return True
    if importlib.util.find_spec("tensorflow") is None:
        return False
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import keras  # noqa: F401  (Keras 3 imports its backend, TensorFlow, here)
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines(keepends=True):
                if line.strip() and not is_notice(line):
                    sys.stderr.write(line)
            sys.stderr.flush()
    return True
