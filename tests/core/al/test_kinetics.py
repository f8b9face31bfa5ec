"""torchvision's Kinetics-400 trunks behind the backbone registry: their features fit the heads,
their weights load from a file (never the network in tests) or fail offline in one line, frozen
stages stay as loaded, checkpoints keep the backbone, and torchvision is needed only for them.
"""

import dataclasses
import hashlib
import os
import sys
import urllib.error
import urllib.request

import pytest
import torch

from halgui.core.al import checkpoint
from halgui.core.al.backbones import KINETICS, KINETICS_MEAN, KINETICS_STD
from halgui.core.al.kinetics import freeze_trunk, weights_source
from halgui.core.al.model import ActorLocalizer, ModelConfig
from halgui.core.al.stew import StewConfig
from halgui.core.al.train import TrainConfig, build_model, train, train_step, trainable
from halgui.core.errors import HalguiError
from halgui.core.progress import run_to_end
from tests.core.al.toy import CLIP, toy_video

CLASSES = ["slide", "hop"]
SMALL = dataclasses.replace(CLIP, max_clips_per_epoch=4)  # 4 x 32 x 32 clips, 2 steps of 2


@pytest.fixture
def torchvision():
    """torchvision; CI (HALGUI_REQUIRE_KINETICS=1) installs it, so there a missing one fails
    these tests instead of skipping them."""
    if os.environ.get("HALGUI_REQUIRE_KINETICS") == "1":
        import torchvision as tv

        return tv
    return pytest.importorskip("torchvision", reason="the kinetics extra is not installed")


def weights_file(torchvision, tmp_path, name="r2plus1d_18"):
    """What a user downloaded: torchvision's model's state dict (random here, seeded)."""
    torch.manual_seed(3)
    net = getattr(torchvision.models.video, name)(weights=None)
    path = tmp_path / f"{name}.pth"
    torch.save(net.state_dict(), path)
    return path, net.state_dict()


@pytest.mark.parametrize("name", ["r2plus1d_18", "r3d_18"])
def test_features_fit_the_heads(torchvision, name):
    model = ActorLocalizer(ModelConfig(n_classes=2, clip_len=8, size=64, backbone=name)).eval()
    clips = torch.randint(0, 256, (2, 8, 64, 64, 3), dtype=torch.uint8)
    x = model.normalise(clips)
    # the Kinetics normalisation, not halgui's
    expected = (clips.permute(0, 4, 1, 2, 3)[:, 0].float() / 255 - KINETICS_MEAN[0]) / 0.22803
    assert torch.allclose(x[:, 0], expected, atol=1e-5)
    weights = getattr(torchvision.models.video, KINETICS[name].weights).KINETICS400_V1
    shipped = (tuple(weights.transforms().mean), tuple(weights.transforms().std))
    assert shipped == (KINETICS_MEAN, KINETICS_STD)
    with torch.no_grad():
        deep, skip = model.trunk(x)
        out = model(x)
    assert deep.shape == (2, model.trunk.out_channels, 8, 4, 4)   # stride 16, every frame
    assert skip.shape == (2, model.trunk.skip_channels, 8, 16, 16)  # stride 4, every frame
    assert out.map_logits.shape == (2, 8, 64, 64) and out.class_logits.shape == (2, 2)
    assert out.boxes.centre_logits.shape == (2, 8, 16, 16)  # the box head's quarter size


def test_round_starts_from_the_weights_file_and_trains_only_the_top(torchvision, tmp_path):
    path, state = weights_file(torchvision, tmp_path)
    config = TrainConfig(epochs=1, batch_size=2, clip=SMALL, pretrained="synth",
                         backbone="r2plus1d_18", backbone_weights=str(path), freeze="lower")
    result = run_to_end(train([toy_video(0, seed=0), toy_video(1, seed=1)], CLASSES, config,
                              tmp_path / "m.pt"))
    assert result.steps == 2
    held = checkpoint.load(tmp_path / "m.pt")  # the checkpoint names its backbone
    assert held.model.config.backbone == "r2plus1d_18"
    trunk = held.model.trunk.state_dict()
    lower = [k for k in state if k.startswith(("stem.", "layer1.", "layer2.", "layer3."))]
    # the lower stages are the file's, by value (BatchNorm statistics too), the last trained
    assert lower and all(torch.equal(trunk[k], state[k]) for k in lower)
    assert not torch.equal(trunk["layer4.0.conv1.0.0.weight"], state["layer4.0.conv1.0.0.weight"])


@pytest.mark.parametrize(("freeze", "changed"), [("all", False), ("auto", False),
                                              ("none", True)])
def test_freezing_the_whole_trunk_keeps_it(torchvision, freeze, changed):
    """On a CPU "auto" freezes a Kinetics trunk whole."""
    torch.manual_seed(0)
    model = ActorLocalizer(ModelConfig(n_classes=2, clip_len=4, size=32, backbone="r3d_18"))
    frozen = freeze_trunk(model, freeze, "cpu")
    model.train()
    assert all(not m.training for m in frozen)  # BatchNorm statistics are not updated either
    before = {k: v.clone() for k, v in model.trunk.state_dict().items()}
    head = model.class_head.weight.clone()
    from halgui.core.al.data import make_batch

    videos = [toy_video(0, seed=0)]
    batch = make_batch(videos, [(0, 8), (0, 12)], CLIP, StewConfig(), None)
    optimiser = torch.optim.AdamW(trainable(model), lr=1e-2)
    train_step(model, optimiser, batch, torch.device("cpu"), StewConfig(), False, None)
    after = model.trunk.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before) == changed
    assert not torch.equal(head, model.class_head.weight)  # the heads always train


def test_auto_freezing_depends_on_the_trunk_and_device(torchvision):
    kinetics = ActorLocalizer(ModelConfig(n_classes=2, clip_len=4, size=32, backbone="r3d_18"))
    assert freeze_trunk(kinetics, "auto", "cuda") == kinetics.trunk.stages()[:-1]
    assert freeze_trunk(kinetics, "lower", "cpu") == kinetics.trunk.stages()[:-1]
    tiny = ActorLocalizer(ModelConfig(n_classes=2, width=4))
    assert freeze_trunk(tiny, "auto", "cpu") == []  # from scratch: it must learn
    started = ActorLocalizer(ModelConfig(n_classes=2, width=4))
    assert freeze_trunk(started, "auto", "cpu", pretrained=True) == started.trunk.stages()
    assert len(freeze_trunk(tiny, "all", "cpu")) == 4
    with pytest.raises(HalguiError, match="unknown freeze choice 'half'"):
        freeze_trunk(tiny, "half")


def test_download_offline_is_one_line_naming_backbone_url_and_cache(torchvision, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # torch reads TORCH_HOME again

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(HalguiError) as error:
        build_model(2, TrainConfig(backbone="r3d_18", pretrained="synth", clip=CLIP))
    message = str(error.value)
    url, cached = weights_source("r3d_18")
    assert "\n" not in message and error.value.__cause__ is None
    assert message.startswith("backbone r3d_18: cannot download")
    assert url in message and str(cached) in message and str(tmp_path) in str(cached)
    assert "--backbone-weights FILE" in message and "name resolution" in message


def test_weights_are_downloaded_once_with_progress_and_checked(torchvision, tmp_path,
                                                               monkeypatch):
    """A local file:// URL stands in for torchvision's server: the same code path."""
    from halgui.core.al import kinetics
    from halgui.core.progress import run_with_events

    path, state = weights_file(torchvision, tmp_path, "r3d_18")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    served = tmp_path / "server" / f"r3d_18-{digest[:8]}.pth"
    served.parent.mkdir()
    served.write_bytes(path.read_bytes())
    cache = tmp_path / "cache" / served.name
    monkeypatch.setattr(kinetics, "weights_source", lambda name: (served.as_uri(), cache))
    events, got = run_with_events(kinetics.fetch("r3d_18"))
    assert got == cache and cache.read_bytes() == path.read_bytes()
    assert events[0].phase == "fetching weights" and events[-1].done == events[-1].total >= 1
    model = build_model(2, TrainConfig(backbone="r3d_18", pretrained="synth", clip=CLIP))
    assert torch.equal(model.trunk.stem[0].weight, state["stem.0.weight"])
    served.unlink()  # the second time the cache is used, nothing is fetched
    assert run_with_events(kinetics.fetch("r3d_18")) == ([], cache)
    # a download whose hash is not the one its name carries is refused and not kept
    damaged = tmp_path / "server" / "r3d_18-00000000.pth"
    damaged.write_bytes(path.read_bytes())
    other = tmp_path / "cache" / damaged.name
    monkeypatch.setattr(kinetics, "weights_source", lambda name: (damaged.as_uri(), other))
    with pytest.raises(HalguiError, match=r"damaged \(its SHA-256 does not start with 0+\)"):
        run_to_end(kinetics.fetch("r3d_18"))
    assert list(other.parent.iterdir()) == [cache]


def test_random_start_needs_no_weights(torchvision, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", pytest.fail)  # "none" downloads nothing
    model = build_model(2, TrainConfig(backbone="r3d_18", pretrained=None, clip=CLIP))
    assert model.config.backbone == "r3d_18"


def test_a_wrong_weights_file_is_one_line_naming_it(torchvision, tmp_path):
    path, _ = weights_file(torchvision, tmp_path, "r3d_18")  # another model's weights
    with pytest.raises(HalguiError, match=r"r3d_18\.pth: not the weights of torchvision's "
                                          r"r2plus1d_18") as error:
        build_model(2, TrainConfig(backbone="r2plus1d_18", pretrained="synth",
                                   backbone_weights=str(path), clip=CLIP))
    assert "\n" not in str(error.value)
    (tmp_path / "junk.pth").write_text("not torch")
    with pytest.raises(HalguiError, match=r"junk\.pth: not a PyTorch state dict"):
        build_model(2, TrainConfig(backbone="r2plus1d_18", pretrained="synth",
                                   backbone_weights=str(tmp_path / "junk.pth"), clip=CLIP))


def test_warm_start_and_pretrained_files_keep_backbones_apart(torchvision, tmp_path):
    tiny = dataclasses.replace(TrainConfig(epochs=1, batch_size=2, clip=SMALL, width=4))
    run_to_end(train([toy_video(0)], CLASSES, tiny, tmp_path / "tiny.pt"))
    # a synth-style checkpoint is not mixed into a Kinetics model
    with pytest.raises(HalguiError, match="has the backbone r2plus1d-tiny, not r3d_18"):
        build_model(2, TrainConfig(backbone="r3d_18", pretrained=str(tmp_path / "tiny.pt"),
                                   clip=CLIP))
    # the previous round's model had another backbone: the round starts over with the new one
    from halgui.core.al.train import initial_model

    config = TrainConfig(backbone="r3d_18", pretrained=None, clip=CLIP)
    model = initial_model(2, config, tmp_path / "tiny.pt", torch.device("cpu"))
    assert model.config.backbone == "r3d_18"


def test_without_torchvision_a_kinetics_backbone_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # as if not installed
    with pytest.raises(HalguiError) as error:
        ActorLocalizer(ModelConfig(n_classes=2, backbone="r2plus1d_18"))
    assert "\n" not in str(error.value)
    assert "need torchvision" in str(error.value)
    assert "pip install 'halgui[kinetics]'" in str(error.value)
    # the default backbone does not need it
    assert ActorLocalizer(ModelConfig(n_classes=2, width=4)).config.backbone == "r2plus1d-tiny"


def test_a_kinetics_checkpoint_without_torchvision_names_the_file(torchvision, tmp_path,
                                                                   monkeypatch):
    model = ActorLocalizer(ModelConfig(n_classes=2, clip_len=4, size=32, backbone="mc3_18"))
    checkpoint.save(tmp_path / "m.pt", model, CLASSES)
    monkeypatch.setitem(sys.modules, "torchvision", None)
    with pytest.raises(checkpoint.CheckpointError) as error:
        checkpoint.load(tmp_path / "m.pt")
    assert str(error.value).startswith(f"{tmp_path / 'm.pt'}: has the backbone mc3_18: the "
                                       "Kinetics backbones need torchvision")
    assert "\n" not in str(error.value)

