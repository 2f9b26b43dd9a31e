"""The CS:GO world model's session driven by named keys, mouse motion and buttons (no front end), on a tiny
model and spawn points."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.envs.csgo import encode
from diamond_wm.interactive.commands import (
    CSGO_PLAY_BINDINGS,
    Command,
    KeyDown,
    KeyUp,
    MouseButton,
    MouseMove,
)
from diamond_wm.interactive.csgo_controls import CSGOControls
from diamond_wm.interactive.launch import build_csgo_play_session
from diamond_wm.loading.agent_config import AgentRequest
from diamond_wm.loading.csgo import load_csgo
from tests.play.tiny_csgo import write_tiny_csgo


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    tiny = write_tiny_csgo(tmp_path_factory.mktemp("csgo"))
    return load_csgo(tiny.checkpoint, tiny.spawn, "cpu", AgentRequest(tiny.agent_config))


def test_keys_mouse_and_buttons_by_name_make_the_action(loaded, tmp_path):
    session = build_csgo_play_session(loaded, tmp_path, seed=0)
    assert session.bindings is CSGO_PLAY_BINDINGS and session.uses_mouse
    stepped: list[torch.Tensor] = []
    real_step = session.wm_env.step
    session.wm_env.step = lambda act: stepped.append(act.reshape(-1).clone()) or real_step(act)

    session.handle(Command.SWITCH_CONTROLLER)
    session.update()
    assert session.controller == "human" and torch.equal(stepped[-1], encode([]).to_vector())

    for inp in (KeyDown("w"), KeyDown("s"), KeyDown("a"), MouseMove(2, -1), MouseMove(1, 0)):
        session.handle(inp)
    session.handle(MouseButton("left", True))
    session.handle(KeyDown("m-is-not-a-game-key"))
    session.update()
    assert torch.equal(stepped[-1], encode(["w", "a"], 30, -10, l_click=True).to_vector())

    session.handle(KeyUp("w"))
    session.handle(MouseButton("left", False))
    session.handle(KeyDown("left"))  # an arrow key is a game key here: it turns the camera
    session.handle(MouseButton("right", True))
    session.update()
    assert torch.equal(stepped[-1], encode(["s", "a", "left"], 0, 0, r_click=True).to_vector())

    horizon = session.horizon
    session.handle(Command.HORIZON_UP)  # not one of its commands: ignored
    session.release_all()  # nothing held any more
    session.update()
    assert session.horizon == horizon and torch.equal(stepped[-1], encode([]).to_vector())


def test_controls_take_keys_and_buttons_by_name():
    controls = CSGOControls(mouse_multiplier=2)
    assert controls.key_down("left shift") and not controls.key_down("return")
    controls.mouse_motion(1.5, -2)
    controls.mouse_button("right", True)
    controls.mouse_button("middle", True)  # not one of the game's: ignored
    action = controls.action()
    assert (action.keys, action.r_click, action.l_click) == (("left shift",), True, False)
    controls.key_up("left shift")
    assert controls.pressed == []
