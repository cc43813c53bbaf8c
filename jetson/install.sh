#!/usr/bin/env bash
# Runtime-only install of edgefer on a Jetson with JetPack 6.x (Python 3.10, TensorRT 8.6 / 10.3).
# No TensorFlow: training and export happen on a desktop. Not run by CI (no Jetson there).
# Usage: bash jetson/install.sh   (EDGEFER_VENV=/path to move the venv, KEEP_PIP_OPENCV=1 to keep
# the pip OpenCV wheel, which has no GStreamer and so no CSI camera).
set -euo pipefail

VENV=${EDGEFER_VENV:-$HOME/edgefer-venv}
REPO=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "install.sh: $*" >&2; exit 1; }

[ -f /etc/nv_tegra_release ] || die "not a Jetson (no /etc/nv_tegra_release)"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
  die "edgefer needs Python >= 3.10 (JetPack 6); JetPack 5 ships 3.8"
python3 -c 'import tensorrt' 2>/dev/null ||
  die "JetPack's TensorRT Python bindings are missing: sudo apt install python3-libnvinfer"

# --system-site-packages: the venv sees JetPack's tensorrt and GStreamer-enabled cv2.
python3 -m venv --system-site-packages "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install "$REPO[cpu,live]"

# GPU buffers: cuda-python for JetPack's CUDA version, else pycuda built against it.
CUDA_VERSION=$(/usr/local/cuda/bin/nvcc --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
buffers_ok() { "$VENV/bin/python" -c 'from edgefer.engines.gpu_buffers import make_buffers; make_buffers().free()'; }
if ! { "$VENV/bin/pip" install "cuda-python==${CUDA_VERSION}.*" && buffers_ok; }; then
  echo "cuda-python unusable here; building pycuda against /usr/local/cuda instead"
  "$VENV/bin/pip" uninstall -y cuda-python cuda-bindings || true
  PATH=/usr/local/cuda/bin:$PATH "$VENV/bin/pip" install pycuda
  buffers_ok || die "neither cuda-python nor pycuda can reach the GPU"
fi

# Only JetPack's OpenCV has GStreamer (CSI cameras); let it win over the pip wheel.
if [ "${KEEP_PIP_OPENCV:-0}" != 1 ] && /usr/bin/python3 -c 'import cv2' 2>/dev/null; then
  "$VENV/bin/pip" uninstall -y opencv-python
fi

"$VENV/bin/python" -c 'import edgefer, tensorrt; print("edgefer", edgefer.__version__, "TensorRT", tensorrt.__version__)'
"$VENV/bin/edgefer" doctor
