"""`Collector`: runs a policy (epsilon-random) in a real batched environment and writes episodes into a dataset.

Training collection (`reset_every_collect=False`) keeps the environments, the policy's LSTM state and the
episodes in progress across calls: at the end of a call each unfinished episode is written to the dataset as it
is, and the next call extends it. Test collection (`reset_every_collect=True`) resets the environments at the
start of every call and drops the episodes still unfinished when it stops.

Actions are sampled from the policy's categorical distribution (also with epsilon 0, as DIAMOND does); with
probability `epsilon` an action is replaced by a uniformly random one; `policy=None` acts uniformly at random.
The policy is an `nn.Module` with `lstm_dim` and `forward(obs (N, C, H, W), hx_cx | None) -> out` with
`out.logits_act` (N, A) and `out.hx_cx`; the LSTM state of an environment is zeroed when its episode ends.

Resuming: the environments' state cannot be saved, so `load_state_dict` closes the episodes that were in progress
(their last step gets `trunc=1` in the dataset) and the next `collect` starts new episodes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import nn

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.episode import FINAL_OBSERVATION, Episode
from diamond_wm.data.frames import to_uint8_frames
from diamond_wm.envs.base import TorchEnv
from diamond_wm.runtime.precision import autocast
from diamond_wm.runtime.progress import Phase
from diamond_wm.training.driver import PolicyDriver

log = logging.getLogger(__name__)


@dataclass
class CollectionReport:
    """What one `collect` call did. Returns and lengths are those of the episodes that finished during it."""

    num_steps: int  # environment steps, summed over the environments
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    episode_ids: list[int] = field(default_factory=list)  # dataset ids of the finished episodes
    dataset_num_steps: int = 0
    counts_rew: list[int] = field(default_factory=list)  # reward signs -1, 0, +1 in the whole dataset
    counts_end: list[int] = field(default_factory=list)  # end 0, 1 in the whole dataset

    @property
    def num_episodes(self) -> int:
        return len(self.returns)

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """Flat numbers for logging (`<prefix>return_mean`, ..., `<prefix>counts/rew_+1`)."""
        m: dict[str, float] = {"num_steps": self.num_steps, "num_episodes": self.num_episodes}
        if self.returns:
            r = torch.tensor(self.returns, dtype=torch.float64)
            m |= {"return_mean": r.mean().item(), "return_min": r.min().item(), "return_max": r.max().item()}
            m["length_mean"] = sum(self.lengths) / len(self.lengths)
        m["dataset_num_steps"] = self.dataset_num_steps
        for name, counts in (("rew", self.counts_rew), ("end", self.counts_end)):
            keys = ("-1", "_0", "+1") if name == "rew" else ("0", "1")
            m |= {f"counts/{name}_{k}": c for k, c in zip(keys, counts, strict=True)}
        return {prefix + k: v for k, v in m.items()}

    @classmethod
    def merge(cls, reports: list[CollectionReport]) -> CollectionReport:
        """One report for several consecutive `collect` calls (dataset counts: the last call's)."""
        last = reports[-1]
        return cls(
            num_steps=sum(r.num_steps for r in reports),
            returns=[x for r in reports for x in r.returns],
            lengths=[x for r in reports for x in r.lengths],
            episode_ids=[x for r in reports for x in r.episode_ids],
            dataset_num_steps=last.dataset_num_steps,
            counts_rew=last.counts_rew,
            counts_end=last.counts_end,
        )


class Collector:
    """Collects episodes of `env` into `dataset` (see the module docstring).

    Args:
        env: the batched real environment.
        dataset: where the episodes go.
        policy: the actor-critic, or None for uniformly random actions. May be replaced between calls.
        epsilon: probability of replacing the policy's action by a uniformly random one.
        reset_every_collect: test collection (fresh environments each call, unfinished episodes dropped).
        show_progress: show a progress bar on a terminal, one log line per collection elsewhere.
        seed: seed of the first environment reset (later resets continue the environments' RNG).
        generator: torch.Generator (CPU) for the action draws; None seeds one from torch's global RNG.
        precision: "bf16": the policy's forward under bf16 autocast (`training.precision`).
    """

    def __init__(
        self,
        env: TorchEnv,
        dataset: EpisodeDataset,
        policy: Optional[nn.Module] = None,
        epsilon: float = 0.0,
        reset_every_collect: bool = False,
        show_progress: bool = True,
        seed: Optional[int] = None,
        generator: Optional[torch.Generator] = None,
        precision: str = "fp32",
    ) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
        self.env = env
        self.dataset = dataset
        self.driver = PolicyDriver(env, policy)  # acts, steps, carries and restarts the policy's LSTM state
        self.epsilon = float(epsilon)
        self.reset_every_collect = reset_every_collect
        self.show_progress = show_progress
        self.seed = seed
        if generator is None:
            generator = torch.Generator().manual_seed(int(torch.randint(2**62, (1,)).item()))
        self.generator = generator
        self.precision = precision
        n = env.num_envs
        self._buffers: list[list[tuple[torch.Tensor, ...]]] = [[] for _ in range(n)]  # steps not yet stored
        self._episode_ids: list[Optional[int]] = [None] * n  # dataset id of each episode in progress
        self._returns = [0.0] * n
        self._lengths = [0] * n
        self._has_reset = False

    # ------------------------------------------------------------------ acting

    @property
    def policy(self) -> Optional[nn.Module]:
        """The actor-critic acting, or None for uniformly random actions (replaceable between calls)."""
        return self.driver.policy

    @policy.setter
    def policy(self, policy: Optional[nn.Module]) -> None:
        self.driver.policy = policy

    @torch.no_grad()
    def _act(self) -> tuple[torch.Tensor, Optional[tuple[torch.Tensor, torch.Tensor]]]:
        """(N,) int64 actions on CPU, and the policy's state after acting."""
        n, g = self.env.num_envs, self.generator
        if self.policy is None:
            return torch.randint(self.env.num_actions, (n,), generator=g), None
        with autocast(self.driver.device, self.precision):
            out = self.driver.forward()
        probs = torch.softmax(out.logits_act.detach().float().cpu(), dim=-1)  # (N, A)
        act = torch.multinomial(probs, 1, generator=g).squeeze(1)
        if self.epsilon > 0:
            rand = torch.rand(n, generator=g) < self.epsilon
            act = torch.where(rand, torch.randint(self.env.num_actions, (n,), generator=g), act)
        return act, out.hx_cx

    def _reset_envs(self, seed: Optional[int] = None) -> None:
        if seed is None and not self._has_reset:
            seed = self.seed
        self.driver.reset(seed=seed)
        self._has_reset = True
        n = self.env.num_envs
        self._buffers = [[] for _ in range(n)]
        self._episode_ids = [None] * n
        self._returns, self._lengths = [0.0] * n, [0] * n

    # ------------------------------------------------------------------ storing

    def _store(self, i: int, final_obs: Optional[torch.Tensor]) -> int:
        """Write env i's buffered steps to the dataset (new episode or extension); returns the episode id."""
        obs, act, rew, end, trunc = (torch.stack(x) for x in zip(*self._buffers[i], strict=True))
        info = {FINAL_OBSERVATION: final_obs} if final_obs is not None else {}
        part = Episode(obs, act, rew, end, trunc, info)
        self._buffers[i] = []
        if self._episode_ids[i] is None:
            return self.dataset.add_episode(part)
        self.dataset.extend_episode(self._episode_ids[i], part)
        return self._episode_ids[i]

    # ------------------------------------------------------------------ collecting

    def collect(
        self, num_steps: Optional[int] = None, num_episodes: Optional[int] = None, seed: Optional[int] = None
    ) -> CollectionReport:
        """Collect until `num_steps` environment steps (summed over environments) or `num_episodes` finished
        episodes; exactly one of the two must be given. `seed` reseeds the environments' reset (test
        collection: every evaluation then sees the same episode starts, whatever happened before)."""
        if seed is not None:
            self.seed, self._has_reset = seed, False
        if (num_steps is None) == (num_episodes is None):
            raise ValueError(
                f"give exactly one of num_steps and num_episodes, got {num_steps=}, {num_episodes=}"
            )
        target = num_steps if num_steps is not None else num_episodes
        if isinstance(target, bool) or not isinstance(target, int) or target < 1:
            name = "num_steps" if num_steps is not None else "num_episodes"
            raise ValueError(f"{name} must be a positive integer, got {target!r}")
        if self.reset_every_collect or self.driver.obs is None or seed is not None:
            self._reset_envs()
        report = CollectionReport(num_steps=0)
        unit = "steps" if num_steps is not None else "episodes"
        with Phase(f"Collect {self.dataset.name}", target, unit, self.show_progress, leave=True) as phase:
            while True:
                self._step(report, phase, count_steps=num_steps is not None)
                done_count = report.num_steps if num_steps is not None else report.num_episodes
                if done_count >= target:
                    break
            phase.summary = f"{report.num_steps} steps, {report.num_episodes} episodes ended"
        if self.reset_every_collect:
            self.driver.obs = None  # unfinished test episodes are dropped
        else:
            for i in range(self.env.num_envs):
                if self._buffers[i]:
                    self._episode_ids[i] = self._store(i, None)
        report.dataset_num_steps = self.dataset.num_steps
        report.counts_rew, report.counts_end = self.dataset.counts_rew, self.dataset.counts_end
        return report

    def _step(self, report: CollectionReport, progress: Phase, count_steps: bool) -> None:
        act, hx_cx = self._act()
        tr = self.driver.step(act, hx_cx)  # the LSTM state of ended episodes restarts from zeros
        rew, end, trunc, info = tr.rew, tr.end, tr.trunc, tr.info
        obs_u8 = to_uint8_frames(tr.obs.cpu())  # (N, C, H, W)
        rew, end, trunc = rew.cpu().float(), end.cpu().to(torch.uint8), trunc.cpu().to(torch.uint8)
        dead = (end | trunc).bool()
        for i in range(self.env.num_envs):
            self._buffers[i].append((obs_u8[i], act[i], rew[i], end[i], trunc[i]))
            self._returns[i] += float(rew[i])
            self._lengths[i] += 1
        for i in dead.nonzero().flatten().tolist():
            final = to_uint8_frames(info["final_observation"][i].cpu())
            episode_id = self._store(i, final)
            report.returns.append(self._returns[i])
            report.lengths.append(self._lengths[i])
            report.episode_ids.append(episode_id)
            self._episode_ids[i], self._returns[i], self._lengths[i] = None, 0.0, 0
            if not count_steps:
                progress.update(1)
        report.num_steps += self.env.num_envs
        if count_steps:
            progress.update(self.env.num_envs)

    # ------------------------------------------------------------------ resuming

    def close_episodes(self) -> None:
        """Close the episodes in progress: their stored part gets `trunc=1`; the next call starts new ones."""
        for episode_id in self._episode_ids:
            if episode_id is not None and episode_id < self.dataset.num_episodes:
                self.dataset.mark_truncated(episode_id)
        self.driver.obs, self.driver.hx_cx = None, None
        n = self.env.num_envs
        self._buffers, self._episode_ids = [[] for _ in range(n)], [None] * n
        self._returns, self._lengths = [0.0] * n, [0] * n

    def state_dict(self) -> dict[str, Any]:
        """What a resume needs: the dataset ids of the episodes in progress (stored at the end of each call) and,
        when the environments can save their games (`get_state`, e.g. Catch), the games, the current frames and
        the policy's LSTM state, so that collection continues exactly where it stopped."""
        state: dict[str, Any] = {"episode_ids": list(self._episode_ids), "has_reset": self._has_reset}
        get_state = getattr(self.env, "get_state", None)
        env_state = get_state() if get_state is not None and self.driver.obs is not None else None
        if env_state is not None:
            state |= {
                "env_state": env_state,
                "obs": self.driver.obs.cpu(),
                "hx_cx": self.driver.hx_cx,
                "returns": list(self._returns),
                "lengths": list(self._lengths),
            }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore after a restart. Environments that saved their games continue them exactly; otherwise the
        episodes that were in progress are closed (`trunc=1`) and the next `collect` starts new ones."""
        ids = list(state.get("episode_ids", []))
        self._episode_ids = [i if i is None else int(i) for i in ids]
        self._has_reset = bool(state.get("has_reset", False))
        if state.get("env_state") is not None:
            self.env.reset()
            self.env.set_state(state["env_state"])
            self.driver.obs = state["obs"].to(self.env.device)
            self.driver.hx_cx = state["hx_cx"]
            self._returns = [float(r) for r in state["returns"]]
            self._lengths = [int(n) for n in state["lengths"]]
            self._buffers = [[] for _ in range(self.env.num_envs)]
            return
        closed = [i for i in self._episode_ids if i is not None]
        self.close_episodes()
        if closed:
            log.info(
                "%s: closed the episodes in progress %s (a resume starts new ones)", self.dataset.name, closed
            )
