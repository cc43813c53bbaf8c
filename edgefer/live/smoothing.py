"""Temporal smoothing of class probabilities, so the label does not flicker from frame to frame.

A smoother is keyed by the modality set (or engine) that produced the probabilities: when the loop
switches from the fused model to the face model (the voice went silent) the two models' outputs are
not comparable, so the history is dropped rather than blended.

Two stages, both per face row:

1. averaging: :class:`EmaSmoother` (arithmetic EMA), :class:`LogEmaSmoother` (EMA of the
   log-probabilities, a renormalised geometric mean: a frame counts as evidence, so one confident
   outlier moves it less than a confident run), :class:`WindowSmoother` (mean of the last N, which
   forgets completely after N updates) or :class:`NoSmoothing`;
2. the shown label (every smoother): the argmax of the averaged probabilities, optionally with
   hysteresis (``margin``: a challenger must beat the shown label's probability by more than that)
   and a minimum dwell (``hold``: a label, once shown, stays at least that many updates). With
   either on, the shown label can differ from the argmax of the returned probabilities (which stay
   the honest average), so read it from :attr:`Smoother.labels`.

Why hysteresis: on a still, masked face the top two classes are often within a few per cent, and
any average of noisy frames then crosses over every few frames; a margin turns those crossings
into one label, while a real change, which moves the probabilities far, still gets through.

The text form (``--smoothing``) is ``KIND[:VALUE][:margin=M][:hold=N]``, parsed by
:func:`parse_smoothing_text`. :data:`DEFAULT_SMOOTHING` was chosen by measurement
(``benchmarks/label_stability.py``: the fewest flips per second on still clips among the settings
that follow a change of expression within the stated lag; the numbers are in
``benchmarks/results/label_stability.md``). ``alpha``, ``N`` and ``hold`` count updates
(inferences), not seconds: at the loop's one inference per frame (~30/s) ``window:16`` averages
0.53 s; with a lower ``--rate`` the same text spans proportionally longer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

import numpy as np

from edgefer.errors import EdgeferError

__all__ = [
    "DEFAULT_SMOOTHING",
    "EmaSmoother",
    "LogEmaSmoother",
    "NoSmoothing",
    "Smoother",
    "WindowSmoother",
    "make_smoother",
    "parse_smoothing_text",
]

# Chosen by benchmarks/label_stability.py (the rule is in its docstring and in the results).
DEFAULT_SMOOTHING = "ema:0.2:margin=0.05:hold=12"

_KINDS = "ema[:ALPHA], logema[:ALPHA], window[:N] or none"
_USAGE = f"use {_KINDS}, then optionally :margin=M (0 <= M < 1) and :hold=N (updates >= 0)"


class Smoother:
    """Base: checks, resets on a key or shape change, keeps the shown label; subclasses average.

    margin : hysteresis. The shown label changes only when another class's averaged probability
        exceeds the shown one's by more than ``margin``; 0 = plain argmax. A still face whose two
        top classes are close then keeps one label instead of flipping on every small wobble.
    hold : minimum dwell, in updates. A label, once shown (also the first after a reset), is shown
        for at least this many updates, itself included, so a flip cannot be undone on the next
        frame; 0 or 1 = off.
    """

    def __init__(self, *, margin: float = 0.0, hold: int = 0) -> None:
        if not 0.0 <= margin < 1.0 or not np.isfinite(margin):
            raise EdgeferError(f"smoothing margin must be in [0, 1), got {margin}")
        if hold < 0 or int(hold) != hold:
            raise EdgeferError(f"smoothing hold must be a whole number of updates >= 0, got {hold}")
        self.margin = float(margin)
        self.hold = int(hold)
        self._key: Hashable | None = None
        self._shape: tuple[int, ...] | None = None
        self._held: np.ndarray | None = None
        self._since: np.ndarray | None = None

    def update(self, probs: np.ndarray, key: Hashable = None) -> np.ndarray:
        """Add one probability vector (C,) or batch (N, C); return the smoothed one, same shape.

        A different ``key`` (e.g. the modalities used) or shape (a face appeared) starts afresh.
        """
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim not in (1, 2) or probs.shape[-1] == 0 or not np.all(np.isfinite(probs)):
            raise EdgeferError(
                f"probabilities must be a finite (C,) or (N, C) array: {probs.shape}"
            )
        if key != self._key or probs.shape != self._shape:
            self.reset()
            self._key, self._shape = key, probs.shape
        out = self._update(probs)
        out = out / out.sum(axis=-1, keepdims=True)
        self._track(out.reshape(-1, out.shape[-1]))
        return out.astype(np.float32)

    @property
    def labels(self) -> np.ndarray | None:
        """The shown class index per row (N,) of the last update ((1,) for a (C,) input).

        None before the first update and after a reset. Equals the argmax of the returned
        probabilities unless ``margin`` or ``hold`` keep an earlier label.
        """
        return None if self._held is None else self._held.copy()

    def reset(self) -> None:
        self._key, self._shape = None, None
        self._held, self._since = None, None

    def _update(self, probs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _track(self, rows: np.ndarray) -> None:
        """Move the shown labels given the averaged probabilities ``rows`` (N, C)."""
        best = rows.argmax(axis=1)
        if self._held is None or self._since is None:
            self._held, self._since = best, np.zeros(len(best), dtype=np.int64)
            return
        self._since += 1
        index = np.arange(len(best))
        lead = rows[index, best] - rows[index, self._held]
        beats = lead > self.margin if self.margin > 0 else np.ones(len(best), dtype=bool)
        switch = (best != self._held) & beats & (self._since >= self.hold)
        self._held = np.where(switch, best, self._held)
        self._since = np.where(switch, 0, self._since)


class NoSmoothing(Smoother):
    """Passes probabilities through (still normalised and checked)."""

    def _update(self, probs: np.ndarray) -> np.ndarray:
        return probs


class EmaSmoother(Smoother):
    """Exponential moving average: ``s = alpha * p + (1 - alpha) * s``; the first value starts it.

    alpha : weight of the newest vector, in (0, 1]; 1 disables smoothing. At 30 inferences/s,
        alpha = 0.3 forgets a value to 5 % in about 8 ticks (0.28 s).
    """

    def __init__(self, alpha: float = 0.3, *, margin: float = 0.0, hold: int = 0) -> None:
        super().__init__(margin=margin, hold=hold)
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


class LogEmaSmoother(EmaSmoother):
    """EMA of the log-probabilities, returned renormalised (a weighted geometric mean).

    Why logs: the models' outputs on a still face swing between confident answers (0.95 one frame,
    0.3 the next); in probability space one confident outlier drags the mean a long way, in log space
    a frame counts as evidence and the class that is consistently likely wins. ``floor`` bounds the
    evidence of a single frame (log 1e-3 = -6.9), so a run that was certain for a while can still be
    overturned within a few frames of the opposite.
    """

    def __init__(
        self,
        alpha: float = 0.3,
        *,
        margin: float = 0.0,
        hold: int = 0,
        floor: float = 1e-3,
    ) -> None:
        super().__init__(alpha, margin=margin, hold=hold)
        if not 0.0 < floor < 1.0:
            raise EdgeferError(f"log-EMA floor must be in (0, 1), got {floor}")
        self.floor = floor

    def _update(self, probs: np.ndarray) -> np.ndarray:
        total = probs.sum(axis=-1, keepdims=True)
        logs = np.log(np.clip(probs / np.where(total > 0, total, 1.0), self.floor, None))
        state = super()._update(logs)
        return np.exp(state - state.max(axis=-1, keepdims=True))


class WindowSmoother(Smoother):
    """Mean of the last ``size`` vectors (fewer right after a reset)."""

    def __init__(self, size: int = 5, *, margin: float = 0.0, hold: int = 0) -> None:
        super().__init__(margin=margin, hold=hold)
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


def make_smoother(
    kind: str = "ema", value: float | None = None, *, margin: float = 0.0, hold: int = 0
) -> Smoother:
    """A smoother of the given kind: ``ema`` / ``logema``, ``window`` or ``none``.

    For ``ema`` / ``logema`` the value is alpha (default 0.3), for ``window`` the size (default 5);
    ``margin`` and ``hold`` set the label's hysteresis and dwell (see :class:`Smoother`).

    A full text form (``logema:0.3:margin=0.1``, anything with ``:`` or ``=``) as ``kind`` is parsed
    by :func:`parse_smoothing_text` (then ``value``, ``margin`` and ``hold`` must be left unset).
    """
    kind = str(kind).strip().lower()
    if ":" in kind or "=" in kind:
        if value is not None or margin or hold:
            raise EdgeferError(f"smoothing {kind!r} is a full text form: give no other value")
        return parse_smoothing_text(kind)
    if value is not None and (isinstance(value, bool) or not np.isfinite(value)):
        raise EdgeferError(f"bad smoothing value {value!r} for {kind!r}")
    options = {"margin": margin, "hold": hold}
    if kind == "ema":
        return EmaSmoother(0.3 if value is None else float(value), **options)
    if kind == "logema":
        return LogEmaSmoother(0.3 if value is None else float(value), **options)
    if kind == "window":
        if value is not None and int(value) != value:
            raise EdgeferError(f"smoothing window must be a whole number of values, got {value}")
        return WindowSmoother(5 if value is None else int(value), **options)
    if kind == "none":
        if value is not None:
            raise EdgeferError(f"smoothing 'none' takes no value, got {value}")
        return NoSmoothing(**options)
    raise EdgeferError(f"unknown smoothing {kind!r}: choose {_KINDS}")


def parse_smoothing_text(text: str) -> Smoother:
    """``--smoothing`` text -> a smoother: ``KIND[:VALUE][:margin=M][:hold=N]``.

    For example ``ema``, ``ema:0.5``, ``window:8``, ``none``, ``logema:0.3:margin=0.1:hold=6``.

    Raises EdgeferError (one line) naming what is wrong, before any engine is built.

    Examples
    --------
    >>> smoother = parse_smoothing_text("ema:0.5")
    >>> type(smoother).__name__, smoother.alpha
    ('EmaSmoother', 0.5)
    >>> smoother.update(np.array([1.0, 0.0, 0.0]))
    array([1., 0., 0.], dtype=float32)
    >>> smoother.update(np.array([0.0, 1.0, 0.0]))
    array([0.5, 0.5, 0. ], dtype=float32)
    """
    raw = str(text)
    parts = [p.strip() for p in raw.strip().lower().split(":")]
    kind, rest = parts[0], parts[1:]
    value: float | None = None
    options: dict[str, float] = {}
    try:
        if rest and "=" not in rest[0]:
            value = _number(rest.pop(0))
        for part in rest:
            name, eq, number = part.partition("=")
            name = name.strip()
            if not eq or name not in ("margin", "hold") or name in options:
                raise ValueError(part or "an empty part")
            options[name] = _number(number)
    except ValueError as exc:
        raise EdgeferError(f"bad smoothing {raw!r} ({exc}): {_USAGE}") from None
    hold = options.get("hold", 0)
    if hold != int(hold):
        raise EdgeferError(f"bad smoothing {raw!r}: hold counts updates, a whole number: {_USAGE}")
    return make_smoother(kind, value, margin=options.get("margin", 0.0), hold=int(hold))


def _number(text: str) -> float:
    """A finite float, or ValueError naming the text."""
    number = float(text)
    if not np.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number
