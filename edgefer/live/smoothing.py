"""Temporal smoothing of class probabilities, so the label does not flicker from frame to frame.

A smoother is keyed by the modality set (or engine) that produced the probabilities: when the loop
switches from the fused model to the face model (the voice went silent) the two models' outputs are
not comparable, so the history is dropped rather than blended.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

import numpy as np

from edgefer.errors import EdgeferError


class Smoother:
    """Base: checks, normalises and resets on a key or shape change; subclasses average."""

    def __init__(self) -> None:
        self._key: Hashable | None = None
        self._shape: tuple[int, ...] | None = None

    def update(self, probs: np.ndarray, key: Hashable = None) -> np.ndarray:
        """Add one probability vector (C,) or batch (N, C); return the smoothed one, same shape.

        A different ``key`` (e.g. the modalities used) or shape (a face appeared) starts afresh."""
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim not in (1, 2) or probs.shape[-1] == 0 or not np.all(np.isfinite(probs)):
            raise EdgeferError(
                f"probabilities must be a finite (C,) or (N, C) array: {probs.shape}"
            )
        if key != self._key or probs.shape != self._shape:
            self.reset()
            self._key, self._shape = key, probs.shape
        out = self._update(probs)
        return (out / out.sum(axis=-1, keepdims=True)).astype(np.float32)

    def reset(self) -> None:
        self._key, self._shape = None, None

    def _update(self, probs: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class NoSmoothing(Smoother):
    """Passes probabilities through (still normalised and checked)."""

    def _update(self, probs: np.ndarray) -> np.ndarray:
        return probs


class EmaSmoother(Smoother):
    """Exponential moving average: ``s = alpha * p + (1 - alpha) * s``; the first value starts it.

    alpha : weight of the newest vector, in (0, 1]; 1 disables smoothing. At 30 inferences/s,
        alpha = 0.3 forgets a value to 5 % in about 8 ticks (0.28 s).
    """

    def __init__(self, alpha: float = 0.3) -> None:
        super().__init__()
        if not 0.0 < alpha <= 1.0:
            raise EdgeferError(f"EMA alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self._state: np.ndarray | None = None

    def reset(self) -> None:
        super().reset()
        self._state = None

    def _update(self, probs: np.ndarray) -> np.ndarray:
        if self._state is None:
            self._state = probs.copy()
        else:
            self._state = self.alpha * probs + (1.0 - self.alpha) * self._state
        return self._state


class WindowSmoother(Smoother):
    """Mean of the last ``size`` vectors (fewer right after a reset)."""

    def __init__(self, size: int = 5) -> None:
        super().__init__()
        if size < 1:
            raise EdgeferError(f"smoothing window must hold >= 1 value, got {size}")
        self.size = size
        self._history: deque[np.ndarray] = deque(maxlen=size)

    def reset(self) -> None:
        super().reset()
        self._history.clear()

    def _update(self, probs: np.ndarray) -> np.ndarray:
        self._history.append(probs)
        return np.mean(np.stack(self._history), axis=0)


def make_smoother(kind: str = "ema", value: float | None = None) -> Smoother:
    """``ema`` (value = alpha, default 0.3), ``window`` (value = size, default 5) or ``none``."""
    if kind == "ema":
        return EmaSmoother(0.3 if value is None else float(value))
    if kind == "window":
        return WindowSmoother(5 if value is None else int(value))
    if kind == "none":
        return NoSmoothing()
    raise EdgeferError(f"unknown smoothing {kind!r}: choose ema, window or none")
