"""The paper's modified Xception, as composable flows written in backend-agnostic Keras 3.

Entry flow: a Conv2D stem and residual SeparableConv2D blocks, L2 1e-4 (the paper's regulariser).
Middle flow: three SeparableConv2D layers of 512 filters in one residual block.
Exit flow: two SeparableConv2D layers of 750 filters, max pooling, then flatten (``paper``) or global
average pooling (``edge``, which keeps the head small and input-size independent).
Head: Dense 3048/0.3, 2048/0.2, 1028/0.1, softmax over the classes.

Only ``keras.layers`` are used, so the same code trains with the TensorFlow or the torch backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from edgefer.errors import EdgeferError

# Keras' default 0.99 needs thousands of steps before the moving statistics match the weights; with
# the short CPU runs this toolkit makes (a few epochs), 0.9 gives usable inference-mode statistics.
BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class Architecture:
    """Widths of the flows; the topology is the same for every preset."""

    stem_filters: tuple[int, int]
    entry_filters: tuple[int, ...]
    middle_filters: int
    middle_layers: int
    exit_filters: int
    exit_layers: int
    pooling: str  # "flatten" (the paper) or "global" (edge)
    head_units: tuple[int, ...]
    head_dropout: tuple[float, ...]
    l2: float = 1e-4


ARCHITECTURES: dict[str, Architecture] = {
    "paper": Architecture(
        stem_filters=(32, 64),
        entry_filters=(128, 256, 728),
        middle_filters=512,
        middle_layers=3,
        exit_filters=750,
        exit_layers=2,
        pooling="flatten",
        head_units=(3048, 2048, 1028),
        head_dropout=(0.3, 0.2, 0.1),
    ),
    # Same flows, ~1/6 of the widths and a global-pool head: sized for a Jetson Nano and a 2-core CPU.
    "edge": Architecture(
        stem_filters=(16, 32),
        entry_filters=(48, 96, 128),
        middle_filters=128,
        middle_layers=3,
        exit_filters=192,
        exit_layers=2,
        pooling="global",
        head_units=(128, 64),
        head_dropout=(0.3, 0.2),
    ),
}


def architecture(preset: str) -> Architecture:
    try:
        return ARCHITECTURES[preset]
    except KeyError:
        names = ", ".join(ARCHITECTURES)
        raise EdgeferError(f"unknown preset {preset!r}: choose one of {names}") from None


def _regulariser(arch: Architecture) -> keras.regularizers.Regularizer:
    return keras.regularizers.L2(arch.l2)


def _conv_bn(x, filters: int, kernel: int, name: str, strides: int = 1, reg=None):
    """Conv2D without bias followed by BatchNorm (the bias would be cancelled by the BN shift)."""
    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_regularizer=reg,
        name=name,
    )(x)
    return layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)


def _sepconv_bn(x, filters: int, name: str, reg=None):
    """3x3 SeparableConv2D without bias followed by BatchNorm."""
    x = layers.SeparableConv2D(
        filters,
        3,
        padding="same",
        use_bias=False,
        depthwise_regularizer=reg,
        pointwise_regularizer=reg,
        name=name,
    )(x)
    return layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)


def entry_flow(x, arch: Architecture, prefix: str):
    """Stem and residual SeparableConv2D blocks, each halving the resolution.

    The stem is two Conv2D, the first with stride 2. L2 on every kernel, as the paper specifies for
    the entry flow.
    """
    reg = _regulariser(arch)
    first, second = arch.stem_filters
    x = layers.ReLU(name=f"{prefix}_stem_relu1")(
        _conv_bn(x, first, 3, f"{prefix}_stem_conv1", strides=2, reg=reg)
    )
    x = layers.ReLU(name=f"{prefix}_stem_relu2")(
        _conv_bn(x, second, 3, f"{prefix}_stem_conv2", reg=reg)
    )
    for i, filters in enumerate(arch.entry_filters, start=1):
        name = f"{prefix}_block{i}"
        shortcut = _conv_bn(x, filters, 1, f"{name}_shortcut", strides=2, reg=reg)
        if i > 1:
            x = layers.ReLU(name=f"{name}_relu1")(x)
        x = _sepconv_bn(x, filters, f"{name}_sepconv1", reg)
        x = layers.ReLU(name=f"{name}_relu2")(x)
        x = _sepconv_bn(x, filters, f"{name}_sepconv2", reg)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
        x = layers.Add(name=f"{name}_add")([x, shortcut])
    return x


def middle_flow(x, arch: Architecture, prefix: str):
    """Three SeparableConv2D layers in one residual block.

    A 1x1 projection matches the widths (the middle fusion feeds it the concatenation of two entry
    flows).
    """
    shortcut = _conv_bn(x, arch.middle_filters, 1, f"{prefix}_shortcut")
    for i in range(1, arch.middle_layers + 1):
        x = layers.ReLU(name=f"{prefix}_relu{i}")(x)
        x = _sepconv_bn(x, arch.middle_filters, f"{prefix}_sepconv{i}")
    return layers.Add(name=f"{prefix}_add")([x, shortcut])


def exit_flow(x, arch: Architecture, prefix: str):
    """Two SeparableConv2D layers of ``exit_filters``, max pooling, then one feature vector."""
    for i in range(1, arch.exit_layers + 1):
        x = _sepconv_bn(x, arch.exit_filters, f"{prefix}_sepconv{i}")
        x = layers.ReLU(name=f"{prefix}_relu{i}")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{prefix}_pool")(x)
    if arch.pooling == "flatten":
        return layers.Flatten(name=f"{prefix}_flatten")(x)
    return layers.GlobalAveragePooling2D(name=f"{prefix}_gap")(x)


def head(x, arch: Architecture, n_classes: int, prefix: str, output_name: str):
    """Dense + Dropout stack ending in a softmax named ``output_name``."""
    for i, (units, rate) in enumerate(zip(arch.head_units, arch.head_dropout, strict=True), 1):
        x = layers.Dense(units, activation="relu", name=f"{prefix}_dense{i}")(x)
        x = layers.Dropout(rate, name=f"{prefix}_dropout{i}")(x)
    return layers.Dense(n_classes, activation="softmax", name=output_name)(x)


def trunk(x, arch: Architecture, n_classes: int, prefix: str, output_name: str):
    """Middle flow, exit flow and head: everything after the entry flow."""
    x = middle_flow(x, arch, f"{prefix}_middle")
    x = exit_flow(x, arch, f"{prefix}_exit")
    return head(x, arch, n_classes, f"{prefix}_head", output_name)
