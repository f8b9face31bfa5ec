"""``halgui pretrain``: a corpus of the pretrain action set only, training in resumable chunks,
and a model whose record says how it was made."""

import json

import pytest

from halgui.core.al import checkpoint
from halgui.core.al.model import ModelConfig
from halgui.core.al.pretrain import PretrainConfig, pretrain
from halgui.core.al.pretrained import build_from
from halgui.core.errors import HalguiError
from halgui.core.progress import run_to_end
from halgui.core.synthetic import CLASSES

TINY = PretrainConfig(videos=2, frames=24, seed=9001, size=32, minutes=0.03, chunk_minutes=0.01,
                      width=4)


def test_pretraining_resumes_and_records_how_the_model_was_made(tmp_path):
    work, out = tmp_path / "work", tmp_path / "trunk.pt"
    first = run_to_end(pretrain(work, out, TINY))
    state = json.loads((work / "state.json").read_text())
    # chunks of at least 0.6 s each until 1.8 s are spent (fewer when one step takes longer)
    assert 1 <= state["chunks"] <= 3 and state["minutes"] >= TINY.minutes
    assert first.minutes == state["minutes"] and first.steps == state["steps"] > 0
    made = checkpoint.load(out)
    assert not set(made.classes) & set(CLASSES)  # none of the benchmark's actions
    assert made.classes == ["kick", "punch", "clap", "sidestep", "bow", "reach_up"]
    assert made.info["pretrain"]["seed"] == 9001 and "halgui pretrain" in made.info["command"]
    assert made.model.config.width == 4
    assert made.info["final_loss"] == first.final_loss and first.final_loss > 0
    # run again with a longer budget: it goes on from the chunks already done
    more = state["minutes"] + 0.01
    longer = run_to_end(pretrain(work, out, PretrainConfig(**{**TINY.__dict__,
                                                              "minutes": more})))
    again = json.loads((work / "state.json").read_text())
    assert again["chunks"] == state["chunks"] + 1 and longer.steps > first.steps
    assert again["minutes"] >= more
    # asked for no more than is done: no training, the same model written with its loss
    same = run_to_end(pretrain(work, tmp_path / "again.pt",
                               PretrainConfig(**{**TINY.__dict__, "minutes": more})))
    assert same.steps == longer.steps and same.final_loss == longer.final_loss
    # a project starts from it with its own classes
    model, info = build_from(out, ModelConfig(n_classes=2, clip_len=8, size=48))
    assert model.config.width == 4 and info["pretrained_classes"] == made.classes


def test_a_workdir_of_another_run_is_refused(tmp_path):
    work = tmp_path / "work"
    run_to_end(pretrain(work, tmp_path / "a.pt", TINY))
    other = PretrainConfig(**{**TINY.__dict__, "seed": 9002})
    with pytest.raises(HalguiError, match="other settings"):
        run_to_end(pretrain(work, tmp_path / "b.pt", other))
    assert not (tmp_path / "b.pt").exists()


def test_a_folder_of_the_users_is_never_taken_as_the_workdir(tmp_path):
    work = tmp_path / "mine"
    (work / "project").mkdir(parents=True)
    (work / "project" / "notes.txt").write_text("keep me")
    with pytest.raises(HalguiError, match="did not write"):
        run_to_end(pretrain(work, tmp_path / "a.pt", TINY))
    assert (work / "project" / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in work.iterdir()) == ["project"]
