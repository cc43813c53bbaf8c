"""The fixed held-out test sets every variant is scored on.

They are built exactly as training's final report builds them: FER2013 ``val`` faces (fully masked,
and unmasked) paired by class with the held-out voice actors, one seeded pairing shared by all
variants so their numbers compare on the same pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgefer.data.arrays import FaceArrays, VoiceArrays
from edgefer.data.datasplit import DataSplit
from edgefer.data.evalset import EvalSet, heldout_arrays
from edgefer.data.pairing import pair_by_class, pair_random
from edgefer.spec import PreprocessSpec


@dataclass
class HeldOut:
    faces_masked: FaceArrays
    faces_unmasked: FaceArrays
    voices: VoiceArrays
    pairs: np.ndarray  # voice index for each face, class-matched
    random_pairs: np.ndarray  # voice index for each face, class ignored

    def sets_for(self, variant: str) -> dict[str, EvalSet]:
        """Evaluation sets of one variant.

        The unimodal voice model is also scored on the voices of the fusion pairs, so 'best unimodal
        on the same test pairs' is a like-for-like comparison.
        """
        voice_groups = [s.group for s in self.voices.samples]
        paired_groups = [voice_groups[i] for i in self.pairs]
        y = self.faces_masked.y
        if variant == "face":
            return {
                "test_masked": EvalSet({"face": self.faces_masked.x}, y, None),
                "test_unmasked": EvalSet({"face": self.faces_unmasked.x}, y, None),
            }
        if variant == "voice":
            return {
                "test_clips": EvalSet({"voice": self.voices.x}, self.voices.y, voice_groups),
                "test_pairs": EvalSet({"voice": self.voices.x[self.pairs]}, y, paired_groups),
            }
        random_groups = [voice_groups[i] for i in self.random_pairs]
        return {
            "test_masked": EvalSet(
                {"face": self.faces_masked.x, "voice": self.voices.x[self.pairs]}, y, paired_groups
            ),
            "test_unmasked": EvalSet(
                {"face": self.faces_unmasked.x, "voice": self.voices.x[self.pairs]},
                y,
                paired_groups,
            ),
            "test_masked_random_voice": EvalSet(
                {"face": self.faces_masked.x, "voice": self.voices.x[self.random_pairs]},
                y,
                random_groups,
            ),
        }


def load_held_out(
    spec: PreprocessSpec,
    seed: int = 0,
    limit: int | None = None,
    faces_root: Path | None = None,
    voice_roots: tuple[Path, ...] = (),
) -> HeldOut:
    """Load the default held-out split (as ``edgefer train`` defines it) for ``spec``.

    All of it, or with ``limit`` a class-balanced sample of its faces (every test voice is kept).
    """
    split = DataSplit(faces=faces_root, voices=voice_roots, seed=seed)
    held = heldout_arrays(split, spec, ("face", "voice"), (True, False), faces_per_class=limit)
    masked, unmasked, voice_arrays = held.faces_masked, held.faces_unmasked, held.voices
    assert masked is not None and unmasked is not None and voice_arrays is not None
    rng = np.random.default_rng(seed)
    pairs = pair_by_class(masked.y, voice_arrays.y, rng)
    random_pairs = pair_random(masked.y, voice_arrays.y, np.random.default_rng(seed))
    return HeldOut(masked, unmasked, voice_arrays, pairs, random_pairs)
