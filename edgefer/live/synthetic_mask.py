"""``--synthetic-mask``: the project's mask drawn on each detected face, live.

An unmasked camera or clip thus shows the masked case end to end.

Drawing a mask (:func:`edgefer.masks.apply_mask`) costs 8-30 ms on this CPU, too much for every frame
of a 60 FPS loop. A person's face moves a few pixels from frame to frame and rarely changes size, so
the mask is drawn once on the face's training-style square and its pixels are moved with the face;
it is drawn anew only when the face's size changes by more than ``redraw`` (10 %) or a face appears.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgefer.masks import MIN_SIDE, apply_mask
from edgefer.preprocess import crop_square
from edgefer.spec import PreprocessSpec

Box = tuple[int, int, int, int]


@dataclass
class _Drawn:
    """One face's mask as drawn: the square's side, its pixels and which of them the mask covers."""

    side: int
    pixels: np.ndarray
    covered: np.ndarray


class SyntheticMasker:
    """Draws one mask per face (the ``seed`` picks its style).

    The masks are drawn on the square :func:`~edgefer.preprocess.crop_square` frames for the
    detector, as training masks are drawn on FER2013 crops.
    """

    def __init__(
        self, spec: PreprocessSpec, detector: str, seed: int = 0, redraw: float = 0.1
    ) -> None:
        self.spec, self.detector, self.seed, self.redraw = spec, detector, seed, redraw
        self.draws = 0
        self._drawn: list[_Drawn | None] = []

    def apply(self, frame: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """A copy of ``frame`` with a mask on each box (the frame itself when there is none)."""
        if not boxes:
            return frame
        out = frame.copy()
        self._drawn = (self._drawn + [None] * len(boxes))[: len(boxes)]
        for i, box in enumerate(boxes):
            x0, y0, side = crop_square(box, self.spec, self.detector)
            if side < MIN_SIDE:
                continue
            drawn = self._drawn[i]
            if drawn is None or abs(drawn.side - side) > self.redraw * side:
                drawn = self._draw(frame, x0, y0, side, self.seed + i)
                self._drawn[i] = drawn
            _paste(out, drawn, x0, y0)
        return out

    def _draw(self, frame: np.ndarray, x0: int, y0: int, side: int, seed: int) -> _Drawn:
        square = _square(frame, x0, y0, side)
        masked = apply_mask(square, seed)
        covered = np.any(masked != square, axis=-1) if masked.ndim == 3 else masked != square
        self.draws += 1
        return _Drawn(side, masked, covered)


def _square(frame: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """The ``side`` x ``side`` square at ``(x0, y0)``.

    Edge pixels are repeated where it leaves the frame.
    """
    height, width = frame.shape[:2]
    rows = np.clip(np.arange(y0, y0 + side), 0, height - 1)
    cols = np.clip(np.arange(x0, x0 + side), 0, width - 1)
    return frame[rows[:, None], cols[None, :]]


def _paste(out: np.ndarray, drawn: _Drawn, x0: int, y0: int) -> None:
    """Copy the mask's covered pixels into ``out`` with the square's corner at ``(x0, y0)``.

    The copy is clipped to the frame. The drawn square may be a little larger or smaller than the
    face's current one (within ``redraw``); it keeps its own size, centred on the new square.
    """
    height, width = out.shape[:2]
    side = drawn.side
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + side, width), min(y0 + side, height)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    patch = drawn.pixels[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    covered = drawn.covered[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    region = out[fy0:fy1, fx0:fx1]
    region[covered] = patch[covered]
