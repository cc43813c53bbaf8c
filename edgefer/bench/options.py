"""What ``edgefer bench`` can be told, checked before any work.

It is its own module because the runner, the engine measurements and the result assembly all read
it, and none of them should import another to get it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgefer.errors import EdgeferError


@dataclass
class BenchOptions:
    """Everything ``edgefer bench`` can be told; defaults finish within a minute on a 2-core CPU."""

    model: str
    engines: str = "auto"
    batches: tuple[int, ...] = (1, 8)
    data: Path | None = None
    per_class: int | None = 200
    iterations: int = 300
    rounds: int = 10
    budget_s: float = 1.5
    max_drop: float = 1.0
    calib: Path | None = None
    engines_dir: Path = Path("engines")
    threads: int | None = None
    fresh_process: bool = True
    seed: int = 0
    outputs: list[Path] = field(default_factory=list)  # folders checked writable before any work
    notes: list[str] = field(default_factory=list)

    def check(self) -> None:
        if not self.batches or any(b < 1 for b in self.batches):
            raise EdgeferError(f"--batch takes sizes >= 1, got {list(self.batches)}")
        if self.iterations < 1 or self.rounds < 1:
            raise EdgeferError("--iterations and --rounds must be at least 1")
        if self.per_class is not None and self.per_class < 1:
            raise EdgeferError("--per-class must be at least 1 (0 or omitted: the whole set)")
        if self.data is not None and not Path(self.data).is_dir():
            raise EdgeferError(f"data folder not found: {self.data}")
        if self.calib is not None and not Path(self.calib).is_file():
            raise EdgeferError(f"calibration set not found: {self.calib}")
