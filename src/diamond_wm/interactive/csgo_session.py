"""Play mode of the CS:GO world model: a human at the keyboard and mouse, or the replay of a spawn point's recorded
human actions, in the world model (there is no real game to switch to). No drawing or event polling: a front end
drives it as it drives `PlaySession`, whose stepping, pausing and recording it shares.

Commands (keys of `CSGO_PLAY_BINDINGS`): switch controller (m: replay / human, then reset), pause (.), one step
while paused (e), reset (return); the horizon and environment commands are not taken. Game keys (the arrow keys
among them: they turn the camera), the mouse motion and buttons are the human player's (`csgo_controls.py`).

Each imagined episode starts from the next spawn point in sorted order (wrapping around) and is truncated at the
horizon (1000) or, under the replay, when its actions run out. The replay plays the action of the spawn point's
last context frame (`act[-1]`), then its `next_act`, one per step: the actions the human took from there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Optional

import torch

from diamond_wm.envs.csgo import CSGOAction, decode, encode
from diamond_wm.envs.csgo.spawn import SpawnPoints
from diamond_wm.envs.world_model_env import WorldModelEnv
from diamond_wm.interactive.commands import (
    CSGO_PLAY_BINDINGS,
    Command,
    Input,
    KeyDown,
    KeyUp,
    MouseButton,
    MouseMove,
    bindings_help,
)
from diamond_wm.interactive.contexts import Start
from diamond_wm.interactive.csgo_controls import CSGOControls, describe_action
from diamond_wm.interactive.play_session import PlaySession
from diamond_wm.interactive.recording import EpisodeRecorder
from diamond_wm.interactive.steps import Choice, NamedEnv
from diamond_wm.training.driver import PolicyDriver

log = logging.getLogger(__name__)

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
    bindings = CSGO_PLAY_BINDINGS
    uses_mouse = True  # the front end captures the mouse, and passes its motion and buttons

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

    def handle(self, inp: Input) -> None:
        """Commands as `PlaySession`'s (those of `bindings`); game keys, mouse motion and buttons to the controls."""
        if isinstance(inp, Command):
            super().handle(inp)
        elif isinstance(inp, KeyDown):
            self.controls.key_down(inp.key)
        elif isinstance(inp, KeyUp):
            self.controls.key_up(inp.key)
        elif isinstance(inp, MouseMove):
            self.controls.mouse_motion(inp.dx, inp.dy)
        elif isinstance(inp, MouseButton):
            self.controls.mouse_button(inp.button, inp.down)

    def release_all(self) -> None:
        """Forget the held keys and buttons (and the motion not yet played)."""
        self.controls.release_all()

    def controls_help(self, extra: Sequence[tuple[str, str]] = ()) -> list[str]:
        described = [
            (Command.RESET, "reset (next spawn point)"),
            (Command.PAUSE, "pause / resume"),
            (Command.STEP, "one step (while paused)"),
            (Command.SWITCH_CONTROLLER, "switch controller (replay / human), then reset"),
        ]
        lines = [
            "Controls (play mode, CS:GO world model):",
            *bindings_help(self.bindings, described, extra),
            "",
            "Game actions (human controller):",
        ]
        return lines + ["  " + line for line in self.controls.describe()]

    def idle_action(self) -> torch.Tensor:
        """No key, no motion, no click: (1, 51)."""
        return encode([]).to_vector().unsqueeze(0)

    # ------------------------------------------------------------------ stepping

    def next_start(self) -> Start:
        """The next spawn point in sorted order (wrapping around), with its recorded actions."""
        self.spawn_index = (self.spawn_index + 1) % len(self.spawns)
        i = self.spawn_index
        return Start(self.spawns.context(i), self.spawns.replay(i), self.spawns.describe(i))

    def _reset(self) -> None:
        self.controls.mouse_dx = self.controls.mouse_dy = 0.0
        self.last_action = None
        super()._reset()

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
