"""A world model alone on recorded play (the CS:GO shape): `diamond train` with no actor-critic and no reward model,
a static dataset of multi-hot actions, the denoiser and the x5 upsampler trained from low- and full-resolution
episodes, test losses of both; and what is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from diamond_wm.config.actions import ActionSpec
from diamond_wm.data import Episode, EpisodeDataset
from diamond_wm.envs.csgo import csgo_action_spec
from tests.conftest import run_cli

TINY_CSGO = [
    "agent=csgo",
    *[
        f"agent.{part}.inner_model.{k}={v}"
        for part in ("denoiser", "upsampler")
        for k, v in (
            ("cond_channels", 8),
            ("depths", "[1,1]"),
            ("channels", "[4,4]"),
            ("attn_depths", "[0,1]"),
        )
    ],
    "common.devices=cpu",
    "common.seed=0",
    "training.num_final_epochs=2",
    "evaluation.every=1",
    "checkpointing.save_agent_every=1",
    *[
        f"{part}.training.{k}={v}"
        for part in ("denoiser", "upsampler")
        for k, v in (("steps_first_epoch", 2), ("steps_per_epoch", 2), ("batch_size", 2))
    ],
    "denoiser.training.num_autoregressive_steps=1",
]


def write_recorded_play(root: Path, size: tuple[int, int], seed: int, episodes=(12, 9)) -> None:
    """train/ and test/ datasets of random frames at `size` with random multi-hot actions (the CS:GO spec)."""
    g = torch.Generator().manual_seed(0)  # the same actions at both resolutions
    gf = torch.Generator().manual_seed(seed)
    for split in ("train", "test"):
        ds = EpisodeDataset(root / split, action_spec=csgo_action_spec())
        for n in episodes:
            act = torch.zeros(n, 51)
            act[:, :13] = (torch.rand(n, 13, generator=g) < 0.1).float()  # keys and clicks
            act[torch.arange(n), 13 + torch.randint(0, 23, (n,), generator=g)] = 1  # one mouse-x bin
            act[torch.arange(n), 36 + torch.randint(0, 15, (n,), generator=g)] = 1  # one mouse-y bin
            ds.add_episode(
                Episode(
                    obs=torch.randint(0, 256, (n, 3, *size), dtype=torch.uint8, generator=gf),
                    act=act,
                    rew=torch.zeros(n),
                    end=torch.zeros(n, dtype=torch.uint8),
                    trunc=torch.zeros(n, dtype=torch.uint8),
                )
            )
        ds.save_index()


def test_a_world_model_alone_trains_on_low_and_full_resolution_play(tmp_path):
    write_recorded_play(tmp_path / "low", (6, 10), seed=1)
    write_recorded_play(tmp_path / "full", (30, 50), seed=2)
    run_dir = tmp_path / "run"
    res = run_cli(
        "train",
        *TINY_CSGO,
        f"static_dataset.path={tmp_path / 'low'}",
        f"static_dataset.full_res_path={tmp_path / 'full'}",
        f"hydra.run.dir={run_dir}",
        "--no-progress",
        cwd=tmp_path,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    state = torch.load(run_dir / "checkpoints" / "state.pt", weights_only=True)
    assert {k.split(".", 1)[0] for k in state["agent"]} == {"denoiser", "upsampler"}
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    keys = set().union(*metrics)
    assert {"test/denoiser/loss_denoising", "test/upsampler/loss_denoising"} <= keys
    assert any("upsampler/loss_denoising" in k and not k.startswith("test/") for k in keys)
    spec = ActionSpec.from_dict(json.loads((run_dir / "config" / "action_spec.json").read_text()))
    assert spec == csgo_action_spec()


def test_world_model_only_runs_need_recorded_play(tmp_path):
    write_recorded_play(tmp_path / "low", (6, 10), seed=1)
    cases = [
        ((), "agent.actor_critic=None: expected its network config: `diamond train` collects with it"),
        (
            (f"static_dataset.path={tmp_path / 'low'}",),
            "static_dataset.full_res_path=None: expected the folder of the full-resolution episodes",
        ),
    ]
    for extra, expected in cases:
        res = run_cli("train", *TINY_CSGO, *extra, f"hydra.run.dir={tmp_path / 'refused'}", cwd=tmp_path)
        assert res.returncode == 2
        assert expected in res.stderr and res.stderr.count("\n") == 1, res.stderr
        assert not (tmp_path / "refused").exists()


def test_the_csgo_preset_trains_from_the_published_keys_with_data_loader_workers(tmp_path):
    # --config-name csgo: env.path_data_low_res / env.path_data_full_res, 2 DataLoader workers reading from disk.
    write_recorded_play(tmp_path / "low", (6, 10), seed=1)
    write_recorded_play(tmp_path / "full", (30, 50), seed=2)
    run_dir = tmp_path / "run"
    tiny = [o for o in TINY_CSGO if o != "agent=csgo"] + [
        f"{part}.training.grad_acc_steps=1" for part in ("denoiser", "upsampler")
    ]
    res = run_cli(
        "train",
        "--config-name",
        "csgo",
        *tiny,
        "training.num_workers_data_loaders=2",
        f"env.path_data_low_res={tmp_path / 'low'}",
        f"env.path_data_full_res={tmp_path / 'full'}",
        f"hydra.run.dir={run_dir}",
        "--no-progress",
        cwd=tmp_path,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    state = torch.load(run_dir / "checkpoints" / "state.pt", weights_only=True)
    assert state["epoch"] == 2
    assert {k.split(".", 1)[0] for k in state["agent"]} == {"denoiser", "upsampler"}
    assert (run_dir / "FINISHED").is_file()
