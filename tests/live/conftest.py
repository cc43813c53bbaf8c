"""Real clips for the live-loop tests: a CREMA-D video with its sound track, and real voices."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def av_dir(data_dir: Path) -> Path:
    return data_dir / "av" / "cremad"


@pytest.fixture(scope="session")
def flv(av_dir: Path) -> Path:
    """480x360 FLV, 67 frames at 29.97 fps, with the actor's voice as its sound track."""
    return av_dir / "1001_DFA_ANG_XX.flv"


@pytest.fixture(scope="session")
def speech_wav(cremad_dir: Path) -> Path:
    return cremad_dir / "1001_DFA_HAP_XX.wav"
