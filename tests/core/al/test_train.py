"""Training end to end on a toy dataset: it learns, it is reproducible, it fails cleanly."""

import pytest
import torch

from halgui.core.al import checkpoint
from halgui.core.al.stew import StewConfig
from halgui.core.al.train import TrainConfig, TrainingError, train
from halgui.core.errors import Cancelled
from halgui.core.progress import CancelFlag, run_to_end, run_with_events
from tests.core.al.toy import CLIP, toy_video

CONFIG = TrainConfig(epochs=6, batch_size=4, lr=3e-3, width=4, clip=CLIP, seed=1)
CLASSES = ["slide", "hop"]


def videos():
    return [toy_video(0, seed=0), toy_video(1, seed=1)]


def test_training_learns_and_saves_a_safe_checkpoint(tmp_path):
    events, result = run_with_events(train(videos(), CLASSES, CONFIG, tmp_path / "m.pt"))
    assert events[-1].done == events[-1].total == result.steps
    assert {"epoch", "loss", "eta"} <= set(events[-1].extra)
    first, last = sum(result.losses[:3]) / 3, sum(result.losses[-3:]) / 3
    assert last < first
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    assert payload["classes"] == CLASSES
    loaded = checkpoint.load(tmp_path / "m.pt")
    assert loaded.model.config.n_classes == 2 and loaded.model.config.width == 4


def test_training_is_reproducible_on_cpu(tmp_path):
    a = run_to_end(train(videos(), CLASSES, CONFIG, tmp_path / "a.pt"))
    b = run_to_end(train(videos(), CLASSES, CONFIG, tmp_path / "b.pt"))
    assert a.losses == b.losses


def test_warm_start_continues_from_a_checkpoint(tmp_path):
    run_to_end(train(videos(), CLASSES, TrainConfig(epochs=1, width=4, clip=CLIP),
                     tmp_path / "r0.pt"))
    r0 = dict(checkpoint.load(tmp_path / "r0.pt").model.named_parameters())
    frozen = {"epochs": 1, "width": 4, "clip": CLIP, "lr": 0.0, "weight_decay": 0.0, "seed": 5}

    def params_after(**kw):
        cfg = TrainConfig(**frozen, **kw)
        result = run_to_end(train(videos(), CLASSES, cfg, tmp_path / "r1.pt",
                                  init=tmp_path / "r0.pt"))
        return dict(checkpoint.load(result.checkpoint).model.named_parameters())

    warm = params_after()
    assert all(torch.equal(r0[k], warm[k]) for k in r0)  # lr 0: exactly where round 0 ended
    cold = params_after(warm_start=False)
    assert not all(torch.equal(r0[k], cold[k]) for k in r0)


def test_cancel_stops_at_the_next_step_and_saves_nothing(tmp_path):
    flag = CancelFlag()
    work = train(videos(), CLASSES, CONFIG, tmp_path / "m.pt", cancel=flag)
    next(work)
    next(work)
    flag.cancel()
    with pytest.raises(Cancelled):
        next(work)
    assert not (tmp_path / "m.pt").exists()
    assert list(tmp_path.iterdir()) == []


class NanCluster:
    def loss(self, z):
        return z.sum() * float("nan")

    def update(self, z):
        pass

    def state(self):
        return {}


def test_nan_loss_ends_the_run_and_keeps_the_previous_checkpoint(tmp_path):
    previous = tmp_path / "m.pt"
    run_to_end(train(videos(), CLASSES, TrainConfig(epochs=1, width=4, clip=CLIP), previous))
    before = previous.read_bytes()
    with pytest.raises(TrainingError, match="nan"):
        run_to_end(train(videos(), CLASSES, CONFIG, previous, cluster=NanCluster()))
    assert previous.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_nothing_to_train_on_is_a_clear_error(tmp_path):
    v = toy_video()
    v.labeled[:] = False
    with pytest.raises(TrainingError, match="no video has a labeled frame"):
        run_to_end(train([v], CLASSES, CONFIG, tmp_path / "m.pt"))


def test_a_foreign_file_is_not_loaded_as_a_checkpoint(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"garbage")
    with pytest.raises(checkpoint.CheckpointError, match=r"x\.pt"):
        checkpoint.load(tmp_path / "x.pt")
    torch.save({"format": "other"}, tmp_path / "y.pt")
    with pytest.raises(checkpoint.CheckpointError, match="not a halgui checkpoint"):
        checkpoint.load(tmp_path / "y.pt")


def test_bce_on_labeled_frames_only_is_a_weighting_choice(tmp_path):
    cfg = TrainConfig(epochs=1, width=4, clip=CLIP, stew=StewConfig(weighting="labeled"))
    result = run_to_end(train(videos(), CLASSES, cfg, tmp_path / "m.pt"))
    assert result.steps == 2  # 6 + 6 labeled frames in batches of 8, and no pseudo clips


def test_the_trunk_learns_at_its_scaled_rate():
    from halgui.core.al.train import build_model, make_optimiser

    model = build_model(2, TrainConfig(width=4, clip=CLIP))
    optimiser = make_optimiser(model, TrainConfig(lr=2e-3, trunk_lr_scale=0.25))
    trunk = {id(p) for p in model.trunk.parameters()}
    rates = {id(p): g["lr"] for g in optimiser.param_groups for p in g["params"]}
    assert set(rates) == {id(p) for p in model.parameters()}
    assert all(rates[i] == pytest.approx(5e-4) for i in trunk)
    assert all(r == pytest.approx(2e-3) for i, r in rates.items() if i not in trunk)


def test_a_trunk_learning_rate_of_zero_or_less_is_refused_by_the_config():
    from halgui.core.errors import HalguiError

    for scale in (0.0, -1.0, float("nan")):
        with pytest.raises(HalguiError, match="trunk_lr_scale must be more than 0"):
            TrainConfig(trunk_lr_scale=scale)
    assert TrainConfig(trunk_lr_scale=0.1).trunk_lr_scale == 0.1
