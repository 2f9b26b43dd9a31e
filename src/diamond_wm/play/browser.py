"""`DatasetBrowser`: dataset mode of `diamond play` (`-d`), without drawing or event polling (testable headless).

Keys: `m` next dataset, left/right previous/next episode, up/down next/previous timestep, PgUp/PgDn +/-10
timesteps, Enter first timestep. The interface is `PlaySession`'s (see `session.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Optional

import torch

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.episode import Episode
from diamond_wm.data.errors import DatasetError
from diamond_wm.data.frames import to_float_frames
from diamond_wm.envs.csgo import ACTION_SIZE, decode
from diamond_wm.play.csgo_controls import describe_action
from diamond_wm.play.keymap import pygame

log = logging.getLogger(__name__)


class DatasetBrowser:
    """Dataset mode (see the module docstring). `datasets`: (name, dataset) pairs; empty ones are skipped.

    An episode file that cannot be read (truncated, corrupted, refused) does not end the session: the window
    shows its one-line error (`error`) instead of a frame, and the other episodes stay browsable.
    """

    def __init__(
        self, datasets: Sequence[tuple[str, EpisodeDataset]], action_names: Optional[Sequence[str]] = None
    ) -> None:
        self.datasets = [(n, d) for n, d in datasets if d.num_episodes > 0]
        if not self.datasets:
            raise ValueError("no non-empty dataset to browse")
        self.action_names = list(action_names) if action_names is not None else None
        self.paused = False
        self.dataset_index = 0
        self.episode_id = 0
        self.t = 0
        self.episode: Optional[Episode] = None
        self.error: Optional[str] = None  # why the current episode cannot be shown
        self.load_episode(0)

    @property
    def name(self) -> str:
        return self.datasets[self.dataset_index][0]

    @property
    def dataset(self) -> EpisodeDataset:
        return self.datasets[self.dataset_index][1]

    @property
    def frame(self) -> Optional[torch.Tensor]:
        return to_float_frames(self.episode.obs[self.t]) if self.episode is not None else None

    def load_episode(self, episode_id: int) -> None:
        self.episode_id = episode_id % self.dataset.num_episodes
        self.t = 0
        try:
            self.episode, self.error = self.dataset.load_episode(self.episode_id), None
        except DatasetError as e:
            self.episode, self.error = None, str(e).splitlines()[0]
            log.warning("%s", self.error)

    def set_timestep(self, t: int) -> None:
        self.t = t % len(self.episode) if self.episode is not None else 0

    def handle_key_down(self, key: int) -> None:
        if key == pygame.K_m:
            self.dataset_index = (self.dataset_index + 1) % len(self.datasets)
            self.load_episode(0)
            log.info("dataset: %s", self.name)
        elif key == pygame.K_RIGHT:
            self.load_episode(self.episode_id + 1)
        elif key == pygame.K_LEFT:
            self.load_episode(self.episode_id - 1)
        elif key == pygame.K_UP:
            self.set_timestep(self.t + 1)
        elif key == pygame.K_DOWN:
            self.set_timestep(self.t - 1)
        elif key == pygame.K_PAGEUP:
            self.set_timestep(self.t + 10)
        elif key == pygame.K_PAGEDOWN:
            self.set_timestep(self.t - 10)
        elif key == pygame.K_RETURN:
            self.set_timestep(0)

    def handle_key_up(self, key: int) -> None:
        pass

    def update(self) -> bool:
        return False

    def controls_help(self) -> list[str]:
        names = " / ".join(n for n, _ in self.datasets)
        return [
            "Controls (dataset mode):",
            "  Esc   : quit",
            f"  m     : next dataset ({names})",
            "  right : next episode",
            "  left  : previous episode",
            "  up    : next timestep",
            "  down  : previous timestep",
            "  PgUp  : +10 timesteps",
            "  PgDn  : -10 timesteps",
            "  Enter : first timestep",
        ]

    def _action_name(self, a: int) -> str:
        """The dataset's own name of action `a` (its recorded action spec), else the run's game's, else `a`."""
        spec = self.dataset.action_spec
        names = (
            list(spec.names) if spec is not None and spec.is_discrete and spec.names else self.action_names
        )
        if names is not None and 0 <= a < len(names):
            return names[a]
        return str(a)

    def _action_lines(self, act: torch.Tensor) -> list[str]:
        """The header lines of one step's action: its name, or for a multi-hot vector the CS:GO keys, mouse and
        clicks (51 dimensions) or the indices of its hot dimensions."""
        if act.ndim == 0:
            return [f"Action: {self._action_name(int(act))}"]
        if act.numel() == ACTION_SIZE:
            try:
                keys, mouse, clicks = describe_action(decode(act))
                return [f"Keys  : {keys}", f"Mouse : {mouse}", f"Clicks: {clicks}"]
            except ValueError:  # not finite: shown as its hot dimensions
                pass
        hot = [str(i) for i in act.nonzero().flatten().tolist()]
        return [f"Action: dims {', '.join(hot) or '-'}"]

    header_lines = 6  # the dataset's line, then up to 5 (a CS:GO action takes 3)

    def header(self) -> list[list[str]]:
        """Columns of header lines; the first line holds the dataset's name alone (it spans the header's width)."""
        ep = self.episode
        where = [f"Dataset: {self.name}", f"Episode: {self.episode_id} / {self.dataset.num_episodes}"]
        if ep is None:
            return [where + ["UNREADABLE (see below)", "left/right: other episodes"], [], []]
        rew = ep.rew
        t = self.t
        action = self._action_lines(ep.act[t])
        step = [f"Reward: {float(rew[t]):.2f}", f"Done  : {bool(ep.end[t])}", f"Trunc : {bool(ep.trunc[t])}"]
        if len(action) > 1:  # keys, mouse and clicks: done and truncated share a line
            step = [step[0], f"Done  : {bool(ep.end[t])}, trunc {bool(ep.trunc[t])}"]
        return [
            where
            + [
                f"Return (+): +{float(rew[rew > 0].sum()):.1f}",
                f"Return (-): -{float(rew[rew < 0].sum().abs()):.1f}",
                f"Total     :  {float(rew.sum()):.1f}",
            ],
            ["", *action, *step],
            [
                "",
                f"Timestep: {t}",
                f"Length  : {len(ep)}",
                f"To here : {float(rew[: t + 1].sum()):.2f}",
                f"To go   : {float(rew[t + 1 :].sum()):.2f}",
            ],
        ]
