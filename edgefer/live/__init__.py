"""The live side: video and audio sources, face detection, the capture-infer-overlay loop's parts.

Runtime only: OpenCV, NumPy, PyAV, librosa and the engines; never TensorFlow (a Jetson runs this
without it). One job per module:

``sources``     ``--camera`` specs -> a :class:`~edgefer.live.capture.VideoSource` (device, file, URL, CSI)
``capture``     the capture thread: latest frame wins, every frame for fast file runs, reconnects
``audio``       ``AudioRing``, file/sound-track playback
``mic_option``  ``--mic`` specs -> no audio, a sound track, a file or a microphone
``microphone``  sounddevice input: native-rate opening, streaming resampling, stall detection
``config``      ``RunConfig``: what ``edgefer run`` was asked to do
``voice``       the ring's last window -> silence gate -> log-mel input, once per hop
``detect``      Haar / YuNet face boxes, ``BoxHold``, face crops -> ``face`` inputs
``router``      fused, face or voice engine for the modalities present this tick
``smoothing``   EMA / windowed mean of probabilities
``overlay``     drawing, ``--save`` mp4 writer, preview window, display check
``timing``      per-stage timers, p50/p90/p99 summary, ``--json`` lines
"""
