"""Make the shipped check set: the held-out set ``build-engine`` and ``bench`` fall back to without
the dataset (see :mod:`edgefer.checkset`).

Usage: python scripts/make_checkset.py [PER_CLASS] [--seed N]   (default 120 per class, seed 0)

It is made for the preprocessing of the shipped models (``middle``'s spec; all five share it) from the
dataset under ``edgefer.paths.data_root()``, by the same builder as the held-out set, and written to
``edgefer/assets/checkset/heldout-<spec digest>.npz`` with its sidecar.
"""

from __future__ import annotations

import argparse

from edgefer.checkset import DEFAULT_PER_CLASS, checkset_path, make_checkset
from edgefer.shipped import shipped_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("per_class", nargs="?", type=int, default=DEFAULT_PER_CLASS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    spec = shipped_spec("middle")
    path = make_checkset(spec, checkset_path(spec.digest()), args.per_class, args.seed)
    print(f"{path}: {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
