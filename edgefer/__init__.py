"""edgefer: masked-face + voice emotion recognition, from Keras training to edge engines."""

__version__ = "0.1.0"

CLASS_NAMES: tuple[str, ...] = ("negative", "neutral", "positive")
