"""Play mode of the CS:GO world model: a human at the keyboard and mouse, or the replay of a spawn point's recorded
human actions, in the world model (there is no real game to switch to). No drawing or event polling: the window
(`window.py`) drives it as it drives `PlaySession`, whose stepping, pausing and recording it shares.

Controls: `m` switches the controller (replay / human) and resets, `.` pauses, `e` steps once while paused, Enter
resets; every other key, the mouse motion and buttons are the human player's (`csgo_controls.py`).

Each imagined episode starts from the next spawn point in sorted order (wrapping around) and is truncated at the
horizon (1000) or, under the replay, when its actions run out. The replay plays the action of the spawn point's
last context frame (`act[-1]`), then its `next_act`, one per step: the actions the human took from there.
"""

from __future__ import annotations

import logging
from typing import Optional

import torch

from diamond_wm.envs.csgo import CSGOAction, decode, encode
from diamond_wm.envs.csgo.spawn import SpawnPoints
from diamond_wm.envs.world_model_env import WorldModelEnv
from diamond_wm.play.csgo_controls import CSGOControls, describe_action
from diamond_wm.play.recording import EpisodeRecorder
from diamond_wm.play.session import K_CONTROLLER, K_PAUSE, K_RESET, K_STEP, Choice, NamedEnv, PlaySession
from diamond_wm.training.driver import PolicyDriver

log = logging.getLogger(__name__)

SESSION_KEYS = (K_RESET, K_CONTROLLER, K_PAUSE, K_STEP)
OBS_LOW_RES = "obs_low_res"


class CSGOPlaySession(PlaySession):
    """Play mode of the CS:GO world model (see the module docstring).

    Args:
        wm_env: the world model environment (num_envs = 1, with an upsampler) whose initial conditions are `spawns`.
        spawns: the spawn points; each reset starts from the next one.
        controls: the human player's keyboard and mouse.
        recorder: stores every finished episode (recording mode), with the low-resolution frames in
            `info["obs_low_res"]`; or None.
        precision: "fp32", or "bf16" autocast of the networks.
    """

    controllers = ("replay", "human")
    uses_mouse = True  # the window hides and grabs the mouse, and passes its motion and buttons

    def __init__(
        self,
        wm_env: WorldModelEnv,
        spawns: SpawnPoints,
        controls: CSGOControls,
        recorder: Optional[EpisodeRecorder] = None,
        precision: str = "fp32",
    ) -> None:
        super().__init__(
            None,
            [NamedEnv("wm", wm_env, True)],
            None,
            horizon=wm_env.horizon,
            recorder=recorder,
            precision=precision,
        )
        self.wm_env = wm_env
        self.spawns = spawns
        self.frame_shape = tuple(spawns.load(0).full_res.shape[1:])  # (C, H, W) of the frames shown
        self.controls = controls
        self.spawn_index = -1  # the spawn point of the current episode
        self.replay_actions: Optional[torch.Tensor] = None  # (T + 1, 51): act[-1], then next_act
        self.last_action: Optional[CSGOAction] = None

    # ------------------------------------------------------------------ controls

    def handle_key_down(self, key: int) -> None:
        if key in SESSION_KEYS:
            super().handle_key_down(key)
        else:
            self.controls.key_down(key)

    def handle_key_up(self, key: int) -> None:
        self.controls.key_up(key)

    def handle_mouse_motion(self, rel: tuple[float, float]) -> None:
        self.controls.mouse_motion(rel)

    def handle_mouse_button(self, button: int, down: bool) -> None:
        self.controls.mouse_button(button, down)

    def controls_help(self) -> list[str]:
        lines = [
            "Controls (play mode, CS:GO world model):",
            "  Esc   : quit",
            "  Enter : reset (next spawn point)",
            "  .     : pause / resume",
            "  e     : one step (while paused)",
            "  m     : switch controller (replay / human), then reset",
            "",
            "Game actions (human controller):",
        ]
        return lines + ["  " + line for line in self.controls.describe()]

    def idle_action(self) -> torch.Tensor:
        """No key, no motion, no click: (1, 51)."""
        return encode([]).to_vector().unsqueeze(0)

    # ------------------------------------------------------------------ stepping

    def _reset(self) -> None:
        self.spawn_index = (self.spawn_index + 1) % len(self.spawns)
        self.spawns.next_index = self.spawn_index  # what the world model's reset draws
        spawn = self.spawns.load(self.spawn_index)
        self.replay_actions = torch.cat((spawn.act[-1:], spawn.next_act))
        self.controls.mouse_dx = self.controls.mouse_dy = 0.0
        self.last_action = None
        super()._reset()
        log.debug("spawn point %d: %s", self.spawn_index, self.spawns.dirs[self.spawn_index])

    def choose(self, driver: PolicyDriver) -> Choice:
        """The human's keys and mouse, or the replay's next recorded action."""
        human = self.controls.action()  # read every frame: motion made under the replay is not kept
        if self.is_human:
            self.last_action = human
            return Choice(human.to_vector().unsqueeze(0))
        assert self.replay_actions is not None
        k = min(self.t, len(self.replay_actions) - 1)
        vector = self.replay_actions[k]
        self.last_action = decode(vector)
        return Choice(vector.unsqueeze(0), last=k == len(self.replay_actions) - 1)

    def recorded_frames(self) -> dict[str, torch.Tensor]:
        """The low-resolution frame the upsampled frame being shown was made from."""
        assert self.wm_env.obs_buffer is not None
        return {OBS_LOW_RES: self.wm_env.obs_buffer[0, -1]}

    # ------------------------------------------------------------------ display

    def header(self) -> list[list[str]]:
        keys, mouse, clicks = describe_action(self.last_action) if self.last_action else ("-", "-", "-")
        horizon = self.horizon
        if not self.is_human and self.replay_actions is not None:
            horizon = min(horizon, len(self.replay_actions))
        status = "PAUSED" if self.paused else ("REC" if self.recorder is not None else "")
        return [
            [
                "Env     : world model",
                f"Control : {self.controller}",
                f"Timestep: {self.t}",
                f"Horizon : {horizon}",
                status,
            ],
            [
                f"Keys  : {keys}",
                f"Mouse : {mouse}",
                f"Clicks: {clicks}",
                f"Spawn : {self.spawn_index} of {len(self.spawns)}",
            ],
        ]
