"""`DatasetBrowser`: dataset mode of `diamond play` (`-d`), without drawing or event polling (testable headless).

Commands (keys of `BROWSE_BINDINGS`): next dataset (m), next / previous episode (right / left), next / previous
timestep (up / down), +10 / -10 timesteps (page up / page down), first timestep (return). The interface is
`session_interface.py`'s; game input is ignored.
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
from diamond_wm.interactive.commands import BROWSE_BINDINGS, Command, Input, bindings_help
from diamond_wm.interactive.csgo_controls import describe_action

log = logging.getLogger(__name__)

# timestep moves: command -> steps forward (the first timestep is a move to 0)
MOVES = {
    Command.NEXT_STEP: 1,
    Command.PREV_STEP: -1,
    Command.FORWARD_10: 10,
    Command.BACK_10: -10,
    Command.FIRST_STEP: 0,
}


class DatasetBrowser:
    """Dataset mode (see the module docstring). `datasets`: (name, dataset) pairs; empty ones are skipped.

    An episode file that cannot be read (truncated, corrupted, refused) does not end the session: the window
    shows its one-line error (`error`) instead of a frame, and the other episodes stay browsable.
    """

    bindings = BROWSE_BINDINGS
    uses_mouse = False

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

    def handle(self, inp: Input) -> None:
        """Carry out a command (see the module docstring); anything else is ignored."""
        if inp == Command.NEXT_DATASET:
            self.dataset_index = (self.dataset_index + 1) % len(self.datasets)
            self.load_episode(0)
            log.info("dataset: %s", self.name)
        elif inp in (Command.NEXT_EPISODE, Command.PREV_EPISODE):
            self.load_episode(self.episode_id + (1 if inp == Command.NEXT_EPISODE else -1))
        elif inp in MOVES:
            self.set_timestep(0 if inp == Command.FIRST_STEP else self.t + MOVES[inp])

    def release_all(self) -> None:
        """Nothing is held in dataset mode."""

    def update(self) -> bool:
        return False

    def controls_help(self, extra: Sequence[tuple[str, str]] = ()) -> list[str]:
        names = " / ".join(n for n, _ in self.datasets)
        described = [
            (Command.NEXT_DATASET, f"next dataset ({names})"),
            (Command.NEXT_EPISODE, "next episode"),
            (Command.PREV_EPISODE, "previous episode"),
            (Command.NEXT_STEP, "next timestep"),
            (Command.PREV_STEP, "previous timestep"),
            (Command.FORWARD_10, "+10 timesteps"),
            (Command.BACK_10, "-10 timesteps"),
            (Command.FIRST_STEP, "first timestep"),
        ]
        return ["Controls (dataset mode):", *bindings_help(self.bindings, described, extra)]

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
