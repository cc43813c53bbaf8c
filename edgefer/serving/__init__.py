"""Serving edgefer models on NVIDIA Triton.

A model repository for the Triton container (:mod:`edgefer.serving.repository`), a local server
through PyTriton (:mod:`edgefer.serving.server`), and the names both share so a remote client needs
no local file.

A served model carries its edgefer metadata (class names, preprocessing spec, hashes) as the model
config parameter :data:`METADATA_PARAMETER`, a JSON string: Triton returns it with the model's
config (``v2/models/<name>/config``), which is how :mod:`edgefer.engines.triton` learns the
preprocessing and labels of a model it has never seen as a file.
"""

METADATA_PARAMETER = "edgefer_metadata"
OUTPUT_NAME = "probs"
# NumPy dtype of an engine tensor -> Triton's data type name (model configs and client replies).
TRITON_TYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16"}
