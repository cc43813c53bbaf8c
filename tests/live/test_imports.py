"""The live side must run on a Jetson without TensorFlow: importing it pulls in no Keras."""

from __future__ import annotations

import subprocess
import sys


def test_live_modules_import_without_tensorflow():
    modules = "audio capture detect microphone overlay router smoothing sources timing voice"
    code = (
        "import sys\n"
        f"for m in {modules.split()!r}: __import__('edgefer.live.' + m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
