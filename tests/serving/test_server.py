"""``edgefer serve`` on a real tritonserver (PyTriton) and the remote engine over it.

Every server here listens on free loopback ports, is stopped with SIGTERM and must exit by itself
within a bounded time (:class:`~edgefer.serving.process.ServerProcess`); every client thread is
joined with a timeout. The server runs in the interpreter that has PyTriton (``.venv-serve``, made
by ``make serve-venv`` and by CI), the clients in this one.

Starting and stopping a tritonserver is mostly waiting (its own one-second polls), so this module
starts its servers side by side: the shared one (:func:`server`), read by every test that leaves it
running, and the two scenarios that must stop theirs (a SIGTERM stop and a restart; a Ctrl-C stop),
which run in threads from the module's start (:func:`_scenarios`) while the other tests run. Each
scenario keeps its own test, which waits for it and re-raises whatever it failed.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgefer.checkset import checkset_path, load_checkset
from edgefer.engines.onnxruntime import OrtEngine
from edgefer.engines.open import open_engine
from edgefer.engines.triton import ModelUrl, TritonEngine
from edgefer.errors import EdgeferError
from edgefer.live.demo import demo_clips
from edgefer.onnx_meta import spec_of
from edgefer.serving.process import ServerProcess, free_port, serve_python
from edgefer.shipped import shipped_path
from tests.cli_helpers import error_lines, run_cli

pytestmark = pytest.mark.skipif(
    serve_python() is None, reason="no PyTriton here: `make serve-venv` makes .venv-serve"
)
JOIN_S = 120
POOL = 128  # samples the concurrent clients draw their batches from
LOOPBACK_HEX = {"0100007F", "0000000000000000FFFF00000100007F"}


class Scenario:
    """``target(*args)`` in a thread from now on; :meth:`result` waits for it and re-raises what it
    failed (an assertion with its own traceback)."""

    def __init__(self, target: Callable[..., None], *args: object) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(target, *args), daemon=True)
        self.thread.start()

    def _run(self, target: Callable[..., None], *args: object) -> None:
        try:
            target(*args)
        except BaseException as exc:  # re-raised in the test's own thread by result()
            self.error = exc

    def result(self) -> None:
        self.thread.join(JOIN_S * 3)
        assert not self.thread.is_alive(), "the scenario hung"
        if self.error is not None:
            raise self.error


@pytest.fixture(scope="module", autouse=True)
def _scenarios(request, local, samples):
    """Launch the shared server, and start the scenarios whose tests are selected, side by side."""
    here = [item for item in request.session.items if item.path == request.path]
    selected = {item.name for item in here}
    shared = ServerProcess(["middle", "face", "voice"], ["--max-queue-delay-us", "1000"])
    if any("server" in getattr(item, "fixturenames", ()) for item in here):
        shared.launch()
    plans = {  # key: (its test, the scenario)
        "restart": (
            "test_a_stopped_server_is_one_line_and_a_restarted_one_is_resumed",
            _stop_and_restart,
        ),
        "ctrl_c": ("test_ctrl_c_stops_the_server_as_cleanly_as_sigterm", _ctrl_c_stop),
    }
    running = {
        key: Scenario(target, local, samples)
        for key, (test, target) in plans.items()
        if test in selected
    }
    try:
        yield {"shared": shared, **running}
    finally:
        shared.stop()  # a no-op after server()'s checked stop
        for scenario in running.values():
            scenario.thread.join(JOIN_S * 3)


@pytest.fixture(scope="module")
def server(_scenarios):
    running = _scenarios["shared"].wait_ready()
    yield running
    code = running.stop()
    assert code == 0, running.output()[-2000:]
    assert "stopped: tritonserver shut down" in running.output()


@pytest.fixture(scope="module")
def local():
    with OrtEngine(shipped_path("middle", ".onnx")) as engine:
        yield engine


@pytest.fixture(scope="module")
def samples(local):
    """The shipped check set (360 held-out samples, 0.3 s): what CI has, and all these tests need;
    the dataset's own held-out set, where it is here, takes 10 s to build."""
    spec = spec_of(local.metadata)
    data, _ = load_checkset(checkset_path(spec.digest()), spec.digest(), list(local.inputs))
    return data.inputs


def _listening(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp writes them) with a listening socket on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def test_the_server_says_where_it_listens_and_binds_loopback_only(server):
    out = server.output()
    assert f"listening on grpc://127.0.0.1:{server.grpc_port}" in out
    assert f"http://127.0.0.1:{server.http_port}" in out and "serving middle" in out
    for port in server.ports:
        # 127.0.0.1 only (as itself, or IPv4-mapped in tcp6), never 0.0.0.0 or ::
        assert _listening(port) and _listening(port) <= LOOPBACK_HEX, port


def test_health_readiness_and_prometheus_metrics(server, local, samples):
    base = f"http://127.0.0.1:{server.http_port}"
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/middle/ready"):
        with urllib.request.urlopen(base + path, timeout=10) as reply:
            assert reply.status == 200, path
    with TritonEngine(server.grpc_url("middle")) as engine:
        engine.predict({k: v[:2] for k, v in samples.items()})
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    counted = [
        line for line in text.splitlines() if line.startswith("nv_inference_request_success")
    ]
    assert any('model="middle"' in line and float(line.split()[-1]) >= 1 for line in counted)


def test_the_server_hands_out_the_metadata_a_client_needs(server, local):
    for url in (server.grpc_url("middle"), server.http_url("middle")):
        with open_engine(url) as remote:
            assert remote.backend == "triton" and remote.precision == "fp32"
            assert remote.metadata["class_names"] == local.metadata["class_names"]
            assert spec_of(remote.metadata).digest() == spec_of(local.metadata).digest()
            assert {n: s.shape for n, s in remote.inputs.items()} == {
                n: s.shape for n, s in local.inputs.items()
            }
            assert remote.max_batch == 16


def test_concurrent_clients_get_every_reply_right(server, local, samples):
    # A window of the samples, not all of them in one call: ONNX Runtime's arena grows to the
    # largest batch it ran and keeps it (the dataset's 3174 held-out samples: 2.4 GB, kept).
    pool = {k: v[:POOL] for k, v in samples.items()}
    n = POOL
    reference = local.predict(pool)
    results: dict[int, list[tuple[int, int, float]]] = {}
    errors: list[str] = []

    def client(c: int) -> None:
        url = server.grpc_url("middle") if c % 2 else server.http_url("middle")
        rng = np.random.default_rng(c)
        got = []
        try:
            with TritonEngine(url) as engine:
                for _ in range(12):
                    start, size = int(rng.integers(0, n - 4)), int(rng.integers(1, 5))
                    probs = engine.predict({k: v[start : start + size] for k, v in pool.items()})
                    diff = float(np.max(np.abs(probs - reference[start : start + size])))
                    got.append((start, size, diff))
        except Exception as exc:
            errors.append(f"client {c}: {exc}")
        results[c] = got

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_S)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert errors == []
    replies = [r for got in results.values() for r in got]
    assert len(replies) == 8 * 12  # none lost
    assert max(diff for _, _, diff in replies) <= 1e-5  # none wrong


def test_a_batch_larger_than_the_servers_limit_is_split(server, local, samples):
    batch = {k: v[:37] for k, v in samples.items()}
    with TritonEngine(server.grpc_url("middle")) as remote:
        np.testing.assert_allclose(remote.predict(batch), local.predict(batch), atol=1e-5)


def _labels(result) -> list[str]:
    return [
        json.loads(line)["label"] for line in result.stdout.splitlines() if line.startswith("{")
    ]


def test_run_on_a_remote_engine_gives_the_local_labels(server):
    clip = str(demo_clips()[0])
    common = ["run", "--camera", clip, "--no-realtime", "--json", "--max-frames", "40"]
    here = run_cli(*common, "--engine", str(shipped_path("middle", ".onnx")))
    there = run_cli(*common, "--engine", server.grpc_url("middle"))
    assert here.returncode == 0 and there.returncode == 0, there.stderr[-2000:]
    assert len(_labels(here)) == 40 and _labels(there) == _labels(here)
    fused = [json.loads(line) for line in there.stdout.splitlines() if line.startswith("{")]
    assert any(r["engine"] == "fused" for r in fused)


def test_a_wrong_model_name_is_one_line(server):
    clip = str(demo_clips()[0])
    result = run_cli(
        "run", "--camera", clip, "--engine", server.grpc_url("nosuch"), "--max-frames", "2"
    )
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "'nosuch' is not served" in lines[0], result.stderr


def _stop_and_restart(local, samples) -> None:
    """The scenario of the test below, run from the module's start (:func:`_scenarios`)."""
    batch = {k: v[:3] for k, v in samples.items()}
    expected = local.predict(batch)
    ports = (free_port(), free_port(), free_port())
    first = ServerProcess(["middle"], ports=ports).start()
    try:
        remote = TritonEngine(first.grpc_url("middle"), retry_s=90.0)
        np.testing.assert_allclose(remote.predict(batch), expected, atol=1e-5)
        started = time.monotonic()
        assert first.stop() == 0 and time.monotonic() - started < 30  # SIGTERM: clean, bounded
    finally:
        first.stop()

    clip = str(demo_clips()[0])
    down = run_cli("run", "--camera", clip, "--engine", first.grpc_url("middle"), timeout=60)
    assert down.returncode == 2
    lines = error_lines(down)
    assert len(lines) == 1 and "not reachable" in lines[0], down.stderr

    remote.retry_s = 0.0  # no patience: the open engine fails in one line
    with pytest.raises(EdgeferError, match="not reachable"):
        remote.predict(batch)
    remote.retry_s = 90.0

    second = ServerProcess(["middle"], ports=ports)
    try:
        assert not _listening(first.grpc_port)
        second.launch()  # not up for seconds: the call below starts before it and waits (backoff)
        probs = remote.predict(batch)
        second.wait_ready()
        np.testing.assert_allclose(probs, expected, atol=1e-5)
    finally:
        remote.close()
        assert second.stop() == 0


def test_a_port_in_use_is_one_line_before_anything_starts():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        server = ServerProcess(["middle"], ports=(free_port(), taken, free_port()), start_s=60)
        with pytest.raises(EdgeferError, match="exited with 2"):
            server.start()
        out = [line for line in server.output().splitlines() if line.strip()]
        assert len(out) == 1 and f"grpc port {taken} on 127.0.0.1 is in use" in out[0], out


def test_bad_serve_input_is_one_line():
    for args, words in (
        (["nosuch.onnx"], "model not found"),
        (["middle", "middle"], "two models would be served as 'middle'"),
        (["middle", "--http-port", "8001", "--grpc-port", "8001"], "must differ"),
        (["bad name=middle"], "a served name may hold"),
    ):
        result = run_cli("serve", *args)
        assert result.returncode == 2, args
        lines = error_lines(result)
        assert len(lines) == 1 and words in lines[0], (args, result.stderr)


def test_model_urls_parse_or_say_what_is_wrong():
    url = ModelUrl.parse("grpc://10.0.0.2:9001/middle/3")
    assert (url.host, url.port, url.model, url.version) == ("10.0.0.2", 9001, "middle", "3")
    assert ModelUrl.parse("http://box/face").port == 8000
    for bad in ("grpc://host", "ftp://host/m", "grpc://host:port/m"):
        with pytest.raises(EdgeferError):
            ModelUrl.parse(bad)


def test_bench_of_a_served_model_sits_beside_its_local_export(server, tmp_path):
    result = run_cli(
        "bench", server.grpc_url("middle"), "--no-fresh-process", "--iterations", "30",
        "--rounds", "3", "--per-class", "20", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {r["name"]: r for r in json.loads((tmp_path / "bench.json").read_text())["engines"]}
    assert set(rows) == {"onnxruntime-fp32", "triton-fp32-grpc"}
    remote, local_row = rows["triton-fp32-grpc"], rows["onnxruntime-fp32"]
    assert remote["file"] == server.grpc_url("middle") and remote["size_mb"] is None
    assert remote["agreement"] == 1.0 and remote["max_abs_diff"] <= 1e-5
    assert remote["accuracy"] == local_row["accuracy"] and remote["latency_n"] > 0


def test_an_unreadable_model_is_one_line_before_the_server_starts(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(shipped_path("middle", ".onnx").read_bytes()[:5000])  # truncated
    server = ServerProcess([f"broken={broken}"], start_s=60)
    with pytest.raises(EdgeferError, match="exited with 2"):
        server.start()
    out = [line for line in server.output().splitlines() if line.strip()]
    assert len(out) == 1 and "cannot load broken.onnx" in out[0], out


def _ctrl_c_stop(_local, _samples) -> None:
    """The scenario of the test below, run from the module's start (:func:`_scenarios`)."""
    server = ServerProcess(["face"]).start()
    try:
        assert server.process is not None
        server.process.send_signal(signal.SIGINT)  # what Ctrl-C in its terminal sends
        assert server.process.wait(30) == 0
        assert "stopped: tritonserver shut down, engines closed" in server.output()
    finally:
        server.stop()


# Last in the module, so that their scenarios have run beside all the tests above.
def test_a_stopped_server_is_one_line_and_a_restarted_one_is_resumed(_scenarios):
    _scenarios["restart"].result()


def test_ctrl_c_stops_the_server_as_cleanly_as_sigterm(_scenarios):
    _scenarios["ctrl_c"].result()
