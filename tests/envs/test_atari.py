"""Our Atari environment reproduces the reference trajectory (`atari_trajectory.npz`) bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diamond_wm.config.env import GameConfig
from diamond_wm.data import to_uint8_frames
from diamond_wm.envs import make_env


def _hwc(frames: torch.Tensor) -> np.ndarray:
    return to_uint8_frames(frames[0]).permute(1, 2, 0).numpy()


@pytest.mark.parametrize("done_on_life_loss", [False, True], ids=["test-env", "train-env"])
def test_reproduces_reference_trajectory(reference_dir, done_on_life_loss):
    with np.load(reference_dir / "atari_trajectory.npz") as f:
        ref = {k: f[k] for k in f.files}  # (each access to an npz entry decompresses it again)
    cfg = GameConfig(
        id=str(ref["env_id"]),
        size=int(ref["screen_size"]),
        noop_max=int(ref["noop_max"]),
        frame_skip=int(ref["frame_skip"]),
        done_on_life_loss=done_on_life_loss,
    )
    env = make_env(cfg, "atari", num_envs=1, device="cpu")
    try:
        assert env.action_names == ["NOOP", "FIRE", "RIGHT", "LEFT"] and env.num_actions == 4
        obs, _ = env.reset(seed=int(ref["seed"]))
        assert obs.shape == (1, 3, 64, 64) and obs.dtype == torch.float32
        assert np.array_equal(_hwc(obs), ref["obs"][0])
        for t, a in enumerate(ref["actions"]):
            obs, rew, end, trunc, info = env.step(torch.tensor([a]))
            # the frame that followed the action: `obs`, or `final_observation` where the game was reset
            assert np.array_equal(_hwc(info["final_observation"]), ref["obs"][t + 1]), f"frame {t + 1}"
            if not ref["terminated"][t]:
                assert np.array_equal(_hwc(obs), ref["obs"][t + 1]), f"frame {t + 1}"
            assert rew.item() == ref["rewards"][t], f"reward {t}"
            assert bool(info["life_loss"][0]) == ref["life_loss"][t], f"life loss {t}"
            expected_end = ref["terminated"][t] or (done_on_life_loss and ref["life_loss"][t])
            assert bool(end[0]) == expected_end and bool(trunc[0]) == ref["truncated"][t], f"end/trunc {t}"
            assert bool(info["reset_mask"][0]) == expected_end
        assert ref["terminated"][-1]  # the game ended: the env restarted a new one
        assert not np.array_equal(_hwc(obs), ref["obs"][-1])
    finally:
        env.close()


def test_max_episode_steps_counts_agent_steps():
    cfg = GameConfig(id="BreakoutNoFrameskip-v4", max_episode_steps=5, done_on_life_loss=False)
    env = make_env(cfg, "atari", 1)
    env.reset(seed=0)
    truncs = [int(env.step(torch.tensor([0]))[3][0]) for _ in range(6)]
    env.close()
    assert truncs == [0, 0, 0, 0, 1, 0]
