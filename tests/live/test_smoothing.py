"""Smoothing math: EMA and windowed mean of probability vectors, reset when the modalities change."""

from __future__ import annotations

import numpy as np
import pytest

from edgefer.errors import EdgeferError
from edgefer.live.smoothing import EmaSmoother, NoSmoothing, WindowSmoother, make_smoother

A = np.array([0.8, 0.1, 0.1])
B = np.array([0.1, 0.2, 0.7])


def test_ema_follows_its_recurrence():
    ema = EmaSmoother(alpha=0.25)
    np.testing.assert_allclose(ema.update(A, "fused"), A, rtol=1e-6)
    np.testing.assert_allclose(ema.update(B, "fused"), 0.25 * B + 0.75 * A, rtol=1e-6)
    third = 0.25 * B + 0.75 * (0.25 * B + 0.75 * A)
    np.testing.assert_allclose(ema.update(B, "fused"), third, rtol=1e-6)


def test_window_mean_forgets_after_its_size():
    window = WindowSmoother(size=2)
    window.update(A)
    np.testing.assert_allclose(window.update(B), (A + B) / 2, rtol=1e-6)
    np.testing.assert_allclose(window.update(B), B, rtol=1e-6)


@pytest.mark.parametrize("smoother", [EmaSmoother(0.1), WindowSmoother(10)])
def test_a_change_of_modalities_or_face_count_starts_afresh(smoother):
    smoother.update(A, ("face", "voice"))
    smoother.update(A, ("face", "voice"))
    np.testing.assert_allclose(smoother.update(B, ("face",)), B, rtol=1e-6)
    two = np.stack([A, B])
    np.testing.assert_allclose(smoother.update(two, ("face",)), two, rtol=1e-6)


def test_outputs_are_distributions_and_inputs_are_checked():
    out = make_smoother("ema", 0.5).update(np.array([2.0, 1.0, 1.0]))
    assert out.dtype == np.float32 and out.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(NoSmoothing().update(B), B, rtol=1e-6)
    assert isinstance(make_smoother("window", 3), WindowSmoother)
    with pytest.raises(EdgeferError):
        make_smoother("median")
    with pytest.raises(EdgeferError):
        EmaSmoother(0.0)
    with pytest.raises(EdgeferError):
        WindowSmoother(0)
    with pytest.raises(EdgeferError):
        EmaSmoother().update(np.array([np.nan, 0.5, 0.5]))
