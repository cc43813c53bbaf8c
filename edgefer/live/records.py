"""The record of one inference tick: the ``--json`` line as a dict, as ``run_live`` hands it out.

Built through :func:`~edgefer.live.timing.json_record` and read back, so the records kept in the
summary and passed to ``on_record`` are exactly the lines ``--json`` prints (same rounding, same keys).
"""

from __future__ import annotations

import json
from typing import Any

from edgefer.live.capture import Frame
from edgefer.live.router import Route
from edgefer.live.ticker import Shown
from edgefer.live.timing import json_record

__all__ = ["Record", "tick_record"]

Record = dict[str, Any]


def tick_record(
    frame: Frame,
    route: Route | None,
    reason: str | None,
    shown: Shown,
    class_names: tuple[str, ...],
    ms: dict[str, float],
) -> Record:
    """The record of ``frame``'s tick.

    What ``route`` predicted (without one: nothing, and ``reason``), the boxes shown and the stage
    times ``ms``.
    """
    extra: dict[str, Any] = {"frame": frame.index}
    if reason:
        extra["reason"] = reason
    line = json_record(
        timestamp=frame.timestamp,
        probs=shown.probs if route is not None else None,
        labels=shown.labels if route is not None else None,
        class_names=class_names,
        modalities=route.modalities if route is not None else (),
        stages_ms=ms,
        engine=route.role if route is not None else None,
        boxes=shown.boxes,
        extra=extra,
    )
    return json.loads(line)
