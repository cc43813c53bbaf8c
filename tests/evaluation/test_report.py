"""The accuracy report: Wilson intervals and the Markdown table other readers rely on."""

from __future__ import annotations

import pytest

from edgefer.evaluation.report import wilson_interval, write_markdown


@pytest.mark.parametrize(
    ("accuracy", "n", "low", "high"),
    [(0.5, 100, 0.4038, 0.5962), (0.8, 40, 0.6524, 0.8950), (1.0, 6, 0.6097, 1.0)],
)
def test_wilson_interval_matches_the_textbook_values(accuracy, n, low, high):
    got = wilson_interval(accuracy, n)
    assert got == pytest.approx((low, high), abs=5e-4)


def _report(accuracy: float, n: int, sets: dict) -> dict:
    recall = {"negative": 0.9, "neutral": 0.2, "positive": 0.7}
    return {
        "n": n,
        "accuracy": accuracy,
        "macro_f1": 0.5,
        "per_class_recall": recall,
        "sets": sets,
        "paper_accuracy": 0.7981,
        "av_clips": {m: {"correct": 4, "n": 6} for m in ("paper", "extended")},
    }


def test_markdown_has_every_row_its_n_interval_targets_and_pairing_gap(tmp_path):
    face = _report(
        0.6, 3174, {"test_masked": {"accuracy": 0.6}, "test_unmasked": {"accuracy": 0.7}}
    )
    voice = _report(
        0.75,
        92,
        {
            "test_clips": {
                "accuracy": 0.75,
                "per_group": {"ravdess:17": {"n": 20, "accuracy": 0.8}},
            },
            "test_pairs": {"accuracy": 0.74},
        },
    )
    middle = _report(
        0.83,
        3174,
        {
            "test_masked": {"accuracy": 0.83},
            "test_unmasked": {"accuracy": 0.86},
            "test_masked_random_voice": {"accuracy": 0.5},
        },
    )
    result = {
        "models": {"face": face, "voice": voice, "middle": middle},
        "command": "python x.py",
        "spec_digest": "abc",
        "voice_folds": None,
    }
    path = tmp_path / "accuracy.md"
    write_markdown(result, path)
    text = path.read_text()
    assert "| middle fusion | 83.00% (3174) | 81.7-84.3 |" in text
    assert "| unimodal voice | 75.00% (92) |" in text
    assert "+9.00 points (target: >= +8" in text  # middle 83 vs best unimodal 74 on the same pairs
    assert "| middle | 83.00% | 50.00% | -33.00 |" in text
    assert "How this differs from the paper" in text and "python x.py" in text
    assert "| ravdess:17 | 20 | 80.00% |" in text
    assert "92 held-out clips of 6 actors (95 % interval 65.3-82.7" in text
    assert "What would close the gaps" in text and "- Face:" in text  # face 60 % < the paper's 68.8
    assert "- Fusion gain:" not in text  # the +8 target is met
