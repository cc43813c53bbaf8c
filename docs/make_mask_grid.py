"""Draw ``docs/masks.png``: real FER2013 val faces, each shown unmasked and then masked.

Run from the repository root: ``python docs/make_mask_grid.py``. It is the visual check that the
synthetic masks cover the nose to the chin and leave the eyes free; rerun it after changing
``edgefer/masks.py``.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from edgefer.masks import apply_mask, sample_style  # noqa: E402
from edgefer.paths import data_root  # noqa: E402

ROWS, PAIRS, CELL = 4, 4, 96  # 4 rows of 4 (original, masked) pairs = 8 columns
OUT = Path(__file__).resolve().parent / "masks.png"


def main() -> None:
    val = data_root() / "faces" / "fer2013" / "val"
    files = sorted(val.glob("*/*.jpg"))
    picks = [files[i] for i in np.linspace(0, len(files) - 1, ROWS * PAIRS).astype(int)]
    fig, axes = plt.subplots(ROWS, 2 * PAIRS, figsize=(2 * PAIRS * 1.15, ROWS * 1.3), dpi=CELL)
    for k, path in enumerate(picks):
        face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        seed = 1000 + k
        style = sample_style(np.random.default_rng(seed))
        masked = apply_mask(face, seed=seed)
        row, col = divmod(k, PAIRS)
        for j, (img, label) in enumerate(((face, path.parent.name), (masked, style.shape))):
            ax = axes[row, 2 * col + j]
            big = cv2.resize(img, (CELL, CELL), interpolation=cv2.INTER_CUBIC)
            ax.imshow(big, cmap="gray", vmin=0, vmax=255)
            ax.set_title(label, fontsize=7)
            ax.axis("off")
    fig.suptitle("FER2013 val faces: original | synthetic mask (edgefer.masks, seed per face)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=CELL, format="png")
    plt.close(fig)
    # Everything drawn is grey: a one-channel PNG is a third of the RGBA size matplotlib writes.
    grid = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(OUT), grid, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
