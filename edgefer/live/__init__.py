"""The live side: video and audio sources, face detection, the capture-infer-overlay loop.

Runtime only: OpenCV, NumPy, PyAV and the engines; never TensorFlow.
"""
