"""``edgefer bench``: every engine of one model measured side by side on this machine.

One job per module:

- :mod:`~edgefer.bench.system`: what machine (CPU, cores, versions, GPU, Jetson power state);
- :mod:`~edgefer.bench.flops`: how much arithmetic one inference is, from the ONNX graph;
- :mod:`~edgefer.bench.candidates`: which engines, built or reused by the one builder;
- :mod:`~edgefer.bench.keras_ref`: where the Keras reference comes from (run by
  :mod:`edgefer.models.keras_engine`, the one module here that needs Keras);
- :mod:`~edgefer.bench.measure`: interleaved timing and accuracy;
- :mod:`~edgefer.bench.peak`: the CPU's measured float32 peak;
- :mod:`~edgefer.bench.profile`: ONNX Runtime's per-op profile (why a ratio is what it is);
- :mod:`~edgefer.bench.memory`: load time and peak RSS in a fresh process;
- :mod:`~edgefer.bench.targets`: the project's speed and accuracy targets, and how far and why each is missed;
- :mod:`~edgefer.bench.runner`: the order of it all;
- :mod:`~edgefer.bench.report` and :mod:`~edgefer.bench.plots`: what is printed and written;
- :mod:`~edgefer.bench.pipeline`: the live loop's stages on real video+audio.
"""
