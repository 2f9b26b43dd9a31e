"""Catch: a tiny pixel game for fast CPU tests and the demo, registered as `diamond_wm/Catch-v0` (3 balls per
episode, 1-cell paddle), `diamond_wm/CatchDemo-v0` (the demo's game: 1 ball per episode, returning +1 or -1,
a 3-cell paddle, and the episode ends one step after the ball lands: 8 steps) and `diamond_wm/CatchLong-v0` (the
demo's paddle, 7 balls per episode: 55 steps, for long imagined rollouts).

A ball falls one row per step down a grid of `grid_size` x `grid_size` cells; a paddle of `paddle_width` cells
(odd) on the bottom row moves one cell per step (actions NOOP, LEFT, RIGHT). When the ball reaches the bottom row
it is caught (+1) if a paddle cell is under it, missed (-1) otherwise; on the next step a new ball appears on the
top row at a random column. An episode is `balls_per_episode` balls and terminates on the step the last one lands
(with `end_on_landing`, the default; otherwise on the next step, when the ball disappears): with the defaults
(8 x 8 grid, 3 balls) every episode lasts 7 + 8 + 8 = 23 steps and returns between -3 and +3. Any ball can be
caught (the paddle can always reach it in time), so an optimal policy scores +3; a random one about -2.3.
A 2-layer CNN actor-critic (A2C) learns it from 16 x 16 frames in about 15 s of one CPU core (see the slow
test `tests/envs/test_catch.py::test_learnable_by_a_small_agent_in_seconds`).

Observation: (grid_size * cell_px)^2 RGB uint8 (64 x 64 by default): black background, red ball, cyan paddle.
The first ball's column and the paddle's start column are drawn from the seeded `np_random`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

ENV_ID = "diamond_wm/Catch-v0"
DEMO_ENV_ID = "diamond_wm/CatchDemo-v0"
LONG_ENV_ID = "diamond_wm/CatchLong-v0"
LONG_ENV_KWARGS = {"balls_per_episode": 7, "paddle_width": 3}  # 7 + 6 x 8 = 55 steps per episode
ACTION_MEANINGS = ("NOOP", "LEFT", "RIGHT")
BALL_RGB = (230, 60, 60)
PADDLE_RGB = (60, 200, 230)


class CatchEnv(gym.Env):
    """The Catch game (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}

    def __init__(
        self,
        grid_size: int = 8,
        cell_px: int = 8,
        balls_per_episode: int = 3,
        paddle_width: int = 1,
        end_on_landing: bool = True,
        render_mode: str | None = None,
    ) -> None:
        for name, value, low in (
            ("grid_size", grid_size, 3),
            ("cell_px", cell_px, 1),
            ("balls_per_episode", balls_per_episode, 1),
            ("paddle_width", paddle_width, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if paddle_width % 2 == 0 or paddle_width > grid_size:
            raise ValueError(f"paddle_width must be odd and <= grid_size={grid_size}, got {paddle_width}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.grid_size = grid_size
        self.cell_px = cell_px
        self.balls_per_episode = balls_per_episode
        self.half_paddle = paddle_width // 2  # the paddle covers paddle +- half_paddle
        self.end_on_landing = bool(end_on_landing)
        self.render_mode = render_mode
        side = grid_size * cell_px
        self.observation_space = gym.spaces.Box(0, 255, (side, side, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(len(ACTION_MEANINGS))
        self._ball_row = self._ball_col = self._paddle = self._balls_landed = 0

    def get_action_meanings(self) -> list[str]:
        """Names of the actions, as ALE environments give them."""
        return list(ACTION_MEANINGS)

    def _frame(self) -> np.ndarray:
        g, px = self.grid_size, self.cell_px
        grid = np.zeros((g, g, 3), dtype=np.uint8)
        grid[g - 1, self._paddle - self.half_paddle : self._paddle + self.half_paddle + 1] = PADDLE_RGB
        if self._ball_row >= 0:  # -1: no ball (after the last one, with end_on_landing=False)
            grid[self._ball_row, self._ball_col] = BALL_RGB  # the ball is drawn over the paddle when caught
        return np.repeat(np.repeat(grid, px, axis=0), px, axis=1)

    def _info(self) -> dict[str, Any]:
        return {"balls_left": self.balls_per_episode - self._balls_landed}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._ball_row = 0
        self._ball_col = int(self.np_random.integers(self.grid_size))
        self._paddle = int(self.np_random.integers(self.half_paddle, self.grid_size - self.half_paddle))
        self._balls_landed = 0
        return self._frame(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = int(action)
        if not 0 <= a < len(ACTION_MEANINGS):
            raise ValueError(f"action must be in [0, {len(ACTION_MEANINGS)}), got {action!r}")
        lo, hi = self.half_paddle, self.grid_size - 1 - self.half_paddle
        self._paddle = int(np.clip(self._paddle + (0, -1, 1)[a], lo, hi))
        reward, terminated = 0.0, False
        if self._balls_landed == self.balls_per_episode:  # end_on_landing=False: the step after the last ball
            self._ball_row, terminated = -1, True  # the ball is gone
        elif self._ball_row == self.grid_size - 1:  # the previous ball landed: a new one appears at the top
            self._ball_row = 0
            self._ball_col = int(self.np_random.integers(self.grid_size))
        else:
            self._ball_row += 1
            if self._ball_row == self.grid_size - 1:
                reward = 1.0 if abs(self._paddle - self._ball_col) <= self.half_paddle else -1.0
                self._balls_landed += 1
                terminated = self.end_on_landing and self._balls_landed == self.balls_per_episode
        return self._frame(), reward, terminated, False, self._info()

    @property
    def state(self) -> dict[str, Any]:
        """Everything that determines the future of the game (positions, counters, RNG), for exact resumes."""
        return {
            "ball_row": self._ball_row,
            "ball_col": self._ball_col,
            "paddle": self._paddle,
            "balls_landed": self._balls_landed,
            "np_random": self.np_random.bit_generator.state,
        }

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        self._ball_row, self._ball_col = int(value["ball_row"]), int(value["ball_col"])
        self._paddle, self._balls_landed = int(value["paddle"]), int(value["balls_landed"])
        self.np_random.bit_generator.state = value["np_random"]

    def render(self) -> np.ndarray | None:
        return self._frame() if self.render_mode == "rgb_array" else None


def register_catch() -> None:
    """Register `diamond_wm/Catch-v0` and `diamond_wm/CatchDemo-v0` with Gymnasium (idempotent)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="diamond_wm.envs.catch:CatchEnv")
    if DEMO_ENV_ID not in gym.registry:
        # One ball per episode: a world model never has to imagine a new ball appearing at a random column
        # (imagined episodes restart from real contexts), and the return is the catch rate mapped to [-1, 1].
        # A 3-cell paddle: under a random policy ~36% of the landings are catches (~12% with 1 cell), and a catch frame
        # still shows the paddle, so the world model sees and learns the rewarding event early.
        # end_on_landing=False: the episode ends one step after the landing (the ball is gone), so the landing
        # frame, the one that shows the catch, is an ordinary frame of the episode. A terminal frame only exists
        # as the episode's final observation, which the denoiser is never trained to predict (as in the published
        # pipeline): in imagination, a reward given on the terminal step would be read off a frame the world model
        # never learned to draw.
        gym.register(
            id=DEMO_ENV_ID,
            entry_point="diamond_wm.envs.catch:CatchEnv",
            kwargs={"balls_per_episode": 1, "paddle_width": 3, "end_on_landing": False},
        )
    if LONG_ENV_ID not in gym.registry:
        # The demo's paddle with 7 balls per episode: 55 steps, long enough for 4 context frames and 50 imagined
        # ones (the drift experiment, docs/drift.md).
        gym.register(id=LONG_ENV_ID, entry_point="diamond_wm.envs.catch:CatchEnv", kwargs=LONG_ENV_KWARGS)
