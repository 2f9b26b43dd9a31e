"""Loading the CS:GO world model for play: strict weights, its networks and samplers, its spawn points, and the one
line a CS:GO checkpoint given to Atari play or eval gets (and the reverse)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from diamond_wm.envs.csgo import csgo_action_spec
from diamond_wm.loading.agent import LoadError, is_csgo_state_dict, load_checkpoint
from diamond_wm.loading.agent_config import AgentRequest
from diamond_wm.loading.csgo import (
    csgo_preset_config,
    load_csgo,
    world_model_env_preset,
)
from diamond_wm.models.agent import Agent
from diamond_wm.models.checkpoint import check_state_dict
from tests.models.conftest import reference_file
from tests.play.tiny_csgo import write_tiny_csgo
from tests.published_run import tiny_agent_state_dict


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_csgo(tmp_path_factory.mktemp("csgo"))


def one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_loads_strictly_with_the_csgo_actions_and_the_preset_samplers(tiny):
    loaded = load_csgo(tiny.checkpoint, tiny.spawn, "cpu", AgentRequest(tiny.agent_config), "higher_quality")
    agent = loaded.agent
    assert agent.parts == ("denoiser", "upsampler") and agent.action_spec == csgo_action_spec()
    for k, v in agent.state_dict().items():
        assert torch.equal(v, tiny.state_dict[k]), k
    assert len(loaded.spawns) == 2 and loaded.name == "csgo"
    wm = loaded.world_model_env
    assert (
        wm.diffusion_sampler_next_obs.num_steps_denoising,
        wm.diffusion_sampler_upsampling.num_steps_denoising,
    ) == (
        3,
        10,
    )
    fast = world_model_env_preset("fast")
    assert (
        fast.diffusion_sampler_next_obs.num_steps_denoising,
        fast.diffusion_sampler_upsampling.s_churn,
    ) == (1, 10.0)
    with pytest.raises(
        ValueError, match="unknown world_model_env preset 'best': expected one of fast, higher_quality"
    ):
        world_model_env_preset("best")


def test_the_published_checkpoint_gets_the_csgo_preset_by_default():
    """The networks `load_csgo` builds without --agent-config hold exactly the keys and shapes of the published
    csgo.pt (checked on the meta device: no memory), which is recognised as the CS:GO world model."""
    manifest = {
        k: tuple(v)
        for k, v in json.loads(reference_file("checkpoint_keys_csgo.json").read_text())["keys"].items()
    }
    with torch.device("meta"):
        agent = Agent(csgo_preset_config(), csgo_action_spec())
        published = {k: torch.empty(shape) for k, shape in manifest.items()}
    check_state_dict(agent, published)  # raises on any difference
    assert is_csgo_state_dict(published)


def test_weights_that_do_not_fit_are_one_line(tiny, tmp_path):
    broken = dict(tiny.state_dict)
    del broken["upsampler.inner_model.conv_out.weight"]
    torch.save(broken, tmp_path / "broken.pt")
    with pytest.raises(LoadError) as err:
        load_csgo(tmp_path / "broken.pt", tiny.spawn, "cpu", AgentRequest(tiny.agent_config))
    assert "1 missing keys (e.g. upsampler.inner_model.conv_out.weight)" in one_line(err)
    with pytest.raises(LoadError) as err:  # the paper's networks for tiny weights
        load_csgo(tiny.checkpoint, tiny.spawn, "cpu")
    assert "does not fit the agent config" in one_line(err) and "--agent-config FILE" in str(err.value)


def test_an_atari_agent_given_as_csgo_is_one_line_naming_both(tiny, tmp_path):
    torch.save(tiny_agent_state_dict(3), tmp_path / "catch.pt")
    with pytest.raises(LoadError) as err:
        load_csgo(tmp_path / "catch.pt", tiny.spawn, "cpu")
    msg = one_line(err)
    assert f"checkpoint {tmp_path / 'catch.pt'} is an agent of 3 discrete actions" in msg
    assert "(denoiser, rew_end_model, actor_critic), not a CS:GO world model" in msg
    assert f"--spawn {tiny.spawn}" in msg and "--env-id ID instead of --spawn" in msg


@pytest.mark.parametrize("env_id", ["BreakoutNoFrameskip-v4", None])
def test_a_csgo_model_given_to_atari_play_or_eval_is_one_line_naming_both(tiny, env_id):
    with pytest.raises(LoadError) as err:
        load_checkpoint(tiny.checkpoint, env_id=env_id)
    msg = one_line(err)
    target = env_id or "an Atari or Gymnasium game"
    assert f"checkpoint {tiny.checkpoint} is a CS:GO world model (denoiser + upsampler" in msg
    assert f"not an agent for {target}" in msg
    assert f"diamond play --checkpoint {tiny.checkpoint} --spawn DIR" in msg


def test_spawn_points_that_do_not_fit_are_one_line(tiny, tmp_path):
    request = AgentRequest(tiny.agent_config)
    with pytest.raises(LoadError) as err:
        load_csgo(tiny.checkpoint, tmp_path / "nowhere", "cpu", request)
    assert f"bad --spawn: spawn folder {tmp_path / 'nowhere'} does not exist" in one_line(err)

    spawn = tmp_path / "spawn"
    shutil.copytree(tiny.spawn, spawn)
    full = np.load(spawn / "0" / "full_res.npy")
    np.save(spawn / "0" / "full_res.npy", full[:, :, :20])  # not 5 x the low-resolution height
    with pytest.raises(LoadError) as err:
        load_csgo(tiny.checkpoint, spawn, "cpu", request)
    assert (
        "has full-resolution frames (3, 20, 50): the upsampler (x5) of its low-resolution (3, 6, 10)"
        in one_line(err)
    )

    (spawn / "0" / "act.npy").unlink()
    with pytest.raises(LoadError) as err:
        load_csgo(tiny.checkpoint, spawn, "cpu", request)
    assert "lacks act.npy" in one_line(err)
