"""The unseen-people recipe options: recorded in config.json, refused by --resume when changed, bad input one
line; runs started before the options existed read back as what they did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgefer.errors import EdgeferError
from edgefer.training.config import UNSEEN_PEOPLE_RECIPE, TrainConfig
from tests.cli_helpers import error_lines, run_cli

OTHER_VALUES = {
    "class_weights": "none",
    "select_by": "accuracy",
    "patience": 3,
    "warmup_epochs": 0.0,
    "face_augment": "light",
    "voice_augment": "paper",
    "fresh_masks": False,
    "extra_voices": "calm=neutral",
    "extra_voices_root": Path("/elsewhere"),
}


def _recipe(tmp_path: Path, **changes) -> TrainConfig:
    return TrainConfig(output=tmp_path, fusion="voice", **{**UNSEEN_PEOPLE_RECIPE, **changes})


def test_other_values_cover_every_recipe_option():
    assert set(UNSEEN_PEOPLE_RECIPE) | {"extra_voices_root"} == set(OTHER_VALUES)


def test_config_json_records_every_option_and_reads_back_equal(tmp_path):
    config = _recipe(tmp_path, extra_voices_root=tmp_path / "more")
    config.save(tmp_path / "config.json")
    saved = json.loads((tmp_path / "config.json").read_text())
    for name in OTHER_VALUES:
        assert name in saved, name
    assert saved["extra_voices"] == "calm=neutral,disgust=negative,fearful=negative,sad=negative"
    assert TrainConfig.from_dict(saved) == config


@pytest.mark.parametrize("name", sorted(OTHER_VALUES))
def test_resume_refuses_a_changed_option(tmp_path, name):
    saved = TrainConfig.from_dict(_recipe(tmp_path).to_dict())
    changed = _recipe(tmp_path, **{name: OTHER_VALUES[name]})
    with pytest.raises(EdgeferError, match=f"cannot resume.*{name}"):
        changed.check_resumable_from(saved)
    _recipe(tmp_path, epochs=99).check_resumable_from(saved)  # more epochs is fine


def test_the_same_extra_voices_written_differently_resume(tmp_path):
    saved = _recipe(tmp_path)
    again = _recipe(
        tmp_path, extra_voices=" sad=negative, fearful=negative,calm=neutral,disgust=negative "
    )
    again.check_resumable_from(saved)
    assert _recipe(tmp_path, extra_voices="none").extra_voices == ""


def test_a_config_from_before_the_recipe_reads_as_the_paper_recipe(tmp_path):
    """Old config.json files lack the new keys: they mean what those runs did, so resuming one with
    the new defaults is refused and names every setting that would change."""
    old = TrainConfig(output=tmp_path, fusion="voice").to_dict()
    for name in OTHER_VALUES:
        del old[name]
    legacy = TrainConfig.from_dict(old)
    assert (legacy.class_weights, legacy.select_by, legacy.patience) == ("none", "accuracy", 0)
    assert (legacy.face_augment, legacy.voice_augment, legacy.fresh_masks) == (
        "light",
        "paper",
        False,
    )
    assert legacy.extra_voices == "" and legacy.warmup_epochs == 0.0
    with pytest.raises(EdgeferError) as refused:
        _recipe(tmp_path).check_resumable_from(legacy)
    changed = [n for n, v in UNSEEN_PEOPLE_RECIPE.items() if getattr(legacy, n) != v]
    assert len(changed) >= 6  # every recipe setting but patience (0, no early stopping, in both)
    for name in changed:
        assert name in str(refused.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"class_weights": "inverse"}, "unknown class weights 'inverse'"),
        ({"select_by": "loss"}, "unknown selection metric 'loss'"),
        ({"face_augment": "heavy"}, "unknown face augmentation"),
        ({"voice_augment": "specaugment"}, "unknown voice augmentation"),
        ({"patience": -1}, "--patience"),
        ({"warmup_epochs": -0.5}, "--warmup-epochs"),
        ({"extra_voices": "sadness=negative"}, "unknown emotion 'sadness'"),
        ({"extra_voices": "calm=happy"}, "unknown class 'happy'"),
    ],
)
def test_bad_values_are_errors(tmp_path, changes, message):
    with pytest.raises(EdgeferError, match=message):
        _recipe(tmp_path, **changes)


def test_help_teaches_every_option():
    result = run_cli("train", "--help")
    assert result.returncode == 0
    for option in (
        "--class-weights",
        "--select-by",
        "--patience",
        "--warmup-epochs",
        "--face-augment",
        "--voice-augment",
        "--fresh-masks",
        "--extra-voices",
        "--extra-voices-dir",
    ):
        assert option in result.stdout, option
    assert "unseen-people recipe" in result.stdout


def test_cli_bad_value_is_one_line(tmp_path):
    result = run_cli("train", "--select-by", "loss", "--output", str(tmp_path / "run"))
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "macro_f1, accuracy" in lines[0]
    missing = run_cli(
        "train", "--fusion", "voice", "--extra-voices-dir", str(tmp_path / "nowhere"),
        "--output", str(tmp_path / "run"),
    )  # fmt: skip
    assert missing.returncode == 2 and "--extra-voices ''" in error_lines(missing)[-1]


def test_cli_resume_refuses_a_changed_recipe_option(tmp_path):
    pytest.importorskip(
        "tensorflow", reason="the train command imports Keras: needs the train extra"
    )
    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(output=run, fusion="voice", **UNSEEN_PEOPLE_RECIPE).save(run / "config.json")
    (run / "state.json").write_text(json.dumps({"epoch": 1, "best_epoch": 1, "history": []}))
    (run / "model.keras").write_bytes(b"")
    common = ["train", "--fusion", "voice", "--output", str(run), "--resume"]
    result = run_cli(*common, "--class-weights", "none", "--voice-augment", "paper")
    assert result.returncode == 2
    line = error_lines(result)[-1]
    assert "cannot resume" in line and "class_weights" in line and "voice_augment" in line
