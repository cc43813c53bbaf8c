"""Datasets: indexing, label mapping, splits, face-voice pairing, augmentation, in-memory arrays.

Indexing lists labelled files (:class:`Sample`) without decoding them; :mod:`edgefer.data.arrays`
turns a list into model inputs through the shared preprocessing. Everything seeded is a pure
function of its inputs and the seed.
"""

from edgefer.data.arrays import (
    FaceArrays,
    VoiceArrays,
    is_masked,
    load_face_array,
    load_voice_array,
    mask_seed,
)
from edgefer.data.augment import (
    augment_batch,
    augment_face,
    augment_face_strong,
    augment_voice,
    mask_batch,
    spec_augment,
)
from edgefer.data.faces import detect_face_layout, index_faces, index_fer2013, index_mlfw_fer
from edgefer.data.labels import (
    CLASS_NAMES,
    CREMAD_LABELS,
    CREMAD_TO_CLASS,
    FER_LABELS,
    FER_TO_CLASS,
    MLFW_LABELS,
    RAVDESS_EMOTIONS,
    RAVDESS_LABELS,
    RAVDESS_TO_CLASS,
    LabelMap,
    parse_extra_voices,
    parse_label_map,
)
from edgefer.data.pairing import pair_by_class, pair_random
from edgefer.data.samples import Sample, class_counts, labels_of
from edgefer.data.splits import actor_folds, split_by_actor, stratified_holdout
from edgefer.data.voices import (
    clip_id,
    index_cremad,
    index_ravdess,
    index_voices,
    parse_cremad_name,
    parse_ravdess_name,
)

__all__ = [
    "CLASS_NAMES",
    "CREMAD_LABELS",
    "CREMAD_TO_CLASS",
    "FER_LABELS",
    "FER_TO_CLASS",
    "MLFW_LABELS",
    "RAVDESS_EMOTIONS",
    "RAVDESS_LABELS",
    "RAVDESS_TO_CLASS",
    "FaceArrays",
    "LabelMap",
    "Sample",
    "VoiceArrays",
    "actor_folds",
    "augment_batch",
    "augment_face",
    "augment_face_strong",
    "augment_voice",
    "class_counts",
    "clip_id",
    "detect_face_layout",
    "index_cremad",
    "index_faces",
    "index_fer2013",
    "index_mlfw_fer",
    "index_ravdess",
    "index_voices",
    "is_masked",
    "labels_of",
    "load_face_array",
    "load_voice_array",
    "mask_batch",
    "mask_seed",
    "pair_by_class",
    "pair_random",
    "parse_cremad_name",
    "parse_extra_voices",
    "parse_label_map",
    "parse_ravdess_name",
    "spec_augment",
    "split_by_actor",
    "stratified_holdout",
]
