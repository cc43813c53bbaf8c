"""Which epoch is kept, and when training stops (``--select-by``, ``--patience``).

Why macro-F1 by default: on a validation set that is half negative, a model that says "negative"
more often gains accuracy while it loses the other classes; the mean of the per-class F1 scores
rewards a model that gets all three right. The first epoch with the best score wins a tie (the
less trained model), and a run stops early after ``patience`` epochs without a strictly better one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgefer.errors import EdgeferError

Record = dict[str, Any]


def score_of(record: Record, select_by: str) -> float:
    """The validation figure ``select_by`` (``macro_f1`` | ``accuracy``) of one epoch's record."""
    key = f"val_{select_by}"
    if key not in record:
        raise EdgeferError(f"epoch record has no {key} to select by")
    return float(record[key])


def best_epoch(history: Sequence[Record], select_by: str) -> tuple[int, float]:
    """``(epoch, score)`` of the best epoch of ``history``; ``(0, -1.0)`` when it is empty."""
    best, best_score = 0, -1.0
    for record in history:
        score = score_of(record, select_by)
        if score > best_score:
            best, best_score = int(record["epoch"]), score
    return best, best_score


def improves(score: float, best_score: float) -> bool:
    """Whether an epoch's score beats the best so far (strictly: a tie keeps the earlier one)."""
    return score > best_score


def should_stop(epoch: int, best: int, patience: int) -> bool:
    """True when ``patience`` (> 0) epochs have passed since the best one; 0 never stops."""
    return patience > 0 and epoch - best >= patience
