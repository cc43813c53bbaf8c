"""The runtime side installs on a Jetson without TensorFlow: importing it, or running its held-out
checks, must never import ``edgefer.training`` (nor Keras, TensorFlow or tf2onnx).

Each check runs under :mod:`tests.runtime_guard`, where those imports raise ImportError."""

from __future__ import annotations

from edgefer.paths import data_root
from tests.runtime_guard import run_without_training

# The runtime packages, every module in them (walked, so a new module is checked without being
# listed), and the runtime's modules outside them.
RUNTIME_PACKAGES = ("edgefer.engines", "edgefer.live", "edgefer.bench", "edgefer.serving")
RUNTIME_MODULES = (
    "edgefer.calibration",
    "edgefer.checkset",
    "edgefer.evalsets",
    "edgefer.evaluation.testsets",
    "edgefer.data.datasplit",
    "edgefer.data.evalset",
    "edgefer.onnx_meta",
    "edgefer.doctor",
)
IMPORT_ALL = f"""\
import importlib, pkgutil
names = list({RUNTIME_MODULES!r})
for package in {RUNTIME_PACKAGES!r}:
    names.append(package)
    path = importlib.import_module(package).__path__
    names += [m.name for m in pkgutil.walk_packages(path, package + ".")]
for name in names:
    importlib.import_module(name)
assert len(names) > 60, names
"""


def test_the_guard_refuses_the_training_stack():
    """Not vacuous: under the guard, importing training fails even where TensorFlow is installed."""
    result = run_without_training("import edgefer.training.config\n")
    assert result.returncode != 0
    assert "the runtime imported edgefer.training" in result.stderr


def test_every_runtime_module_imports_without_the_training_stack():
    """engines, live, bench and serving, module by module (a Jetson has no TensorFlow)."""
    result = run_without_training(IMPORT_ALL)
    assert result.returncode == 0, result.stderr[-2000:]


def test_held_out_checks_run_without_the_training_stack(tmp_path):
    """The shipped check set loads (an empty EDGEFER_DATA: no dataset), and with the dataset the
    held-out set and a calibration set are built, all without training's code."""
    code = (
        "from edgefer.checkset import heldout_for\n"
        "from edgefer.shipped import shipped_spec\n"
        "spec = shipped_spec('middle')\n"
        "data, info = heldout_for(spec, ['face', 'voice'])\n"
        "assert info.source == 'checkset' and len(data) == info.n > 0, info\n"
    )
    result = run_without_training(code, env={"EDGEFER_DATA": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    if not data_root(required=False).is_dir():
        return
    code = (
        "from edgefer.calibration import build_calibration_set\n"
        "from edgefer.evalsets import heldout_set\n"
        "from edgefer.shipped import shipped_spec\n"
        "spec = shipped_spec('middle')\n"
        "assert len(heldout_set(spec, ['face', 'voice'], limit_per_class=2)) == 6\n"
        "assert len(build_calibration_set(spec, n=4)) == 4\n"
    )
    result = run_without_training(code)
    assert result.returncode == 0, result.stderr[-2000:]


def test_fp16_conversion_and_onnx_runtime_engine_run_without_tensorflow(trained_face, tmp_path):
    run, _ = trained_face
    fp16 = tmp_path / "fp16.onnx"
    code = (
        "import numpy as np\n"
        "from edgefer.engines.open import open_engine\n"
        "from edgefer.engines.quantize import convert_fp16\n"
        f"source = {str(run / 'model.onnx')!r}\n"
        f"convert_fp16(source, {str(fp16)!r}, open_engine(source).metadata)\n"
        f"engine = open_engine({str(fp16)!r})\n"
        "assert engine.precision == 'fp16'\n"
        "engine.predict({'face': np.zeros((2, 64, 64, 1), np.float32)})\n"
    )
    result = run_without_training(code)
    assert result.returncode == 0, result.stderr[-2000:]
