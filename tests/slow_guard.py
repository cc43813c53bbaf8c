"""Keep ``pytest -m "not slow"`` free of training: a test that trains must say so with ``slow``.

Two halves, because a test can train in two ways:

- through a fixture that trains (:data:`TRAINING_FIXTURES`): such a test is marked ``slow`` at
  collection, so it cannot be forgotten;
- by itself, in this process (:func:`edgefer.training.loop.train`) or through the CLI
  (``run_cli("train", ...)`` that succeeds): a test not marked ``slow`` that does either fails with
  the reason, instead of quietly making the quick run slow again. A refused ``train`` (exit 2),
  ``--help`` and ``--dry-run`` train nothing and are allowed.
"""

from __future__ import annotations

import os
import sys

import pytest

# Session fixtures of tests/conftest.py that train a model (or need one trained).
TRAINING_FIXTURES = frozenset({"trained_middle", "trained_face", "calib_set"})
FORBID_ENV = "EDGEFER_TEST_FORBID_TRAIN"
REASON = "this test trains a model: mark it @pytest.mark.slow"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def refuse_training(*_args: object, **_kwargs: object) -> None:
    pytest.fail(REASON, pytrace=False)


@pytest.fixture(autouse=True)
def _no_training_unless_slow(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Outside ``slow`` tests, training in this process or through ``run_cli`` fails the test."""
    if request.node.get_closest_marker("slow") is not None:
        yield
        return
    monkeypatch.setenv(FORBID_ENV, "1")
    # Only where a test module already imported the loop: importing it here would load TensorFlow
    # into every test process, the runtime tests' too.
    loop = sys.modules.get("edgefer.training.loop")
    if loop is not None:
        monkeypatch.setattr(loop, "train", refuse_training)
    yield


def check_cli_may_train(args: tuple[str, ...], returncode: int) -> None:
    """Called by ``run_cli`` after the command: a ``train`` that succeeded (so it trained; a refused
    one exits 2, ``--help`` and ``--dry-run`` train nothing) is allowed only in a ``slow`` test."""
    trained = args[:1] == ("train",) and returncode == 0
    if trained and os.environ.get(FORBID_ENV) and not {"--help", "--dry-run"} & set(args):
        pytest.fail(REASON, pytrace=False)
