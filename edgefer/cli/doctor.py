"""``edgefer doctor``: what this machine has (backends, packages, data, GPU), as one table.

The facts come from :mod:`edgefer.doctor`.
"""

from __future__ import annotations

from rich.console import Console


def doctor_command() -> None:
    """Show which backends, packages, data and GPU this machine has."""
    from rich.markup import escape
    from rich.table import Table

    from edgefer.doctor import report

    table = Table(title="edgefer doctor")
    for column in ("item", "status", "detail"):
        table.add_column(column)
    for item, status, detail in report():
        colour = {"ok": "green", "missing": "yellow"}.get(status, "white")
        table.add_row(item, f"[{colour}]{status}[/{colour}]", escape(detail))
    Console().print(table)
