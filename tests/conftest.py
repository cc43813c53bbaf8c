"""Shared test fixtures: the real data folder and small real subsets of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefer.paths import data_root


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root(required=False)
    if not root.is_dir():
        pytest.fail(f"real test data missing at {root}; set EDGEFER_DATA")
    return root


@pytest.fixture(scope="session")
def fer_dir(data_dir: Path) -> Path:
    return data_dir / "faces" / "fer2013"


@pytest.fixture(scope="session")
def ravdess_dir(data_dir: Path) -> Path:
    return data_dir / "voice" / "ravdess"


@pytest.fixture(scope="session")
def cremad_dir(data_dir: Path) -> Path:
    return data_dir / "voice" / "cremad"
