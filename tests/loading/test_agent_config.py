"""The networks of a bare checkpoint: from a file (published or ours), a preset and `agent.*` overrides, or found
among the packaged presets; the frame size read off the checkpoint."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from diamond_wm.config.published import read_yaml_raw
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.loading.agent_config import (
    AGENT_PRESETS,
    AgentRequest,
    agent_overrides,
    agent_yaml_config,
    detect_preset,
    fits,
    fitted_img_size,
    preset_path,
    resolve_agent_request,
)
from diamond_wm.models.agent import Agent
from tests.published_run import PUBLISHED_CONFIG


def preset(name: str, img_size: int = 64):
    return agent_yaml_config(read_yaml_raw(preset_path(name)), name, img_size=img_size)


def weights(cfg, num_actions: int = 4) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return Agent(cfg, num_actions).state_dict()


@pytest.mark.parametrize("name, size", [("tiny", 16), ("tiny", 64), ("small", 32), ("default", 64)])
def test_each_preset_is_found_with_its_frame_size(name, size):
    sd = weights(preset(name, size), 3)
    assert fitted_img_size(sd, preset(name).actor_critic) == size
    cfg = detect_preset(sd, 3, "ckpt.pt")
    assert cfg == preset(name, size)
    assert fits(cfg, sd, 3) and not fits(cfg, sd, 4)


def test_fitted_img_size_needs_an_actor_critic():
    assert fitted_img_size({}, preset("tiny").actor_critic) is None
    sd = weights(preset("tiny", 16))
    assert fitted_img_size(sd, preset("small").actor_critic) is None  # 8 * 1 * 1 is not 32 * side^2


def test_request_from_a_published_agent_yaml(tmp_path):
    """The `agent:` section of the published config, alone, as config/agent/*.yaml is shipped."""
    section = PUBLISHED_CONFIG.split("\nagent:\n", 1)[1]
    path = tmp_path / "default.yaml"
    path.write_text("\n".join(line[2:] for line in section.splitlines()) + "\n")
    sd = weights(preset("tiny", 16))
    cfg = resolve_agent_request(AgentRequest(path), sd)
    assert cfg == preset("tiny", 16)  # ${env.train.size} taken from the checkpoint


def test_request_from_our_run_config_keeps_its_sizes(tmp_path):
    ours = TrainerConfig()
    ours.agent = preset("tiny", 32)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "trainer.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(ours)))
    sd = weights(preset("tiny", 64))
    assert resolve_agent_request(AgentRequest(tmp_path), sd).actor_critic.img_size == 32  # explicit: kept


def test_request_of_a_preset_with_overrides():
    cfg = preset("tiny", 16)
    cfg.actor_critic.lstm_dim = 24
    cfg.denoiser.inner_model.channels = [8, 16]
    sd = weights(cfg)
    request = AgentRequest(
        None, ("agent=tiny", "agent.actor_critic.lstm_dim=24", "agent.denoiser.inner_model.channels=[8,16]")
    )
    assert resolve_agent_request(request, sd) == cfg
    explicit = AgentRequest(
        None, ("agent=tiny", "agent.actor_critic.img_size=32", "agent.rew_end_model.img_size=32")
    )
    assert resolve_agent_request(explicit, sd).actor_critic.img_size == 32  # given: not fitted
    only_keys = AgentRequest(None, ("agent.actor_critic.lstm_dim=24",))
    assert resolve_agent_request(only_keys, sd, base=preset("tiny", 16)).actor_critic.lstm_dim == 24


@pytest.mark.parametrize(
    "request_, message",
    [
        (
            AgentRequest(None, ("agent=huge",)),
            "unknown agent preset 'huge': expected one of default, small, demo, tiny",
        ),
        (AgentRequest(None, ("agent=tiny", "agent=small")), "-o agent=NAME given 2 times (tiny, small)"),
        (AgentRequest(None, ("env.train.size=16",)), "-o env.train.size=16: expected agent=NAME"),
        (
            AgentRequest(None, ("agent.actor_critic.lstm_dimm=3",)),
            "unknown key 'agent.actor_critic.lstm_dimm'",
        ),
        (AgentRequest(None, ("agent.actor_critic.lstm_dim=zero",)), "invalid agent override"),
        (
            AgentRequest(None, ("agent.actor_critic.lstm_dim=0",)),
            "agent.actor_critic.lstm_dim=0: expected an integer >= 1",
        ),
        (AgentRequest("CONFIG", ("agent=tiny",)), "give either --agent-config or -o agent=tiny"),
        (AgentRequest("NOT_AGENT", ()), "is not an agent config"),
        (AgentRequest("MISSING", ()), "agent config not found"),
    ],
)
def test_bad_requests_say_what_is_accepted(request_, message, tmp_path):
    (tmp_path / "env.yaml").write_text("train:\n  id: PongNoFrameskip-v4\n")
    files = {
        "CONFIG": preset_path("tiny"),
        "NOT_AGENT": tmp_path / "env.yaml",
        "MISSING": tmp_path / "nope.yaml",
    }
    if request_.config_file is not None:
        request_ = AgentRequest(files[str(request_.config_file)], request_.overrides)
    with pytest.raises(ValueError) as info:
        resolve_agent_request(request_, weights(preset("tiny")))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_presets_listed():
    assert AGENT_PRESETS == ("default", "small", "demo", "tiny", "ddpm", "world_model_small")
    assert all(preset_path(name).is_file() for name in AGENT_PRESETS)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ([], []),
        (["agent=tiny"], ["agent=tiny"]),
        (
            ["agent=tiny", "agent.actor_critic.lstm_dim=24", "agent.denoiser.inner_model.channels=[8,16]"],
            ["agent=tiny", "agent.denoiser.inner_model.channels=[8,16]", "agent.actor_critic.lstm_dim=24"],
        ),
        (["agent=demo", "agent.actor_critic=null"], ["agent=demo", "agent.actor_critic=null"]),
        (
            ["agent=csgo", "agent.upsampler.inner_model.cond_channels=8"],
            ["agent=csgo", "agent.upsampler.inner_model.cond_channels=8"],
        ),
    ],
)
def test_agent_overrides_name_the_closest_preset_and_each_difference(overrides, expected):
    """The overrides that rebuild a config's networks (what `diamond train --resume` on a published run prints)."""
    cfg = _composed(overrides)
    assert agent_overrides(cfg.agent, 32) == expected
    assert _composed(expected).agent == cfg.agent  # they give the same networks back


def _composed(overrides: list[str]):
    from diamond_wm.config.compose import compose_trainer_config

    return OmegaConf.to_object(compose_trainer_config([*overrides, "env.train.size=32"], validate=False))


def test_the_ddpm_branch_agent_yaml_is_a_ddpm_agent():
    from tests.published_run import ddpm_branch_config

    published = OmegaConf.to_container(OmegaConf.create(ddpm_branch_config(PUBLISHED_CONFIG)))
    cfg = agent_yaml_config(published["agent"], "config/agent/default.yaml", img_size=64)
    assert cfg.denoiser.parameterisation == "ddpm" and cfg.denoiser.inner_model.cond_channels == 16
    assert next(iter(Agent(cfg, 4).state_dict())).startswith("denoiser.noise_model.")
