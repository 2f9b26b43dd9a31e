"""Where play's imagined episodes start when they start from recorded play: contexts drawn from a dataset, with the
recorded actions that followed each one (what the replay controller plays back).

`DatasetContexts` is a `WorldModelEnv` initial-condition source: each context is `n` consecutive steps of one
episode (n = the denoiser's conditioning frames), wholly inside it when the episode is long enough (episodes drawn
in proportion to their length among those longer than n, the start uniform), otherwise a left-padded segment as
training draws them. `start(episode, generator)` gives one such context with the action taken on its last frame
and every recorded action after it, to the end of the episode (a `Start`): the play session resets the world model
with it, so which context comes next is the session's choice, made with its own generator. Spawn points
(`envs.csgo.spawn.SpawnPoints`) give the same from their `act.npy` and `next_act.npy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

import torch

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.sampling import SegmentId, SegmentSampler, make_batch
from diamond_wm.models.agent import Agent


@dataclass
class Start:
    """Where an episode of play starts: the context (obs (1, n, C, H, W), act (1, n[, D])[, full_res]) to reset the
    world model with, the recorded actions from its last frame on (what the replay controller plays), and where
    it comes from (for the log)."""

    contexts: tuple[torch.Tensor, ...]
    replay: torch.Tensor
    description: str
    segment: Optional[SegmentId] = None  # (episode, start, stop) of a context from a dataset


class ReplaySource(Protocol):
    """Starting points with their recorded actions. `start(episode, generator)`: the start of a session's
    `episode`-th episode (a source may take them in turn, or draw them with `generator`); calling it as a context
    source `(count, generator)` draws contexts for the world model's own restarts."""

    def start(self, episode: int, generator: torch.Generator) -> Start: ...

    def __call__(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]: ...


class DatasetContexts:
    """Contexts of `n` steps drawn from `dataset`, and their replays (see the module docstring)."""

    def __init__(self, dataset: EpisodeDataset, num_steps_conditioning: int) -> None:
        if dataset.num_episodes == 0:
            raise ValueError(f"dataset {dataset.directory} holds no episode to start from")
        self.dataset = dataset
        self.n = int(num_steps_conditioning)

    def _draw_ids(self, count: int, generator: torch.Generator) -> list[SegmentId]:
        lengths = torch.from_numpy(self.dataset.lengths.copy()).long()
        long_enough = (lengths > self.n).nonzero().squeeze(1)
        if long_enough.numel() == 0:  # every episode is short: padded segments, as training draws them
            return SegmentSampler(self.dataset, count, self.n, None, generator=generator).sample_ids()
        p = lengths[long_enough].double()
        picks = long_enough[torch.multinomial(p / p.sum(), count, replacement=True, generator=generator)]
        ids = []
        for e in picks.tolist():
            # the last context frame is not the episode's last step: at least two actions to replay
            start = int(torch.randint(0, int(lengths[e]) - self.n, (1,), generator=generator))
            ids.append(SegmentId(e, start, start + self.n))
        return ids

    def __call__(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(obs (count, n, C, H, W) float in [-1, 1], act (count, n) or (count, n, D))."""
        batch = make_batch(self.dataset, self._draw_ids(count, generator))
        return batch.obs, batch.act

    def start(self, episode: int, generator: torch.Generator) -> Start:
        """A context drawn with `generator` and the recorded actions from its last frame to the episode's end."""
        segment = self._draw_ids(1, generator)[0]
        batch = make_batch(self.dataset, [segment])
        episode_id, start, stop = segment
        length = int(self.dataset.lengths[episode_id])
        replay = self.dataset.load_steps(episode_id, max(0, stop - 1), length).act.clone()
        where = f"{self.dataset.directory} episode {episode_id}, steps {start}-{stop - 1}"
        return Start((batch.obs, batch.act), replay, where, segment)


def expected_frame_shape(agent: Agent) -> Optional[tuple[int, int, int]]:
    """(C, H, W) of the frames `agent` was built for, when its networks fix a size (the actor-critic's or the
    reward/termination model's input); None for a denoiser alone (its U-Net takes any size)."""
    channels = agent.cfg.denoiser.inner_model.img_channels
    for part in (agent.cfg.actor_critic, agent.cfg.rew_end_model):
        if part is not None:
            return (channels, part.img_size, part.img_size)
    return None


def dataset_misfit(dataset: EpisodeDataset, agent: Agent) -> Optional[str]:
    """Why `dataset` cannot start `agent`'s world model (frame shape, other actions), or None. Looks at its
    recorded action spec and its first and last episodes only (a dataset holds one game)."""
    if dataset.num_episodes == 0:
        return None
    where, spec = f"dataset {dataset.directory}", agent.action_spec
    want = expected_frame_shape(agent)
    channels = agent.cfg.denoiser.inner_model.img_channels
    shape = dataset.frame_shape
    if (want is not None and shape != want) or (shape is not None and shape[0] != channels):
        return f"{where} holds {shape} frames but the agent's are {want or (channels, 'H', 'W')}"
    recorded = dataset.action_spec
    if recorded is not None and not recorded.same_layout(spec):
        return f"{where} holds {recorded.describe()} but the agent has {spec.describe()}"
    for i in sorted({0, dataset.num_episodes - 1}):
        act = dataset.load_episode(i).act
        if act.is_floating_point() or not spec.is_discrete:
            try:
                spec.validate(act, what="its actions")
            except ValueError as e:
                return f"{where}: {e}"
        elif int(act.max()) >= spec.num_action_dims:
            return f"{where} holds action {int(act.max())} but the agent has {spec.describe()}"
    return None
