"""`rew_end_model.training.rewarded_share`: the loss corrects the reward logits for the classes' frequencies in the
batches, measured on them; test losses and everything that draws from the model see the plain logits."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.validation import validate_trainer_config
from diamond_wm.data import EpisodeDataset, SegmentSampler
from diamond_wm.models.rew_end_model import RewEndModel
from diamond_wm.runtime.errors import ConfigError
from diamond_wm.training.component import ComponentState
from diamond_wm.training.objectives import RewardClassShift, RewEndObjective
from diamond_wm.training.trainer import Trainer
from tests.data.helpers import random_episode
from tests.training.test_static_run import SPEC, tiny_static_config


def _dataset(seed: int = 0) -> EpisodeDataset:
    ds = EpisodeDataset()
    for i in range(4):
        ep = random_episode(40, size=16, seed=seed + i, num_actions=3)
        ep.rew.zero_()
        ep.rew[[5 + i, 20 + i]] = torch.tensor([1.0, -1.0])  # 2 rewarded steps in 40
        ds.add_episode(ep)
    return ds


def test_the_shift_is_the_log_ratio_of_the_batches_frequencies_to_the_usual_segments():
    sampler = SegmentSampler(
        _dataset(),
        8,
        6,
        can_sample_beyond_end=True,
        generator=torch.Generator().manual_seed(0),
        rewarded_share=0.5,
    )
    shift = RewardClassShift(4)
    counts_all, counts_usual = torch.zeros(3), torch.zeros(3)
    for _ in range(300):
        batch = sampler.sample()
        value = shift.update(batch)
        classes = batch.rew[:, :-1].sign().long() + 1
        counted = batch.mask_padding[:, :-1]
        counts_all += torch.bincount(classes[counted], minlength=3)
        counts_usual += torch.bincount(classes[4:][counted[4:]], minlength=3)
    measured = (counts_all / counts_all.sum() / (counts_usual / counts_usual.sum())).log()
    # rewarded classes ~ (4 rows with at least one of them + 4 usual) / 8 usual: well above 1, zero below 1
    assert value[0] > 0.5 and value[2] > 0.5 and value[1] < 0
    assert torch.allclose(value, measured.float(), atol=0.15)  # the 200-batch memory against all 300 batches


def test_training_adds_the_shift_and_evaluation_does_not():
    ds = _dataset()
    torch.manual_seed(0)
    cfg = to_trainer_config(compose_trainer_config(["env=catch", "env.train.size=16"])).agent.rew_end_model
    cfg.num_actions = 4
    model = RewEndModel(cfg)
    objective = RewEndObjective(model, rewarded_rows=2)
    batch = SegmentSampler(ds, 4, 6, can_sample_beyond_end=True, rewarded_share=0.5).sample()
    plain, _ = model.compute_loss(batch)
    objective.eval()
    assert torch.equal(objective(batch)[0], plain)
    objective.train()
    loss, metrics = objective(batch)
    shift = objective.shift.value.float()
    logits_rew, target_rew, logits_end, target_end = model.transition_logits(batch)
    expected = F.cross_entropy(logits_rew + shift, target_rew) + F.cross_entropy(logits_end, target_end)
    assert torch.allclose(loss, expected) and not torch.allclose(loss, plain)
    assert (
        metrics["rew_logit_shift_pos"] == pytest.approx(float(shift[2]), rel=1e-6) and shift.abs().sum() > 0
    )


@pytest.mark.parametrize(
    "bad, error, accepted",
    [("1.0", ConfigError, r"\[0, 1\)"), ("-0.5", ConfigError, r"\[0, 1\)"), ("true", ValueError, "number")],
)
def test_bad_shares_are_named(bad, error, accepted):
    with pytest.raises(error, match=r"rew_end_model.training.rewarded_share.*" + accepted):
        validate_trainer_config(
            to_trainer_config(
                compose_trainer_config(["env=catch", f"rew_end_model.training.rewarded_share={bad}"])
            )
        )


def test_a_run_trains_its_reward_model_with_the_share(tmp_path, no_real_env):
    source = tmp_path / "static"
    for split, seeds in (("train", range(3)), ("test", [3])):
        ds = EpisodeDataset(source / split, action_spec=SPEC)
        # one rewarded step in 80: rewards far rarer than in the segments placed around them
        for seed in seeds:
            ep = random_episode(80, size=16, end=True, seed=seed, num_actions=5)
            ep.rew.zero_()
            ep.rew[40] = 1.0
            ds.add_episode(ep)
    cfg = tiny_static_config(source, "rew_end_model.training.rewarded_share=0.5")
    Trainer(cfg, tmp_path / "run", show_progress=False).run()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    shifts = [r[k] for r in rows for k in r if k.endswith("rew_logit_shift_zero")]
    assert shifts and all(s < 0 for s in shifts)  # the rewarded segments make the zero class rarer in batches


def _component(seed: int) -> ComponentState:
    torch.manual_seed(seed)
    cfg = to_trainer_config(compose_trainer_config(["env=catch", "env.train.size=16"])).agent.rew_end_model
    cfg.num_actions = 4
    model = RewEndModel(cfg)
    opt = torch.optim.AdamW(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    return ComponentState(
        "rew_end_model", model, RewEndObjective(model, rewarded_rows=2), None, opt, sched, 1, None
    )


def test_the_class_counts_are_saved_with_the_run_state():
    sampler = SegmentSampler(
        _dataset(),
        4,
        6,
        can_sample_beyond_end=True,
        generator=torch.Generator().manual_seed(0),
        rewarded_share=0.5,
    )
    batches = [sampler.sample() for _ in range(6)]
    straight = _component(0)
    for batch in batches[:5]:
        straight.objective.shift.update(batch)
    state = straight.state_dict()
    resumed = _component(1)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.objective.shift.all, straight.objective.shift.all)
    assert torch.equal(
        resumed.objective.shift.update(batches[5]), straight.objective.shift.update(batches[5])
    )
    assert straight.objective.shift.value.abs().sum() > 0
    older = {k: v for k, v in state.items() if k != "objective"}  # a run state saved without the counts
    fresh = _component(2)
    fresh.load_state_dict(older)
    assert fresh.objective.shift.all.sum() == 0  # they start again, as before
