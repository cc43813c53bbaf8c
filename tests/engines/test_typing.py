"""mypy checks the engines package against the TensorRT 10.x stubs (tensorrt-stubs): the package
passes, and a misspelt TensorRT method, attribute or a wrong argument type fails. Skipped, with
the reason, where mypy or tensorrt-stubs is not installed (``.ci/run`` installs both)."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engines.trt_stubs import ROOT, installed_version, write_repaired_stubs

PROBE = Path(__file__).with_name("mypy_probe.py")
pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("mypy") is None, reason="mypy is not installed (pip install mypy)"
    ),
    pytest.mark.skipif(
        installed_version() is None,
        reason="tensorrt-stubs is not installed (pip install --no-deps tensorrt-stubs)",
    ),
]


@pytest.fixture(scope="module")
def stubs() -> Path:
    path = write_repaired_stubs()
    assert path is not None
    return path


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_engines_package_passes_mypy(stubs: Path) -> None:
    done = _mypy()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def test_a_misspelt_tensorrt_method_or_wrong_argument_fails_mypy(stubs: Path) -> None:
    done = _mypy(str(PROBE.relative_to(ROOT)))
    assert done.returncode == 1, done.stdout + done.stderr
    reported = {
        (int(m["line"]), m["code"])
        for m in re.finditer(
            r"mypy_probe\.py:(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]", done.stdout
        )
    }
    marked = {
        (number, line.split("# probe: ")[1].strip())
        for number, line in enumerate(PROBE.read_text().splitlines(), start=1)
        if "# probe: " in line
    }
    assert len(marked) == 4
    assert reported == marked, done.stdout
    assert 'has no attribute "build_serialised_network"; maybe "build_serialized_network"' in (
        done.stdout
    )


def _stub_classes(stubs: Path) -> dict[str, ast.ClassDef]:
    tree = ast.parse((stubs / "tensorrt_bindings" / "tensorrt.pyi").read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def _stub_members(
    classes: dict[str, ast.ClassDef], name: str
) -> dict[str, list[tuple[list[str], int]]]:
    """Member name -> (parameter names, how many are required) of each overload ([] for an
    attribute), the bases' included."""
    members: dict[str, list[tuple[list[str], int]]] = {}
    node = classes[name]
    for base in node.bases:
        if isinstance(base, ast.Name) and base.id in classes:
            members.update(_stub_members(classes, base.id))
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            args = item.args
            positional = [a.arg for a in args.posonlyargs + args.args]
            required = len(positional) - len(args.defaults)
            names = positional + [a.arg for a in args.kwonlyargs]
            members.setdefault(item.name, []).append((names, required))
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            members.setdefault(item.target.id, [])
    return members


def test_the_tensorrt_stand_in_takes_the_stubs_parameters(
    stubs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every method and property the stand-in implements (as TensorRT 10) is in the 10.x stubs
    on the same class, with the same parameter names: it accepts no call TensorRT would not."""
    from tests.engines.fake_tensorrt import install

    trt = install(monkeypatch, "10").module
    builder = trt.Builder(trt.Logger(trt.Logger.WARNING))
    implemented = {
        "Builder": type(builder),
        "INetworkDefinition": type(builder.create_network(0)),
        "IBuilderConfig": type(builder.create_builder_config()),
        "OnnxParser": trt.OnnxParser,
        "ParserError": trt.ParserError,
        "IOptimizationProfile": trt.IOptimizationProfile,
        "ITimingCache": trt.ITimingCache,
        "Runtime": trt.Runtime,
        "ICudaEngine": trt.ICudaEngine,
        "IExecutionContext": trt.IExecutionContext,
        "Logger": trt.Logger,
        "IInt8EntropyCalibrator2": trt.IInt8EntropyCalibrator2,
    }
    classes = _stub_classes(stubs)
    checked = []
    for name, cls in implemented.items():
        stub = _stub_members(classes, name)
        for klass in cls.__mro__[:-1]:  # the stand-in's own classes, not object
            for attr, value in vars(klass).items():
                if attr.startswith("_") and (attr != "__init__" or "__init__" not in stub):
                    continue  # helpers, and constructors of objects only factories make
                if isinstance(value, property):
                    assert attr in stub, f"{name}.{attr} is not in the stubs"
                elif inspect.isfunction(value):
                    params = list(inspect.signature(value).parameters)
                    assert attr in stub, f"{name}.{attr} is not in the stubs"
                    # the same names; trailing optional ones the stand-in may leave out
                    fits = any(
                        params == names[: len(params)] and len(params) >= required
                        for names, required in stub[attr]
                    )
                    assert fits, f"{name}.{attr}{params} vs the stubs' {stub[attr]}"
                else:
                    continue
                checked.append(f"{name}.{attr}")
    assert len(checked) >= 30, checked


def test_doctor_does_not_take_the_type_stubs_for_an_installed_tensorrt():
    import importlib.util

    from edgefer.doctor import package_version
    from edgefer.engines.trt_module import tensorrt_installed

    if tensorrt_installed():
        pytest.skip("a real TensorRT is installed here")
    if importlib.util.find_spec("tensorrt") is None:
        pytest.skip("tensorrt-stubs are not installed (.ci/run installs them)")
    assert package_version("tensorrt", ("tensorrt",)) is None
