"""The model overlay loading a round's model that turns out to be bad: the helper process
reports one line naming the file, never PyTorch's advice to load the file unsafely."""

import os

import pytest
import torch

from halgui.core.al import model_jobs
from halgui.core.errors import HalguiError


class Hostile:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))  # harmless, but proof that code ran


def test_a_hostile_round_model_is_one_line_for_the_overlay(tmp_path):
    path = tmp_path / "round-001.pt"
    torch.save({"format": "halgui-checkpoint", "version": 1, "x": Hostile(tmp_path / "ran")},
               path)
    with pytest.raises(HalguiError) as info:
        model_jobs.window_view(str(path), str(tmp_path / "v.mp4"), str(tmp_path / "cache"),
                               (64, 48), 0)
    message = str(info.value)
    assert message == (f"{path}: is not a halgui checkpoint (it holds Python objects that are "
                       "not loaded for safety)")
    assert not (tmp_path / "ran").exists()
