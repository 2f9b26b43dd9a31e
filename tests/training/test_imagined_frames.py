"""`rew_end_model.training.imagined_share`: some segments of the reward/termination model's batches get the world
model's one-step frames, drawn from the real frames and actions before each; rewards and ends stay the real ones."""

from __future__ import annotations

import json

import pytest
import torch

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.validation import validate_trainer_config
from diamond_wm.data import EpisodeDataset
from diamond_wm.data.batch import Batch
from diamond_wm.models.rew_end_model import RewEndModel
from diamond_wm.runtime.errors import ConfigError
from diamond_wm.training.imagined_frames import ImaginedFrames, spread_rows
from diamond_wm.training.objectives import RewEndObjective
from diamond_wm.training.trainer import Trainer
from tests.data.helpers import random_episode
from tests.training.test_static_run import SPEC, tiny_static_config

N = 2  # conditioning frames of the fake sampler


class FakeDenoiser:
    num_steps_conditioning = N


class ContextSampler:
    """Draws the mean of its context frames plus 0.01 x the last action: a frame that tells where it came from."""

    denoiser = FakeDenoiser()

    def __init__(self) -> None:
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def sample(self, prev_obs, prev_act):
        self.calls.append((prev_obs.clone(), prev_act.clone()))
        return prev_obs.mean(1) + 0.01 * prev_act[:, -1, None, None, None], None


def _batch(b: int = 4, t: int = 6, size: int = 4) -> Batch:
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(b, t, dtype=torch.bool)
    mask[0, :2] = False  # a segment that starts before its episode (padding first)
    mask[2, 4:] = False  # one that runs past its episode's end
    return Batch(
        obs=torch.rand(b, t, 3, size, size, generator=g) * 2 - 1,
        act=torch.randint(5, (b, t), generator=g),
        rew=torch.randint(-1, 2, (b, t), generator=g).float(),
        end=torch.zeros(b, t, dtype=torch.uint8),
        trunc=torch.zeros(b, t, dtype=torch.uint8),
        mask_padding=mask,
    )


def test_rows_are_spread_over_the_batch():
    assert (
        spread_rows(2, 16) == [0, 8]
        and spread_rows(4, 16) == [0, 4, 8, 12]
        and spread_rows(16, 16) == list(range(16))
    )
    with pytest.raises(ValueError, match="cannot spread 5 rows over a batch of 4"):
        spread_rows(5, 4)


def test_frames_with_real_contexts_are_imagined_from_them_and_nothing_else_changes():
    batch, sampler = _batch(), ContextSampler()
    out, count = ImaginedFrames(sampler, rows=4)(batch)
    # rows 0..3; frames j >= N whose steps j-N..j are all real: row 0 from j=4 (padding at 0, 1), row 2 up to j=3
    expected = {
        (0, 4),
        (0, 5),
        (1, 2),
        (1, 3),
        (1, 4),
        (1, 5),
        (2, 2),
        (2, 3),
        (3, 2),
        (3, 3),
        (3, 4),
        (3, 5),
    }
    changed = {(r, j) for r in range(4) for j in range(6) if not torch.equal(out.obs[r, j], batch.obs[r, j])}
    assert changed == expected and count == len(expected)
    for r, j in expected:
        want = batch.obs[r, j - N : j].mean(0) + 0.01 * batch.act[r, j - 1]
        assert torch.allclose(out.obs[r, j], want)
    assert len(sampler.calls) == 1  # one batched draw
    for name in ("act", "rew", "end", "mask_padding"):
        assert torch.equal(getattr(out, name), getattr(batch, name))


def test_only_the_chosen_rows_change():
    batch = _batch()
    out, _ = ImaginedFrames(ContextSampler(), rows=2)(batch)  # rows 0 and 2
    assert torch.equal(out.obs[1], batch.obs[1]) and torch.equal(out.obs[3], batch.obs[3])
    assert not torch.equal(out.obs[0], batch.obs[0]) and not torch.equal(out.obs[2], batch.obs[2])


def test_the_objective_trains_on_imagined_frames_and_tests_on_real_ones():
    torch.manual_seed(0)
    cfg = to_trainer_config(compose_trainer_config(["env=catch", "env.train.size=8"])).agent.rew_end_model
    cfg.num_actions, cfg.img_size = 5, 8
    cfg.depths, cfg.channels, cfg.attn_depths = [1], [8], [0]
    model = RewEndModel(cfg)
    batch = _batch(size=8)
    objective = RewEndObjective(model, imagined=ImaginedFrames(ContextSampler(), rows=4))
    objective.eval()
    assert torch.equal(objective(batch)[0], model.compute_loss(batch)[0])
    objective.train()
    loss, metrics = objective(batch)
    imagined, _ = ImaginedFrames(ContextSampler(), rows=4)(batch)
    assert torch.allclose(loss, model.compute_loss(imagined)[0])
    assert not torch.allclose(loss, model.compute_loss(batch)[0]) and metrics["imagined_frames"] == 12


@pytest.mark.parametrize("bad, accepted", [("1.5", r"\[0, 1\]"), ("-0.1", r"\[0, 1\]"), ("true", "number")])
def test_bad_shares_are_named(bad, accepted):
    with pytest.raises(
        (ConfigError, ValueError), match=r"rew_end_model.training.imagined_share.*" + accepted
    ):
        validate_trainer_config(
            to_trainer_config(
                compose_trainer_config(["env=catch", f"rew_end_model.training.imagined_share={bad}"])
            )
        )


def test_a_run_trains_its_reward_model_on_imagined_frames(tmp_path, no_real_env):
    source = tmp_path / "static"
    for split, seeds in (("train", range(3)), ("test", [3])):
        ds = EpisodeDataset(source / split, action_spec=SPEC)
        for seed in seeds:
            ds.add_episode(random_episode(60, size=16, end=True, seed=seed, num_actions=5))
    cfg = tiny_static_config(source, "rew_end_model.training.imagined_share=0.5")
    Trainer(cfg, tmp_path / "run", show_progress=False).run()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    counts = [r[k] for r in rows for k in r if k.endswith("imagined_frames")]
    assert counts and all(c > 0 for c in counts)
