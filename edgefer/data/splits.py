"""Train/test splits that do not leak: voices by actor, faces stratified by class.

A voice model tested on an actor it trained on learns the voice, not the emotion, and scores far
too well; so voices are split by ``Sample.group`` and one actor never lands on both sides. Faces
carry no identity: their validation set is a per-class slice of ``train`` (FER2013's ``val`` stays
the untouched test set).

Every split is a pure function of the samples *as a set* and the seed: groups and files are sorted
before the seeded shuffle, so the input order does not matter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from edgefer.data.samples import Sample, groups_of
from edgefer.errors import EdgeferError

Split = tuple[list[Sample], list[Sample]]


def _by_groups(samples: Sequence[Sample], test: set[str]) -> Split:
    train = [s for s in samples if s.group not in test]
    held = [s for s in samples if s.group in test]
    return train, held


def _voice_groups(samples: Sequence[Sample]) -> list[str]:
    if not samples:
        raise EdgeferError("no samples to split")
    groups = groups_of(samples)
    if "" in groups:
        raise EdgeferError(
            "some samples carry no actor group (faces?): split them with stratified_holdout"
        )
    return groups


def resolve_groups(names: Iterable[str], groups: Sequence[str]) -> set[str]:
    """Match user-given actor names to groups.

    ``ravdess:01`` matches exactly; ``01`` / ``1001`` alone matches when that actor id belongs to
    exactly one dataset.
    """
    if isinstance(names, str):  # "01,02" from a command line, not the characters "0", "1", ...
        names = names.split(",")
    known = set(groups)
    resolved: set[str] = set()
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name in known:
            resolved.add(name)
            continue
        matches = [g for g in groups if g.split(":", 1)[-1] == name]
        if len(matches) != 1:
            why = "is ambiguous" if matches else "is not among the samples"
            raise EdgeferError(f"test actor {name!r} {why}; actors: {', '.join(groups)}")
        resolved.add(matches[0])
    return resolved


def split_by_actor(
    samples: Sequence[Sample],
    test_groups: Iterable[str] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Split:
    """Split voices into (train, test) by actor; no actor in both.

    ``test_groups`` (actor names, see :func:`resolve_groups`) wins over ``test_fraction``; without
    it a seeded ``round(fraction * n_actors)`` actors (at least one, and at least one left to train
    on) go to test. Sample order within each side is kept.
    """
    groups = _voice_groups(samples)
    if len(groups) < 2:
        raise EdgeferError(f"cannot split by actor: only one actor ({groups[0]})")
    if test_groups is not None:
        test = resolve_groups(test_groups, groups)
        if not test:
            raise EdgeferError("no test actors given")
        if len(test) == len(groups):
            raise EdgeferError("every actor is a test actor: none left to train on")
        return _by_groups(samples, test)
    if not 0.0 < test_fraction < 1.0:
        raise EdgeferError(f"test fraction must lie in (0, 1), got {test_fraction}")
    n_test = min(max(1, round(test_fraction * len(groups))), len(groups) - 1)
    order = np.random.default_rng(seed).permutation(len(groups))
    test = {groups[i] for i in order[:n_test]}
    return _by_groups(samples, test)


def actor_folds(samples: Sequence[Sample], k: int, seed: int = 0) -> list[Split]:
    """``k`` (train, test) folds for cross-validation; every actor is in exactly one test fold.

    Actors are shuffled with ``seed`` and dealt round-robin, so fold sizes differ by at most one
    actor.
    """
    groups = _voice_groups(samples)
    if not 2 <= k <= len(groups):
        raise EdgeferError(f"need 2 <= k <= {len(groups)} (the number of actors), got k={k}")
    order = np.random.default_rng(seed).permutation(len(groups))
    folds: list[set[str]] = [set() for _ in range(k)]
    for rank, i in enumerate(order):
        folds[rank % k].add(groups[i])
    return [_by_groups(samples, test) for test in folds]


def stratified_holdout(samples: Sequence[Sample], fraction: float, seed: int = 0) -> Split:
    """Hold out ``round(fraction * n)`` samples of every class: (keep, held).

    Used to carve a validation set out of a face ``train`` split with the class balance intact.
    ``fraction == 0`` holds nothing out. Sample order within each side is kept.
    """
    if not 0.0 <= fraction < 1.0:
        raise EdgeferError(f"holdout fraction must lie in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held_ids: set[int] = set()
    for label in sorted({s.label for s in samples}):
        members = sorted(
            (i for i, s in enumerate(samples) if s.label == label),
            key=lambda i: samples[i].path.as_posix(),
        )
        n_held = round(fraction * len(members))
        chosen = rng.permutation(len(members))[:n_held]
        held_ids.update(members[j] for j in chosen)
    keep = [s for i, s in enumerate(samples) if i not in held_ids]
    held = [s for i, s in enumerate(samples) if i in held_ids]
    return keep, held
