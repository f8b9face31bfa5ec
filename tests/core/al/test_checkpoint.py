"""A checkpoint file is never trusted: every bad one is refused in one line naming the file and
the problem, nothing in it runs, and PyTorch's advice to load it unsafely never reaches a user."""

import os
import pickle
import time

import pytest
import torch

from halgui.core.al import checkpoint
from halgui.core.al.model import ActorLocalizer, ModelConfig
from halgui.core.errors import HalguiError

CONFIG = ModelConfig(n_classes=2, width=4, size=32, clip_len=4)
CLASSES = ["walk", "jump"]


class Hostile:
    """Unpickling this would make a folder: harmless, but proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def good_payload(tmp_path):
    path = checkpoint.save(tmp_path / "good.pt", ActorLocalizer(CONFIG), CLASSES)
    return torch.load(path, weights_only=True)


def variant(tmp_path, name, **changes):
    """The good checkpoint with keys replaced (``...`` removes the key), saved by torch."""
    payload = good_payload(tmp_path)
    for key, value in changes.items():
        if value is ...:
            del payload[key]
        else:
            payload[key] = value
    torch.save(payload, tmp_path / name)
    return tmp_path / name


def with_tensor(tmp_path, change):
    state = dict(good_payload(tmp_path)["state_dict"])
    change(state)
    return state


def assert_refused(path, *fragments):
    with pytest.raises(checkpoint.CheckpointError) as info:
        checkpoint.load(path)
    message = str(info.value)
    assert isinstance(info.value, HalguiError)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message and "weights_only" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_a_good_checkpoint_loads(tmp_path):
    loaded = checkpoint.load(checkpoint.save(tmp_path / "m.pt", ActorLocalizer(CONFIG), CLASSES))
    assert loaded.classes == CLASSES and loaded.model.config == CONFIG


@pytest.mark.parametrize("how", ["torch.save", "pickle.dump"])
def test_a_hostile_pickle_runs_nothing_and_never_suggests_loading_it_unsafely(tmp_path, how):
    marker = tmp_path / "ran"
    payload = {"format": checkpoint.FORMAT, "version": 1, "model_config": Hostile(marker)}
    path = tmp_path / "hostile.pt"
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    assert_refused(path, "not a halgui checkpoint",
                   "holds Python objects that are not loaded for safety")
    assert not marker.exists()


def test_a_file_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    assert_refused(tmp_path / "empty.pt", "is empty")
    (tmp_path / "notes.pt").write_text("hello\n")
    assert_refused(tmp_path / "notes.pt", "not a PyTorch file")
    (tmp_path / "folder.pt").mkdir()
    assert_refused(tmp_path / "folder.pt", "is a folder")
    assert_refused(tmp_path / "absent.pt", "no such checkpoint")
    torch.save([1, 2], tmp_path / "list.pt")
    assert_refused(tmp_path / "list.pt", "not a halgui checkpoint")


@pytest.mark.parametrize("cut", [10, 1000, -30])
def test_a_truncated_checkpoint(tmp_path, cut):
    data = checkpoint.save(tmp_path / "m.pt", ActorLocalizer(CONFIG), CLASSES).read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[:cut])
    assert_refused(tmp_path / "cut.pt", "damaged or truncated")


def test_a_truncated_plain_pickle_is_not_called_hostile(tmp_path):
    (tmp_path / "cut.pt").write_bytes(pickle.dumps({"a": list(range(100))})[:40])
    message = assert_refused(tmp_path / "cut.pt", "damaged or truncated")
    assert "safety" not in message


def test_missing_keys_are_named(tmp_path):
    for key in ("model_config", "state_dict", "classes"):
        assert_refused(variant(tmp_path, f"no-{key}.pt", **{key: ...}), f"'{key}' is missing")


def test_values_of_the_wrong_type_are_named(tmp_path):
    assert_refused(variant(tmp_path, "a.pt", model_config=[1, 2]),
                   "'model_config' is a list, not a dictionary")
    assert_refused(variant(tmp_path, "b.pt", classes=3), "'classes' is an int")
    assert_refused(variant(tmp_path, "c.pt", state_dict=[torch.zeros(1)]),
                   "'state_dict' is a list")
    assert_refused(variant(tmp_path, "d.pt", info="x"), "'info' is a str")
    assert_refused(variant(tmp_path, "e.pt", cluster={"centres": 3}),
                   "cluster['centres'] is an int, not a tensor")
    assert_refused(variant(tmp_path, "f.pt", version="1"), "version '1'")
    assert_refused(variant(tmp_path, "g.pt", version=99), "newer halgui")


@pytest.mark.parametrize("field,value,fragment", [
    ("width", "four", "'width' is 'four'"),
    ("n_classes", 2.0, "'n_classes' is 2.0"),
    ("size", True, "'size' is True"),
    ("clip_len", 0, "'clip_len' is 0"),
    ("dropout", "half", "'dropout' is 'half'"),
    ("backbone", "resnet-9000", "backbone 'resnet-9000' is unknown"),
    ("class_pooling", 3, "'class_pooling' is 3"),
])
def test_a_config_field_of_the_wrong_type_is_named(tmp_path, field, value, fragment):
    config = {**CONFIG.to_dict(), field: value}
    assert_refused(variant(tmp_path, "m.pt", model_config=config), fragment)


def test_a_config_without_the_class_count(tmp_path):
    config = CONFIG.to_dict()
    del config["n_classes"]
    assert_refused(variant(tmp_path, "m.pt", model_config=config), "no 'n_classes'")


def test_classes_that_do_not_fit_the_model(tmp_path):
    assert_refused(variant(tmp_path, "a.pt", classes=["walk"]),
                   "names 1 class(es) but its model has 2")
    assert_refused(variant(tmp_path, "b.pt", classes=["walk", "walk"]), "names a class twice")
    assert_refused(variant(tmp_path, "c.pt", classes=["walk", "ju\nmp"]),
                   "classes[1]", "control character")


def test_tensors_that_do_not_fit_the_model_are_named(tmp_path):
    key = "trunk.stage1.0.weight"
    wrong = with_tensor(tmp_path, lambda s: s.update({key: torch.zeros(3, 3)}))
    assert_refused(variant(tmp_path, "shape.pt", state_dict=wrong),
                   f"tensor '{key}' has shape (3, 3) but the model needs (4, 3, 1, 3, 3)")
    missing = with_tensor(tmp_path, lambda s: s.pop(key))
    assert_refused(variant(tmp_path, "missing.pt", state_dict=missing),
                   f"lacks 1 tensor(s) of the model ({key})")
    extra = with_tensor(tmp_path, lambda s: s.update({"extra.weight": torch.zeros(1)}))
    assert_refused(variant(tmp_path, "extra.pt", state_dict=extra),
                   "has 1 tensor(s) the model does not (extra.weight)")
    nan = with_tensor(tmp_path, lambda s: s[key].fill_(float("nan")))
    assert_refused(variant(tmp_path, "nan.pt", state_dict=nan), f"'{key}'", "not finite")
    ints = with_tensor(tmp_path, lambda s: s.update({key: s[key].to(torch.int64)}))
    assert_refused(variant(tmp_path, "ints.pt", state_dict=ints), "torch.int64")


def test_a_config_asking_for_a_huge_model_allocates_nothing(tmp_path):
    """Shapes are checked against a model built on the meta device: a config that claims a
    network of trillions of weights is refused at once instead of exhausting memory."""
    config = {**CONFIG.to_dict(), "width": 200_000}
    path = variant(tmp_path, "huge.pt", model_config=config)
    start = time.perf_counter()
    assert_refused(path, "has shape (4, 3, 1, 3, 3) but the model needs (200000, 3, 1, 3, 3)")
    assert time.perf_counter() - start < 10
