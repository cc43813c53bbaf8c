"""``edgefer train --dry-run``: what a run would use, without training.

Builds every variant of both presets to count parameters, and indexes (without loading) the data
splits the config would train and test on.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from edgefer.data.datasplit import split_faces, split_voices
from edgefer.data.samples import class_counts
from edgefer.spec import FUSIONS, PRESET_NAMES, preset_spec
from edgefer.training.config import TrainConfig


def parameter_table(image_size: int | None = None) -> tuple[Table, dict[str, dict[str, int]]]:
    from edgefer.models import parameter_counts

    counts = {p: parameter_counts(p, preset_spec(p, image_size)) for p in PRESET_NAMES}
    table = Table(title="parameters per variant")
    table.add_column("variant")
    for preset in PRESET_NAMES:
        size = preset_spec(preset, image_size).image_size
        table.add_column(f"{preset} ({size} px)", justify="right")
    for fusion in FUSIONS:
        table.add_row(fusion, *(f"{counts[p][fusion]:,}" for p in PRESET_NAMES))
    return table, counts


def data_table(config: TrainConfig) -> Table:
    spec = preset_spec(config.preset, config.image_size)
    table = Table(title=f"data for {config.fusion} ({config.preset})")
    table.add_column("modality / split")
    for name in spec.class_names:
        table.add_column(name, justify="right")
    table.add_column("groups", justify="right")
    parts = {}
    if config.uses_faces:
        parts.update({f"faces {k}": v for k, v in split_faces(config).items()})
    if config.uses_voices:
        parts.update({f"voices {k}": v for k, v in split_voices(config).items()})
    for label, samples in parts.items():
        counts = class_counts(samples, spec.class_names)
        groups = len({s.group for s in samples if s.group})
        table.add_row(label, *(str(counts[c]) for c in spec.class_names), str(groups or "-"))
    return table


def dry_run(config: TrainConfig, console: Console) -> None:
    table, _ = parameter_table(config.image_size)
    console.print(table)
    console.print(data_table(config))
