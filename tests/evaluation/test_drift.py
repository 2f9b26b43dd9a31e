"""The drift measures: contexts from test episodes, autoregressive teacher-forced imagination, per-step errors."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from diamond_wm.config.agent import DiffusionSamplerConfig
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.evaluation import drift
from diamond_wm.models.diffusion import DiffusionSampler
from diamond_wm.models.world_model import WorldModel
from tests.data.helpers import random_episode


def dataset_of(lengths: list[int]) -> EpisodeDataset:
    ds = EpisodeDataset(None, name="test")
    for i, length in enumerate(lengths):
        ds.add_episode(random_episode(length, size=8, seed=i, num_actions=3))
    return ds


def test_step_errors_match_a_plain_loop():
    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (5, 7, 3, 8, 8), generator=g, dtype=torch.uint8)
    imagined = torch.randint(0, 256, (5, 7, 3, 8, 8), generator=g, dtype=torch.uint8)
    imagined[2, 3] = real[2, 3]  # one identical pair: its PSNR is the cap, not infinite
    got = drift.step_errors(real, imagined)
    cap = drift.max_psnr(3 * 8 * 8)
    for k in range(7):
        mses, psnrs = [], []
        for i in range(5):
            values = [
                (int(a) - int(b)) / 255
                for a, b in zip(real[i, k].flatten(), imagined[i, k].flatten(), strict=True)
            ]
            mse = sum(v * v for v in values) / len(values)
            mses.append(mse)
            psnrs.append(cap if mse == 0 else 10 * math.log10(1 / mse))
        mean = sum(mses) / 5
        assert got["mse_mean"][k] == pytest.approx(mean, rel=1e-9)
        assert got["mse_std"][k] == pytest.approx(math.sqrt(sum((m - mean) ** 2 for m in mses) / 5), rel=1e-9)
        p_mean = sum(psnrs) / 5
        assert got["psnr_mean"][k] == pytest.approx(p_mean, rel=1e-9)
        assert got["psnr_std"][k] == pytest.approx(
            math.sqrt(sum((p - p_mean) ** 2 for p in psnrs) / 5), rel=1e-9
        )
        assert got["psnr_of_mean_mse"][k] == pytest.approx(10 * math.log10(1 / mean), rel=1e-9)
    assert cap == pytest.approx(10 * math.log10(255**2 * 192))
    assert all(len(v) == 7 for v in got.values())


def test_contexts_come_from_long_enough_episodes_at_seeded_starts():
    ds = dataset_of([10, 30, 6, 40])
    ctx = drift.select_contexts(ds, num_conditioning=4, horizon=20, seed=3)
    assert ctx.episodes == [1, 3] and ctx.horizon == 20 and ctx.note is None
    assert ctx.obs.shape == (2, 24, 3, 8, 8) and ctx.act.shape == (2, 24)
    for j, (i, start) in enumerate(zip(ctx.episodes, ctx.starts, strict=True)):
        episode = ds.load_episode(i)
        assert 0 <= start <= len(episode) - 24
        assert torch.equal(ctx.obs[j], episode.obs[start : start + 24])
        assert torch.equal(ctx.act[j], episode.act[start : start + 24])
    assert drift.select_contexts(ds, 4, 20, seed=3).starts == ctx.starts  # the seed decides
    assert drift.select_contexts(ds, 4, 20, num_episodes=1, seed=3).episodes == [1]


def test_several_contexts_per_episode_start_at_distinct_offsets():
    ds = dataset_of([10, 30, 6, 26])
    ctx = drift.select_contexts(ds, num_conditioning=4, horizon=20, seed=0, per_episode=5)
    # episode 1 has 7 possible starts (30 - 24 + 1), episode 3 only 3: all of them
    assert ctx.episodes == [1] * 5 + [3] * 3
    assert len(set(ctx.starts[:5])) == 5 and sorted(ctx.starts[5:]) == [0, 1, 2]
    for j, (i, start) in enumerate(zip(ctx.episodes, ctx.starts, strict=True)):
        assert torch.equal(ctx.obs[j], ds.load_episode(i).obs[start : start + 24])
    with pytest.raises(drift.DriftError, match="--per-episode must be >= 1, got 0"):
        drift.select_contexts(ds, 4, 20, per_episode=0)


def test_the_copy_baseline_repeats_the_last_context_frame():
    ctx = drift.select_contexts(dataset_of([30]), num_conditioning=4, horizon=10, seed=1)
    copied = drift.copy_last_frame(ctx)
    assert copied.shape == (1, 10, 3, 8, 8)
    for k in range(10):
        assert torch.equal(copied[0, k], ctx.obs[0, 3])
    errors = drift.step_errors(ctx.obs[:, 4:], copied)
    want = drift.frame_mse(ctx.obs[0, 4], ctx.obs[0, 3]).item()
    assert errors["mse_mean"][0] == pytest.approx(want, rel=1e-12) and want > 0


def test_the_horizon_is_cut_to_the_longest_episode_and_said():
    ctx = drift.select_contexts(dataset_of([10, 30, 6]), num_conditioning=4, horizon=50)
    assert ctx.horizon == 26 and ctx.horizon_requested == 50 and ctx.episodes == [1]
    assert ctx.note.startswith("horizon 26 instead of 50: the longest test episode has 30 frames")


def test_no_episode_long_enough_is_one_line():
    with pytest.raises(drift.DriftError, match="no episode of the dataset is long enough: the longest has 4"):
        drift.select_contexts(dataset_of([4, 3]), num_conditioning=4, horizon=10)


@pytest.mark.parametrize("text", ["0", "1,0", "", "a,b", "3,3", "-1"])
def test_bad_steps(text):
    with pytest.raises(drift.DriftError, match="expected distinct integers >= 1"):
        drift.parse_steps(text)
    assert drift.parse_steps("1, 3,10") == [1, 3, 10]


class ShiftWorld(torch.nn.Module):
    """A denoiser whose clean frame is the last conditioning frame brightened by (last action + 1) 8-bit levels."""

    num_steps_conditioning = 2
    cfg = SimpleNamespace(inner_model=SimpleNamespace(num_actions=3))

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def denoise(self, x, sigma, obs, act, sigma_cond=None):
        return obs[:, -1] + (act[:, -1] + 1).view(-1, 1, 1, 1).float() * 2 / 255


def test_imagination_feeds_back_its_frames_and_takes_the_recorded_actions():
    obs = torch.zeros(2, 6, 1, 2, 2, dtype=torch.uint8)
    obs[1] += 10
    act = torch.tensor([[0, 1, 2, 0, 1, 2], [2, 2, 0, 0, 1, 1]])
    world_model = WorldModel(DiffusionSampler(ShiftWorld(), DiffusionSamplerConfig(num_steps_denoising=1)))
    out = drift.imagine(world_model, obs, act, horizon=4, rows=[0, 1])
    assert out.shape == (2, 4, 1, 2, 2) and out.dtype == torch.uint8
    for b in range(2):
        level = int(obs[b, 1].flatten()[0])  # the last real frame
        for k in range(4):
            level += int(act[b, k + 1]) + 1  # the action taken on the frame before imagined frame k
            assert (out[b, k] == level).all(), (b, k, out[b, k], level)
