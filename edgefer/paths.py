"""Where the shared real data lives.

Tests, CI and the default commands read ``../shared/data`` beside the repository; ``EDGEFER_DATA``
points elsewhere (a Jetson with the data on an SD card, say).
"""

from __future__ import annotations

import os
from pathlib import Path

from edgefer.errors import EdgeferError

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_root(required: bool = True) -> Path:
    """Return the folder of real data (``$EDGEFER_DATA`` or ``<repo>/../shared/data``)."""
    env = os.environ.get("EDGEFER_DATA")
    root = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    if required and not root.is_dir():
        raise EdgeferError(
            f"data folder not found: {root} (set EDGEFER_DATA to the folder holding faces/ and voice/)"
        )
    return root
