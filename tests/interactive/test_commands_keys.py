"""Key presses and releases -> a session's inputs (`key_input`), and the help lines of bound keys."""

from __future__ import annotations

from diamond_wm.envs.csgo.actions import KEY_ACTIONS
from diamond_wm.interactive.commands import (
    BROWSE_BINDINGS,
    CSGO_PLAY_BINDINGS,
    PLAY_BINDINGS,
    Command,
    KeyDown,
    KeyUp,
    bindings_help,
    key_input,
)


def test_a_bound_key_sends_its_command_when_pressed_and_a_game_key_is_held():
    assert key_input("return", True, PLAY_BINDINGS) is Command.RESET
    assert key_input("return", False, PLAY_BINDINGS) is None
    assert key_input("a", True, PLAY_BINDINGS) == KeyDown("a")
    assert key_input("a", False, PLAY_BINDINGS) == KeyUp("a")
    assert key_input("up", True, BROWSE_BINDINGS) is Command.NEXT_STEP


def test_the_csgo_bindings_leave_the_game_keys_to_the_game():
    assert set(CSGO_PLAY_BINDINGS.values()) == {
        Command.RESET,
        Command.SWITCH_CONTROLLER,
        Command.PAUSE,
        Command.STEP,
    }
    assert not set(CSGO_PLAY_BINDINGS) & set(KEY_ACTIONS)  # the arrow keys turn the camera there
    assert key_input("up", True, CSGO_PLAY_BINDINGS) == KeyDown("up")


def test_bindings_help_aligns_the_keys_and_leaves_out_unbound_commands():
    described = [(Command.RESET, "reset"), (Command.HORIZON_UP, "horizon +1")]
    assert bindings_help(CSGO_PLAY_BINDINGS, described, [("escape", "quit")]) == [
        "  escape : quit",
        "  return : reset",
    ]
    assert bindings_help({"e": Command.STEP}, [(Command.STEP, "one step")]) == ["  e     : one step"]
