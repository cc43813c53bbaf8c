"""``edgefer serve`` in a child process, bounded in time: for the load benchmark and the tests.

The server runs in the interpreter that has PyTriton (``.venv-serve`` by default, since PyTriton pins
``numpy<2``); the caller, in any venv with tritonclient, waits until the server says where it listens,
uses it, then stops it with SIGTERM (as a service manager would) and kills it only if it has not
exited after ``stop_s``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from edgefer.errors import EdgeferError
from edgefer.paths import REPO_ROOT

SERVE_VENV = REPO_ROOT / ".venv-serve"


def free_port(address: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def serve_python() -> Path | None:
    """The interpreter that can run ``edgefer serve``, or None.

    This one if it has PyTriton, else ``.venv-serve``'s, else None.
    """
    import importlib.util

    if importlib.util.find_spec("pytriton") is not None:
        return Path(sys.executable)
    candidate = SERVE_VENV / "bin" / "python"
    return candidate if candidate.is_file() else None


class ServerProcess:
    """``with ServerProcess(["middle"]) as server:`` -> ``server.grpc_url("middle")``."""

    def __init__(
        self,
        models: list[str] | None = None,
        extra: list[str] | None = None,
        start_s: float = 120.0,
        stop_s: float = 30.0,
        python: Path | None = None,
        ports: tuple[int, int, int] | None = None,
    ) -> None:
        found = python or serve_python()
        if found is None:
            raise EdgeferError("no interpreter with PyTriton: run `make serve-venv` first")
        self.python = found
        self.models, self.extra = list(models or []), list(extra or [])
        self.start_s, self.stop_s = start_s, stop_s
        self.http_port, self.grpc_port, self.metrics_port = ports or (
            free_port(),
            free_port(),
            free_port(),
        )
        self.process: subprocess.Popen[bytes] | None = None
        handle, name = tempfile.mkstemp(prefix="edgefer-serve-", suffix=".log")
        os.close(handle)
        self.log_path = Path(name)
        self.returncode: int | None = None
        self._launched = 0.0

    @property
    def ports(self) -> tuple[int, int, int]:
        return self.http_port, self.grpc_port, self.metrics_port

    def grpc_url(self, model: str) -> str:
        return f"grpc://127.0.0.1:{self.grpc_port}/{model}"

    def http_url(self, model: str) -> str:
        return f"http://127.0.0.1:{self.http_port}/{model}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self) -> ServerProcess:
        """Start the server and wait until it listens (:meth:`launch`, then :meth:`wait_ready`)."""
        return self.launch().wait_ready()

    def launch(self) -> ServerProcess:
        """Start the server without waiting for it.

        Several can then start side by side, each waited for later with :meth:`wait_ready`.
        """
        if self.process is not None:
            raise EdgeferError("this edgefer serve is already running")
        command = [
            str(self.python), "-m", "edgefer.cli", "serve", *self.models,
            "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
            "--metrics-port", str(self.metrics_port),
            "--log-file", str(self.log_path.with_suffix(".tritonserver.log")), *self.extra,
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT,
                start_new_session=True,  # its own group: a kill takes tritonserver with it
            )  # fmt: skip
        self._launched = time.monotonic()
        return self

    def wait_ready(self) -> ServerProcess:
        """Wait until the launched server says where it listens.

        Waits up to ``start_s`` from its launch; fails with its own words if it exits first.
        """
        if self.process is None:
            raise EdgeferError("edgefer serve was not launched")
        deadline = self._launched + self.start_s
        while True:
            if "listening on" in self.output():
                return self
            if self.process.poll() is not None:
                self.returncode = self.process.returncode
                self.process = None
                raise EdgeferError(
                    f"edgefer serve exited with {self.returncode}: {self.output().strip()[-400:]}"
                )
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        self.stop()
        raise EdgeferError(f"edgefer serve was not ready after {self.start_s:.0f} s")

    def stop(self) -> int | None:
        """SIGTERM, wait up to ``stop_s``, then SIGKILL; the exit code (None if never started)."""
        if self.process is None:
            return self.returncode
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(self.stop_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.returncode = self.process.returncode
        self.process = None
        return self.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
