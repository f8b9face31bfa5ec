"""Training for about M minutes: it stops at the budget, at the end of a step, with a valid
checkpoint; epochs and the budget together end at whichever comes first."""

import dataclasses

import numpy as np
import pytest

from halgui.core.al import checkpoint
from halgui.core.al.train import TrainConfig, TrainingError, _Schedule, train
from halgui.core.progress import run_to_end, run_with_events
from tests.core.al.toy import CLIP, toy_video

CLASSES = ["slide", "hop"]
BASE = TrainConfig(epochs=None, batch_size=4, width=4, clip=CLIP, seed=1)


def videos():
    return [toy_video(0, seed=0), toy_video(1, seed=1)]


def steps_per_epoch(tmp_path):
    one = run_to_end(train(videos(), CLASSES, dataclasses.replace(BASE, epochs=1),
                           tmp_path / "one.pt"))
    return one.steps


def test_a_time_budget_alone_stops_at_the_first_step_past_it(tmp_path):
    config = dataclasses.replace(BASE, minutes=1.5 / 60)  # 1.5 s
    events, result = run_with_events(train(videos(), CLASSES, config, tmp_path / "m.pt"))
    assert result.seconds >= 1.5 and result.steps >= 1
    # every step but the last ended inside the budget: the run stops once it is spent
    assert result.seconds < 1.5 + 30.0
    assert events[-1].done == events[-1].total == 2  # the bar counts the budget's seconds
    assert all(e.extra["eta"] >= 0 for e in events[1:])
    assert checkpoint.load(result.checkpoint).model.config.n_classes == 2


def test_a_time_budget_plans_epochs_as_steps_ask_for_them():
    rng = np.random.default_rng(0)
    plan = _Schedule(videos(), dataclasses.replace(BASE, minutes=1.0), rng)
    per_epoch = len(plan.steps)
    assert plan.epochs_planned == 1 and plan.total_steps is None and plan.total == 60
    plan.items(3 * per_epoch + 1)
    assert plan.epochs_planned == 4 and plan.epoch_of(3 * per_epoch + 1) == 3
    fixed = _Schedule(videos(), dataclasses.replace(BASE, epochs=3), np.random.default_rng(0))
    assert fixed.total_steps == fixed.total == 3 * per_epoch
    assert fixed.steps == plan.steps[:3 * per_epoch]  # the same clips, epoch by epoch


def test_progress_reaches_its_end_with_whichever_bound_ends_the_run():
    plan = _Schedule(videos(), dataclasses.replace(BASE, epochs=2, minutes=1.0),
                     np.random.default_rng(0))
    n = plan.total_steps
    assert plan.progress(n, 5.0) == (60, 0.0)  # the epochs ended first, at 5 s
    done, left = plan.progress(1, 30.0)  # one step in 30 s: the budget ends first
    assert left == 30.0 and done == 30
    assert plan.progress(1, 61.0) == (60, 0.0)


def test_epochs_end_the_run_first_when_they_are_shorter(tmp_path):
    per_epoch = steps_per_epoch(tmp_path)
    config = dataclasses.replace(BASE, epochs=2, minutes=10.0)
    result = run_to_end(train(videos(), CLASSES, config, tmp_path / "m.pt"))
    assert result.steps == 2 * per_epoch
    assert result.seconds < 60


def test_the_same_epochs_give_the_same_losses_with_or_without_a_long_budget(tmp_path):
    plain = run_to_end(train(videos(), CLASSES, dataclasses.replace(BASE, epochs=2),
                             tmp_path / "a.pt"))
    budget = run_to_end(train(videos(), CLASSES,
                              dataclasses.replace(BASE, epochs=2, minutes=10.0),
                              tmp_path / "b.pt"))
    assert plain.losses == budget.losses


def test_neither_epochs_nor_minutes_is_refused(tmp_path):
    with pytest.raises(TrainingError, match="epochs or a time budget"):
        run_to_end(train(videos(), CLASSES, BASE, tmp_path / "m.pt"))
    assert not (tmp_path / "m.pt").exists()
