"""Datasets: indexing, label mapping, splits, face-voice pairing, augmentation, in-memory arrays.

Indexing lists labelled files (:class:`Sample`) without decoding them; :mod:`edgefer.data.arrays`
turns a list into model inputs through the shared preprocessing. Everything seeded is a pure
function of its inputs and the seed.

Nothing is imported here: each caller takes the module it needs, so a command that only splits
file lists does not load OpenCV and librosa.
"""
