"""The command line as a user meets it: help that teaches, placeholders that fail, one-line errors."""

from __future__ import annotations

import pytest

from tests.cli_helpers import error_lines, run_cli


def test_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("train", "export", "calibrate", "build-engine", "run", "bench", "doctor"):
        assert command in result.stdout


def test_error_text_in_square_brackets_is_printed_not_eaten_as_markup(tmp_path):
    result = run_cli("export", str(tmp_path / "[x]"))
    assert result.returncode == 2
    assert "[x]" in result.stderr


def test_doctor_reports_backends_and_data():
    result = run_cli("doctor")
    assert result.returncode == 0
    for item in ("onnxruntime", "tensorrt", "haar cascade", "data"):
        assert item in result.stdout


def test_train_help_explains_fusions_and_resume():
    result = run_cli("train", "--help")
    assert result.returncode == 0
    for word in ("middle", "late", "--resume", "--dry-run", "--preset"):
        assert word in result.stdout


def test_unknown_fusion_is_one_line_and_exit_2(tmp_path):
    result = run_cli("train", "--fusion", "sideways", "--output", str(tmp_path / "r"))
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "unknown fusion 'sideways'" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_dataset_folder_is_one_line_and_exit_2(tmp_path):
    result = run_cli(
        "train",
        "--fusion",
        "face",
        "--faces",
        str(tmp_path / "nowhere"),
        "--output",
        str(tmp_path / "r"),
    )
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "nowhere" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_dry_run_prints_parameter_counts_of_both_presets():
    result = run_cli("train", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "edge (64 px)" in out and "paper (224 px)" in out
    assert "357,987" in out  # edge middle fusion
    assert "125,606,557" in out  # paper middle fusion
    assert "voices test" in out and "faces train" in out


def test_debug_shows_the_traceback_and_exits_2_as_without_it():
    quiet = run_cli("build-engine", "nosuch.onnx")
    loud = run_cli("--debug", "build-engine", "nosuch.onnx")
    assert quiet.returncode == loud.returncode == 2
    assert "Traceback" not in quiet.stderr and "Traceback" in loud.stderr
    assert "ONNX model not found: nosuch.onnx" in loud.stderr
