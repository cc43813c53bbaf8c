"""Synthetic masks on real FER2013 faces: deterministic, on the lower face, never on the eyes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgefer.errors import EdgeferError
from edgefer.masks import (
    COLOURS,
    SHAPES,
    MaskStyle,
    apply_mask,
    mask_fraction_covered,
    sample_style,
)


@pytest.fixture(scope="module")
def faces(fer_dir: Path) -> list[np.ndarray]:
    """20 real aligned 48x48 grey val crops, spread over the emotions."""
    files = sorted((fer_dir / "val").glob("*/*.jpg"))
    assert len(files) >= 20, f"too few FER2013 val faces under {fer_dir}"
    picks = [files[i] for i in np.linspace(0, len(files) - 1, 20).astype(int)]
    images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in picks]
    assert all(img is not None and img.shape == (48, 48) for img in images)
    return images


def _changed(original: np.ndarray, masked: np.ndarray) -> np.ndarray:
    diff = original != masked
    return diff.any(axis=2) if diff.ndim == 3 else diff


def _styles_per_shape(seed: int) -> list[MaskStyle]:
    base = sample_style(np.random.default_rng(seed))
    return [dataclasses.replace(base, shape=s, pleats=s == "surgical") for s in SHAPES]


def _nearest_colour(colour: tuple[int, int, int]) -> str:
    return min(COLOURS, key=lambda name: np.abs(np.subtract(COLOURS[name], colour)).sum())


# ------------------------------------------------------------------------------------ determinism
def test_same_seed_gives_identical_bytes(faces: list[np.ndarray]) -> None:
    for k, face in enumerate(faces):
        first, second = apply_mask(face, seed=k), apply_mask(face.copy(), seed=k)
        assert first.tobytes() == second.tobytes()
    colour = cv2.cvtColor(faces[0], cv2.COLOR_GRAY2BGR)
    assert apply_mask(colour, 7).tobytes() == apply_mask(colour, 7).tobytes()


def test_same_bytes_in_a_fresh_process(faces: list[np.ndarray], tmp_path: Path) -> None:
    """No hash(), no global RNG: another interpreter with another hash seed draws the same mask."""
    np.save(tmp_path / "face.npy", faces[3])
    code = (
        "import sys, numpy as np; from edgefer.masks import apply_mask; "
        "f = np.load(sys.argv[1]); np.random.seed(123); "
        "np.save(sys.argv[2], apply_mask(f, 42))"
    )
    out = tmp_path / "masked.npy"
    env = {"PYTHONHASHSEED": "987"}
    subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "face.npy"), str(out)],
        check=True,
        env={**os.environ, **env},
    )
    assert np.load(out).tobytes() == apply_mask(faces[3], 42).tobytes()


def test_different_seeds_vary_style_and_output(faces: list[np.ndarray]) -> None:
    styles = [sample_style(np.random.default_rng(seed)) for seed in range(20)]
    assert len({s.shape for s in styles}) == len(SHAPES)
    assert len({s.colour for s in styles}) >= 10
    near = {_nearest_colour(s.colour) for s in styles}
    assert len(near) >= 4, near
    outputs = {apply_mask(faces[0], seed).tobytes() for seed in range(20)}
    assert len(outputs) == 20


# ------------------------------------------------------------------------------------ geometry
@pytest.mark.parametrize("shape_index", range(len(SHAPES)))
def test_mask_covers_lower_face_and_not_the_eyes(faces: list[np.ndarray], shape_index: int) -> None:
    for k, face in enumerate(faces):
        style = _styles_per_shape(100 + k)[shape_index]
        changed = _changed(face, apply_mask(face, seed=k, style=style))
        h, w = changed.shape
        total = changed.sum()
        assert changed[int(0.45 * h) :].sum() > 0.9 * total, f"face {k}: mask too high"
        mouth = changed[int(0.70 * h) : int(0.85 * h), int(0.3 * w) : int(0.7 * w)]
        assert mouth.mean() > 0.9, f"face {k} {style.shape}: mouth only {mouth.mean():.0%} covered"
        nose_tip = changed[int(0.60 * h) : int(0.64 * h), int(0.4 * w) : int(0.6 * w)]
        assert nose_tip.mean() > 0.9, f"face {k} {style.shape}: nose tip not covered"
        eyes = changed[int(0.25 * h) : int(0.40 * h)]
        assert eyes.mean() < 0.01, f"face {k} {style.shape}: eye band {eyes.mean():.1%} changed"
        assert 0.2 < mask_fraction_covered(face, apply_mask(face, k, style=style)) < 0.6


def test_grey_mask_differs_from_skin(faces: list[np.ndarray]) -> None:
    """A beige or pink mask drawn grey must not vanish into the skin around it."""
    for k, face in enumerate(faces):
        for name in ("beige", "pink", "white", "grey"):
            style = MaskStyle(shape="cloth", colour=COLOURS[name], pleats=False)
            masked = apply_mask(face, seed=k, style=style).astype(float)
            skin = np.median(face[19:24, 14:34].astype(float))  # rows 0.40-0.50: nose bridge
            core = masked[34:42, 16:32].mean()  # mouth and chin, under the mask
            assert abs(core - skin) > 20, f"face {k} {name}: mask {core:.0f} vs skin {skin:.0f}"


def test_grey_and_bgr_keep_shape_dtype_and_input(faces: list[np.ndarray]) -> None:
    grey = faces[5]
    colour = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    for image in (grey, colour, grey[:, :, None]):
        before = image.copy()
        out = apply_mask(image, seed=3)
        assert out.shape == image.shape and out.dtype == np.uint8
        assert np.array_equal(image, before), "input was modified"
        assert 0.2 < mask_fraction_covered(image, out) < 0.6
    bgr = apply_mask(colour, seed=3, style=MaskStyle(colour=COLOURS["light_blue"]))
    mouth = bgr[36:40, 20:28].reshape(-1, 3).astype(int)
    assert (mouth[:, 0] > mouth[:, 2] + 30).all(), "light blue mask should be blue in BGR"


def test_box_in_a_frame_changes_only_the_box(faces: list[np.ndarray]) -> None:
    crop = cv2.resize(faces[7], (96, 96), interpolation=cv2.INTER_CUBIC)
    frame = np.full((200, 260, 3), 77, np.uint8)
    frame[50:146, 120:216] = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    box = (120, 50, 96, 96)
    for seed in range(6):
        out = apply_mask(frame, seed=seed, box=box)
        changed = _changed(frame, out)
        inside = np.zeros_like(changed)
        inside[50:146, 120:216] = True
        assert not changed[~inside].any(), "pixels outside the face box changed"
        assert changed[50 + 70 : 50 + 82, 150:186].mean() > 0.9
        assert changed[50 + 24 : 50 + 38].mean() < 0.01
        # the box is rendered exactly as the same face given as a crop
        alone = apply_mask(frame[50:146, 120:216].copy(), seed=seed)
        assert np.array_equal(out[50:146, 120:216], alone)


def test_box_partly_outside_is_clipped(faces: list[np.ndarray]) -> None:
    frame = np.zeros((100, 100), np.uint8)
    frame[60:100, 70:100] = faces[0][:40, :30]
    out = apply_mask(frame, seed=1, box=(70, 60, 48, 48))
    assert out.shape == frame.shape
    assert not _changed(frame, out)[:60].any() and not _changed(frame, out)[:, :70].any()


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("image", "box"),
    [
        (np.zeros((48, 48), np.float32), None),
        (np.zeros((48, 48), np.uint16), None),
        (np.zeros(48 * 48, np.uint8), None),
        (np.zeros((2, 48, 48, 3), np.uint8), None),
        (np.zeros((48, 48, 4), np.uint8), None),
        (np.zeros((12, 48), np.uint8), None),
        ([[0] * 48] * 48, None),
        (np.zeros((100, 100), np.uint8), (120, 10, 40, 40)),
        (np.zeros((100, 100), np.uint8), (-50, 10, 40, 40)),
        (np.zeros((100, 100), np.uint8), (10, 10, 8, 40)),
        (np.zeros((100, 100), np.uint8), (10, 10, 40)),
        (np.zeros((100, 100), np.uint8), ("a", 1, 2, 3)),
    ],
)
def test_bad_input_raises(image: np.ndarray, box: tuple[int, ...] | None) -> None:
    with pytest.raises(EdgeferError) as info:
        apply_mask(image, seed=0, box=box)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "changes",
    [{"shape": "bandana"}, {"top": 0.30}, {"bottom": 0.80}, {"colour": (0, 0, 300)}, {"side": 0.4}],
)
def test_bad_style_raises(changes: dict) -> None:
    with pytest.raises(EdgeferError):
        MaskStyle(**changes)


def test_fraction_covered_needs_matching_shapes() -> None:
    with pytest.raises(EdgeferError):
        mask_fraction_covered(np.zeros((48, 48), np.uint8), np.zeros((48, 47), np.uint8))
