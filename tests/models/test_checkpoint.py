"""The paper's agent has exactly the published keys and shapes; checkpoints load strictly or fail clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from diamond_wm.config.agent import AgentConfig
from diamond_wm.models.agent import Agent, agent_config_from_dict, agent_config_to_dict
from diamond_wm.models.checkpoint import (
    CheckpointError,
    CheckpointMismatchError,
    UnsafeCheckpointError,
    build_loaded,
    infer_num_actions,
    load_agent,
    load_agent_state,
    load_into,
    save_agent,
)
from tests.models.conftest import reference_file, tiny_agent_config


class NotAllowed:
    """A custom class: pickling it into a checkpoint makes weights_only loading fail."""

    def __init__(self) -> None:
        self.x = 1


@pytest.fixture(scope="module")
def paper_agent() -> Agent:
    torch.manual_seed(0)
    return Agent(AgentConfig(), 4)


def test_paper_agent_matches_published_keys_and_shapes(paper_agent: Agent) -> None:
    ref = json.loads(reference_file("checkpoint_keys_atari.json").read_text())
    ours = {k: list(v.shape) for k, v in paper_agent.state_dict().items()}
    missing = sorted(set(ref["keys"]) - set(ours))
    unexpected = sorted(set(ours) - set(ref["keys"]))
    shapes = {k: (ours[k], ref["keys"][k]) for k in ours if k in ref["keys"] and ours[k] != ref["keys"][k]}
    assert not missing and not unexpected and not shapes, (missing, unexpected, shapes)
    assert ref["num_actions"] == 4


def test_paper_agent_parameter_counts(paper_agent: Agent) -> None:
    assert paper_agent.num_parameters() == {
        "denoiser": 4_405_955,
        "rew_end_model": 5_900_864,
        "actor_critic": 3_229_637,
    }
    assert sum(t.numel() for t in paper_agent.state_dict().values()) == 13_536_456 + 128  # + Fourier buffer


def test_published_layout_loads_and_infers_num_actions(paper_agent: Agent, tmp_path: Path) -> None:
    path = tmp_path / "Breakout.pt"
    torch.save(paper_agent.state_dict(), path)
    state_dict, cfg, num_actions = load_agent_state(path)
    assert cfg is None and num_actions == 4
    agent = load_agent(path)
    assert agent.num_actions == 4
    for k, v in paper_agent.state_dict().items():
        assert torch.equal(agent.state_dict()[k], v), k


def test_num_actions_conflict() -> None:
    cfg = tiny_agent_config()
    cfg.num_actions = 5
    with pytest.raises(ValueError, match="num_actions=3 conflicts"):
        Agent(cfg, 3)
    with pytest.raises(ValueError, match="actions=0: expected an ActionSpec or a number of discrete actions"):
        Agent(tiny_agent_config(), 0)


def test_infer_num_actions() -> None:
    assert infer_num_actions({"actor_critic.actor_linear.weight": torch.zeros(18, 512)}) == 18
    assert infer_num_actions({"rew_end_model.act_emb.weight": torch.zeros(6, 128)}) == 6
    with pytest.raises(CheckpointError, match="num_actions"):
        infer_num_actions({"foo": torch.zeros(1)})


def published_agent_load(path: Path, agent: Agent) -> None:
    """What the published `Agent.load` does: plain `torch.load` (weights_only by default), the keys split by their
    part's prefix, `load_state_dict` (strict) into each part."""
    sd = torch.load(path, map_location="cpu")
    for part in ("denoiser", "rew_end_model", "actor_critic"):
        sub = {k.split(".", 1)[1]: v for k, v in sd.items() if k.startswith(part + ".")}
        getattr(agent, part).load_state_dict(sub, strict=True)


def test_saved_agents_open_with_the_published_loader(tiny_agent: Agent, tmp_path: Path) -> None:
    path = save_agent(tmp_path / "sub" / "agent_epoch_00005.pt", tiny_agent)
    assert [p.name for p in path.parent.iterdir()] == ["agent_epoch_00005.pt"], "no temp file left behind"
    raw = torch.load(path, weights_only=True)
    assert set(raw) == set(tiny_agent.state_dict()), "a bare state_dict with the published prefixes"
    assert {k.split(".", 1)[0] for k in raw} == {"denoiser", "rew_end_model", "actor_critic"}
    torch.manual_seed(1)
    other = Agent(tiny_agent_config(), 3)
    published_agent_load(path, other)
    for k, v in tiny_agent.state_dict().items():
        assert torch.equal(other.state_dict()[k], v), k
    state_dict, cfg, num_actions = load_agent_state(path)
    assert cfg is None and num_actions == 3  # the networks' sizes live in the run's config
    assert load_agent(path, tiny_agent.cfg).cfg == tiny_agent.cfg


def test_older_self_describing_files_still_load(tiny_agent: Agent, tmp_path: Path) -> None:
    path = tmp_path / "agent.pt"
    torch.save(
        {
            "format": "diamond-wm-agent",
            "version": 1,
            "config": agent_config_to_dict(tiny_agent.cfg),
            "num_actions": 3,
            "state_dict": tiny_agent.state_dict(),
        },
        path,
    )
    state_dict, cfg, num_actions = load_agent_state(path)
    assert cfg == tiny_agent.cfg and num_actions == 3
    agent = load_agent(path)  # no config given: the file's own
    assert agent.cfg == tiny_agent.cfg
    for k, v in tiny_agent.state_dict().items():
        assert torch.equal(agent.state_dict()[k], v), k


def test_config_dict_round_trip() -> None:
    cfg = tiny_agent_config()
    assert agent_config_from_dict(agent_config_to_dict(cfg)) == cfg
    with pytest.raises(ValueError, match="unknown keys"):
        agent_config_from_dict({"denoiser": {"sigma_data": 0.5, "bogus": 1}})


def _corrupt(tiny_agent: Agent, tmp_path: Path, edit) -> Path:
    path = save_agent(tmp_path / "agent.pt", tiny_agent)
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, path)
    return path


def test_renamed_key_is_named(tiny_agent: Agent, tmp_path: Path) -> None:
    old, new = "actor_critic.critic_linear.weight", "actor_critic.value_head.weight"
    path = _corrupt(tiny_agent, tmp_path, lambda sd: sd.__setitem__(new, sd.pop(old)))
    with pytest.raises(CheckpointMismatchError) as info:
        load_agent(path, tiny_agent.cfg)
    msg = str(info.value)
    assert old in msg and new in msg and "missing" in msg and "unexpected" in msg and str(path) in msg
    assert info.value.missing == [old] and info.value.unexpected == [new]
    assert isinstance(info.value, ValueError)


def test_wrong_shapes_are_all_named(tiny_agent: Agent, tmp_path: Path) -> None:
    keys = ["denoiser.inner_model.conv_in.weight", "rew_end_model.head.0.bias"]

    def edit(sd: dict) -> None:
        for k in keys:
            sd[k] = torch.zeros(*[s + 1 for s in sd[k].shape])

    path = _corrupt(tiny_agent, tmp_path, edit)
    with pytest.raises(CheckpointMismatchError) as info:
        load_agent(path, tiny_agent.cfg)
    assert [k for k, _, _ in info.value.shape_mismatches] == keys
    for k in keys:
        assert f"shape mismatch for {k}" in str(info.value)


def test_pickled_custom_class_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "extra": NotAllowed()}, path)
    with pytest.raises(UnsafeCheckpointError, match="evil.pt") as info:
        load_agent_state(path)
    assert "arbitrary unpickling" in str(info.value) and "NotAllowed" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt") as info:
        load_agent_state(path)
    assert not isinstance(info.value, UnsafeCheckpointError)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_agent_state(tmp_path / "missing.pt")


def test_load_into_single_part(tiny_agent: Agent) -> None:
    torch.manual_seed(1)
    other = Agent(tiny_agent_config(), 3)
    sd = {k: v for k, v in other.state_dict().items() if k.startswith("denoiser.")}
    load_into(tiny_agent, sd, parts=("denoiser",))
    assert torch.equal(
        tiny_agent.denoiser.inner_model.conv_in.weight, other.denoiser.inner_model.conv_in.weight
    )
    with pytest.raises(CheckpointMismatchError, match="rew_end_model.lstm.weight_ih_l0"):
        load_into(tiny_agent, sd, parts=("denoiser", "rew_end_model"))
    with pytest.raises(ValueError, match="unknown agent parts"):
        load_into(tiny_agent, sd, parts=("world_model",))


def test_build_loaded_takes_the_checkpoints_tensors_without_a_random_init(tiny_agent: Agent) -> None:
    state = {k: v.clone() for k, v in tiny_agent.state_dict().items()}
    agent = build_loaded(tiny_agent.cfg, tiny_agent.action_spec, state)
    tensors = dict(agent.state_dict())
    assert tensors.keys() == state.keys()
    assert all(
        not t.is_meta and t.device.type == "cpu" and torch.equal(t, state[k]) for k, t in tensors.items()
    )
    assert all(p.requires_grad for p in agent.parameters())  # trainable as an ordinary build
    a_param = next(iter(agent.state_dict().keys()))
    assert agent.state_dict()[a_param].data_ptr() == state[a_param].data_ptr()  # taken, not copied


def test_build_loaded_converts_a_half_precision_checkpoint_as_an_ordinary_load(tiny_agent: Agent) -> None:
    state = {k: v.half() if v.is_floating_point() else v for k, v in tiny_agent.state_dict().items()}
    agent = build_loaded(tiny_agent.cfg, tiny_agent.action_spec, state)
    assert all(p.dtype == torch.float32 for p in agent.parameters())
    name, param = next(iter(agent.named_parameters()))
    assert torch.equal(param, state[name].float())


def test_build_loaded_names_every_mismatch(tiny_agent: Agent) -> None:
    state = dict(tiny_agent.state_dict())
    key = next(iter(state))
    state["denoiser.renamed"] = state.pop(key)
    with pytest.raises(CheckpointMismatchError) as e:
        build_loaded(tiny_agent.cfg, tiny_agent.action_spec, state)
    assert e.value.missing == [key] and e.value.unexpected == ["denoiser.renamed"]


def test_a_tensor_left_on_the_meta_device_sends_build_loaded_to_an_ordinary_build(tiny_agent, monkeypatch):
    from diamond_wm.models import checkpoint

    real_check = checkpoint._holds_meta_tensors

    class Schedule:  # a plain object holding tensors, as the DDPM noise schedule
        def __init__(self) -> None:
            self.betas = torch.linspace(0.1, 0.2, 4)

    real_init = Agent.__init__

    def init_with_a_schedule(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.denoiser.schedule = Schedule()  # made on the meta device inside build_loaded's first build

    monkeypatch.setattr(Agent, "__init__", init_with_a_schedule)
    built = []
    monkeypatch.setattr(checkpoint, "_holds_meta_tensors", lambda a: built.append(a) or real_check(a))
    agent = build_loaded(tiny_agent.cfg, tiny_agent.action_spec, dict(tiny_agent.state_dict()))
    assert real_check(built[0])  # the meta build was seen to hold one, and not returned
    assert not agent.denoiser.schedule.betas.is_meta and not real_check(agent)
