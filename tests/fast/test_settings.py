"""Settings refused up front with one clear message, and the docs' promises about them."""

from __future__ import annotations

import pytest

from paths import REPO
from qbench.errors import QbenchError
from qbench.config.general import parse_passes, parse_targets


@pytest.mark.parametrize("text, problem", [
    ("segmentation=1.5", "segmentation=1.5 is outside 0..1 (a fraction of float32's mIoU"),
    ("classification=1.5", "classification=1.5 is outside -1..1"),
    ("1.5", "=1.5 is outside -1..1"),  # one number for every task must suit every task
    ("pose=0.9", "unknown task 'pose'"),
])
def test_a_budget_target_a_task_cannot_mean_is_refused(text, problem):
    with pytest.raises(QbenchError, match=problem.replace("(", r"\(")):
        parse_targets(text)


def test_sensible_budget_targets_are_taken():
    assert parse_targets("segmentation=0.99,classification=0.002,fidelity=30") == {
        "segmentation": 0.99, "classification": 0.002, "fidelity": 30.0}


def test_too_few_timing_passes_for_an_interval_are_refused():
    with pytest.raises(QbenchError, match="too few for a 95 % interval"):
        parse_passes("5")
    assert parse_passes("6") == 6


def test_the_readme_says_what_a_ready_tflite_gets():
    readme = (REPO / "README.md").read_text()
    assert "in `float32` only" not in readme
    assert "every `aeq-*` mode quantizes it" in readme


def test_every_store_subcommand_names_its_store_the_same_way():
    from qbench import cli

    for action in (["import", "run.json"], ["list"], ["export", "--out", "x"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(["store", *action, "--help"])
        assert exc.value.code == 0
    with pytest.raises(SystemExit):  # the store is an option everywhere, never a positional argument
        cli.main(["store", "list", "sqlite:///x.db"])


def test_every_mode_with_a_budget_variant_names_a_wider_mode_that_stores_more():
    """The +budget search stops once its model is as large as the ``wider`` mode's, and tells the user to pick it."""
    from qbench.modes import MODES

    for mode in (m for m in MODES.values() if m.keep):
        wider = MODES.get(mode.wider)
        assert wider.storage.weight_bits > mode.storage.weight_bits or wider.storage.weight_bits == 32, mode.id
