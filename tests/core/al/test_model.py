"""The ActorLocalizer: shapes, MC-dropout mode, reproducibility (algorithm.md 2 and 4)."""

import pytest
import torch
from torch import nn

from halgui.core.al.model import (
    ActorLocalizer,
    ModelConfig,
    dropout_modules,
    mc_forward,
    mc_mode,
    pick_device,
    register_backbone,
)

TINY = ModelConfig(n_classes=3, clip_len=4, size=32, width=4, embed_dim=8)


def clips(batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, TINY.clip_len, TINY.size, TINY.size, 3),
                         dtype=torch.uint8, generator=gen)


def model(seed=0):
    torch.manual_seed(seed)
    return ActorLocalizer(TINY)


def test_output_shapes():
    m = model()
    out = m(m.normalise(clips()))
    assert out.map_logits.shape == (2, 4, 32, 32)
    assert out.class_logits.shape == (2, 3)
    assert out.embedding.shape == (2, 8)


def test_dropout_is_a_module_so_mc_mode_can_switch_it_alone():
    m = model()
    (drop,) = dropout_modules(m)
    assert isinstance(drop, nn.Dropout3d) and drop.p == 0.5
    m.train()
    with mc_mode(m):
        assert drop.training
        assert not any(x.training for x in m.modules() if isinstance(x, nn.BatchNorm3d))
    assert m.training  # previous mode restored


def test_mc_passes_leave_batchnorm_statistics_untouched_and_differ():
    m = model()
    x = m.normalise(clips())
    m.train()
    m(x)  # give BN running stats something other than their init
    before = {k: v.clone() for k, v in m.state_dict().items() if "running" in k}
    maps, classes, embedding = mc_forward(m, x, passes=5, chunk=4)
    after = {k: v for k, v in m.state_dict().items() if "running" in k}
    for k in before:
        assert torch.equal(before[k], after[k]), k
    assert maps.shape == (5, 2, 4, 8, 8) and classes.shape == (5, 2, 3)
    assert embedding.shape == (2, 8)
    assert not torch.allclose(maps[0], maps[1])  # dropout really samples
    assert ((maps > 0) & (maps < 1)).all()


def test_mc_is_reproducible_with_a_seed_and_chunking_does_not_change_the_maths():
    m = model()
    x = m.normalise(clips())
    torch.manual_seed(7)
    a = mc_forward(m, x, passes=4, chunk=100)[0]
    torch.manual_seed(7)
    b = mc_forward(m, x, passes=4, chunk=100)[0]
    assert torch.equal(a, b)
    m.dropout.p = 0.0  # without sampling, every pass equals the deterministic forward
    maps = mc_forward(m, x, passes=3, chunk=2)[0]
    m.eval()
    with torch.no_grad():
        reference = torch.sigmoid(m.heads(*m.features(x)).map_logits)
    for r in range(3):
        torch.testing.assert_close(maps[r], reference)


def test_training_is_reproducible_on_cpu():
    def run():
        m = model(seed=3)
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
        torch.manual_seed(3)
        x = m.normalise(clips(seed=3))
        for _ in range(3):
            loss = m(x).map_logits.sigmoid().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return [p.detach().clone() for p in m.parameters()]

    for a, b in zip(run(), run(), strict=True):
        assert torch.equal(a, b)


def test_backbone_registry():
    class Flat(nn.Module):
        out_channels, skip_channels = 6, 5

        def __init__(self):
            super().__init__()
            self.deep = nn.Conv3d(3, 6, (1, 16, 16), stride=(1, 16, 16))
            self.skip = nn.Conv3d(3, 5, (1, 4, 4), stride=(1, 4, 4))

        def forward(self, x):
            return self.deep(x), self.skip(x)

    register_backbone("flat-test", lambda c: Flat())
    config = ModelConfig(n_classes=2, clip_len=4, size=32, backbone="flat-test")
    m = ActorLocalizer(config)
    assert m(m.normalise(clips())).map_logits.shape == (2, 4, 32, 32)
    with pytest.raises(ValueError, match="unknown backbone"):
        ActorLocalizer(ModelConfig(n_classes=2, backbone="nope"))


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="not available"):
            pick_device("cuda")
