"""TensorRT versions and JetPack releases: which API each offers, which we refuse, Jetson detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefer.engines.trt_plan import (
    DESKTOP_WORKSPACE,
    JETSON_WORKSPACE,
    default_workspace_bytes,
)
from edgefer.engines.trt_versions import JETPACK_TENSORRT, tensorrt_for_jetpack, trt_caps
from edgefer.errors import EdgeferError
from edgefer.platform_info import is_jetson


@pytest.mark.parametrize("version", ["8.2.1", "8.4.1.5", "7.1.3"])
def test_tensorrt_before_8_5_is_refused_naming_jetpack_5_1(version: str) -> None:
    with pytest.raises(EdgeferError, match=r"8\.5 or newer.*JetPack 5\.1\+"):
        trt_caps(version)


def test_unreadable_tensorrt_version_is_an_error() -> None:
    with pytest.raises(EdgeferError, match="cannot read"):
        trt_caps("trt-latest")


def test_every_jetpack_in_the_table_is_built_for_or_refused_naming_jetpack_5_1() -> None:
    """A property of the whole table, not its rows again: a JetPack from 5.1 on maps to a TensorRT
    the builder accepts (with the 8.5-10 flags), an older one to a refusal that says what to flash,
    and a patch release not listed falls back to its minor release."""
    for jetpack, trt in JETPACK_TENSORRT.items():
        assert tensorrt_for_jetpack(jetpack) == trt
        assert tensorrt_for_jetpack(jetpack + ".9") == tensorrt_for_jetpack(jetpack)
        major_minor = tuple(int(part) for part in jetpack.split(".")[:2])
        if major_minor >= (5, 1):
            caps = trt_caps(trt)
            assert caps.has_legacy_calibrator and not caps.strongly_typed  # no JetPack ships 11
        else:
            with pytest.raises(EdgeferError, match="JetPack 5.1"):
                trt_caps(trt)


def test_jetpack_4_ships_a_tensorrt_we_refuse() -> None:
    assert tensorrt_for_jetpack("4.6.1") == "8.2.1"
    with pytest.raises(EdgeferError, match="JetPack 5.1"):
        trt_caps(tensorrt_for_jetpack("4.6.4"))
    with pytest.raises(EdgeferError, match="unknown JetPack"):
        tensorrt_for_jetpack("7.0")


def test_jetson_detected_from_l4t_release_or_device_tree(tmp_path: Path) -> None:
    release, model = tmp_path / "nv_tegra_release", tmp_path / "model"
    assert not is_jetson(release, model)
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    assert not is_jetson(release, model)
    model.write_bytes(b"NVIDIA Jetson Orin Nano Developer Kit\x00")
    assert is_jetson(release, model)
    model.unlink()
    release.write_text("# R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic\n")
    assert is_jetson(release, model)


def test_workspace_is_smaller_on_jetson() -> None:
    assert default_workspace_bytes(jetson=True) == JETSON_WORKSPACE == 256 << 20
    assert default_workspace_bytes(jetson=False) == DESKTOP_WORKSPACE == 1 << 30
    assert default_workspace_bytes() == (JETSON_WORKSPACE if is_jetson() else DESKTOP_WORKSPACE)
