"""scripts/reward_model_alone.py --world-model: the reward model alone, scored on held-out frames a world model
imagines too, and trained on a share of them (`--imagined-share`)."""

from __future__ import annotations

import pytest

from tests.conftest import load_script


def test_it_scores_and_trains_on_imagined_frames(drift_runs, capsys):
    alone = load_script("reward_model_alone")
    data = drift_runs["dataset"]
    argv = [str(data / "train"), str(data / "test"), "env=catch", "env.train.size=16"]
    argv += ["rew_end_model.training.batch_size=2", "--updates", "2", "--every", "1"]
    assert alone.main([*argv, "--world-model", str(drift_runs["edm"]), "--imagined-share", "0.5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in out[1:]] == ["update 1", "update 2"]
    for line in out[1:]:
        real, imagined = line.split("; imagined frames: ")
        assert "recall -1 / +1 " in real and imagined.startswith("loss ") and "recall -1 / +1 " in imagined
        assert float(imagined.split()[1].rstrip(",")) != float(real.split("held-out loss ")[1].split(",")[0])


def test_an_imagined_share_needs_a_world_model(capsys):
    alone = load_script("reward_model_alone")
    with pytest.raises(SystemExit):
        alone.main(["a", "b", "--imagined-share", "0.5"])
    assert "--imagined-share needs --world-model" in capsys.readouterr().err


def test_it_can_start_from_the_world_models_reward_model(drift_runs, capsys):
    alone = load_script("reward_model_alone")
    data = drift_runs["dataset"]
    argv = [str(data / "train"), str(data / "test"), "env=catch", "env.train.size=16"]
    argv += ["rew_end_model.training.batch_size=2", "--updates", "1", "--world-model", str(drift_runs["edm"])]
    assert alone.main([*argv, "--start-from-world-model", "--seed", "1"]) == 0
    started = capsys.readouterr().out.splitlines()
    assert alone.main([*argv, "--seed", "1"]) == 0
    fresh = capsys.readouterr().out.splitlines()
    assert started[1].startswith("update 0: held-out loss ") and "imagined frames: loss " in started[1]
    assert fresh[1].startswith("update 1 (")
    assert started[2].split("training loss ")[1] != fresh[1].split("training loss ")[1]  # other weights


def test_starting_from_a_world_model_needs_one(capsys):
    alone = load_script("reward_model_alone")
    with pytest.raises(SystemExit):
        alone.main(["a", "b", "--start-from-world-model"])
    assert "--start-from-world-model needs --world-model" in capsys.readouterr().err
