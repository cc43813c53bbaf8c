"""Run the real ``edgefer`` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    from tests.slow_guard import check_cli_may_train

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "edgefer.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    check_cli_may_train(args, done.returncode)
    return done


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr lines that are not TensorFlow/absl start-up noise."""
    noise = ("oneDNN", "absl::", "cpu_feature_guard", "To enable the following", "I0000", "W0000")
    return [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not any(n in line for n in noise)
    ]
