"""A remote engine: the :class:`~edgefer.engines.base.Engine` interface over a Triton server.

``grpc://host:8001/middle`` or ``http://host:8000/middle`` names a model served by ``edgefer serve``
or by the Triton container from ``edgefer export --format triton``; the live loop and the benchmarks
use it as they use a local file. Everything a client needs comes from the server: the inputs and the
batch limit from the model's config, the class names and preprocessing spec from the config parameter
:data:`edgefer.serving.METADATA_PARAMETER`, so no local model file is needed.

A server that restarts is waited for: a call that cannot reach it is retried with exponential
backoff for up to ``retry_s`` seconds, then fails with one line. A wrong model name fails at open
with the names the server does serve.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from edgefer.engines.base import Engine, TensorSpec
from edgefer.errors import EdgeferError
from edgefer.serving import METADATA_PARAMETER, OUTPUT_NAME, TRITON_TYPES

SCHEMES = ("grpc", "http")
DEFAULT_PORTS = {"grpc": 8001, "http": 8000}
_DTYPES = {triton: dtype for dtype, triton in TRITON_TYPES.items()}


def is_remote(target: object) -> bool:
    """Whether ``target`` is a ``grpc://`` or ``http://`` model URL rather than a file."""
    return isinstance(target, str) and target.split("://", 1)[0] in SCHEMES and "://" in target


@dataclass(frozen=True)
class ModelUrl:
    """``scheme://host:port/model[/version]`` split into its parts."""

    scheme: str
    host: str
    port: int
    model: str
    version: str = ""

    @classmethod
    def parse(cls, url: str) -> ModelUrl:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise EdgeferError(
                f"a remote engine is grpc://HOST:PORT/MODEL or http://..., got {url}"
            )
        path = [p for p in parts.path.split("/") if p]
        if not parts.hostname or not path or len(path) > 2:
            raise EdgeferError(f"a remote engine URL names a host and a model: {url}")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            raise EdgeferError(f"bad port in {url}") from None
        return cls(parts.scheme, parts.hostname, port, path[0], path[1] if len(path) > 1 else "")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.address}/{self.model}"


def _client_module(scheme: str) -> Any:
    try:
        if scheme == "grpc":
            import tritonclient.grpc as module  # type: ignore[import-untyped]
        else:
            import tritonclient.http as module  # type: ignore[import-untyped]
    except ImportError as exc:
        raise EdgeferError(
            f"a remote engine needs tritonclient ({exc}): pip install 'edgefer[client]'"
        ) from None
    return module


# A model opened before cannot vanish by itself: these mean a restarted server still loading it.
_LOADING = ("unknown model", "no available versions", "is not ready", "not found")


def _unreachable(exc: BaseException, loading: bool = False) -> bool:
    """Whether an error means 'no server there (yet)', which a restart cures, not a refusal.

    With ``loading``, also a server that is up but has not loaded the model yet.
    """
    text = str(exc).lower()
    if loading and any(word in text for word in _LOADING):
        return True
    if "restricted" in text:  # an API the server keeps to itself: no retry cures that
        return False
    return any(
        word in text
        for word in (
            "unavailable",
            "connection refused",
            "failed to connect",
            "connect failed",
            "deadline",
            "timed out",
            "timeout",
            "broken pipe",
            "reset by peer",
            "socket closed",
            "server disconnected",
        )
    ) or isinstance(exc, ConnectionError | OSError)


class TritonEngine(Engine):
    """One model of a Triton server, called over gRPC or HTTP."""

    backend = "triton"

    def __init__(
        self, url: str, timeout_s: float = 10.0, retry_s: float = 20.0, connect_s: float = 5.0
    ) -> None:
        """Set the time limits of calls and of waiting for the server.

        ``timeout_s`` bounds one call; ``retry_s`` is how long a call waits for a server that
        restarts; ``connect_s`` how long opening waits for one that is not (yet) up.
        """
        self.url = ModelUrl.parse(url)
        self.path = str(self.url)
        self.timeout_s, self.retry_s = float(timeout_s), float(retry_s)
        self._module = _client_module(self.url.scheme)
        self._client: Any = None
        self._connect()
        config = self._with_retry("read the model config", self._model_config, connect_s)
        self.max_batch = int(config.get("max_batch_size", 0) or 0)
        self.inputs = {
            i["name"]: TensorSpec(
                i["name"],
                (None, *[int(d) for d in i["dims"]])
                if self.max_batch
                else tuple(int(d) for d in i["dims"]),
                _DTYPES.get(i["data_type"], "float32"),
            )
            for i in config.get("input", [])
        }
        self.outputs = {
            o["name"]: TensorSpec(o["name"], (None, *[int(d) for d in o["dims"]]))
            for o in config.get("output", [])
        }
        if OUTPUT_NAME not in self.outputs:
            raise EdgeferError(f"{self.url} has no output {OUTPUT_NAME!r}: not an edgefer model")
        raw = (config.get("parameters") or {}).get(METADATA_PARAMETER, {}).get("string_value")
        if not raw:
            raise EdgeferError(
                f"{self.url} carries no edgefer metadata (config parameter {METADATA_PARAMETER}): "
                "serve it with `edgefer serve` or export it with `edgefer export --format triton`"
            )
        try:
            self.metadata = dict(json.loads(raw))
        except ValueError:
            raise EdgeferError(f"{self.url}: its edgefer metadata is not JSON") from None
        self.precision = str(self.metadata.get("precision", "unknown"))

    # -- connection -------------------------------------------------------------------------------
    def _connect(self) -> None:
        if self.url.scheme == "grpc":
            self._client = self._module.InferenceServerClient(self.url.address)
        else:
            self._client = self._module.InferenceServerClient(
                self.url.address, connection_timeout=self.timeout_s, network_timeout=self.timeout_s
            )

    def _with_retry(
        self, what: str, call: Any, budget_s: float | None = None, loading: bool = False
    ) -> Any:
        """``call()``, retried with backoff while the server is unreachable.

        The backoff goes from 0.1 s doubling to 2 s, for ``budget_s`` (default ``retry_s``) seconds.
        """
        budget = self.retry_s if budget_s is None else budget_s
        deadline, delay = time.monotonic() + budget, 0.1
        while True:
            try:
                return call()
            except EdgeferError:
                raise
            except Exception as exc:  # tritonclient's InferenceServerException, gevent/grpc errors
                if not _unreachable(exc, loading) or time.monotonic() + delay > deadline:
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    reason = "not reachable" if _unreachable(exc, loading) else "refused the call"
                    raise EdgeferError(
                        f"Triton server at {self.url.scheme}://{self.url.address} {reason} "
                        f"(could not {what} of {self.url.model}): {first}"
                    ) from None
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            if self.url.scheme == "http":  # a dropped keep-alive pool is not reused
                self._connect()

    def _model_config(self) -> dict[str, Any]:
        client, name = self._client, self.url.model
        if not client.is_server_live():
            raise ConnectionError("server not live")
        if not client.is_model_ready(name, self.url.version):
            try:
                served = ", ".join(self._served_names()) or "nothing"
            except Exception:  # PyTriton restricts the repository API to its own token
                served = "(the server does not list its models)"
            raise EdgeferError(
                f"model {name!r} is not served (or not ready) at {self.url.scheme}://"
                f"{self.url.address}; it serves: {served}"
            )
        if self.url.scheme == "grpc":
            config = client.get_model_config(name, self.url.version, as_json=True)
            return dict(config["config"])
        return dict(client.get_model_config(name, self.url.version))

    def _served_names(self) -> list[str]:
        if self.url.scheme == "grpc":
            index = self._client.get_model_repository_index(as_json=True).get("models", [])
        else:
            index = self._client.get_model_repository_index()
        return sorted({m["name"] for m in index if m.get("state", "READY") == "READY"})

    # -- inference --------------------------------------------------------------------------------
    def _infer(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        module, arrays = self._module, []
        for name, array in inputs.items():
            request = module.InferInput(name, list(array.shape), "FP32")
            request.set_data_from_numpy(np.ascontiguousarray(array, dtype=np.float32))
            arrays.append(request)
        wanted = [module.InferRequestedOutput(OUTPUT_NAME)]
        if self.url.scheme == "grpc":
            result = self._client.infer(
                self.url.model,
                arrays,
                self.url.version,
                outputs=wanted,
                client_timeout=self.timeout_s,
            )
        else:
            result = self._client.infer(self.url.model, arrays, self.url.version, outputs=wanted)
        return np.asarray(result.as_numpy(OUTPUT_NAME), dtype=np.float32)

    def _run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if self._client is None:
            raise EdgeferError(f"engine {self.url} is closed")
        n = next(iter(inputs.values())).shape[0]
        step = self.max_batch or n
        parts = []
        for start in range(0, n, step):
            chunk = {k: v[start : start + step] for k, v in inputs.items()}
            parts.append(
                self._with_retry("run inference", lambda c=chunk: self._infer(c), loading=True)
            )
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def describe(self) -> str:
        return f"{super().describe()} (remote {self.url})"
