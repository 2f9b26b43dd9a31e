"""Play mode: a controller (the policy, the replay of recorded actions, or a human: those that exist) acts in one of
several environments, the world model first, then the real test and train environments (when there are real ones).
No drawing or event polling: a front end drives it through the interface of `session_interface.py`.

Commands (`commands.py`; keys of `PLAY_BINDINGS`): reset (return), switch controller (m), horizon +1 / -1 (up /
down), next / previous environment (right / left), pause (.), one step while paused (e). Game keys (`KeyDown`,
`KeyUp`) are held until released; the human controller reads them through the keymap (`keymap.py`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, Optional

import torch

from diamond_wm.interactive.commands import PLAY_BINDINGS, Command, Input, KeyDown, KeyUp, bindings_help
from diamond_wm.interactive.contexts import ReplaySource, Start
from diamond_wm.interactive.keymap import Keymap
from diamond_wm.interactive.recording import EpisodeRecorder, original_frame
from diamond_wm.interactive.steps import Choice, LastStep, NamedEnv, PendingStep
from diamond_wm.models.world_model import mix_seeds
from diamond_wm.runtime.precision import autocast, check_precision, warn_if_emulated
from diamond_wm.training.driver import PolicyDriver

log = logging.getLogger(__name__)

CONTROLLERS = ("policy", "replay", "human")  # what switch_controller cycles through, of those a session has
NOT_AVAILABLE = "n/a"  # a world model without reward/termination model: no reward, no end


class PlaySession:
    """Play mode (see the module docstring).

    The controllers `m` cycles through are those that exist, in the order of `CONTROLLERS`: the policy (with an
    actor-critic), the replay (with a `replay` source: the world model's only environment starts from recorded
    play), the human (with a keymap); the first is in control at start. Games of other controls subclass it
    (`csgo_session.CSGOPlaySession`): a class-level `controllers`, `choose` gives the next action,
    `recorded_frames` what the recorder keeps beside each frame.

    Args:
        actor_critic: the policy (`forward(obs (1, C, H, W), hx_cx) -> logits_act, val, hx_cx`), or None.
        envs: the environments to cycle through, each with `num_envs == 1`; the first is played first.
        keymap: the human player's keys, or None (no human controller: actions the keys cannot make).
        horizon: imagination horizon of the world model envs (their truncation step).
        recorder: stores every finished episode (recording mode), or None.
        generator: torch.Generator for the policy's action draws (None: torch's global RNG).
        precision: "fp32", or "bf16" for bf16 autocast of the networks (CPU and CUDA): faster, frames within
            the PSNR measured in docs/benchmarks.md.
    """

    controllers: tuple[str, ...] = ()  # a subclass's own; else those that exist (see the class docstring)
    bindings = PLAY_BINDINGS  # the keys of its commands; the commands it takes
    uses_mouse = False
    header_lines = 5
    error: Optional[str] = None  # there is always a frame to show once updated

    def __init__(
        self,
        actor_critic: Optional[torch.nn.Module],
        envs: Sequence[NamedEnv],
        keymap: Optional[Keymap],
        horizon: int = 50,
        recorder: Optional[EpisodeRecorder] = None,
        generator: Optional[torch.Generator] = None,
        precision: str = "fp32",
        replay: Optional[ReplaySource] = None,
    ) -> None:
        if not envs:
            raise ValueError("a play session needs at least one environment")
        if not self.controllers:
            exists = {
                "policy": actor_critic is not None,
                "replay": replay is not None,
                "human": keymap is not None,
            }
            self.controllers = tuple(c for c in CONTROLLERS if exists[c])
        if not self.controllers:
            raise ValueError("nothing to play with: no policy, no recorded actions to replay, no keys")
        self.actor_critic = actor_critic
        self.replay = replay
        self.replay_actions: Optional[torch.Tensor] = None  # the replay's actions of the current episode
        self.envs = list(envs)
        check_precision(precision, self.device)
        warn_if_emulated(precision, self.device)  # e.g. bf16 on an AVX2-only CPU: one log line, 30-80x slower
        self.precision = precision
        self.keymap = keymap
        self.recorder = recorder
        self.generator = generator
        # Which context starts the next episode: drawn with the session's own generator (seeded like the policy's).
        seed = generator.initial_seed() if generator is not None else int(torch.randint(2**62, (1,)).item())
        self.context_generator = torch.Generator().manual_seed(mix_seeds(seed, 1))
        self.world_model_episodes = 0  # episodes started in the world model (spawn points are taken in turn)
        self.env_index = 0
        self.controller = self.controllers[0]
        self.paused = False
        self.pressed: set[str] = set()  # game keys held, by name
        self.horizon = 1
        self.set_horizon(horizon)
        self._step_once, self._needs_reset = False, True
        self.obs: Optional[torch.Tensor] = None  # (1, C, H, W), the observation the next action is taken on
        self.frame: Optional[torch.Tensor] = None  # (C, H, W) float in [-1, 1], what the window shows
        self._drivers: dict[int, PolicyDriver] = {}  # one per environment: the policy's state in it
        self.t, self.episode_return, self.num_resets = 0, 0.0, 0
        self.last: Optional[LastStep] = None
        self.finished_episodes: list[tuple[str, str, float, int]] = []  # (env, controller, return, length)
        self._original: Any = None

    # ------------------------------------------------------------------ state

    @property
    def current(self) -> NamedEnv:
        return self.envs[self.env_index]

    @property
    def env_name(self) -> str:
        return self.current.name

    @property
    def is_human(self) -> bool:
        return self.controller == "human"

    @property
    def device(self) -> torch.device:
        """Where the networks run: the policy's device, else the first environment's."""
        p = next(self.actor_critic.parameters(), None) if self.actor_critic is not None else None
        return p.device if p is not None else torch.device(getattr(self.envs[0].env, "device", "cpu"))

    def set_horizon(self, horizon: int) -> None:
        """Imagination horizon (>= 1) of every world model env."""
        self.horizon = max(1, int(horizon))
        for e in self.envs:
            if e.is_world_model:
                e.env.set_horizon(self.horizon)

    # ------------------------------------------------------------------ controls

    def handle(self, inp: Input) -> None:
        """Act on one input (see the module docstring); commands not in `bindings` are ignored."""
        if isinstance(inp, Command):
            if inp in self.bindings.values():
                self.command(inp)
        elif isinstance(inp, KeyDown):
            self.pressed.add(inp.key)
        elif isinstance(inp, KeyUp):
            self.pressed.discard(inp.key)

    def release_all(self) -> None:
        """Forget the held game keys."""
        self.pressed.clear()

    def command(self, command: Command) -> None:
        """Carry out one command."""
        if command == Command.RESET:
            self.request_reset()
        elif command == Command.SWITCH_CONTROLLER:
            i = self.controllers.index(self.controller)
            self.controller = self.controllers[(i + 1) % len(self.controllers)]
            log.info("controller: %s", self.controller)
            self.request_reset()
        elif command in (Command.HORIZON_UP, Command.HORIZON_DOWN):
            self.set_horizon(self.horizon + (1 if command == Command.HORIZON_UP else -1))
            log.info("imagination horizon: %d", self.horizon)
        elif command in (Command.NEXT_ENV, Command.PREV_ENV) and len(self.envs) > 1:
            step = 1 if command == Command.NEXT_ENV else -1
            self.env_index = (self.env_index + step) % len(self.envs)
            log.info("environment: %s", self.env_name)
            self.request_reset()
        elif command == Command.PAUSE:
            self.paused = not self.paused
            log.info("paused" if self.paused else "resumed")
        elif command == Command.STEP:
            self._step_once = True

    def idle_action(self) -> torch.Tensor:
        """An action of the current environment that does nothing in particular (compiling steps with it)."""
        return self.current.env.action_spec.zeros(1)

    def request_reset(self) -> None:
        """Start a new episode at the next update."""
        self._needs_reset = True

    def controls_help(self, extra: Sequence[tuple[str, str]] = ()) -> list[str]:
        """The keys by name, the front end's own (`extra`: (key, what it does)) first, then the game's keys."""
        names = " -> ".join(e.name for e in self.envs)
        described = [
            (Command.RESET, "reset the environment"),
            (Command.PAUSE, "pause / resume"),
            (Command.STEP, "one step (while paused)"),
            (Command.SWITCH_CONTROLLER, f"switch controller ({' / '.join(self.controllers)})"),
            (Command.HORIZON_UP, "imagination horizon +1"),
            (Command.HORIZON_DOWN, "imagination horizon -1"),
        ]
        if len(self.envs) > 1:
            described += [(Command.NEXT_ENV, f"next environment ({names})")]
            described += [(Command.PREV_ENV, f"previous environment ({names})")]
        lines = ["Controls (play mode):", *bindings_help(self.bindings, described, extra)]
        if self.keymap is None:
            return lines
        return (
            lines
            + ["", "Game actions (human controller):"]
            + ["  " + line for line in self.keymap.describe()]
        )

    # ------------------------------------------------------------------ stepping

    def reset(self) -> None:
        """Start a new episode in the current environment."""
        with autocast(self.device, self.precision):
            self._reset()

    def _driver(self) -> PolicyDriver:
        """The policy driver of the current environment (it carries the policy's LSTM state there)."""
        env = self.current.env
        if id(env) not in self._drivers:
            self._drivers[id(env)] = PolicyDriver(env, self.actor_critic)
        return self._drivers[id(env)]

    def _reset(self) -> None:
        start = self.next_start() if self.current.is_world_model else None
        driver = self._driver()
        driver.reset(contexts=start.contexts if start is not None else None)  # the policy's state: burnt in
        self.obs = driver.obs[:1]
        self.frame = self.obs[0]
        self.t, self.episode_return, self.last = 0, 0.0, None
        self._needs_reset = False
        self.num_resets += 1
        self._original = original_frame(self.current.env) if self._wants_original() else None
        if start is not None:
            self.replay_actions = start.replay
            log.debug("context: %s", start.description)
        if self.recorder is not None:
            self.recorder.start(self.env_name, self.controller)

    def next_start(self) -> Optional[Start]:
        """Where the world model's next episode starts: the replay source's start for this episode (None: the
        world model draws a context itself)."""
        if self.replay is None:
            return None
        self.world_model_episodes += 1
        return self.replay.start(self.world_model_episodes - 1, self.context_generator)

    def _wants_original(self) -> bool:
        return (
            self.recorder is not None and self.recorder.store_original_obs and not self.current.is_world_model
        )

    def update(self) -> bool:
        """Advance by one frame of the window: reset if asked, then one step unless paused. True if it stepped."""
        pending = self.begin_update()
        if pending is None:
            return False
        with autocast(self.device, self.precision):
            self.end_update(pending, pending.env.step(pending.act))
        return True

    def begin_update(self) -> Optional[PendingStep]:
        """The first half of `update`: reset if asked, and unless paused the step to take (the environment and the
        chosen action), which the caller makes (`update`: alone; `interactive.batch.update_together`: batched
        with other sessions' steps) and hands to `end_update`. None when paused."""
        if self._needs_reset:
            self.reset()
        if self.paused and not self._step_once:
            return None
        self._step_once = False
        with autocast(self.device, self.precision):
            return self._begin_step()

    def step(self) -> LastStep:
        """One step of the current controller in the current environment."""
        with autocast(self.device, self.precision):
            pending = self._begin_step()
            return self.end_update(pending, pending.env.step(pending.act))

    def choose(self, driver: PolicyDriver) -> Choice:
        """The next action: sampled from the policy, the replay's next recorded action, or the human's keys; the
        policy's entropy and value (when there is a policy, whoever is in control)."""
        hx_cx = entropy = value = None
        if self.actor_critic is not None:
            out = driver.forward()
            probs = torch.softmax(out.logits_act.float(), dim=-1)  # (1, A)
            entropy = float(-(probs * probs.clamp_min(1e-12).log()).sum()) / math.log(2)
            hx_cx, value = out.hx_cx, float(out.val[0])
        if self.controller == "replay":
            assert self.replay_actions is not None
            k = min(self.t, len(self.replay_actions) - 1)
            last = k == len(self.replay_actions) - 1
            return Choice(self.replay_actions[k : k + 1], hx_cx, entropy, value, last)
        if self.is_human:
            act = self.keymap.action(self.pressed)
        else:
            act = int(torch.multinomial(probs.cpu(), 1, generator=self.generator).item())
        return Choice(torch.tensor([act], dtype=torch.long), hx_cx, entropy, value)

    def recorded_frames(self) -> dict[str, torch.Tensor]:
        """Frames (float in [-1, 1]) the recorder keeps in the episode's `info` beside the current frame."""
        return {}

    @torch.no_grad()
    def _begin_step(self) -> PendingStep:
        if self.obs is None:
            self.reset()
        assert self.obs is not None
        driver = self._driver()
        choice = self.choose(driver)
        extra = self.recorded_frames() if self.recorder is not None else {}
        env = self.current.env
        act = choice.act.to(getattr(env, "device", self.obs.device))
        return PendingStep(env, act, choice, extra)

    @torch.no_grad()
    def end_update(self, pending: PendingStep, stepped: tuple[Any, ...]) -> LastStep:
        """The second half of `update`: `stepped` is what `pending.env.step(pending.act)` returned."""
        obs, choice, env = self.obs, pending.choice, pending.env
        assert obs is not None
        step = self._driver().step(pending.act, choice.hx_cx, stepped)
        next_obs, rew, end, trunc, info = step.next_obs, step.rew, step.end, step.trunc, step.info
        r, e, tr = float(rew[0]), bool(end[0]), bool(trunc[0]) or choice.last
        done = e or tr
        self.episode_return += r
        self.t += 1
        self.last = LastStep(choice.action, r, e, tr, choice.entropy, choice.value)
        if self.recorder is not None:
            traj = info.get("denoising_trajectory")
            self.recorder.add(
                obs[0],
                choice.action,
                r,
                e,
                tr,
                traj[0] if traj is not None else None,
                self._original,
                self._step_extras(info, pending.extra),
            )
        final = info.get("final_observation", next_obs)[:1]
        if done:
            kind = "Dead" if e else ("Horizon" if self.current.is_world_model else "Timed out")
            who = f"{self.env_name}, {self.controller}"
            log.debug("[%s] %s: return %.2f, length %d", kind, who, self.episode_return, self.t)
            self.finished_episodes.append((self.env_name, self.controller, self.episode_return, self.t))
            if self.recorder is not None:
                self.recorder.finish(final[0])
            self.frame = final[0]
            self._needs_reset = True
        else:
            self.obs = next_obs[:1]
            self.frame = self.obs[0]
            if self._wants_original():
                self._original = original_frame(env)
        return self.last

    def _step_extras(self, info: dict[str, Any], frames: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Extra frames of this step for the recorder: `recorded_frames()`, and the upsampler's denoising
        trajectory when the denoising trajectories are recorded."""
        up = info.get("denoising_trajectory_upsampling")
        if up is not None and self.recorder is not None and self.recorder.store_denoising_trajectory:
            frames = {**frames, "denoising_trajectory_upsampling": up[0]}
        return frames

    # ------------------------------------------------------------------ display

    @property
    def has_rewards(self) -> bool:
        """False in a world model without reward/termination model (its rewards and ends are not predicted)."""
        return not self.current.is_world_model or getattr(self.current.env, "rew_end_model", 0) is not None

    def action_text(self, action: Any) -> str:
        """An action's name (discrete), or its hot dimensions (multi-hot)."""
        if isinstance(action, int):
            names = (
                self.keymap.action_names if self.keymap is not None else self.current.env.action_spec.labels
            )
            return names[action] if 0 <= action < len(names) else str(action)
        labels = self.current.env.action_spec.labels
        return ", ".join(labels[i] for i in action.nonzero().flatten().tolist()) or "-"

    def header(self) -> list[list[str]]:
        """Columns of header lines."""
        last = self.last
        horizon = f"Horizon : {self.horizon}" if self.current.is_world_model else "Horizon : -"
        status = "PAUSED" if self.paused else ("REC" if self.recorder is not None else "")
        col1 = [f"Env     : {self.env_name}", f"Control : {self.controller}", f"Timestep: {self.t}", horizon]
        na = not self.has_rewards
        col2 = [
            f"Reward: {NOT_AVAILABLE}" if na else (f"Reward: {last.reward:.2f}" if last else "Reward: -"),
            f"Return: {NOT_AVAILABLE}" if na else f"Return: {self.episode_return:.2f}",
            f"Done  : {NOT_AVAILABLE}" if na else (f"Done  : {last.end}" if last else "Done  : -"),
            f"Trunc : {last.trunc}" if last else "Trunc : -",
        ]
        col3 = [
            f"Action : {self.action_text(last.action)}" if last else "Action : -",
            f"Entropy: {last.entropy:.2f}" if last and last.entropy is not None else "Entropy: -",
            f"Value  : {last.value:.2f}" if last and last.value is not None else "Value  : -",
            status,
        ]
        return [col1, col2, col3]
