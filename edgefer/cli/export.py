"""``edgefer export``: a trained model to ONNX, or into a Triton model repository.

The export itself lives in :mod:`edgefer.export` and the repository writer in
:mod:`edgefer.serving.repository`; here are the options, which model file a Triton export starts
from, and the result tables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from edgefer.cli._common import _dims, _progress, _table
from edgefer.errors import EdgeferError


def export_command(
    model: Annotated[
        str,
        typer.Argument(
            help="A run folder or a .keras model; with --format triton also an exported .onnx or "
            "a shipped variant (middle, face, voice, early, late)."
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write (default: beside the model, .onnx); with --format triton the "
            "model repository folder (required).",
        ),
    ] = None,
    format: Annotated[
        str,
        typer.Option(
            "--format", help="onnx | triton (a model repository for the Triton container)."
        ),
    ] = "onnx",
    opset: Annotated[int, typer.Option(help="ONNX opset.")] = 17,
    parity_samples: Annotated[
        int, typer.Option(help="Held-out real samples Keras and ONNX Runtime must agree on.")
    ] = 60,
    name: Annotated[
        str | None, typer.Option(help="Triton: the model's name (default: the file's stem).")
    ] = None,
    max_batch: Annotated[int, typer.Option(help="Triton: max_batch_size.")] = 8,
    max_queue_delay_us: Annotated[
        int, typer.Option(help="Triton: dynamic batching's max queue delay (microseconds).")
    ] = 100,
    instances: Annotated[int, typer.Option(help="Triton: instances of the model.")] = 1,
    kind: Annotated[
        str,
        typer.Option(
            help="Triton: gpu (with ONNX Runtime's TensorRT accelerator, FP16) | cpu | auto."
        ),
    ] = "gpu",
    plan: Annotated[
        Path | None,
        typer.Option(
            help="Triton: also serve this TensorRT plan from build-engine as NAME_trt "
            "(built on the serving GPU)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Triton: replace a model of the same name in the repository.")
    ] = False,
) -> None:
    """Export a trained model to ONNX with its metadata; checks parity with Keras on real inputs.

    Example: [cyan]edgefer export runs/middle-edge[/cyan]

    A Triton model repository: [cyan]edgefer export middle --format triton -o triton-repo[/cyan]
    """
    if format not in ("onnx", "triton"):
        raise EdgeferError(f"unknown --format {format!r}: choose onnx or triton")
    if format == "triton":
        _export_triton(
            model, output, name, max_batch, max_queue_delay_us, instances, kind, plan, force,
            opset, parity_samples,
        )  # fmt: skip
        return
    _export_onnx(Path(model), output, opset, parity_samples)


def _export_onnx(model: Path, output: Path | None, opset: int, parity_samples: int) -> Any:
    """``export`` to ONNX, then the table that shows the user the file can be trusted.

    The table shows its inputs, the source model it came from and how closely it agrees with Keras
    on real held-out samples.

    Parameters
    ----------
    model : a run folder or a .keras model.
    output : where the .onnx goes (None: beside the model).
    opset : the ONNX opset.
    parity_samples : held-out samples Keras and ONNX Runtime must agree on.

    Returns
    -------
    The export's result (path, metadata, parity).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from edgefer.export import PARITY_ATOL, export_model

    with _progress() as progress:
        result = export_model(model, output, opset, parity_samples, progress)
    meta, parity = result.metadata, result.parity
    _table(
        "edgefer export",
        [
            ("onnx", str(result.path)),
            ("inputs", ", ".join(f"{n}[{_dims(s)}]" for n, s in meta["inputs"].items())),
            ("output", f"{meta['output']} ({', '.join(meta['class_names'])})"),
            ("source", f"{meta['source_model']} sha256 {meta['source_model_sha256']}"),
            ("spec digest", meta["spec_digest"]),
            ("parity (real held-out)", f"n={parity.n}, batches {parity.batch_sizes}"),
            ("max abs diff", f"{parity.max_abs_diff:.2e} (limit {PARITY_ATOL:.0e})"),
            ("argmax agreement", f"{parity.argmax_agreement:.1%}"),
            ("size", f"{result.path.stat().st_size / 1e6:.2f} MB"),
        ],
    )
    return result


def _export_triton(
    model: str, repo: Path | None, name: str | None, max_batch: int, max_queue_delay_us: int,
    instances: int, kind: str, plan: Path | None, force: bool, opset: int, parity_samples: int,
) -> None:  # fmt: skip
    """``export --format triton``: the ONNX of MODEL added to the repository, then checked.

    When MODEL is Keras it is exported first, into a temporary folder, so the source folder stays as
    it was.

    Parameters
    ----------
    model : a shipped variant, an exported .onnx, a run folder or a .keras model.
    repo : the model repository folder (None is refused: there is no sensible default).
    name, max_batch, max_queue_delay_us, instances, kind, plan, force : as the ``--`` options say.
    opset, parity_samples : for a Keras model, as ``export`` to ONNX takes them.
    """
    import tempfile

    from edgefer.serving.repository import RepoOptions, write_triton_model
    from edgefer.serving.repository_check import check_repository

    if repo is None:
        raise EdgeferError("--format triton writes a model repository: give it with -o REPO")
    options = RepoOptions(max_batch, max_queue_delay_us, instances, kind)
    with tempfile.TemporaryDirectory(prefix="edgefer-triton-") as tmp:
        onnx, default_name, parity = _triton_source(model, Path(tmp), opset, parity_samples)
        written = write_triton_model(onnx, repo, name or default_name, options, plan, force)
    problems = check_repository(repo)
    if problems:
        raise EdgeferError(f"the repository does not check out: {problems[0]}")
    _triton_table(repo, written, options, onnx if parity is None else Path(model), parity)


def _triton_source(
    model: str, tmp: Path, opset: int, parity_samples: int
) -> tuple[Path, str, str | None]:
    """(ONNX file, default model name, parity line or None) of MODEL.

    MODEL is a shipped variant, an exported .onnx, or a run folder / .keras exported into ``tmp``.

    A shipped name wins only when no file of that name exists, so ``./middle`` can still be a run.

    Parameters
    ----------
    model : as given on the command line.
    tmp : a scratch folder for a Keras export (deleted after the repository is written).
    opset, parity_samples : for a Keras model, as ``export`` to ONNX takes them.
    """
    from edgefer.shipped import shipped_path
    from edgefer.spec import FUSIONS

    path = Path(model)
    if model in FUSIONS and not path.exists():
        return shipped_path(model, ".onnx"), model, None
    if path.suffix == ".onnx":
        if not path.is_file():
            raise EdgeferError(f"ONNX model not found: {path}")
        return path, path.stem, None
    if not (path.is_dir() or (path.suffix == ".keras" and path.is_file())):
        raise EdgeferError(
            f"not a run folder, .keras, .onnx or shipped variant ({', '.join(FUSIONS)}): {model}"
        )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from edgefer.export import export_model

    stem = path.resolve().name if path.is_dir() else path.stem
    with _progress() as progress:
        result = export_model(path, tmp / f"{stem}.onnx", opset, parity_samples, progress)
    parity = result.parity
    note = (
        f"Keras -> ONNX, n={parity.n} held-out, max abs diff {parity.max_abs_diff:.2e}, "
        f"argmax agreement {parity.argmax_agreement:.1%}"
    )
    return result.path, stem, note


def _triton_table(
    repo: Path, written: list[Path], options: Any, source: Path, parity: str | None
) -> None:
    """What ``export --format triton`` wrote and the config it wrote, as the other commands print.

    Parameters
    ----------
    repo : the model repository.
    written : every file written into it.
    options : the repository options (a :class:`~edgefer.serving.repository.RepoOptions`).
    source : the model the user gave (the .onnx used when no Keras export was needed).
    parity : the Keras -> ONNX parity line, None when nothing was exported.
    """
    from edgefer.serving.repository import KINDS

    models = [p.parent for p in written if p.name == "config.pbtxt"]
    rows = [
        ("repository", str(repo)),
        ("source", str(source)),
        *([("parity", parity)] if parity else []),
        *(
            (
                f"model {m.name}",
                ", ".join(str(p.relative_to(repo)) for p in written if m in p.parents),
            )
            for m in models
        ),
        ("max_batch_size", str(options.max_batch)),
        ("dynamic batching", f"queue delay {options.max_queue_delay_us} us"),
        (
            "instance_group",
            f"{options.instances} x {KINDS[options.kind]}"
            + (", TensorRT accelerator FP16" if options.kind == "gpu" else ""),
        ),
        ("checked", "every config.pbtxt parses (model_config_pb2) and matches its ONNX"),
        ("serve it", f"tritonserver --model-repository {repo.resolve()}"),
    ]
    _table("edgefer export --format triton", rows)
