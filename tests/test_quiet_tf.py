"""TensorFlow's start-up notices stay off the terminal of the commands that import it."""

from __future__ import annotations

import subprocess
import sys

from edgefer.quiet_tf import is_notice
from tests.markers import needs_tensorflow


def test_the_notices_of_tensorflow_2_21_are_recognised_and_real_errors_are_not():
    assert is_notice("I0000 00:00:17 8778 port.cc:153] oneDNN custom operations are on. You may")
    assert is_notice("WARNING: All log messages before absl::InitializeLog() is called are written")
    assert not is_notice("ImportError: libcudart.so.12: cannot open shared object file")


@needs_tensorflow
def test_importing_the_models_package_prints_no_tensorflow_line():
    code = "import sys; import edgefer.models; print('keras' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.stdout.strip() == "True"
    assert done.stderr.strip() == "", done.stderr
