"""Artefact bookkeeping: content hashes, sidecar metadata, cache keys and atomic writes.

Every artefact (ONNX file, engine, calibration set) gets a sidecar ``<file>.json`` that says what made
it: source model hash, precision, input shapes, calibration-set hash, runtime + version, GPU name and
compute capability. Loading compares the sidecar with what the caller expects and refuses a mismatch
with a message that says what differs. Writes go to a temporary file in the same folder and are
renamed into place, so a crash never leaves a half-written artefact under the real name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgefer import __version__
from edgefer.errors import EdgeferError

SIDECAR_VERSION = 1


def file_sha256(path: str | Path, length: int = 16) -> str:
    """Hex SHA-256 of a file's bytes (first ``length`` characters)."""
    path = Path(path)
    if not path.is_file():
        raise EdgeferError(f"file not found: {path}")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:length]


def cache_key(fields: dict[str, Any], length: int = 16) -> str:
    """Stable key of a dict of build settings (sorted JSON, SHA-256)."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:length]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary name keeps the real suffix (some writers insist on ``.onnx`` or ``.keras``).
    """
    path = Path(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=folder)
    except OSError as exc:
        raise EdgeferError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file 0600; give it the mode a plain open() would (0666 minus umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def sidecar_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def write_sidecar(artifact: str | Path, info: dict[str, Any]) -> dict[str, Any]:
    """Write ``<artifact>.json`` with ``info`` plus the artefact's own hash, size and provenance."""
    artifact = Path(artifact)
    record = {
        "sidecar_version": SIDECAR_VERSION,
        "edgefer_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "file": artifact.name,
        "file_sha256": file_sha256(artifact),
        "size_bytes": artifact.stat().st_size,
        **info,
    }
    atomic_write_text(sidecar_path(artifact), json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def read_sidecar(artifact: str | Path, verify_hash: bool = True) -> dict[str, Any]:
    """Read and check ``<artifact>.json``: present, valid JSON, and describing these bytes.

    The last check (on by default) means the sidecar describes exactly these bytes, so a truncated
    or swapped artefact is caught before a runtime tries to load it.
    """
    artifact = Path(artifact)
    side = sidecar_path(artifact)
    if not side.is_file():
        raise EdgeferError(f"no metadata for {artifact.name}: {side.name} is missing; rebuild it")
    try:
        record = json.loads(side.read_text())
    except json.JSONDecodeError as exc:
        raise EdgeferError(f"corrupt metadata {side}: {exc}") from exc
    if not isinstance(record, dict):
        raise EdgeferError(f"corrupt metadata {side}: not a JSON object")
    if verify_hash and record.get("file_sha256") != file_sha256(artifact):
        raise EdgeferError(
            f"{artifact.name} does not match its metadata (truncated or replaced); rebuild it"
        )
    return record


def mismatches(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """``key: actual != expected`` for each expected key whose value differs (JSON-normalised)."""
    problems = []
    for key, want in expected.items():
        have = actual.get(key)
        if json.loads(json.dumps(have, default=str)) != json.loads(json.dumps(want, default=str)):
            problems.append(f"{key}: {have!r} != {want!r}")
    return problems


def ensure_writable(folder: Path) -> None:
    """Fail before any work when the output folder cannot be made or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeferError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
    if not os.access(folder, os.W_OK):
        raise EdgeferError(f"cannot write to {folder}: permission denied")
