"""Test episodes of an agent in the real environment, as the training run's own evaluation runs them.

Conventions (those of `Trainer`): the test environment (`env.test` of the config, `collection.test.num_envs`
copies), actions drawn from the policy's categorical distribution, replaced by uniformly random ones with
probability `epsilon` (0 by default), the environments reset with `seed` (sub-environment i gets seed + i).

For a run folder, with no explicit seed, the seed is the one the run's final evaluation used
(`Trainer`'s convention: run seed + `FINAL_EVAL_SEED_OFFSET`); when the evaluated agent is the run's last one, the action generator is also
restored from `checkpoints/state.pt`, so the episodes are exactly those of the run's final evaluation (as many as
`collection.test.num_final_episodes` by default).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import torch

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.envs.factory import make_env
from diamond_wm.loading.agent import LoadedAgent, check_action_spec
from diamond_wm.runtime.safe_load import safe_torch_load
from diamond_wm.training.collector import Collector
from diamond_wm.training.run_dir import RunDir

log = logging.getLogger(__name__)

LEGACY_TEST_SEED_OFFSET = 100_000  # older runs: the final episodes were seeded run_seed + 100000 + last epoch
DEFAULT_NUM_EPISODES = 10


@dataclass
class EvalPlan:
    """How the episodes will be run."""

    num_episodes: int
    epsilon: float
    seed: int
    num_envs: int = 1
    generator_state: Optional[torch.Tensor] = None  # action generator restored from the run's state
    reproduces_run_final: bool = False
    run_final_return_mean: Optional[float] = None
    run_final_returns: Optional[list[float]] = None  # recorded in FINISHED by recent trainers


@dataclass
class EvalReport:
    """What `diamond eval` prints (as JSON)."""

    checkpoint: str
    env_id: str
    num_episodes: int
    epsilon: float
    seed: int
    returns: list[float]
    lengths: list[int]
    return_mean: float
    return_std: float  # population standard deviation (ddof 0) of the episode returns
    length_mean: float
    epoch: Optional[int] = None
    reproduces_run_final: bool = False
    run_final_return_mean: Optional[float] = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(d.pop("extra"))
        return d


def _run_state(loaded: LoadedAgent) -> Optional[dict[str, Any]]:
    if loaded.run_dir is None:
        return None
    path = RunDir(loaded.run_dir).state_file
    if not path.is_file():
        return None
    if RunDir(loaded.run_dir).published_run_marks():
        log.info("%s is the published code's (not read): the run's final evaluation is not reproduced", path)
        return None
    try:
        return safe_torch_load(path)
    except (ValueError, OSError) as e:  # one line: the refusal or the damage, naming the file
        log.warning("%s: the run's final evaluation cannot be reproduced", str(e).splitlines()[0])
        return None


def _run_final(loaded: LoadedAgent) -> dict[str, Any]:
    """The run's final metrics (`FINISHED`), or {}."""
    import json

    if loaded.run_dir is None:
        return {}
    marker = RunDir(loaded.run_dir).finished_marker
    try:
        return dict(json.loads(marker.read_text() or "{}"))
    except (OSError, ValueError, TypeError):
        return {}


def final_evaluation_seed(run_seed: int, last_epoch: Optional[int]) -> int:
    """The seed of a run's final test episodes (the trainer's convention)."""
    from diamond_wm.training import trainer

    offset = getattr(trainer, "FINAL_EVAL_SEED_OFFSET", None)
    if offset is not None:
        return run_seed + int(offset)
    return run_seed + LEGACY_TEST_SEED_OFFSET + int(last_epoch or 0)


def plan_evaluation(
    loaded: LoadedAgent,
    num_episodes: Optional[int] = None,
    epsilon: Optional[float] = None,
    seed: Optional[int] = None,
) -> EvalPlan:
    """Fill the unset options with the run's conventions (see the module docstring)."""
    cfg = loaded.run_cfg
    plan = EvalPlan(
        num_episodes=DEFAULT_NUM_EPISODES,
        epsilon=0.0 if epsilon is None else float(epsilon),
        seed=0 if seed is None else int(seed),
    )
    if cfg is None:
        if num_episodes is not None:
            plan.num_episodes = num_episodes
        return plan
    plan.num_envs = cfg.collection.test.num_envs
    plan.num_episodes = cfg.collection.test.num_final_episodes or DEFAULT_NUM_EPISODES
    if num_episodes is not None:
        plan.num_episodes = num_episodes
    if epsilon is None:
        plan.epsilon = cfg.collection.test.epsilon
    final = _run_final(loaded)
    if final.get("final/return_mean") is not None:
        plan.run_final_return_mean = float(final["final/return_mean"])
    if isinstance(final.get("final/returns"), list):
        plan.run_final_returns = [float(r) for r in final["final/returns"]]
    if seed is None:
        state = _run_state(loaded)
        run_seed = cfg.common.seed if cfg.common.seed is not None else (state or {}).get("seed")
        last_epoch = (state or {}).get("epoch", loaded.epoch)
        if run_seed is not None:
            plan.seed = final_evaluation_seed(int(run_seed), last_epoch)
        gen = (((state or {}).get("rng") or {}).get("generators") or {}).get("test_collector")
        same_agent = loaded.epoch is not None and loaded.epoch == last_epoch
        if gen is not None and same_agent:
            plan.generator_state = gen
            plan.reproduces_run_final = plan.epsilon == cfg.collection.test.epsilon
    return plan


def evaluate(
    loaded: LoadedAgent,
    plan: EvalPlan,
    show_progress: bool = False,
    dataset: Optional[EpisodeDataset] = None,
) -> EvalReport:
    """Run `plan.num_episodes` test episodes with the agent's policy; returns and lengths in order of completion.

    The episodes are written into `dataset` when given (else kept in RAM and dropped)."""
    if plan.num_episodes < 1:
        raise ValueError(f"the number of episodes must be >= 1, got {plan.num_episodes}")
    agent = loaded.agent
    env = make_env(loaded.env.test, loaded.env.type, plan.num_envs, agent.device)
    try:
        check_action_spec(agent.action_spec, loaded.checkpoint, env.action_spec, loaded.env.test.id)
    except Exception:
        env.close()
        raise
    generator = torch.Generator()
    if plan.generator_state is not None:
        generator.set_state(plan.generator_state)
    else:
        generator.manual_seed(plan.seed)
    if dataset is None:
        dataset = EpisodeDataset(None, name="eval")
    collector = Collector(
        env,
        dataset,
        agent.actor_critic,
        epsilon=plan.epsilon,
        reset_every_collect=True,
        show_progress=show_progress,
        generator=generator,
    )
    try:
        with torch.no_grad():
            report = collector.collect(num_episodes=plan.num_episodes, seed=plan.seed)
    finally:
        env.close()
    returns = [float(r) for r in report.returns[: plan.num_episodes]]
    lengths = [int(n) for n in report.lengths[: plan.num_episodes]]
    mean = sum(returns) / len(returns)
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / len(returns))
    # Checked against what the run recorded, not assumed (e.g. a run made under other seed conventions).
    reproduces = plan.reproduces_run_final
    if reproduces and plan.run_final_returns is not None:
        reproduces = returns == plan.run_final_returns
    if reproduces and plan.run_final_return_mean is not None:
        reproduces = math.isclose(mean, plan.run_final_return_mean, rel_tol=1e-9, abs_tol=1e-9)
    log.info(
        "%d test episodes of %s: mean return %.3f (std %.3f)", len(returns), loaded.env.test.id, mean, std
    )
    return EvalReport(
        checkpoint=str(loaded.checkpoint),
        env_id=loaded.env.test.id,
        num_episodes=len(returns),
        epsilon=plan.epsilon,
        seed=plan.seed,
        returns=returns,
        lengths=lengths,
        return_mean=mean,
        return_std=std,
        length_mean=sum(lengths) / len(lengths),
        epoch=loaded.epoch,
        reproduces_run_final=reproduces,
        run_final_return_mean=plan.run_final_return_mean,
    )
