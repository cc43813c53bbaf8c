"""Deterministic synthetic face masks, drawn onto unmasked faces (FER2013) for masked-face training.

The paper trained on M-LFW-FER, LFW faces with masks synthesised onto them; we synthesise our own so
any face set can be masked the same way. Geometry comes from the proportions of an aligned face
(eyes ~0.38 of the height, nose tip ~0.6, mouth ~0.75, chin ~0.95), mapped into the face box.

We do not refine the top line from a Haar eye detection: on FER2013 crops it finds both eyes in
under half the faces, where it does they sit where the proportions say (median 0.38), and its float
cascade would tie the output bytes to one OpenCV build. Every pixel comes from integer rasterisation
(``cv2.fillPoly``/``cv2.polylines``, ``LINE_AA``, on a supersampled uint8 canvas) and element-wise
NumPy arithmetic on ``default_rng(seed)`` draws (no transcendental functions, no global state), so
the same image and seed give the same bytes on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgefer.errors import EdgeferError

SHAPES: tuple[str, ...] = ("surgical", "n95", "cloth")
COLOURS: dict[str, tuple[int, int, int]] = {  # BGR
    "light_blue": (222, 196, 140),
    "white": (236, 238, 238),
    "black": (40, 37, 35),
    "grey": (140, 138, 135),
    "pink": (196, 186, 232),
    "beige": (170, 200, 222),
    "dark_blue": (92, 50, 28),
}
# Which colours each shape comes in (surgical masks are rarely beige, N95s rarely pink).
_SHAPE_COLOURS: dict[str, tuple[str, ...]] = {
    "surgical": ("light_blue", "light_blue", "white", "black", "pink", "dark_blue"),
    "n95": ("white", "white", "grey", "black", "light_blue"),
    "cloth": ("black", "grey", "dark_blue", "beige", "pink", "white", "light_blue"),
}
MIN_SIDE = 16
_SHIFT = 4  # sub-pixel bits for the cv2 drawing calls
_MIN_CONTRAST = 40.0  # grey levels kept between the mask and the visible skin
_MEAN_SHADE = 0.9  # the shading darkens a mask by about this much on average
Point = tuple[float, float]
Box = tuple[int, int, int, int]
_LIMITS = {"top": (0.44, 0.58), "bottom": (0.92, 1.08), "side": (0.0, 0.2), "centre": (0.42, 0.58)}


@dataclass(frozen=True)
class MaskStyle:
    """One mask's look; fractions are of the face box (u across, v down from the top).

    top : v of the top edge over the nose bridge; kept in [0.44, 0.58] so the eyes (v <= ~0.42) stay
        visible and the nose tip (v ~0.6) is covered.
    bottom : v of the lowest point, under the chin (>= 0.92 so the chin is covered).
    side : u inset of the mask's sides from the box edges (the cheeks it reaches).
    centre : u of the mask's vertical axis (small jitter around 0.5: faces are not all centred).
    pleats : horizontal folds (surgical masks).
    texture : amplitude of the fabric noise, as a fraction of the mask's brightness.
    """

    shape: str = "surgical"
    colour: tuple[int, int, int] = COLOURS["light_blue"]
    top: float = 0.52
    bottom: float = 0.97
    side: float = 0.10
    centre: float = 0.5
    pleats: bool = True
    texture: float = 0.03

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise EdgeferError(f"unknown mask shape {self.shape!r}: choose one of {SHAPES}")
        if len(self.colour) != 3 or not all(0 <= int(c) <= 255 for c in self.colour):
            raise EdgeferError(f"mask colour must be 3 BGR values in 0..255, got {self.colour}")
        for name, (low, high) in (_LIMITS | {"texture": (0.0, 0.2)}).items():
            if not low <= getattr(self, name) <= high:
                raise EdgeferError(f"mask {name}={getattr(self, name)} outside [{low}, {high}]")


def sample_style(rng: np.random.Generator) -> MaskStyle:
    """Draw a random but always face-covering style: shape, colour and jittered geometry."""
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    names = _SHAPE_COLOURS[shape]
    base = np.array(COLOURS[names[int(rng.integers(len(names)))]], dtype=np.int64)
    jitter = rng.integers(-10, 11) + rng.integers(-3, 4, size=3)  # mostly brightness, a little hue
    colour = tuple(int(c) for c in np.clip(base + jitter, 0, 255))
    side = {"surgical": (0.07, 0.13), "n95": (0.08, 0.14), "cloth": (0.06, 0.12)}[shape]
    return MaskStyle(
        shape=shape,
        colour=colour,  # type: ignore[arg-type]
        top=float(rng.uniform(0.49, 0.55)),
        bottom=float(rng.uniform(0.95, 1.01)),
        side=float(rng.uniform(*side)),
        centre=float(rng.uniform(0.47, 0.53)),
        pleats=shape == "surgical",
        texture=float(rng.uniform(0.05, 0.09) if shape == "cloth" else rng.uniform(0.02, 0.04)),
    )


def apply_mask(
    face: np.ndarray,
    seed: int,
    box: Box | None = None,
    style: MaskStyle | None = None,
) -> np.ndarray:
    """Return a copy of ``face`` with a synthetic mask over the lower face.

    face : uint8 grey (H, W) or BGR (H, W, 3); an aligned crop when ``box`` is None, else a frame
        holding the face box ``(x, y, w, h)``. Only pixels inside the box change.
    seed : picks the style (unless ``style`` is given) and the fabric noise.
    """
    image = _check_image(face)
    height, width = image.shape[:2]
    x, y, w, h = _check_box(box, width, height)
    rng = np.random.default_rng(seed)
    style = sample_style(rng) if style is None else style
    noise = rng.random((h, w)) + rng.random((h, w)) - 1.0  # triangular in [-1, 1]
    if style.shape == "cloth":  # coarser weave: average 2x2 neighbourhoods
        padded = np.pad(noise, ((0, 1), (0, 1)), mode="edge")
        noise = (padded[:-1, :-1] + padded[1:, :-1] + padded[:-1, 1:] + padded[1:, 1:]) * 0.5

    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, width), min(y + h, height)
    out = image.copy()
    region = out[y0:y1, x0:x1].reshape(y1 - y0, x1 - x0, -1).astype(np.float64)
    full = np.zeros((h, w, region.shape[2]), dtype=np.float64)
    full[y0 - y : y1 - y, x0 - x : x1 - x] = region
    drawn = _render(full, style, noise)[y0 - y : y1 - y, x0 - x : x1 - x]
    out[y0:y1, x0:x1] = drawn.reshape(out[y0:y1, x0:x1].shape)
    return out


def mask_fraction_covered(original: np.ndarray, masked: np.ndarray) -> float:
    """Fraction of pixels (any channel) that differ between ``original`` and ``masked``."""
    if original.shape != masked.shape:
        raise EdgeferError(f"shapes differ: {original.shape} vs {masked.shape}")
    changed = original != masked
    changed = changed.any(axis=2) if changed.ndim == 3 else changed
    return float(changed.mean())


def _check_image(face: np.ndarray) -> np.ndarray:
    if not isinstance(face, np.ndarray):
        raise EdgeferError(f"face must be a NumPy image, got {type(face).__name__}")
    if face.dtype != np.uint8:
        raise EdgeferError(f"face must be uint8, got {face.dtype}")
    if face.ndim not in (2, 3) or (face.ndim == 3 and face.shape[2] not in (1, 3)):
        raise EdgeferError(f"face must be an (H, W) or (H, W, 3) image, got shape {face.shape}")
    if min(face.shape[:2]) < MIN_SIDE:
        raise EdgeferError(f"face image {face.shape[:2]} is smaller than {MIN_SIDE} px")
    return face


def _check_box(box: Box | None, width: int, height: int) -> Box:
    if box is None:
        return 0, 0, width, height
    try:
        x, y, w, h = (int(round(float(v))) for v in box)
    except (TypeError, ValueError) as exc:
        raise EdgeferError(f"face box must be 4 numbers (x, y, w, h), got {box!r}") from exc
    if min(w, h) < MIN_SIDE:
        raise EdgeferError(f"face box {box} is smaller than {MIN_SIDE} px")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise EdgeferError(f"face box {box} lies outside the {width}x{height} image")
    return x, y, w, h


def _curve(p0: Point, mid: Point, p2: Point) -> np.ndarray:
    """Quadratic Bezier from ``p0`` to ``p2`` passing through ``mid`` halfway (16 points)."""
    a, m, b = np.array(p0), np.array(mid), np.array(p2)
    ctrl = 2.0 * m - 0.5 * (a + b)
    t = np.linspace(0.0, 1.0, 16)[:, None]
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * ctrl + t**2 * b


def _chain(*curves: np.ndarray) -> np.ndarray:
    return np.concatenate([c[:-1] for c in curves[:-1]] + [curves[-1]])


def _outline(style: MaskStyle) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
    """Body polygon and line sets (pleat, seam, loop) in (u, v) face-box fractions."""
    t, b, s = style.top, style.bottom, style.side
    lines: dict[str, list[np.ndarray]] = {"pleat": [], "seam": [], "loop": []}
    if style.shape == "surgical":
        tl, tr, bl, br = (s, t + 0.05), (1 - s, t + 0.05), (s + 0.07, 0.86), (0.93 - s, 0.86)
        body = _chain(
            _curve(tl, (0.5, t + 0.005), tr),
            _curve(tr, (1.005 - s, 0.70), br),
            _curve(br, (0.5, b), bl),
            _curve(bl, (s - 0.005, 0.70), tl),
        )
        if style.pleats:
            for k in (1, 2, 3):
                v = t + 0.05 + k * (0.86 - t - 0.05) / 4
                inset = s + 0.07 * k / 4 + 0.01
                lines["pleat"].append(_curve((inset, v), (0.5, v + 0.02), (1 - inset, v)))
        ears = [(tl, (0.0, t + 0.01)), (bl, (0.0, t + 0.10))]
    elif style.shape == "n95":
        top, ul, ur = (0.5, t), (s + 0.10, t + 0.10), (0.90 - s, t + 0.10)
        wl, wr, bottom = (s, 0.74), (1 - s, 0.74), (0.5, b)
        body = _chain(
            _curve(top, (0.70 - s / 2, t + 0.035), ur),
            _curve(ur, (0.99 - s, (t + 0.84) / 2), wr),
            _curve(wr, (0.5 + 0.76 * (0.5 - s), b - 0.055), bottom),
            _curve(bottom, (0.5 - 0.76 * (0.5 - s), b - 0.055), wl),
            _curve(wl, (s + 0.01, (t + 0.84) / 2), ul),
            _curve(ul, (0.30 + s / 2, t + 0.035), top),
        )
        centroid = np.array([0.5, (t + 2 * b) / 3])
        lines["seam"].append(centroid + (body - centroid) * 0.88)  # the moulded rim
        ears = [((s + 0.05, t + 0.11), (0.0, t + 0.03)), ((s + 0.03, 0.86), (0.0, 0.76))]
    else:  # cloth
        tl, tr, bl, br = (s, t + 0.09), (1 - s, t + 0.09), (s + 0.05, 0.82), (0.95 - s, 0.82)
        body = _chain(
            _curve(tl, ((s + 0.5) / 2, t + 0.025), (0.5, t)),
            _curve((0.5, t), ((1.5 - s) / 2, t + 0.025), tr),
            _curve(tr, (1.015 - s, 0.70), br),
            _curve(br, (0.5 + 0.62 * (0.5 - s), b - 0.045), (0.5, b)),
            _curve((0.5, b), (0.5 - 0.62 * (0.5 - s), b - 0.045), bl),
            _curve(bl, (s - 0.015, 0.70), tl),
        )
        lines["seam"].append(_curve((0.5, t + 0.005), (0.506, (t + b) / 2), (0.5, b - 0.005)))
        ears = [(tl, (0.0, t + 0.03)), (bl, (0.0, t + 0.13))]
    for corner, ear in ears:  # ear loops / straps to the box edge, mirrored for the right side
        mid = ((corner[0] + ear[0]) / 2, (corner[1] + ear[1]) / 2 + 0.015)
        left = _curve(corner, mid, ear)
        lines["loop"] += [left, np.column_stack([1.0 - left[:, 0], left[:, 1]])]
    shift = style.centre - 0.5
    move = np.array([shift, 0.0])
    return body + move, {k: [line + move for line in v] for k, v in lines.items()}


def _coverage(w: int, h: int, polys: list[np.ndarray], thickness: float) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of polylines (filled polygons if thickness is 0)."""
    factor = int(min(4, max(1, -(-128 // min(w, h)))))
    canvas = np.zeros((h * factor, w * factor), dtype=np.uint8)
    scale = np.array([w * factor, h * factor]) * (1 << _SHIFT)
    pts = [np.round(p * scale).astype(np.int32).reshape(-1, 1, 2) for p in polys]
    if thickness == 0:
        cv2.fillPoly(canvas, pts, 255, cv2.LINE_AA, _SHIFT)
    else:
        width = max(1, int(round(thickness * min(w, h) * factor)))
        cv2.polylines(canvas, pts, False, 255, width, cv2.LINE_AA, _SHIFT)
    blocks = canvas.reshape(h, factor, w, factor).astype(np.float64)
    return blocks.sum(axis=(1, 3)) / (255.0 * factor * factor)


def _render(face: np.ndarray, style: MaskStyle, noise: np.ndarray) -> np.ndarray:
    """Composite the mask onto a float (h, w, C) face-box image; returns uint8 of the same shape."""
    h, w, channels = face.shape
    body, lines = _outline(style)
    colour = np.array(style.colour, dtype=np.float64)  # BGR
    if channels == 1:  # grey images get the grey value of the colour (cv2's BGR2GRAY weights)
        colour = np.array([0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2]])
    colour = _contrast(colour, face, style)
    luma = float(colour.mean())

    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = (u + 0.5) / w, (v + 0.5) / h
    across = (u - style.centre) / (0.5 - style.side + 0.05)
    down = (v - style.top) / (style.bottom - style.top)
    shade = np.maximum(1.0 - 0.25 * across**2, 0.7) * (1.0 - 0.10 * down)
    if style.shape == "n95":  # a dome catching the light
        dome = across**2 + ((v - 0.70) / (style.bottom - style.top) * 1.6) ** 2
        shade = shade * (0.94 + 0.16 * np.maximum(1.0 - dome, 0.0))
    if style.pleats and lines["pleat"]:  # each fold lit on top, shadowed below
        step = (0.86 - style.top - 0.05) / 4
        phase = ((v - style.top - 0.05 - 0.02 * (1 - (2 * across) ** 2)) / step) % 1.0
        shade = shade * (1.0 + 0.07 * (0.5 - phase))
    shade = shade * (1.0 + style.texture * noise)
    sheen = 60.0 if luma < 80 else 0.0  # dark fabric shows its texture as sheen, not shadow
    fabric = colour * shade[..., None] + sheen * (shade[..., None] - 1.0)
    line_colour = colour * 0.72 if luma >= 80 else colour * 1.5 + 35.0
    loop_colour = np.full_like(colour, 235.0) if style.shape == "surgical" else colour

    thin = 0.014
    for name, strength in (("pleat", 0.55), ("seam", 0.45)):
        a = _coverage(w, h, lines[name], thin)[..., None] * strength if lines[name] else 0.0
        fabric = fabric * (1 - a) + line_colour * a
    a_body = _coverage(w, h, [body], 0.0)[..., None]
    out = face * (1 - a_body) + fabric * a_body
    a_edge = _coverage(w, h, [np.vstack([body, body[:1]])], thin * 1.5)[..., None] * 0.6
    out = out * (1 - a_edge) + line_colour * a_edge
    loop_width = 0.02 if style.shape == "cloth" else thin
    a_loop = _coverage(w, h, lines["loop"], loop_width)[..., None] * 0.85
    out = out * (1 - a_loop) + loop_colour * a_loop
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _contrast(colour: np.ndarray, face: np.ndarray, style: MaskStyle) -> np.ndarray:
    """Keep the mask's brightness at least ``_MIN_CONTRAST`` grey levels from the visible skin.

    A beige mask on a grey crop of light skin would otherwise vanish; the hue is kept, only scaled.
    """
    h, w = face.shape[:2]
    rows = slice(int(0.40 * h), max(int(style.top * h), int(0.40 * h) + 1))
    cols = slice(int(0.3 * w), max(int(0.7 * w), int(0.3 * w) + 1))
    skin = float(np.median(face[rows, cols].mean(axis=-1)))
    luma = float(colour.mean()) * _MEAN_SHADE
    if abs(luma - skin) >= _MIN_CONTRAST:
        return colour
    up, down = skin + _MIN_CONTRAST, skin - _MIN_CONTRAST
    target = up if (luma >= skin and up <= 230) or down < 20 else down
    scaled = colour * (target / max(luma, 1.0)) + (target - luma) / _MEAN_SHADE * (luma < 1.0)
    return np.clip(scaled, 0, 255)
