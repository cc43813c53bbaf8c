"""A copy of the ``tensorrt-stubs`` type stubs that mypy can parse, for ``mypy edgefer/engines``.

Why: tensorrt-stubs 10.13 (generated from the bindings) has five signatures Python cannot parse
(a parameter named ``in``, a parameter without a default after defaulted ones), and a syntax error
in a stub stops mypy outright. Each such ``def`` line gets ``*args: Any, **kwargs: Any``
parameters (all in plugin and layer APIs edgefer never calls); every other line is unchanged.
The installed package also lacks ``py.typed``, which mypy needs before it reads a package from
site-packages; a folder on ``mypy_path`` needs none. ``pyproject.toml`` points ``mypy_path`` at
:data:`STUBS_DIR`.

Run ``python -m tests.engines.trt_stubs`` (``.ci/run`` does) before ``mypy``.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STUBS_DIR = ROOT / "build" / "tensorrt-stubs"
DISTRIBUTION = "tensorrt-stubs"
_DEF = re.compile(r"^(?P<head>\s*def \w+)\((?P<params>.*)\)(?P<tail>\s*->.*:\s*)$")


def installed_version() -> str | None:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def repair(text: str, where: str) -> tuple[str, int]:
    """``text`` with every unparseable ``def`` line loosened; how many lines were changed."""
    lines = text.splitlines()
    changed = 0
    while True:
        try:
            ast.parse("\n".join(lines), filename=where)
        except SyntaxError as exc:
            index = (exc.lineno or 0) - 1
            match = _DEF.match(lines[index]) if 0 <= index < len(lines) else None
            if match is None or changed > 50:
                raise RuntimeError(f"{where}:{exc.lineno}: cannot repair {exc.msg}") from exc
            first = match["params"].split(",")[0].strip()
            own = f"{first}, " if first.startswith("self") else ""
            params = f"{own}*args: typing.Any, **kwargs: typing.Any"
            lines[index] = f"{match['head']}({params}){match['tail']}"
            changed += 1
            continue
        break
    if changed and not any(line.strip() == "import typing" for line in lines):
        lines.insert(1 if lines and lines[0].startswith("from __future__") else 0, "import typing")
    return "\n".join(lines) + "\n", changed


def write_repaired_stubs(dest: Path = STUBS_DIR) -> Path | None:
    """Write the repaired ``.pyi`` files of the installed tensorrt-stubs under ``dest``; None when
    tensorrt-stubs is not installed."""
    if installed_version() is None:
        return None
    files = importlib.metadata.distribution(DISTRIBUTION).files or []
    shutil.rmtree(dest, ignore_errors=True)
    for file in files:
        if file.suffix != ".pyi":
            continue
        text, _ = repair(Path(str(file.locate())).read_text(encoding="utf-8"), str(file))
        target = dest / str(file)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return dest


def main() -> int:
    dest = write_repaired_stubs()
    if dest is None:
        print(f"{DISTRIBUTION} is not installed: pip install --no-deps {DISTRIBUTION}")
        return 1
    print(f"{DISTRIBUTION} {installed_version()} repaired into {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
