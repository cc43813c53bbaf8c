"""Fixed evaluation sets, and the one builder of the held-out (test) set.

:class:`EvalSet` is what every scorer reads: training's reports, the export and engine accuracy
checks, the shipped check set. :func:`heldout_arrays` is the only place the held-out set is made
(:data:`~edgefer.data.datasplit.TEST_SEED_OFFSET` decides its draws), so training's ``test_masked``
figure, ``edgefer.evalsets.heldout_set``, the check set and ``edgefer.evaluation.testsets`` all score
the same files masked the same way. No Keras here: a Jetson without TensorFlow imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgefer.data.arrays import FaceArrays, VoiceArrays, load_face_array, load_voice_array
from edgefer.data.datasplit import (
    TEST_SEED_OFFSET,
    SplitSettings,
    limit_per_class,
    split_faces,
    split_voices,
)
from edgefer.data.pairing import pair_by_class, pair_random
from edgefer.data.samples import Sample
from edgefer.spec import PreprocessSpec

Progress = Callable[[str, int, int], None]


@dataclass
class EvalSet:
    """Inputs, labels and (for voices) the actor of each sample, ready for ``predict``."""

    inputs: dict[str, np.ndarray]
    y: np.ndarray
    groups: list[str] | None

    def __len__(self) -> int:
        return int(self.y.size)


def eval_set(
    fusion: str,
    faces: FaceArrays | None,
    voices: VoiceArrays | None,
    seed: int,
    matched: bool = True,
) -> EvalSet:
    """A fixed evaluation set.

    Fusion variants pair each test face with a test voice of the same class (``matched=False``: of a
    random class, to measure what class-matched pairing buys).
    """
    if fusion == "voice":
        assert voices is not None
        return EvalSet({"voice": voices.x}, voices.y, [s.group for s in voices.samples])
    assert faces is not None
    if fusion == "face":
        return EvalSet({"face": faces.x}, faces.y, None)
    assert voices is not None
    rng = np.random.default_rng(seed)
    pairs = (
        pair_by_class(faces.y, voices.y, rng) if matched else pair_random(faces.y, voices.y, rng)
    )
    groups = [voices.samples[i].group for i in pairs]
    return EvalSet({"face": faces.x, "voice": voices.x[pairs]}, faces.y, groups)


def heldout_mask_seed(seed: int) -> int:
    """The seed the held-out faces' load-time masks are drawn with, for run seed ``seed``."""
    return seed + TEST_SEED_OFFSET


def load_heldout_faces(
    samples: Sequence[Sample],
    spec: PreprocessSpec,
    seed: int,
    masked: bool = True,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> FaceArrays:
    """The held-out faces ``samples`` (a test split) as model inputs.

    Every one is masked (``masked``), or none, with the test split's mask seed.
    """
    fraction = 1.0 if masked else 0.0
    return load_face_array(
        list(samples), spec, fraction, heldout_mask_seed(seed), progress, workers
    )


@dataclass(frozen=True)
class HeldOutArrays:
    """The held-out set as arrays: test faces and the test actors' voice clips.

    The faces are masked and/or unmasked (the same files in the same order); what was not asked for
    is None.
    """

    faces_masked: FaceArrays | None = None
    faces_unmasked: FaceArrays | None = None
    voices: VoiceArrays | None = None

    def faces(self, masked: bool = True) -> FaceArrays | None:
        return self.faces_masked if masked else self.faces_unmasked


def heldout_arrays(
    split: SplitSettings,
    spec: PreprocessSpec,
    inputs: Sequence[str] = ("face", "voice"),
    masks: Sequence[bool] = (True,),
    progress: Progress | None = None,
    *,
    faces_per_class: int | None = None,
) -> HeldOutArrays:
    """The test split of ``split`` loaded for ``spec``.

    FER2013 ``val`` faces (once per entry of ``masks``: fully masked or unmasked) when ``inputs``
    holds ``face``, the test actors' clips when it holds ``voice``.

    ``faces_per_class`` additionally keeps a class-balanced sample of the test faces, drawn with the
    run seed from the whole test split, voices untouched: the sample ``edgefer.evaluation.testsets``
    scores (its recorded figures were measured on exactly that draw). It differs from
    ``split.limit_per_class``, which limits faces and voices with the test split's seed.
    """
    names = tuple(inputs)
    faces_masked = faces_unmasked = voices = None
    if "face" in names:
        samples = limit_per_class(split_faces(split)["test"], faces_per_class, split.seed)
        for masked in masks:
            label = "held-out faces" if len(masks) == 1 else f"held-out faces (masked={masked})"
            report = None if progress is None else _bind(progress, label)
            faces = load_heldout_faces(samples, spec, split.seed, masked, report)
            if masked:
                faces_masked = faces
            else:
                faces_unmasked = faces
    if "voice" in names:
        report = None if progress is None else _bind(progress, "held-out voices")
        voices = load_voice_array(split_voices(split)["test"], spec, report)
    return HeldOutArrays(faces_masked, faces_unmasked, voices)


def _bind(progress: Progress, label: str) -> Callable[[int, int], None]:
    return lambda done, total: progress(label, done, total)
