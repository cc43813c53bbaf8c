"""Start a model from the weights of trained ones, layer by layer, matched by name and shape.

Why: the fusion variants reuse the unimodal networks' layer names (``face_entry_*``,
``voice_entry_*``, and for ``late`` the whole ``face_*``/``voice_*`` trunks), so a fusion model can
begin from a trained face and a trained voice network instead of from noise. On 2 CPU cores this is
what makes the fusion learn from both modalities in a few epochs: trained end to end from scratch,
the middle fusion memorises the few training voices long before its face branch learns anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edgefer.errors import EdgeferError

OUTPUT_NAME = "probs"  # edgefer.models.fusion.OUTPUT_NAME, without importing Keras here


def model_file(source: Path) -> Path:
    """A run folder's ``model.keras`` (its best epoch), or the ``.keras`` file itself."""
    path = source / "model.keras" if source.is_dir() else source
    if not path.is_file():
        raise EdgeferError(f"--init-from: no model.keras in {source}")
    return path


def _unimodal_input(model) -> str | None:
    names = [tensor.name.split(":")[0] for tensor in model.inputs]
    return names[0] if len(names) == 1 and names[0] in ("face", "voice") else None


def copy_matching_weights(model, sources: Sequence[Path]) -> dict[str, str]:
    """Copy into ``model`` every layer of the ``sources`` with the same name and weight shapes.

    Returns ``{layer name: source file}`` for the copied layers. A layer found in two sources is taken
    from the first. Refuses (rather than silently training from scratch) when nothing matched.
    """
    from edgefer.models.keras_engine import load_keras

    copied: dict[str, str] = {}
    for source in sources:
        path = model_file(Path(source))
        trained = load_keras(path)
        by_name = {layer.name: layer for layer in trained.layers}
        modality = _unimodal_input(trained)
        same_variant = modality is not None and modality == _unimodal_input(model)
        if modality is not None and not same_variant and OUTPUT_NAME in by_name:
            # A unimodal model's head is its modality's branch head in ``late`` (``face_probs``),
            # and nothing in ``middle``/``early``, whose ``probs`` sits on another trunk.
            by_name[f"{modality}_{OUTPUT_NAME}"] = by_name.pop(OUTPUT_NAME)
        for layer in model.layers:
            donor = by_name.get(layer.name)
            if layer.name in copied or donor is None or not layer.weights:
                continue
            weights = donor.get_weights()
            if [w.shape for w in weights] != [tuple(w.shape) for w in layer.weights]:
                continue
            layer.set_weights(weights)
            copied[layer.name] = str(path)
    if not copied:
        names = ", ".join(str(s) for s in sources)
        raise EdgeferError(f"--init-from: no layer of {names} matches this model's layers")
    return copied
