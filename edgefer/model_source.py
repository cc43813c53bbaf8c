"""Where a trained model's files are, for a run folder or a ``.keras`` file.

The files are the ``.keras`` model, its preprocessing spec and its run config. ``export`` and
``calibrate`` both start from here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgefer.errors import EdgeferError


def resolve_source(source: str | Path) -> tuple[Path, Path, dict[str, Any]]:
    """(model.keras, spec.json, run config or {}) of a run folder or a ``.keras`` file.

    A ``.keras`` file's spec is ``<stem>.spec.json`` beside it (shipped models) or ``spec.json`` in its
    folder (a run folder).
    """
    source = Path(source)
    if source.is_dir():
        model, folder = source / "model.keras", source
        if not model.is_file():
            raise EdgeferError(f"{source} holds no model.keras: is it a finished run folder?")
    elif source.suffix == ".keras" and source.is_file():
        model, folder = source, source.parent
    else:
        raise EdgeferError(f"not a run folder or a .keras model: {source}")
    spec = next(
        (p for p in (folder / f"{model.stem}.spec.json", folder / "spec.json") if p.is_file()), None
    )
    if spec is None:
        raise EdgeferError(
            f"no preprocessing spec beside {model} ({model.stem}.spec.json or spec.json)"
        )
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    return model, spec, config
