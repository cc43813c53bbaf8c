"""Print a finished run's headline numbers (from its metrics.json) as a table."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table


def print_summary(run: Path, console: Console) -> None:
    metrics = json.loads((run / "metrics.json").read_text())
    table = Table(title=f"{metrics['fusion']} ({metrics['preset']}): {run}")
    for column in ("set", "n", "accuracy", "macro-F1"):
        table.add_column(column, justify="right" if column != "set" else "left")
    for name, report in metrics["sets"].items():
        table.add_row(
            name, str(report["n"]), f"{report['accuracy']:.3f}", f"{report['macro_f1']:.3f}"
        )
    console.print(table)
