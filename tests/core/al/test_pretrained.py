"""Starting a project's model from a pretrained one: every weight but the class head is the
pretrained model's, the architecture is the pretrained one's, the clips are the project's."""

import dataclasses

import pytest
import torch

from halgui.core.al import checkpoint
from halgui.core.al.model import ActorLocalizer, ModelConfig
from halgui.core.al.pretrained import SHIPPED, build_from, resolve, shipped_path
from halgui.core.al.train import TrainConfig, build_model, train
from halgui.core.errors import HalguiError
from halgui.core.progress import run_to_end
from tests.core.al.toy import CLIP, toy_video


@pytest.fixture
def pretrained(tmp_path):
    """A 3-class model of width 4 on 8 x 48 x 48 clips, saved as a checkpoint."""
    torch.manual_seed(3)
    model = ActorLocalizer(ModelConfig(n_classes=3, clip_len=8, stride=2, size=48, width=4,
                                       head_channels=6))
    return checkpoint.save(tmp_path / "pre.pt", model, ["kick", "clap", "bow"],
                           info={"made": "test"})


def test_every_weight_but_the_class_head_comes_from_the_pretrained_model(pretrained):
    config = ModelConfig(n_classes=2, clip_len=4, stride=2, size=32, width=16)
    model, info = build_from(pretrained, config)
    start = checkpoint.load(pretrained).model.state_dict()
    mine = model.state_dict()
    assert model.config.width == 4 and model.config.head_channels == 6  # the pretrained one's
    assert (model.config.n_classes, model.config.clip_len, model.config.size) == (2, 4, 32)
    assert {k for k in mine if not k.startswith("prototypes.")} == set(start)
    for key, value in mine.items():
        if key.startswith("prototypes."):  # the starting point's features, frozen (test_prototypes)
            continue
        if key.startswith(("class_head.", "box_head.classes.")):  # one row per class
            assert value.shape[0] == 2 and start[key].shape[0] == 3
        else:
            assert torch.equal(value, start[key]), key
    assert info["pretrained_classes"] == ["kick", "clap", "bow"] and info["made"] == "test"


def test_a_starting_point_without_a_box_head_gives_all_it_has(tmp_path):
    """A trunk trained before models had a box head (boxes from actor-map components) still
    starts a box-head model: the box head starts fresh, everything else comes from it."""
    torch.manual_seed(4)
    old = ActorLocalizer(ModelConfig(n_classes=3, clip_len=8, size=48, width=4,
                                     boxes="components"))
    path = checkpoint.save(tmp_path / "old.pt", old, ["kick", "clap", "bow"])
    model, _ = build_from(path, ModelConfig(n_classes=2, clip_len=4, size=32))
    assert model.box_head is not None
    start = old.state_dict()
    for key, value in model.state_dict().items():
        if key.startswith("box_head."):
            assert key not in start
        elif not key.startswith("class_head."):
            assert torch.equal(value, start[key]), key


def test_training_from_a_pretrained_model_starts_from_its_weights(pretrained, tmp_path):
    config = TrainConfig(epochs=1, lr=0.0, weight_decay=0.0, clip=CLIP, pretrained=str(pretrained))
    result = run_to_end(train([toy_video(0), toy_video(1, seed=1)], ["slide", "hop"], config,
                              tmp_path / "m.pt"))
    trained = checkpoint.load(result.checkpoint).model.state_dict()
    start = checkpoint.load(pretrained).model.state_dict()
    kept = [k for k in trained
            if not k.startswith(("class_head.", "box_head.classes.", "prototypes."))
            and not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert kept and all(torch.equal(trained[k], start[k]) for k in kept)  # lr 0
    scratch = build_model(2, dataclasses.replace(config, pretrained=None))
    assert scratch.config.width == TrainConfig.width  # without it: the config's width


def test_a_pretrained_trunk_stays_as_it_was_and_one_from_scratch_learns(pretrained, tmp_path):
    """Automatic freezing: a trunk from a pretrained start keeps its weights and BatchNorm
    statistics (with class prototypes it does better so, docs/detector.md); a new one trains."""
    videos = [toy_video(0), toy_video(1, seed=1)]
    start = checkpoint.load(pretrained).model.trunk.state_dict()
    config = TrainConfig(epochs=2, clip=CLIP, pretrained=str(pretrained))
    trained = checkpoint.load(run_to_end(train(videos, ["slide", "hop"], config,
                                               tmp_path / "p.pt")).checkpoint).model
    assert all(torch.equal(v, start[k]) for k, v in trained.trunk.state_dict().items())
    torch.manual_seed(0)
    scratch = dataclasses.replace(config, pretrained=None)
    new = build_model(2, scratch).trunk.state_dict()
    torch.manual_seed(0)
    again = build_model(2, scratch).trunk.state_dict()
    assert all(torch.equal(v, again[k]) for k, v in new.items())  # training starts from `new`
    torch.manual_seed(0)
    learned = checkpoint.load(run_to_end(train(videos, ["slide", "hop"], scratch,
                                               tmp_path / "s.pt")).checkpoint).model
    assert any(not torch.equal(v, new[k]) for k, v in learned.trunk.state_dict().items())


def test_a_missing_or_foreign_starting_point_is_one_clear_error(tmp_path):
    with pytest.raises(HalguiError, match="no such pretrained model"):
        resolve(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(HalguiError, match=r"junk\.pt"):
        build_from(tmp_path / "junk.pt", ModelConfig(n_classes=2))
    assert set(SHIPPED) == {"synth"} and shipped_path("synth").name == SHIPPED["synth"]


def test_the_shipped_trunk_saw_no_benchmark_class_and_brings_a_box_head():
    """What docs/pretrained.md promises of the file that ships: trained on other actions from
    seeds no benchmark or test uses, with the box head a project's model starts from."""
    from halgui.core.synthetic_actions import action_set

    start = checkpoint.load(shipped_path("synth"))
    assert set(start.classes).isdisjoint(action_set("benchmark").names)
    assert start.info["action_set"] == "pretrain" and start.info["pretrain"]["seed"] >= 1000
    assert start.model.box_head is not None
    model, _ = build_from("synth", ModelConfig(n_classes=6, clip_len=8, size=112))
    shipped = start.model.state_dict()
    for key in ("box_head.centre.weight", "box_head.edges.weight"):
        assert torch.equal(model.state_dict()[key], shipped[key])
