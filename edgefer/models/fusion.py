"""The five variants of the paper, all taking inputs named ``face``/``voice`` and giving ``probs``.

- ``face``, ``voice``: one modality through one modified Xception (the unimodal baselines).
- ``early`` (data level): the two images stacked on the channel axis before the first convolution.
- ``middle`` (feature level, the paper's best): one entry flow per modality, feature maps
  concatenated, then a shared middle flow, exit flow and head.
- ``late`` (decision level): two full networks whose softmax outputs are averaged.
"""

from __future__ import annotations

import keras
from keras import layers

from edgefer.models.xception import architecture, entry_flow, trunk
from edgefer.spec import FUSIONS, PreprocessSpec, fusion_inputs

OUTPUT_NAME = "probs"


def build_model(fusion: str, preset: str, spec: PreprocessSpec) -> keras.Model:
    """Build an uncompiled model of one fusion variant for the preset's input sizes."""
    arch = architecture(preset)
    names = fusion_inputs(fusion)
    inputs = {name: keras.Input(shape=spec.input_shape(name), name=name) for name in names}
    n_classes = len(spec.class_names)
    if fusion in ("face", "voice"):
        x = entry_flow(inputs[fusion], arch, f"{fusion}_entry")
        probs = trunk(x, arch, n_classes, fusion, OUTPUT_NAME)
    elif fusion == "early":
        stacked = layers.Concatenate(axis=-1, name="early_stack")([inputs["face"], inputs["voice"]])
        x = entry_flow(stacked, arch, "early_entry")
        probs = trunk(x, arch, n_classes, "early", OUTPUT_NAME)
    elif fusion == "middle":
        face = entry_flow(inputs["face"], arch, "face_entry")
        voice = entry_flow(inputs["voice"], arch, "voice_entry")
        x = layers.Concatenate(axis=-1, name="middle_concat")([face, voice])
        probs = trunk(x, arch, n_classes, "shared", OUTPUT_NAME)
    else:  # late; fusion_inputs has already refused unknown names
        face = trunk(
            entry_flow(inputs["face"], arch, "face_entry"), arch, n_classes, "face", "face_probs"
        )
        voice = trunk(
            entry_flow(inputs["voice"], arch, "voice_entry"),
            arch,
            n_classes,
            "voice",
            "voice_probs",
        )
        probs = layers.Average(name=OUTPUT_NAME)([face, voice])
    model = keras.Model(
        inputs=[inputs[n] for n in names], outputs=probs, name=f"edgefer_{fusion}_{preset}"
    )
    return model


def parameter_counts(preset: str, spec: PreprocessSpec) -> dict[str, int]:
    """Parameter count of every variant of a preset (built, not trained)."""
    counts = {}
    for fusion in FUSIONS:
        model = build_model(fusion, preset, spec)
        counts[fusion] = int(model.count_params())
        keras.backend.clear_session()
    return counts
