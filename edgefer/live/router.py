"""Which engine answers this tick.

The fused model when face and voice are both present, else the unimodal model of whichever is
present, so the loop keeps answering through silence or a lost face.

The choice depends only on each engine's declared input names (``engine.inputs``), so any object with
``.inputs`` and ``.predict(dict) -> probabilities`` works: ONNX Runtime, TensorRT, Keras, a test double.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from edgefer.errors import EdgeferError

ROLES: tuple[str, ...] = ("fused", "face", "voice")  # preference order
MODALITIES: tuple[str, ...] = ("face", "voice")


class EngineLike(Protocol):
    inputs: Mapping[str, Any]

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray: ...


@dataclass(frozen=True)
class Route:
    """The engine chosen for one tick and the batched inputs to give it.

    role : "fused", "face" or "voice" (the key the engine was registered under).
    modalities : the inputs it consumes, e.g. ("face", "voice").
    inputs : name -> (N, S, S, C) arrays; N faces share one voice window.
    """

    role: str
    engine: EngineLike
    inputs: dict[str, np.ndarray]
    modalities: tuple[str, ...]

    def predict(self) -> np.ndarray:
        """Probabilities (N, n_classes) from the chosen engine."""
        return np.asarray(self.engine.predict(self.inputs))


class Router:
    """Holds the available engines and picks one per tick with :meth:`choose`.

    The engines are ``{"fused": ..., "face": ..., "voice": ...}`` (None or missing where that model
    was not given).
    """

    def __init__(self, engines: Mapping[str, EngineLike | None]) -> None:
        unknown = set(engines) - set(ROLES)
        if unknown:
            raise EdgeferError(f"unknown engine role(s) {sorted(unknown)}: use {', '.join(ROLES)}")
        self.engines: dict[str, EngineLike] = {}
        for role in ROLES:
            engine = engines.get(role)
            if engine is None:
                continue
            names = tuple(engine.inputs)
            if not names or set(names) - set(MODALITIES):
                raise EdgeferError(
                    f"the {role} engine takes inputs {list(names)}; expected 'face' and/or 'voice'"
                )
            if role != "fused" and names != (role,):
                raise EdgeferError(f"the {role} engine must take only {role!r}, not {list(names)}")
            self.engines[role] = engine
        if not self.engines:
            raise EdgeferError("no engine given: need a fused, face or voice model")

    @property
    def modalities_needed(self) -> set[str]:
        """Modalities some engine can use: no voice engine and no fused one -> skip the audio."""
        return {name for engine in self.engines.values() for name in engine.inputs}

    def choose(self, face: np.ndarray | None, voice: np.ndarray | None) -> Route | None:
        """The first engine, in the order fused, face, voice, whose inputs are all present.

        face : (S, S, C) for one face or (N, S, S, C) for several; None when no face was found.
        voice : (S, S, 1); None when silent or no audio.
        Returns None when no engine can run (nothing present): no prediction this tick.
        """
        batch: dict[str, np.ndarray] = {}
        if face is not None:
            face = np.asarray(face, dtype=np.float32)
            batch["face"] = face[None] if face.ndim == 3 else face
            if batch["face"].ndim != 4 or batch["face"].shape[0] == 0:
                raise EdgeferError(f"face input must be (S, S, C) or (N, S, S, C): {face.shape}")
        if voice is not None:
            voice = np.asarray(voice, dtype=np.float32)
            if voice.ndim != 3:
                raise EdgeferError(f"voice input must be (S, S, 1), got {voice.shape}")
            batch["voice"] = voice[None]
        for role, engine in self.engines.items():
            names = tuple(engine.inputs)
            if not all(name in batch for name in names):
                continue
            inputs = {name: batch[name] for name in names}
            if "face" in inputs and "voice" in inputs:  # one voice window for every face
                n = inputs["face"].shape[0]
                inputs["voice"] = np.repeat(inputs["voice"], n, axis=0)
            return Route(role, engine, inputs, tuple(m for m in MODALITIES if m in names))
        return None
